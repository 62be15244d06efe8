//! External security scanners for Certus-Assurance: a process runner with hard timeouts and
//! process-group kills, the closed set of supported tools and their detection, one adapter per
//! tool (semgrep, bandit, checkov, detect-secrets) producing neutral findings, and a SARIF
//! 2.1.0 reader. Everything is synchronous (std threads only).

mod adapters;
mod environment;
mod error;
mod finding;
mod lines;
mod paths;
mod runner;
mod sarif;
mod targets;
mod tool;

pub use adapters::{
    parse_bandit_json, parse_checkov_json, parse_detect_secrets_json, prepare_scan, PreparedScan,
    ScanOptions, ScanOutcome, COMMAND_LINE_CHARS, SEMGREP_RULES,
};
pub use error::ToolError;
pub use finding::{Severity, ToolFinding};
pub use lines::CUT_MARKER;
pub use runner::{
    run_tool, run_tool_until, RunStatus, Stream, ToolCommand, ToolRun, MAX_LINE_BYTES,
    STDERR_TAIL_BYTES,
};
pub use sarif::{
    level_severity, parse_sarif, Level, ParsedReport, MAX_SARIF_BYTES, MAX_SARIF_RESULTS,
};
pub use tool::{detect, locate, read_version, ToolId, ToolInfo};
