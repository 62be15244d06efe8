//! Live progress on the terminal: phases as lines, a spinner per running tool; plain lines when the output
//! is not a terminal (CI logs). `certus scan` renders its own events on stderr; `certus watch` renders a
//! server's on stdout with the same renderer. Times are counted from the first event's timestamp, so a
//! replayed history reads the same as a live one; text from events loses its control characters.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use certus_core::event::{Event, EventBody};
use certus_core::ports::EventSink;
use certus_core::time::Timestamp;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct ConsoleProgress {
    started: Mutex<Option<Timestamp>>,
    /// Seconds since the first event, of the event being rendered.
    now: Mutex<f64>,
    bars: Option<MultiProgress>,
    to_stdout: bool,
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl ConsoleProgress {
    /// Progress of the scan this process runs, on stderr (stdout keeps the summary or `--format` output).
    pub fn stderr() -> Self {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self::with(bars, false)
    }

    /// Progress of a watched scan, on stdout.
    pub fn stdout() -> Self {
        let bars = std::io::stdout()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Self::with(bars, true)
    }

    fn with(bars: Option<MultiProgress>, to_stdout: bool) -> Self {
        Self {
            started: Mutex::new(None),
            now: Mutex::new(0.0),
            bars,
            to_stdout,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        let elapsed = self.now.lock().map(|n| *n).unwrap_or_default();
        let text: String = format!("[{elapsed:>6.1}s] {text}")
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None if self.to_stdout => println!("{text}"),
            None => eprintln!("{text}"),
        }
    }

    fn tool_started(&self, tool: &str) {
        let Some(bars) = &self.bars else {
            self.line(&format!("{tool}: running"));
            return;
        };
        let bar = bars.add(ProgressBar::new_spinner());
        if let Ok(style) =
            ProgressStyle::with_template("  {spinner} {prefix:<16} {wide_msg} {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_prefix(tool.to_string());
        bar.set_message("running");
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut running) = self.running.lock() {
            running.insert(tool.to_string(), bar);
        }
    }

    fn tool_finished(&self, tool: &str, text: &str) {
        let bar = self.running.lock().ok().and_then(|mut r| r.remove(tool));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        self.line(text);
    }
}

#[async_trait]
impl EventSink for ConsoleProgress {
    async fn deliver(&self, event: &Event) {
        self.render(event);
    }
}

impl ConsoleProgress {
    /// One event as a line (or a spinner while a tool runs).
    pub fn render(&self, event: &Event) {
        if let (Ok(mut started), Ok(mut now)) = (self.started.lock(), self.now.lock()) {
            let first = *started.get_or_insert(event.timestamp);
            *now = (event.timestamp - first).num_milliseconds().max(0) as f64 / 1000.0;
        }
        match &event.body {
            EventBody::Phase {
                message,
                commit,
                hash,
                ..
            } => {
                let detail = commit
                    .as_deref()
                    .map(|c| format!(" (commit {c})"))
                    .or_else(|| {
                        hash.as_deref().map(|h| {
                            format!(" (sha256 {})", h.chars().take(16).collect::<String>())
                        })
                    })
                    .unwrap_or_default();
                self.line(&format!("{message}{detail}"));
            }
            EventBody::ToolStart { tool, .. } => self.tool_started(tool),
            EventBody::ToolComplete {
                tool,
                status,
                findings,
                ..
            } => {
                let mark = if status == "completed" { "✓" } else { "✗" };
                self.tool_finished(
                    tool,
                    &format!("{mark} {tool}: {status}, {findings} finding(s)"),
                );
            }
            EventBody::Error { message } => self.line(&format!("error: {message}")),
            EventBody::ScanComplete { status, .. } => {
                self.line(&format!("scan complete: {status}"))
            }
            EventBody::Log { .. } => {}
            EventBody::UploadPermitted {
                upload_permission_id,
            } => self.line(&format!("upload permitted ({upload_permission_id})")),
            EventBody::UploadDenied { reason, .. } => {
                self.line(&format!("upload denied: {reason}"))
            }
            EventBody::Published { golden } => {
                self.line(&format!("published {} object(s)", golden.len()))
            }
        }
    }
}
