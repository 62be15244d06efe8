//! Semgrep adapter: runs our own rules (`rules/semgrep.yml`) offline and reads its SARIF.
//!
//! Severity: each rule's `security-severity` (≥9 critical, ≥7 high, ≥4 medium, else low);
//! without one, Semgrep's ERROR → high, WARNING → medium, INFO → low.
//! Exit codes: 0 (with or without findings) and 1 (findings, when blocking) are success;
//! anything else is a failure.
//! Suppressions planted in the scanned tree do not work: `nosemgrep` comments are disabled,
//! `.gitignore` is not used, and source files are passed explicitly, which bypasses
//! `.semgrepignore` files (only a tree too large to list is scanned as a directory, with a
//! warning). Snippets of hard-coded-credential findings are dropped so no secret is copied.

use std::ffi::OsString;
use std::path::Path;

use crate::error::ToolError;
use crate::sarif::{parse_sarif, ParsedReport};
use crate::targets::{list_files, Listing};
use crate::tool::ToolId;

/// Our rules, shipped with the crate.
pub const SEMGREP_RULES: &str = include_str!("../../rules/semgrep.yml");
/// Name of the rules file written into the run's scratch directory (the working directory).
const RULES_FILE: &str = "certus-semgrep.yml";
/// File extensions our rules cover.
const EXTENSIONS: [&str; 8] = ["py", "pyi", "js", "jsx", "mjs", "cjs", "ts", "tsx"];
/// Budget for explicit file arguments, well under Linux's 2 MiB `ARG_MAX`.
const MAX_ARGUMENT_BYTES: usize = 1024 * 1024;

pub(crate) fn prepare_scratch(scratch: &Path) -> std::io::Result<()> {
    std::fs::write(scratch.join(RULES_FILE), SEMGREP_RULES)
}

/// The arguments, plus a warning when the tree had to be scanned as a directory.
pub(crate) fn args(root: &Path) -> (Vec<OsString>, Option<String>) {
    let mut args: Vec<OsString> = [
        "scan",
        "--sarif",
        "--metrics=off",
        "--disable-version-check",
        "--disable-nosem",
        "--no-git-ignore",
        "--no-rewrite-rule-ids",
        "--config",
        RULES_FILE,
        "--",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    match list_files(root, &EXTENSIONS, MAX_ARGUMENT_BYTES) {
        Listing::Files(files) if !files.is_empty() => {
            args.extend(files.into_iter().map(Into::into));
            (args, None)
        }
        // Nothing our rules cover: scanning the directory finds nothing either.
        Listing::Files(_) => {
            args.push(root.as_os_str().to_os_string());
            (args, None)
        }
        Listing::TooLarge => {
            args.push(root.as_os_str().to_os_string());
            let warning = "the tree is too large to list its files for semgrep; it was scanned \
                           as a directory, so .semgrepignore files in it were honoured";
            (args, Some(warning.to_string()))
        }
    }
}

pub(crate) fn exit_is_success(code: i32) -> bool {
    matches!(code, 0 | 1)
}

pub(crate) fn parse(stdout: &[u8], root: &Path) -> Result<ParsedReport, ToolError> {
    let mut report = parse_sarif(ToolId::Semgrep, stdout, root)?;
    for finding in &mut report.findings {
        if finding.rule_id.ends_with("hardcoded-password") {
            finding.snippet = None;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_have_ids_without_dots_and_scores() {
        let ids: Vec<&str> = SEMGREP_RULES
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- id: "))
            .collect();
        assert!(ids.len() >= 6, "{ids:?}");
        assert!(ids.iter().all(|id| !id.contains('.')));
        assert_eq!(
            SEMGREP_RULES.matches("security-severity:").count(),
            ids.len()
        );
    }

    #[test]
    fn source_files_are_passed_explicitly_after_a_separator() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("-rf.py"), "x = 1\n").unwrap();
        std::fs::write(root.path().join("notes.txt"), "x\n").unwrap();
        let (args, warning) = args(root.path());
        assert_eq!(warning, None);
        let separator = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(
            args[separator + 1..],
            [root.path().join("-rf.py").into_os_string()]
        );
    }
}
