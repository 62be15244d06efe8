//! Runs one external program with a hard timeout, in its own process group, with a cleared
//! environment, streaming its output line by line and capping what it keeps.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, waitid, Pid, Signal, WaitId, WaitIdOptions};

use crate::environment::tool_environment;
use crate::error::ToolError;
use crate::lines::LineSplitter;

/// Longest line handed to the callback; longer lines are cut and marked.
pub const MAX_LINE_BYTES: usize = 4096;
/// How much of the end of stderr is kept for error messages.
pub const STDERR_TAIL_BYTES: usize = 8 * 1024;
/// Time between SIGTERM and SIGKILL when a tool is stopped.
const TERM_GRACE: Duration = Duration::from_millis(1500);
/// After the tool ended, how long we still wait for its pipes to close (a process that left
/// the group may hold them open; we stop listening rather than hang).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// How often the child's state is checked while no output arrives.
const POLL: Duration = Duration::from_millis(20);
const READ_CHUNK: usize = 64 * 1024;
const CHANNEL_DEPTH: usize = 64;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as used in `log` events.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One program to run. Arguments go to the program as a vector, never through a shell.
#[derive(Debug, Clone)]
pub struct ToolCommand {
    /// Executable (an absolute path, or a name looked up on the tool's `PATH`).
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Working directory of the tool.
    pub cwd: PathBuf,
    /// Extra variables on top of the allowlist (`PATH`, `HOME`, `LANG`); credential-like
    /// names are refused with [`ToolError::ForbiddenEnv`].
    pub env: Vec<(String, String)>,
    /// Hard limit on wall-clock time; then the whole process group is killed.
    pub timeout: Duration,
    /// Cap on the stdout bytes kept in [`ToolRun::stdout`]; more is read and dropped.
    pub max_output_bytes: usize,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// The program exited by itself (any exit code).
    Completed,
    /// The timeout passed and we killed the whole process group.
    TimedOut,
    /// The program was ended by a signal we did not send.
    Killed,
    /// The caller asked the run to stop (its scan was cancelled) and we killed the whole process group.
    Stopped,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct ToolRun {
    /// Exit code when the program exited by itself.
    pub exit_code: Option<i32>,
    /// Signal that ended the program, if one did.
    pub signal: Option<i32>,
    pub status: RunStatus,
    /// Stdout, at most `max_output_bytes` of it.
    pub stdout: Vec<u8>,
    /// True when stdout was longer than the cap and was cut.
    pub stdout_truncated: bool,
    /// The last [`STDERR_TAIL_BYTES`] of stderr, for error messages.
    pub stderr_tail: String,
    pub duration: Duration,
}

enum Message {
    Chunk(Stream, Vec<u8>),
    Closed(Stream),
}

/// Runs `command`, calling `on_line` for every stdout and stderr line as it arrives.
///
/// The child gets its own process group; on timeout the whole group (grandchildren included)
/// gets SIGTERM, then SIGKILL after a short grace. When the child exits by itself, whatever it
/// left running in its group is killed too.
pub fn run_tool(
    command: &ToolCommand,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ToolRun, ToolError> {
    run_tool_until(command, &AtomicBool::new(false), on_line)
}

/// Like [`run_tool`], and the whole process group is stopped as at the timeout as soon as `stop` is set
/// (checked every few milliseconds): a cancelled scan's tool does not run on to its timeout.
pub fn run_tool_until(
    command: &ToolCommand,
    stop: &AtomicBool,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ToolRun, ToolError> {
    let io_error = |source| ToolError::Io {
        program: command.program.clone(),
        source,
    };
    let home = tempfile::Builder::new()
        .prefix("certus-tool-home-")
        .tempdir()
        .map_err(io_error)?;
    let env = tool_environment(&command.program, home.path(), &command.env)?;

    let start = Instant::now();
    let child = Command::new(&command.program)
        .args(&command.args)
        .current_dir(&command.cwd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| ToolError::Spawn {
            program: command.program.clone(),
            source,
        })?;
    let mut group = Group {
        id: Pid::from_child(&child),
        reaped: false,
        child,
    };

    let (sender, receiver) = mpsc::sync_channel(CHANNEL_DEPTH);
    if let Some(stdout) = group.child.stdout.take() {
        spawn_reader(stdout, Stream::Stdout, sender.clone());
    }
    if let Some(stderr) = group.child.stderr.take() {
        spawn_reader(stderr, Stream::Stderr, sender);
    }

    let mut output = OutputCollector::new(command.max_output_bytes);
    let ended = supervise(
        &mut group,
        start + command.timeout,
        stop,
        &receiver,
        &mut output,
        on_line,
    )
    .map_err(io_error)?;

    let (status, exit_code, signal) = match (ended.stopped, ended.status.code()) {
        (Some(why), _) => (why, None, ended.status.signal()),
        (None, Some(code)) => (RunStatus::Completed, Some(code), None),
        (None, None) => (RunStatus::Killed, None, ended.status.signal()),
    };
    Ok(ToolRun {
        exit_code,
        signal,
        status,
        stdout_truncated: output.stdout_truncated,
        stdout: output.stdout,
        stderr_tail: String::from_utf8_lossy(&output.stderr_tail).into_owned(),
        duration: start.elapsed(),
    })
}

struct Ended {
    status: ExitStatus,
    /// Why we ended the group ourselves (`TimedOut` or `Stopped`), if we did.
    stopped: Option<RunStatus>,
}

/// Pumps output to the callback until the child has ended and its pipes are closed,
/// enforcing the deadline.
fn supervise(
    group: &mut Group,
    deadline: Instant,
    stop: &AtomicBool,
    receiver: &Receiver<Message>,
    output: &mut OutputCollector,
    on_line: &mut dyn FnMut(Stream, &str),
) -> std::io::Result<Ended> {
    let mut open_streams = 2;
    let mut ended: Option<Ended> = None;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if open_streams > 0 {
            match receiver.recv_timeout(POLL) {
                Ok(Message::Chunk(stream, bytes)) => output.push(stream, &bytes, on_line),
                Ok(Message::Closed(stream)) => {
                    output.finish(stream, on_line);
                    open_streams -= 1;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open_streams = 0,
            }
        } else {
            thread::sleep(POLL);
        }

        if ended.is_none() {
            if group.leader_has_exited()? {
                // The tool is done: anything it left behind in its group goes too.
                group.signal(Signal::KILL);
                ended = Some(Ended {
                    status: group.reap()?,
                    stopped: None,
                });
            } else if stop.load(Ordering::SeqCst) {
                ended = Some(Ended {
                    status: group.terminate()?,
                    stopped: Some(RunStatus::Stopped),
                });
            } else if Instant::now() >= deadline {
                ended = Some(Ended {
                    status: group.terminate()?,
                    stopped: Some(RunStatus::TimedOut),
                });
            }
            if ended.is_some() {
                drain_deadline = Some(Instant::now() + DRAIN_GRACE);
            }
        }

        match ended {
            Some(done) if open_streams == 0 => return Ok(done),
            Some(done) if drain_deadline.is_some_and(|limit| Instant::now() >= limit) => {
                for stream in [Stream::Stdout, Stream::Stderr] {
                    output.finish(stream, on_line);
                }
                return Ok(done);
            }
            _ => {}
        }
    }
}

/// The child, leader of its own process group. The leader is reaped only after the group was
/// signalled, so its pid (the group id) cannot be reused by another process meanwhile. Dropped
/// before that (an error, a panicking callback), it kills the whole group.
struct Group {
    child: Child,
    id: Pid,
    reaped: bool,
}

impl Group {
    /// True once the leader has exited; it is left unreaped.
    fn leader_has_exited(&self) -> std::io::Result<bool> {
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        Ok(waitid(WaitId::Pid(self.id), options)?.is_some())
    }

    /// Signals every process of the group; a group that is already gone is not an error.
    fn signal(&self, signal: Signal) {
        if !self.reaped {
            // ESRCH (nothing left in the group) is expected once everything has exited.
            let _ = kill_process_group(self.id, signal);
        }
    }

    /// SIGTERM to the whole group, a short grace, then SIGKILL to whatever is left, then reap.
    fn terminate(&mut self) -> std::io::Result<ExitStatus> {
        self.signal(Signal::TERM);
        // The unreaped leader keeps the group non-empty, so the grace cannot end early.
        thread::sleep(TERM_GRACE);
        self.signal(Signal::KILL);
        self.reap()
    }

    fn reap(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait()?;
        self.reaped = true;
        Ok(status)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(Signal::KILL);
            // Best effort: there is no one left to report a failure to.
            let _ = self.child.wait();
        }
    }
}

fn spawn_reader(mut pipe: impl Read + Send + 'static, stream: Stream, sender: SyncSender<Message>) {
    thread::spawn(move || {
        let mut buffer = vec![0u8; READ_CHUNK];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if sender
                        .send(Message::Chunk(stream, buffer[..read].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        // The receiver may be gone already; nothing is left to tell then.
        let _ = sender.send(Message::Closed(stream));
    });
}

/// Keeps the capped stdout and the stderr tail, and splits both into lines for the callback.
struct OutputCollector {
    stdout: Vec<u8>,
    stdout_cap: usize,
    stdout_truncated: bool,
    stderr_tail: Vec<u8>,
    stdout_lines: LineSplitter,
    stderr_lines: LineSplitter,
}

impl OutputCollector {
    fn new(stdout_cap: usize) -> Self {
        OutputCollector {
            stdout: Vec::new(),
            stdout_cap,
            stdout_truncated: false,
            stderr_tail: Vec::new(),
            stdout_lines: LineSplitter::new(MAX_LINE_BYTES),
            stderr_lines: LineSplitter::new(MAX_LINE_BYTES),
        }
    }

    fn push(&mut self, stream: Stream, bytes: &[u8], on_line: &mut dyn FnMut(Stream, &str)) {
        let mut emit = |line: &str| on_line(stream, line);
        match stream {
            Stream::Stdout => {
                let room = self.stdout_cap.saturating_sub(self.stdout.len());
                if bytes.len() > room {
                    self.stdout_truncated = true;
                }
                self.stdout
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
                self.stdout_lines.push(bytes, &mut emit);
            }
            Stream::Stderr => {
                self.stderr_tail.extend_from_slice(bytes);
                let excess = self.stderr_tail.len().saturating_sub(STDERR_TAIL_BYTES);
                self.stderr_tail.drain(..excess);
                self.stderr_lines.push(bytes, &mut emit);
            }
        }
    }

    fn finish(&mut self, stream: Stream, on_line: &mut dyn FnMut(Stream, &str)) {
        let mut emit = |line: &str| on_line(stream, line);
        match stream {
            Stream::Stdout => self.stdout_lines.finish(&mut emit),
            Stream::Stderr => self.stderr_lines.finish(&mut emit),
        }
    }
}
