//! Adapters driven by fake tools (`sh` scripts standing in for the real executables): the
//! command each builds, what each exit code means, and failures that must never pass.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certus_tools::{prepare_scan, ScanOptions, ToolError, ToolId, ToolInfo};

struct Fake {
    dir: tempfile::TempDir,
    root: tempfile::TempDir,
}

impl Fake {
    /// A fake `tool` whose scan part runs `body`; it records its arguments and working dir.
    fn new(tool: ToolId, body: &str) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let log = dir.path().display().to_string();
        let program = dir.path().join(tool.as_str());
        fs::write(
            &program,
            format!(
                "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 1.2.3; exit 0; fi\n\
                 printf '%s\\n' \"$@\" > {log}/args.txt\npwd > {log}/cwd.txt\n{body}"
            ),
        )
        .unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        Fake { dir, root }
    }

    fn info(&self, tool: ToolId) -> ToolInfo {
        certus_tools::detect(tool, Some(self.dir.path())).expect("fake tool detected")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn args(&self) -> Vec<String> {
        fs::read_to_string(self.file("args.txt"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn cwd(&self) -> PathBuf {
        PathBuf::from(fs::read_to_string(self.file("cwd.txt")).unwrap().trim())
    }

    fn canonical_root(&self) -> PathBuf {
        self.root.path().canonicalize().unwrap()
    }
}

fn options() -> ScanOptions {
    ScanOptions {
        timeout: Duration::from_secs(30),
        max_output_bytes: 1024 * 1024,
    }
}

fn write_report(fake: &Fake, name: &str, content: &str) -> String {
    let path = fake.file(name);
    fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn bandit_exit_1_means_findings_and_its_project_config_is_overridden() {
    let fake = Fake::new(ToolId::Bandit, "");
    let root = fake.canonical_root();
    let report = format!(
        r#"{{"errors": [], "results": [{{"filename": "{}/app/run.py", "issue_confidence": "HIGH",
        "issue_severity": "HIGH", "issue_text": "shell=True", "line_number": 6, "line_range": [6],
        "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"}}]}}"#,
        root.display()
    );
    let report_path = write_report(&fake, "report.json", &report);
    let program = fake.file("bandit");
    let script = fs::read_to_string(&program).unwrap() + &format!("cat {report_path}\nexit 1\n");
    fs::write(&program, script).unwrap();

    let scan = prepare_scan(&fake.info(ToolId::Bandit), fake.root.path(), &options()).unwrap();
    assert!(scan.command_line().contains("--ignore-nosec"));
    let outcome = scan.run(&mut |_, _| {}).unwrap();
    assert_eq!(outcome.tool, ToolId::Bandit);
    assert_eq!(outcome.run.exit_code, Some(1));
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(outcome.findings[0].rule_id, "B602");
    assert_eq!(outcome.findings[0].path, "app/run.py");

    let args = fake.args();
    assert_eq!(args[..2], ["-r".to_string(), root.display().to_string()]);
    assert!(args.windows(2).any(|w| w == ["-f", "json"]));
    let ini = args.iter().position(|a| a == "--ini").unwrap();
    assert!(!Path::new(&args[ini + 1]).starts_with(&root));
    assert_ne!(
        fake.cwd(),
        root,
        "bandit must not run inside the scanned tree"
    );
}

#[test]
fn bandit_exit_2_is_a_failure_with_its_stderr() {
    let fake = Fake::new(
        ToolId::Bandit,
        "echo 'bandit: error: bad args' >&2\nexit 2\n",
    );
    let err = prepare_scan(&fake.info(ToolId::Bandit), fake.root.path(), &options())
        .unwrap()
        .run(&mut |_, _| {})
        .unwrap_err();
    match err {
        ToolError::ToolFailed {
            tool,
            exit_code,
            stderr_tail,
        } => {
            assert_eq!(tool, ToolId::Bandit);
            assert_eq!(exit_code, 2);
            assert!(stderr_tail.contains("bad args"), "{stderr_tail}");
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
}

#[test]
fn detect_secrets_runs_in_the_root_without_verification_and_truncated_output_fails() {
    let fake = Fake::new(
        ToolId::DetectSecrets,
        "printf '{\"version\": \"1.5.0\", \"results\": {\"a.py\": [{\"type\": \"Secret Key'\nexit 0\n",
    );
    let err = prepare_scan(
        &fake.info(ToolId::DetectSecrets),
        fake.root.path(),
        &options(),
    )
    .unwrap()
    .run(&mut |_, _| {})
    .unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::OutputUnparsable {
                tool: ToolId::DetectSecrets,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fake.cwd(), fake.canonical_root());
    let args = fake.args();
    assert_eq!(args[..3], ["scan", "--all-files", "-n"]);
}

#[test]
fn only_stderr_is_streamed_so_hashed_secrets_on_stdout_never_reach_the_log() {
    let hash: String = (0..40).map(|i| char::from(b'a' + (i % 6) as u8)).collect();
    let fake = Fake::new(
        ToolId::DetectSecrets,
        &format!(
            "echo 'scanning' >&2\n\
             echo '{{\"results\": {{\"a.py\": [{{\"type\": \"Secret Keyword\", \"hashed_secret\": \"{hash}\", \"line_number\": 3}}]}}}}'\n\
             exit 0\n"
        ),
    );
    let mut lines = Vec::new();
    let outcome = prepare_scan(
        &fake.info(ToolId::DetectSecrets),
        fake.root.path(),
        &options(),
    )
    .unwrap()
    .run(&mut |stream, line| lines.push((stream, line.to_string())))
    .unwrap();
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(outcome.findings[0].path, "a.py");
    assert_eq!(
        lines,
        [(certus_tools::Stream::Stderr, "scanning".to_string())]
    );
    assert!(!format!("{:?}", outcome.findings).contains(&hash));
}

#[test]
fn detect_secrets_with_a_nonzero_exit_is_a_failure() {
    let fake = Fake::new(ToolId::DetectSecrets, "echo '{\"results\": {}}'\nexit 1\n");
    let err = prepare_scan(
        &fake.info(ToolId::DetectSecrets),
        fake.root.path(),
        &options(),
    )
    .unwrap()
    .run(&mut |_, _| {})
    .unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::ToolFailed {
                tool: ToolId::DetectSecrets,
                exit_code: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_hung_semgrep_times_out() {
    let fake = Fake::new(ToolId::Semgrep, "sleep 300\n");
    let options = ScanOptions {
        timeout: Duration::from_millis(500),
        ..options()
    };
    let err = prepare_scan(&fake.info(ToolId::Semgrep), fake.root.path(), &options)
        .unwrap()
        .run(&mut |_, _| {})
        .unwrap_err();
    match err {
        ToolError::TimedOut { tool, timeout } => {
            assert_eq!(tool, ToolId::Semgrep);
            assert_eq!(timeout, Duration::from_millis(500));
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
}

#[test]
fn semgrep_output_over_the_cap_is_too_large_not_a_short_report() {
    let fake = Fake::new(
        ToolId::Semgrep,
        "yes '{\"version\": \"2.1.0\"}' | head -c 50000\n",
    );
    let options = ScanOptions {
        max_output_bytes: 1000,
        ..options()
    };
    let err = prepare_scan(&fake.info(ToolId::Semgrep), fake.root.path(), &options)
        .unwrap()
        .run(&mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::OutputTooLarge {
                tool: ToolId::Semgrep,
                limit: 1000
            }
        ),
        "{err}"
    );
    let args = fake.args();
    for flag in [
        "--sarif",
        "--metrics=off",
        "--disable-version-check",
        "--config",
    ] {
        assert!(
            args.iter().any(|a| a == flag),
            "{flag} missing from {args:?}"
        );
    }
    // Our shipped rules were written into the working directory for the run.
    assert!(args.iter().any(|a| a == "certus-semgrep.yml"));
}

#[test]
fn checkov_json_is_read_and_the_root_is_passed_in_the_config_safe_form() {
    let fake = Fake::new(ToolId::Checkov, "");
    let root = fake.canonical_root();
    let report = format!(
        r#"{{"check_type": "terraform", "results": {{"failed_checks": [{{"check_id": "CKV2_AWS_6",
        "check_name": "Public Access block", "file_abs_path": "{}/infra/main.tf",
        "file_line_range": [1, 3], "severity": null}}]}}, "summary": {{"resource_count": 1}}}}"#,
        root.display()
    );
    let report_path = write_report(&fake, "report.json", &report);
    let program = fake.file("checkov");
    let script = fs::read_to_string(&program).unwrap() + &format!("cat {report_path}\nexit 1\n");
    fs::write(&program, script).unwrap();

    let outcome = prepare_scan(&fake.info(ToolId::Checkov), fake.root.path(), &options())
        .unwrap()
        .run(&mut |_, _| {})
        .unwrap();
    assert_eq!(outcome.findings.len(), 1);
    assert_eq!(outcome.findings[0].rule_id, "CKV2_AWS_6");
    assert_eq!(outcome.findings[0].path, "infra/main.tf");
    let args = fake.args();
    assert!(
        args.contains(&format!("--directory={}", root.display())),
        "{args:?}"
    );
    assert!(args.iter().any(|a| a == "--skip-download"));
    assert!(!args.iter().any(|a| a == "-d"));
    assert_ne!(fake.cwd(), root);
}

#[test]
fn checkov_with_empty_output_is_unparsable() {
    let fake = Fake::new(ToolId::Checkov, "exit 0\n");
    let err = prepare_scan(&fake.info(ToolId::Checkov), fake.root.path(), &options())
        .unwrap()
        .run(&mut |_, _| {})
        .unwrap_err();
    match err {
        ToolError::OutputUnparsable { tool, reason } => {
            assert_eq!(tool, ToolId::Checkov);
            assert!(reason.contains("not Checkov JSON"), "{reason}");
        }
        other => panic!("expected OutputUnparsable, got {other:?}"),
    }
}

#[test]
fn a_missing_or_non_directory_root_is_refused() {
    let fake = Fake::new(ToolId::Bandit, "exit 0\n");
    let info = fake.info(ToolId::Bandit);
    let missing = fake.root.path().join("nope");
    let err = prepare_scan(&info, &missing, &options()).unwrap_err();
    assert!(matches!(err, ToolError::BadRoot { .. }), "{err}");

    let file = fake.root.path().join("file.txt");
    fs::write(&file, "x").unwrap();
    let err = prepare_scan(&info, &file, &options()).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
}

#[test]
fn semgrep_gets_each_source_file_and_a_long_command_line_is_shortened() {
    let fake = Fake::new(ToolId::Semgrep, "echo '{}'\nexit 0\n");
    for index in 0..300 {
        fs::write(
            fake.root.path().join(format!("module_{index:03}.py")),
            "x = 1\n",
        )
        .unwrap();
    }
    let scan = prepare_scan(&fake.info(ToolId::Semgrep), fake.root.path(), &options()).unwrap();
    let separator = scan.command().args.iter().position(|a| a == "--").unwrap();
    assert_eq!(scan.command().args.len() - separator - 1, 300);
    let line = scan.command_line();
    assert!(
        line.chars().count() <= certus_tools::COMMAND_LINE_CHARS + 40,
        "{}",
        line.len()
    );
    assert!(line.ends_with("more arguments)"), "{line}");
    assert!(line.contains("--disable-nosem"));
}
