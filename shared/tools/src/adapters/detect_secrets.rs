//! detect-secrets adapter: runs `detect-secrets scan --all-files -n` (never verifying secrets
//! against vendor APIs) and reads its JSON `results` map, one finding per reported secret.
//! The hashed secret is never read, kept or echoed; findings carry no snippet.
//!
//! Severity: a verified secret is critical; a known credential format (AWS key, private key,
//! GitHub token, …) high; `Secret Keyword` medium; high-entropy strings and public IPs low.
//! Exit codes: 0 is success; anything else is a failure. It must run with the scanned root as
//! its working directory (it silently skips paths outside it), and `pragma: allowlist secret`
//! comments in the scanned code are not honoured.

use std::collections::BTreeMap;
use std::ffi::OsString;

use serde::Deserialize;

use crate::error::ToolError;
use crate::finding::{Severity, ToolFinding};
use crate::paths::{relative_to_root, Location};
use crate::sarif::ParsedReport;
use crate::tool::ToolId;

const ALLOWLIST_FILTER: &str = "detect_secrets.filters.allowlist.is_line_allowlisted";

pub(crate) fn args() -> Vec<OsString> {
    [
        "scan",
        "--all-files",
        "-n",
        "--disable-filter",
        ALLOWLIST_FILTER,
        ".",
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

pub(crate) fn exit_is_success(code: i32) -> bool {
    code == 0
}

/// Reads detect-secrets' JSON (`results`: file → list of secrets) into one finding per secret.
pub fn parse_detect_secrets_json(
    stdout: &[u8],
    root: &std::path::Path,
) -> Result<ParsedReport, ToolError> {
    let unparsable = |reason: String| ToolError::OutputUnparsable {
        tool: ToolId::DetectSecrets,
        reason,
    };
    let report: SecretsReport = serde_json::from_slice(stdout)
        .map_err(|err| unparsable(format!("not detect-secrets JSON: {err}")))?;
    let mut parsed = ParsedReport::default();
    for (file, secrets) in &report.results {
        let path = match relative_to_root(root, file) {
            Ok(path) => path,
            Err(reason) => {
                parsed
                    .warnings
                    .push(format!("dropped {} secret(s): {reason}", secrets.len()));
                continue;
            }
        };
        for secret in secrets {
            if secret.line_number == 0 {
                return Err(unparsable(format!(
                    "a secret in '{path}' has line_number 0"
                )));
            }
            let location = Location {
                path: path.clone(),
                start_line: secret.line_number,
                end_line: None,
            };
            let message = format!(
                "Potential secret ({}) found; the value is redacted",
                secret.kind
            );
            parsed.findings.push(ToolFinding::bounded(
                &rule_id(&secret.kind),
                Some(&secret.kind),
                severity(&secret.kind, secret.is_verified),
                &message,
                location,
                None,
            ));
        }
    }
    Ok(parsed)
}

/// `AWS Access Key` → `detect-secrets.aws-access-key`.
fn rule_id(kind: &str) -> String {
    let slug: String = kind
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("detect-secrets.{slug}")
}

fn severity(kind: &str, verified: bool) -> Severity {
    if verified {
        Severity::Critical
    } else if kind.contains("High Entropy") || kind.starts_with("Public IP") {
        Severity::Low
    } else if kind == "Secret Keyword" {
        Severity::Medium
    } else {
        Severity::High
    }
}

#[derive(Deserialize)]
struct SecretsReport {
    results: BTreeMap<String, Vec<ReportedSecret>>,
}

/// One reported secret. `hashed_secret` is deliberately not a field: it is never read.
#[derive(Deserialize)]
struct ReportedSecret {
    #[serde(rename = "type")]
    kind: String,
    line_number: u32,
    #[serde(default)]
    is_verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_slugs_of_the_type() {
        assert_eq!(rule_id("AWS Access Key"), "detect-secrets.aws-access-key");
        assert_eq!(
            rule_id("Base64 High Entropy String"),
            "detect-secrets.base64-high-entropy-string"
        );
    }

    #[test]
    fn severities_follow_the_documented_mapping() {
        assert_eq!(severity("AWS Access Key", false), Severity::High);
        assert_eq!(severity("Private Key", false), Severity::High);
        assert_eq!(severity("Secret Keyword", false), Severity::Medium);
        assert_eq!(severity("Hex High Entropy String", false), Severity::Low);
        assert_eq!(severity("Secret Keyword", true), Severity::Critical);
    }
}
