//! Bandit adapter: runs `bandit -r -f json` with an empty ini of ours and reads its JSON.
//!
//! Severity: `issue_severity` HIGH → high, MEDIUM → medium, LOW/UNDEFINED → low, then one step
//! lower when `issue_confidence` is LOW. Bandit never yields critical.
//! Exit codes: 0 (no issues) and 1 (issues found) are success; anything else is a failure.
//! A project `.bandit` file is not honoured (our `--ini` replaces it) and `# nosec` is ignored.
//! Hard-coded password findings (B105–B107) carry no snippet, so no secret is copied.

use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use crate::error::ToolError;
use crate::finding::{Severity, ToolFinding};
use crate::paths::{relative_to_root, Location};
use crate::sarif::ParsedReport;
use crate::tool::ToolId;

const INI_FILE: &str = "certus-bandit.ini";
/// Hard-coded password tests, whose code line would copy the secret into the report.
const CREDENTIAL_TESTS: [&str; 3] = ["B105", "B106", "B107"];

pub(crate) fn prepare_scratch(scratch: &Path) -> std::io::Result<()> {
    std::fs::write(scratch.join(INI_FILE), "[bandit]\n")
}

pub(crate) fn args(root: &Path, scratch: &Path) -> Vec<OsString> {
    vec![
        "-r".into(),
        root.as_os_str().to_os_string(),
        "-f".into(),
        "json".into(),
        "-q".into(),
        "--ignore-nosec".into(),
        "--ini".into(),
        scratch.join(INI_FILE).into_os_string(),
    ]
}

pub(crate) fn exit_is_success(code: i32) -> bool {
    matches!(code, 0 | 1)
}

/// Reads Bandit's JSON report (`results[]`, `errors[]`).
pub fn parse_bandit_json(stdout: &[u8], root: &Path) -> Result<ParsedReport, ToolError> {
    let unparsable = |reason: String| ToolError::OutputUnparsable {
        tool: ToolId::Bandit,
        reason,
    };
    let report: BanditReport = serde_json::from_slice(stdout)
        .map_err(|err| unparsable(format!("not Bandit JSON: {err}")))?;
    let mut parsed = ParsedReport::default();
    for error in &report.errors {
        let place = relative_to_root(root, &error.filename).unwrap_or_else(|reason| reason);
        parsed
            .warnings
            .push(format!("bandit could not scan {place}: {}", error.reason));
    }
    for (index, issue) in report.results.iter().enumerate() {
        if issue.line_number == 0 {
            return Err(unparsable(format!("result {index} has line_number 0")));
        }
        let path = match relative_to_root(root, &issue.filename) {
            Ok(path) => path,
            Err(reason) => {
                parsed
                    .warnings
                    .push(format!("dropped a '{}' result: {reason}", issue.test_id));
                continue;
            }
        };
        let severity = severity(&issue.issue_severity, &issue.issue_confidence)
            .ok_or_else(|| unparsable(format!("result {index} has an unknown severity")))?;
        let end_line = issue
            .line_range
            .iter()
            .copied()
            .max()
            .filter(|end| *end > issue.line_number);
        let location = Location {
            path,
            start_line: issue.line_number,
            end_line,
        };
        let snippet = issue
            .code
            .as_deref()
            .filter(|_| !CREDENTIAL_TESTS.contains(&issue.test_id.as_str()))
            .and_then(|code| line_of(code, issue.line_number));
        parsed.findings.push(
            ToolFinding::bounded(
                &issue.test_id,
                issue.test_name.as_deref(),
                severity,
                &issue.issue_text,
                location,
                snippet,
            )
            .with_rule_help(None, issue.more_info.as_deref()),
        );
    }
    Ok(parsed)
}

fn severity(issue_severity: &str, confidence: &str) -> Option<Severity> {
    let base = match issue_severity {
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" | "UNDEFINED" => Severity::Low,
        _ => return None,
    };
    Some(if confidence == "LOW" {
        base.lowered()
    } else {
        base
    })
}

/// Bandit's `code` is numbered context (`"5 def f():\n6     call()\n"`); keep the flagged line.
fn line_of(code: &str, line_number: u32) -> Option<&str> {
    let prefix = format!("{line_number} ");
    code.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
}

#[derive(Deserialize)]
struct BanditReport {
    results: Vec<BanditIssue>,
    #[serde(default)]
    errors: Vec<BanditError>,
}

#[derive(Deserialize)]
struct BanditIssue {
    test_id: String,
    test_name: Option<String>,
    issue_text: String,
    issue_severity: String,
    issue_confidence: String,
    filename: String,
    line_number: u32,
    #[serde(default)]
    line_range: Vec<u32>,
    code: Option<String>,
    /// The page documenting the test (`https://bandit.readthedocs.io/…`).
    more_info: Option<String>,
}

#[derive(Deserialize)]
struct BanditError {
    filename: String,
    reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_bandit_severity_and_confidence() {
        assert_eq!(severity("HIGH", "HIGH"), Some(Severity::High));
        assert_eq!(severity("HIGH", "LOW"), Some(Severity::Medium));
        assert_eq!(severity("MEDIUM", "MEDIUM"), Some(Severity::Medium));
        assert_eq!(severity("LOW", "LOW"), Some(Severity::Low));
        assert_eq!(severity("SEVERE", "HIGH"), None);
    }

    #[test]
    fn the_flagged_line_is_taken_from_numbered_code() {
        let code = "5 def run(cmd):\n6     subprocess.call(cmd, shell=True)\n7 \n";
        assert_eq!(
            line_of(code, 6),
            Some("    subprocess.call(cmd, shell=True)")
        );
        assert_eq!(line_of(code, 9), None);
    }
}
