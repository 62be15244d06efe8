//! Live progress on the terminal: phases as lines, a spinner with the current phase and its elapsed time
//! (source preparation of a large tree is long and silent otherwise), and a spinner per running tool showing
//! the tool's latest output line; plain lines when the output is not a terminal (CI logs), and no colour
//! when `NO_COLOR` is set. `certus scan` renders its own events on stderr; `certus watch` renders a
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

use crate::terminal::printable;

pub struct ConsoleProgress {
    started: Mutex<Option<Timestamp>>,
    /// Seconds since the first event, of the event being rendered.
    now: Mutex<f64>,
    bars: Option<MultiProgress>,
    to_stdout: bool,
    /// Colour in the spinners (a terminal without `NO_COLOR`).
    colour: bool,
    /// The current phase, while the scan runs (terminal only).
    phase: Mutex<Option<ProgressBar>>,
    running: Mutex<HashMap<String, ProgressBar>>,
}

/// Longest tool output line shown beside its spinner.
const STATE_CHARS: usize = 72;

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl ConsoleProgress {
    /// Progress of the scan this process runs, on stderr (stdout keeps the summary or `--format` output).
    pub fn stderr() -> Self {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self::with(bars, false, !no_color())
    }

    /// Progress of a watched scan, on stdout.
    pub fn stdout() -> Self {
        let bars = std::io::stdout()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Self::with(bars, true, !no_color())
    }

    fn with(bars: Option<MultiProgress>, to_stdout: bool, colour: bool) -> Self {
        Self {
            started: Mutex::new(None),
            now: Mutex::new(0.0),
            bars,
            to_stdout,
            colour,
            phase: Mutex::new(None),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A ticking spinner: `{spinner} {prefix} {message} {elapsed}`, the spinner coloured when allowed.
    fn spinner(&self, bars: &MultiProgress, prefix_width: usize) -> ProgressBar {
        let bar = bars.add(ProgressBar::new_spinner());
        let spinner = if self.colour {
            "{spinner:.cyan}"
        } else {
            "{spinner}"
        };
        let prefix = if prefix_width == 0 {
            String::new()
        } else {
            format!(" {{prefix:<{prefix_width}}}")
        };
        if let Ok(style) =
            ProgressStyle::with_template(&format!("  {spinner}{prefix} {{wide_msg}} {{elapsed}}"))
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// Shows the phase beside a spinner counting its seconds, until the next phase or the end.
    fn phase_started(&self, message: &str) {
        let Some(bars) = &self.bars else {
            return;
        };
        if let Ok(mut phase) = self.phase.lock() {
            let bar = phase.get_or_insert_with(|| self.spinner(bars, 0));
            bar.set_message(printable(message));
            bar.reset_elapsed();
        }
    }

    /// A running tool's latest output line, as its state.
    fn tool_said(&self, tool: &str, line: &str) {
        if let Some(bar) = self.running.lock().ok().and_then(|r| r.get(tool).cloned()) {
            bar.set_message(
                printable(line)
                    .chars()
                    .take(STATE_CHARS)
                    .collect::<String>(),
            );
        }
    }

    /// The scan ended: every spinner goes.
    fn finished(&self) {
        if let Some(bar) = self.phase.lock().ok().and_then(|mut p| p.take()) {
            bar.finish_and_clear();
        }
        let bars: Vec<ProgressBar> = self
            .running
            .lock()
            .map(|mut r| r.drain().map(|(_, bar)| bar).collect())
            .unwrap_or_default();
        for bar in bars {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        let elapsed = self.now.lock().map(|n| *n).unwrap_or_default();
        let text = printable(&format!("[{elapsed:>6.1}s] {text}"));
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
        let bar = self.spinner(bars, 16);
        bar.set_prefix(printable(tool));
        bar.set_message("running");
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
                self.phase_started(message);
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
                self.finished();
                self.line(&format!("scan complete: {status}"));
            }
            EventBody::Log { tool, line, .. } => self.tool_said(tool, line),
            EventBody::UploadPermitted {
                upload_permission_id,
            } => self.line(&format!("upload permitted ({upload_permission_id})")),
            EventBody::UploadDenied { reason, .. } => {
                self.line(&format!("upload denied: {reason}"));
            }
            EventBody::Published { golden } => {
                self.line(&format!("published {} object(s)", golden.len()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, body: EventBody) -> Event {
        Event::new("test_0123456789ab", seq, body)
    }

    fn message(bar: &Option<ProgressBar>) -> Option<String> {
        bar.as_ref().map(|b| b.message())
    }

    #[test]
    fn on_a_terminal_the_phase_and_each_tools_latest_line_stay_in_view_until_the_scan_completes() {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let progress = ConsoleProgress::with(Some(bars), false, false);
        progress.render(&event(1, EventBody::phase("preparing directory source")));
        let phase = progress.phase.lock().unwrap().clone();
        assert_eq!(
            message(&phase).as_deref(),
            Some("preparing directory source")
        );
        progress.render(&event(2, EventBody::phase("running 1 tool(s): secrets")));
        assert_eq!(
            message(&progress.phase.lock().unwrap().clone()).as_deref(),
            Some("running 1 tool(s): secrets")
        );
        progress.render(&event(
            3,
            EventBody::ToolStart {
                tool: "secrets".into(),
                command: "built-in".into(),
            },
        ));
        let tool = progress.running.lock().unwrap().get("secrets").cloned();
        assert_eq!(message(&tool).as_deref(), Some("running"));
        progress.render(&event(
            4,
            EventBody::Log {
                tool: "secrets".into(),
                stream: "stdout".into(),
                line: format!("1200 file(s) scanned\x1b[2J{}", "x".repeat(200)),
            },
        ));
        let state = message(&tool).unwrap();
        assert!(state.starts_with("1200 file(s) scanned\\x1b[2J"), "{state}");
        assert_eq!(state.chars().count(), STATE_CHARS);
        progress.render(&event(
            5,
            EventBody::ScanComplete {
                status: certus_core::job::JobStatus::Succeeded,
                manifest_digest: None,
                bundle: None,
            },
        ));
        assert!(progress.phase.lock().unwrap().is_none());
        assert!(progress.running.lock().unwrap().is_empty());
        assert!(tool.unwrap().is_finished());
    }

    #[test]
    fn without_a_terminal_no_spinner_is_made() {
        let progress = ConsoleProgress::with(None, false, true);
        progress.render(&event(1, EventBody::phase("preparing directory source")));
        assert!(progress.phase.lock().unwrap().is_none());
    }
}
