//! Runs one supported scanner on a directory and turns its output into neutral findings:
//! builds the tool's command, runs it with the hard-timeout runner, decides what its exit code
//! means, and parses its report. A failed run or an unreadable report is always an error.

mod bandit;
mod checkov;
mod detect_secrets;
mod semgrep;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tempfile::TempDir;

use crate::error::ToolError;
use crate::finding::ToolFinding;
use crate::runner::{run_tool_until, RunStatus, Stream, ToolCommand, ToolRun};
use crate::sarif::ParsedReport;
use crate::tool::{ToolId, ToolInfo};

pub use bandit::parse_bandit_json;
pub use checkov::parse_checkov_json;
pub use detect_secrets::parse_detect_secrets_json;
pub use semgrep::SEMGREP_RULES;

/// Longest command line [`PreparedScan::command_line`] returns before it is shortened.
pub const COMMAND_LINE_CHARS: usize = 2000;

/// Limits of one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Hard wall-clock limit for the tool.
    pub timeout: Duration,
    /// Largest report (the tool's stdout) that is read; a longer one is `OutputTooLarge`.
    pub max_output_bytes: usize,
}

impl Default for ScanOptions {
    /// 15 minutes and 32 MiB.
    fn default() -> Self {
        ScanOptions {
            timeout: Duration::from_secs(15 * 60),
            max_output_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What a successful scan produced.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub tool: ToolId,
    pub run: ToolRun,
    pub findings: Vec<ToolFinding>,
    /// Dropped results, files the tool could not read, tool notifications.
    pub warnings: Vec<String>,
}

/// A scan with its command built and its scratch directory ready, not yet started.
#[derive(Debug)]
pub struct PreparedScan {
    tool: ToolId,
    root: PathBuf,
    command: ToolCommand,
    max_output_bytes: usize,
    warnings: Vec<String>,
    /// Keeps the scratch directory (our rules and config files) until the scan is over.
    _scratch: TempDir,
}

/// Prepares `info`'s tool to scan `root` (an existing directory): a private scratch directory
/// for our rules and config (also the working directory, except for detect-secrets, which must
/// run in the root) and the argument vector.
pub fn prepare_scan(
    info: &ToolInfo,
    root: &Path,
    options: &ScanOptions,
) -> Result<PreparedScan, ToolError> {
    let bad_root = |reason: String| ToolError::BadRoot {
        path: root.to_path_buf(),
        reason,
    };
    let root = root
        .canonicalize()
        .map_err(|err| bad_root(format!("cannot be resolved: {err}")))?;
    if !root.is_dir() {
        return Err(bad_root("is not a directory".to_string()));
    }
    let tool = info.tool;
    let scratch_error = |source| ToolError::Scratch { tool, source };
    let scratch = tempfile::Builder::new()
        .prefix("certus-scan-")
        .tempdir()
        .map_err(scratch_error)?;
    let dir = scratch.path();
    let mut warnings = Vec::new();
    let (args, cwd): (Vec<OsString>, PathBuf) = match tool {
        ToolId::Semgrep => {
            semgrep::prepare_scratch(dir).map_err(scratch_error)?;
            let (args, warning) = semgrep::args(&root);
            warnings.extend(warning);
            (args, dir.to_path_buf())
        }
        ToolId::Bandit => {
            bandit::prepare_scratch(dir).map_err(scratch_error)?;
            (bandit::args(&root, dir), dir.to_path_buf())
        }
        ToolId::Checkov => (checkov::args(&root), dir.to_path_buf()),
        ToolId::DetectSecrets => (detect_secrets::args(), root.clone()),
    };
    let command = ToolCommand {
        program: info.path.clone(),
        args,
        cwd,
        env: tool.offline_env(),
        timeout: options.timeout,
        max_output_bytes: options.max_output_bytes,
    };
    Ok(PreparedScan {
        tool,
        root,
        command,
        max_output_bytes: options.max_output_bytes,
        warnings,
        _scratch: scratch,
    })
}

impl PreparedScan {
    /// The command that will run, for the `tool_start` event: program and arguments,
    /// space-joined, shortened past [`COMMAND_LINE_CHARS`] (semgrep gets one argument per file).
    pub fn command_line(&self) -> String {
        let mut line = self.command.program.to_string_lossy().into_owned();
        for (index, arg) in self.command.args.iter().enumerate() {
            let arg = arg.to_string_lossy();
            if line.len() + arg.len() + 1 > COMMAND_LINE_CHARS {
                let left = self.command.args.len() - index;
                line.push_str(&format!(" … ({left} more arguments)"));
                break;
            }
            line.push(' ');
            line.push_str(&arg);
        }
        line
    }

    /// The command that will run.
    pub fn command(&self) -> &ToolCommand {
        &self.command
    }

    /// Runs the tool, streaming its stderr lines to `on_line`, and parses its report. Stdout is
    /// the machine-readable report (detect-secrets' carries hashed secrets), so it is parsed,
    /// not streamed.
    pub fn run(self, on_line: &mut dyn FnMut(Stream, &str)) -> Result<ScanOutcome, ToolError> {
        self.run_until(&AtomicBool::new(false), on_line)
    }

    /// Like [`PreparedScan::run`], stopping the tool (its whole process group) as soon as `stop` is set.
    pub fn run_until(
        self,
        stop: &AtomicBool,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<ScanOutcome, ToolError> {
        let tool = self.tool;
        let run = run_tool_until(&self.command, stop, &mut |stream, line| {
            if stream == Stream::Stderr {
                on_line(stream, line);
            }
        })?;
        match run.status {
            RunStatus::TimedOut => {
                return Err(ToolError::TimedOut {
                    tool,
                    timeout: self.command.timeout,
                })
            }
            RunStatus::Stopped => return Err(ToolError::Stopped { tool }),
            RunStatus::Killed => {
                return Err(ToolError::Killed {
                    tool,
                    signal: run.signal.unwrap_or(0),
                })
            }
            RunStatus::Completed => {}
        }
        let exit_code = run.exit_code.unwrap_or(-1);
        let success = match tool {
            ToolId::Semgrep => semgrep::exit_is_success(exit_code),
            ToolId::Bandit => bandit::exit_is_success(exit_code),
            ToolId::Checkov => checkov::exit_is_success(exit_code),
            ToolId::DetectSecrets => detect_secrets::exit_is_success(exit_code),
        };
        if !success {
            return Err(ToolError::ToolFailed {
                tool,
                exit_code,
                stderr_tail: last_lines(&run.stderr_tail, 10),
            });
        }
        let report = self.read_report(&run)?;
        let mut warnings = self.warnings;
        warnings.extend(report.warnings);
        Ok(ScanOutcome {
            tool,
            run,
            findings: report.findings,
            warnings,
        })
    }

    fn read_report(&self, run: &ToolRun) -> Result<ParsedReport, ToolError> {
        match self.tool {
            ToolId::Checkov => parse_checkov_json(self.whole_stdout(run)?, &self.root),
            ToolId::Semgrep => semgrep::parse(self.whole_stdout(run)?, &self.root),
            ToolId::Bandit => parse_bandit_json(self.whole_stdout(run)?, &self.root),
            ToolId::DetectSecrets => parse_detect_secrets_json(self.whole_stdout(run)?, &self.root),
        }
    }

    /// Stdout, unless it was cut at the cap (a cut report must not be parsed as a short one).
    fn whole_stdout<'run>(&self, run: &'run ToolRun) -> Result<&'run [u8], ToolError> {
        if run.stdout_truncated {
            return Err(ToolError::OutputTooLarge {
                tool: self.tool,
                limit: self.max_output_bytes,
            });
        }
        Ok(&run.stdout)
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
