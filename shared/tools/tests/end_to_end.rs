//! End-to-end runs of each adapter with the real tool on a small tree with planted problems
//! (and planted suppressions that must not work). Skipped with a message when the tool is not
//! installed; `CERTUS_TOOLS_BIN_DIR` may name a directory holding the tools (e.g. a venv's bin).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certus_tools::{
    detect, prepare_scan, ScanOptions, ScanOutcome, Severity, ToolError, ToolId, ToolInfo,
};

fn installed(tool: ToolId) -> Option<ToolInfo> {
    let bin_dir = certus_testkit::tools_bin_dir();
    certus_testkit::require(
        detect(tool, bin_dir.as_deref()),
        &format!("{tool} not installed (scripts/install-tools.sh installs it)"),
    )
}

/// Random upper-case alphanumerics, made at run time so no secret-looking literal is committed.
fn random_token(length: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut state = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(std::process::id());
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

/// A small tree with real problems, and suppressions planted by a hostile author.
fn planted_tree() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let write = |relative: &str, content: &str| {
        let path = root.path().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    };
    write(
        "app/run.py",
        &format!(
            "import subprocess\nimport yaml\n\n\ndef run(cmd):\n    \
             subprocess.call(cmd, shell=True)  # nosec nosemgrep\n\n\ndef load(text):\n    \
             return yaml.load(text)\n\n\ndef calc(expr):\n    return eval(expr)\n\n\n\
             password = \"{}\"\n",
            random_token(14, 1).to_lowercase()
        ),
    );
    write(
        "web/app.js",
        "const cp = require('child_process');\nfunction run(input) {\n  cp.exec(\"ls \" + input);\n  \
         eval(input);\n  eval(\"1 + 1\");\n}\nmodule.exports = { run };\n",
    );
    write(
        "infra/main.tf",
        "resource \"aws_s3_bucket\" \"data\" {\n  bucket = \"planted-test-bucket\"\n}\n",
    );
    write(
        "config/settings.env",
        &format!(
            "AWS_ACCESS_KEY_ID=AKIA{}\ndb_password = \"{}\"  # pragma: allowlist secret\n",
            random_token(16, 2),
            random_token(32, 3).to_lowercase()
        ),
    );
    // Hostile configuration that would hide findings if the tools honoured it.
    write(".bandit", "[bandit]\nskips: B602,B506\n");
    write(".semgrepignore", "*.py\n*.js\napp/\nweb/\n");
    write("app/.semgrepignore", "*\n");
    let checkov_skip = "skip-check:\n  - CKV2_AWS_6\n  - CKV_AWS_145\n";
    write(".checkov.yaml", checkov_skip);
    write("infra/.checkov.yaml", checkov_skip);
    root
}

fn scan(info: &ToolInfo, root: &Path) -> (ScanOutcome, usize) {
    let mut lines = 0usize;
    let options = ScanOptions {
        timeout: Duration::from_secs(300),
        ..ScanOptions::default()
    };
    let outcome = prepare_scan(info, root, &options)
        .unwrap()
        .run(&mut |_, _| lines += 1)
        .unwrap_or_else(|err| panic!("{} failed: {err}", info.tool));
    (outcome, lines)
}

fn rule_ids(outcome: &ScanOutcome) -> BTreeSet<&str> {
    outcome
        .findings
        .iter()
        .map(|f| f.rule_id.as_str())
        .collect()
}

fn assert_paths_inside(outcome: &ScanOutcome, expected: &[&str]) {
    for finding in &outcome.findings {
        assert!(
            expected.contains(&finding.path.as_str()),
            "unexpected path {} in {finding:?}",
            finding.path
        );
    }
}

#[test]
fn semgrep_finds_the_planted_python_and_javascript_problems() {
    let Some(info) = installed(ToolId::Semgrep) else {
        return;
    };
    let tree = planted_tree();
    let (outcome, lines) = scan(&info, tree.path());
    let ids = rule_ids(&outcome);
    for expected in [
        "python-subprocess-shell-true",
        "python-yaml-unsafe-load",
        "python-eval-exec-of-input",
        "python-hardcoded-password",
        "javascript-child-process-exec",
        "javascript-eval-of-input",
    ] {
        assert!(ids.contains(expected), "{expected} missing from {ids:?}");
    }
    assert_paths_inside(&outcome, &["app/run.py", "web/app.js"]);
    let js_evals = outcome
        .findings
        .iter()
        .filter(|f| f.rule_id == "javascript-eval-of-input")
        .count();
    assert_eq!(js_evals, 1, "eval of a literal must not be reported");
    let shell = outcome
        .findings
        .iter()
        .find(|f| f.rule_id == "python-subprocess-shell-true")
        .unwrap();
    assert_eq!(shell.severity, Severity::High);
    assert_eq!(shell.start_line, 6);
    assert!(shell.snippet.as_deref().unwrap().contains("shell=True"));
    let password = outcome
        .findings
        .iter()
        .find(|f| f.rule_id == "python-hardcoded-password")
        .unwrap();
    assert_eq!(
        password.snippet, None,
        "a credential was copied into the report"
    );
    assert!(lines > 0, "no stderr lines were streamed");
}

#[test]
fn bandit_finds_shell_true_and_yaml_load_despite_nosec_and_a_project_ini() {
    let Some(info) = installed(ToolId::Bandit) else {
        return;
    };
    let tree = planted_tree();
    let (outcome, _) = scan(&info, tree.path());
    let ids = rule_ids(&outcome);
    for expected in ["B602", "B506", "B307", "B105"] {
        assert!(ids.contains(expected), "{expected} missing from {ids:?}");
    }
    assert_eq!(outcome.run.exit_code, Some(1));
    assert_paths_inside(&outcome, &["app/run.py"]);
    let shell = outcome
        .findings
        .iter()
        .find(|f| f.rule_id == "B602")
        .unwrap();
    assert_eq!(shell.severity, Severity::High);
}

#[test]
fn checkov_flags_the_unencrypted_bucket_despite_a_planted_skip_config() {
    let Some(info) = installed(ToolId::Checkov) else {
        return;
    };
    let tree = planted_tree();
    let (outcome, _) = scan(&info, tree.path());
    let ids = rule_ids(&outcome);
    for expected in ["CKV_AWS_145", "CKV2_AWS_6", "CKV_AWS_18"] {
        assert!(ids.contains(expected), "{expected} missing from {ids:?}");
    }
    let kms = outcome
        .findings
        .iter()
        .find(|f| f.rule_id == "CKV_AWS_145")
        .unwrap();
    assert_eq!(kms.path, "infra/main.tf");
    assert_eq!(kms.start_line, 1);
    assert!(fs::read_dir(tree.path()).unwrap().all(|entry| !entry
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("results")));
}

#[test]
fn detect_secrets_counts_each_planted_secret_including_allowlisted_ones() {
    let Some(info) = installed(ToolId::DetectSecrets) else {
        return;
    };
    let tree = planted_tree();
    let (outcome, _) = scan(&info, tree.path());
    let in_settings: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.path == "config/settings.env")
        .collect();
    assert!(
        in_settings
            .iter()
            .any(|f| f.rule_id == "detect-secrets.aws-access-key" && f.start_line == 1),
        "{in_settings:?}"
    );
    assert!(
        in_settings.iter().any(|f| f.start_line == 2),
        "the pragma-allowlisted line must still be reported: {in_settings:?}"
    );
    // One finding per secret: the file with two planted secrets yields at least two.
    assert!(in_settings.len() >= 2);
    let report = format!("{:?}", outcome.findings);
    assert!(!report.contains("hashed_secret"));
    assert!(!report.contains("AKIA"), "secret value echoed: {report}");
}

#[test]
fn a_real_tool_is_killed_at_a_tiny_timeout() {
    let Some(info) = installed(ToolId::Bandit) else {
        return;
    };
    let tree = planted_tree();
    let options = ScanOptions {
        timeout: Duration::from_millis(50),
        ..ScanOptions::default()
    };
    let err = prepare_scan(&info, tree.path(), &options)
        .unwrap()
        .run(&mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::TimedOut {
                tool: ToolId::Bandit,
                ..
            }
        ),
        "{err}"
    );
}
