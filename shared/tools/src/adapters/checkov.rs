//! Checkov adapter: runs `checkov --skip-download -o json` and reads its JSON report.
//!
//! JSON rather than SARIF: Checkov's SARIF URIs are relative to its working directory with `..`
//! removed, which cannot be mapped back to the scanned root unless it runs inside the root;
//! the JSON carries each file's absolute path.
//! Severity: Checkov's own `severity` (CRITICAL/HIGH/MEDIUM/LOW) when present; offline
//! Checkov has none (they come from the vendor platform), so a failed check is then medium.
//! Exit codes: 0 (all passed) and 1 (failed checks) are success; anything else is a failure.
//! The root is passed as `--directory=<root>`: in that form Checkov does not load a
//! `.checkov.yaml` from the scanned tree (which could skip checks), and it runs in our scratch
//! directory, so no config is read from the tree either. Secret findings (`CKV_SECRET_*`)
//! carry no snippet. Checks skipped by in-code suppressions are counted in a warning.

use std::ffi::OsString;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ToolError;
use crate::finding::{Severity, ToolFinding};
use crate::paths::{relative_to_root, Location};
use crate::sarif::ParsedReport;
use crate::tool::ToolId;

/// Most lines of a check's code block kept as its snippet.
const SNIPPET_LINES: usize = 10;

pub(crate) fn args(root: &Path) -> Vec<OsString> {
    let mut directory = OsString::from("--directory=");
    directory.push(root.as_os_str());
    vec![
        directory,
        "--skip-download".into(),
        "-o".into(),
        "json".into(),
        "--compact".into(),
    ]
}

pub(crate) fn exit_is_success(code: i32) -> bool {
    matches!(code, 0 | 1)
}

/// Reads Checkov's JSON report: one framework's object, a list of them, or the bare summary
/// Checkov prints when it found nothing to scan.
pub fn parse_checkov_json(stdout: &[u8], root: &Path) -> Result<ParsedReport, ToolError> {
    let unparsable = |reason: String| ToolError::OutputUnparsable {
        tool: ToolId::Checkov,
        reason,
    };
    let output: Value = serde_json::from_slice(stdout)
        .map_err(|err| unparsable(format!("not Checkov JSON: {err}")))?;
    let frameworks: Vec<Framework> = match output {
        Value::Array(_) => serde_json::from_value(output),
        Value::Object(ref fields) if fields.contains_key("results") => {
            serde_json::from_value(output).map(|framework| vec![framework])
        }
        Value::Object(_) => serde_json::from_value::<Summary>(output).and_then(|summary| {
            if summary.resource_count == 0 {
                Ok(Vec::new())
            } else {
                Err(serde::de::Error::custom(
                    "a summary with resources but no results",
                ))
            }
        }),
        _ => Err(serde::de::Error::custom("neither an object nor a list")),
    }
    .map_err(|err| unparsable(format!("not a Checkov report: {err}")))?;
    let mut parsed = ParsedReport::default();
    for framework in &frameworks {
        read_framework(framework, root, &mut parsed).map_err(&unparsable)?;
    }
    Ok(parsed)
}

fn read_framework(
    framework: &Framework,
    root: &Path,
    parsed: &mut ParsedReport,
) -> Result<(), String> {
    let results = &framework.results;
    for file in results.parsing_errors.iter().flatten() {
        let place = relative_to_root(root, file).unwrap_or_else(|reason| reason);
        parsed.warnings.push(format!(
            "checkov ({}) could not parse {place}",
            framework.check_type
        ));
    }
    let skipped = results.skipped_checks.as_ref().map_or(0, Vec::len);
    if skipped > 0 {
        parsed.warnings.push(format!(
            "checkov ({}): {} check(s) skipped by suppressions in the scanned code",
            framework.check_type, skipped
        ));
    }
    for check in &results.failed_checks {
        let path = match relative_to_root(root, &check.file_abs_path) {
            Ok(path) => path,
            Err(reason) => {
                parsed
                    .warnings
                    .push(format!("dropped a '{}' result: {reason}", check.check_id));
                continue;
            }
        };
        let (start, end) = match check.file_line_range.as_deref().unwrap_or_default() {
            [] => (1, None),
            [start] => (*start, None),
            [start, end, ..] => (*start, Some(*end)),
        };
        // Checkov reports line 0 for whole-file checks (e.g. secrets in a file, Dockerfile).
        let start_line = start.max(1);
        let location = Location {
            path,
            start_line,
            end_line: end.filter(|end| *end > start_line),
        };
        let severity = match check.severity.as_deref() {
            None => Severity::Medium,
            Some(named) => severity(named)
                .ok_or_else(|| format!("check {} has an unknown severity", check.check_id))?,
        };
        let message = match check.resource.as_deref() {
            Some(resource) => format!("{} (resource: {resource})", check.check_name),
            None => check.check_name.clone(),
        };
        let snippet = check
            .code_block
            .as_deref()
            .filter(|_| !check.check_id.starts_with("CKV_SECRET"))
            .and_then(snippet);
        parsed.findings.push(
            ToolFinding::bounded(
                &check.check_id,
                Some(&check.check_name),
                severity,
                &message,
                location,
                snippet.as_deref(),
            )
            .with_rule_help(None, check.guideline.as_deref()),
        );
    }
    Ok(())
}

fn severity(named: &str) -> Option<Severity> {
    match named.to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" => Some(Severity::High),
        "MEDIUM" => Some(Severity::Medium),
        "LOW" | "INFO" => Some(Severity::Low),
        _ => None,
    }
}

fn snippet(code_block: &[(u32, String)]) -> Option<String> {
    let text: String = code_block
        .iter()
        .take(SNIPPET_LINES)
        .map(|(_, line)| line.as_str())
        .collect();
    let text = text.trim_end().to_string();
    (!text.is_empty()).then_some(text)
}

#[derive(Deserialize)]
struct Summary {
    resource_count: u64,
}

#[derive(Deserialize)]
struct Framework {
    check_type: String,
    results: Results,
}

#[derive(Deserialize)]
struct Results {
    failed_checks: Vec<FailedCheck>,
    #[serde(default)]
    skipped_checks: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    parsing_errors: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct FailedCheck {
    check_id: String,
    check_name: String,
    file_abs_path: String,
    file_line_range: Option<Vec<u32>>,
    resource: Option<String>,
    severity: Option<String>,
    /// `null` with `--compact`.
    code_block: Option<Vec<(u32, String)>>,
    /// The page documenting the check, when Checkov has one.
    guideline: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_severities_map_and_unknown_ones_do_not() {
        assert_eq!(severity("CRITICAL"), Some(Severity::Critical));
        assert_eq!(severity("high"), Some(Severity::High));
        assert_eq!(severity("LOW"), Some(Severity::Low));
        assert_eq!(severity("SEVERE"), None);
    }

    #[test]
    fn snippets_join_the_code_block_lines() {
        let block = vec![
            (1, "resource \"aws_s3_bucket\" \"data\" {\n".to_string()),
            (2, "}\n".to_string()),
        ];
        assert_eq!(
            snippet(&block).as_deref(),
            Some("resource \"aws_s3_bucket\" \"data\" {\n}")
        );
        assert_eq!(snippet(&[]), None);
    }
}
