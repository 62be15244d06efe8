//! Live progress on the terminal: phases as lines, a spinner per running tool; plain lines when stderr is
//! not a terminal (CI logs), nothing at all in `--quiet`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use certus_core::event::{Event, EventBody};
use certus_core::ports::EventSink;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct ConsoleProgress {
    started: Instant,
    bars: Option<MultiProgress>,
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl ConsoleProgress {
    pub fn new() -> Self {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            started: Instant::now(),
            bars,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        let text = format!("[{:>6.1}s] {text}", self.started.elapsed().as_secs_f64());
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
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
                        hash.as_deref()
                            .map(|h| format!(" (sha256 {})", &h[..h.len().min(16)]))
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
