//! The crate's one error type: every way running or reading an external tool can fail.

use std::path::PathBuf;
use std::time::Duration;

use crate::tool::ToolId;

/// Why running an external scanner, or reading what it wrote, failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A tool id outside the closed set of supported tools.
    #[error("unknown tool '{0}': supported tools are semgrep, bandit, checkov, detect-secrets")]
    UnknownTool(String),

    /// An extra environment variable that the runner refuses to pass to a tool.
    #[error("environment variable '{0}' may not be passed to a tool: only plain, non-credential names are allowed")]
    ForbiddenEnv(String),

    /// The scanned root or the tool's working directory is unusable.
    #[error("scan root {path}: {reason}")]
    BadRoot { path: PathBuf, reason: String },

    /// The program could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },

    /// Waiting for, signalling or reading from the child process failed.
    #[error("while running {program}: {source}")]
    Io {
        program: PathBuf,
        source: std::io::Error,
    },

    /// Preparing the per-run scratch directory (HOME, rules, output files) failed.
    #[error("could not prepare the scratch directory for {tool}: {source}")]
    Scratch {
        tool: ToolId,
        source: std::io::Error,
    },

    /// The tool ran past its hard timeout and its whole process group was killed.
    #[error("{tool} timed out after {:.1} s and was killed", timeout.as_secs_f64())]
    TimedOut { tool: ToolId, timeout: Duration },

    /// The scan was cancelled and the tool's whole process group was killed.
    #[error("{tool} was stopped: the scan was cancelled")]
    Stopped { tool: ToolId },

    /// The tool was ended by a signal we did not send (e.g. the OOM killer).
    #[error("{tool} was killed by signal {signal}")]
    Killed { tool: ToolId, signal: i32 },

    /// The tool exited with a code that means failure for that tool.
    #[error("{tool} failed with exit code {exit_code}: {stderr_tail}")]
    ToolFailed {
        tool: ToolId,
        exit_code: i32,
        stderr_tail: String,
    },

    /// The tool's report is larger than the configured cap, so it cannot be read whole.
    #[error("{tool} output is larger than the {limit}-byte cap; refusing to parse a cut report")]
    OutputTooLarge { tool: ToolId, limit: usize },

    /// The tool's report is malformed, truncated or not what the tool should write.
    #[error("{tool} output is unparsable: {reason}")]
    OutputUnparsable { tool: ToolId, reason: String },
}
