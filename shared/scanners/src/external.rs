//! External tools (semgrep, bandit, checkov, detect-secrets) as scanners, when installed: located on `PATH`
//! (or a configured bin dir) at startup without running them; run in their own process group with the
//! scan's hard timeout; their findings normalised into the core's shape, with any secret their snippets or
//! messages quote (bandit quotes the flagged line and its neighbours) cut at its redacted form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use certus_core::finding::{identity_digest, Finding, Severity};
use certus_core::ports::{LogStream, ScanRequest, Scanner, ToolOutput, ToolStatus};
use certus_tools::{
    prepare_scan, read_version, ScanOptions, Stream, ToolError, ToolFinding, ToolId, ToolInfo,
};

pub struct ExternalScanner {
    tool: ToolId,
    path: PathBuf,
    version: OnceLock<String>,
}

impl ExternalScanner {
    /// The tool if its executable is installed; nothing is run yet.
    pub fn locate(tool: ToolId, bin_dir: Option<&Path>) -> Option<Self> {
        certus_tools::locate(tool, bin_dir).map(|path| Self {
            tool,
            path,
            version: OnceLock::new(),
        })
    }
}

fn severity(s: certus_tools::Severity) -> Severity {
    match s {
        certus_tools::Severity::Critical => Severity::Critical,
        certus_tools::Severity::High => Severity::High,
        certus_tools::Severity::Medium => Severity::Medium,
        certus_tools::Severity::Low => Severity::Low,
    }
}

/// Stands for the lines inside a multi-line secret.
const WITHHELD_LINE: &str = "[line withheld: part of a secret]";

/// The built-in secrets rules, compiled on first use.
fn secret_rules() -> Option<&'static certus_secrets::Scanner> {
    static RULES: OnceLock<Option<certus_secrets::Scanner>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            certus_secrets::RuleSet::default_rules().ok().map(|rules| {
                certus_secrets::Scanner::new(rules, certus_secrets::ScanOptions::default())
            })
        })
        .as_ref()
}

/// `text` with every secret the built-in rules find replaced, from its first byte to the end of its line,
/// by its redacted form; further lines of a multi-line secret are withheld. Fails closed: without rules the
/// whole text is withheld.
fn redact_secrets(text: &str) -> String {
    let Some(rules) = secret_rules() else {
        return "[withheld: the secrets rules are unavailable]".into();
    };
    let mut found = rules.scan_bytes("tool-output", text.as_bytes());
    if found.is_empty() {
        return text.to_string();
    }
    // Latest start first, so an earlier cut on the same line removes what a later one appended.
    found.sort_by_key(|s| std::cmp::Reverse((s.line, s.column)));
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for secret in &found {
        let first = usize::try_from(secret.line.saturating_sub(1)).unwrap_or(usize::MAX);
        let last = usize::try_from(secret.end_line.saturating_sub(1)).unwrap_or(usize::MAX);
        if let Some(line) = lines.get_mut(first) {
            let mut cut = usize::try_from(secret.column.saturating_sub(1))
                .unwrap_or(usize::MAX)
                .min(line.len());
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(&secret.redacted);
        }
        for line in lines
            .iter_mut()
            .take(last.saturating_add(1))
            .skip(first + 1)
        {
            *line = WITHHELD_LINE.into();
        }
    }
    lines.join("\n")
}

fn to_finding(tool: &str, f: ToolFinding) -> Finding {
    let snippet = f.snippet.as_deref().map(redact_secrets);
    let message = redact_secrets(&f.message);
    let basis = snippet.clone().unwrap_or_else(|| message.clone());
    Finding {
        tool: tool.to_string(),
        fingerprint: identity_digest(tool, &f.rule_id, &f.path, &basis),
        rule_id: f.rule_id,
        rule_name: f.rule_name,
        rule_description: f.rule_description.as_deref().map(redact_secrets),
        help_uri: f.help_uri,
        severity: severity(f.severity),
        message,
        path: Some(f.path),
        start_line: Some(u64::from(f.start_line)),
        end_line: f.end_line.map(u64::from),
        snippet,
        properties: BTreeMap::new(),
        suppression: None,
        baseline_state: None,
    }
}

#[async_trait]
impl Scanner for ExternalScanner {
    fn id(&self) -> &str {
        self.tool.as_str()
    }

    fn version(&self) -> String {
        self.version
            .get_or_init(|| read_version(self.tool, &self.path).unwrap_or_else(|| "unknown".into()))
            .clone()
    }

    fn command(&self, request: &ScanRequest) -> String {
        format!(
            "{} (certus {} adapter) on {}",
            self.path.display(),
            self.tool,
            request.source_root.display()
        )
    }

    async fn scan(&self, request: ScanRequest) -> ToolOutput {
        let info = ToolInfo {
            tool: self.tool,
            path: self.path.clone(),
            version: self.version(),
        };
        let id = self.tool.as_str().to_string();
        // When this future is dropped (the scan's task aborted by a cancel), the tool is stopped at once
        // instead of running on to its timeout in the blocking thread.
        let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
        let flag = stop.0.clone();
        let joined =
            tokio::task::spawn_blocking(move || run_blocking(&info, &request, &flag)).await;
        joined.unwrap_or_else(|e| {
            ToolOutput::failed(ToolStatus::Failed, None, format!("{id} task crashed: {e}"))
        })
    }
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn run_blocking(info: &ToolInfo, request: &ScanRequest, stop: &AtomicBool) -> ToolOutput {
    let options = ScanOptions {
        timeout: request.timeout,
        ..ScanOptions::default()
    };
    let prepared = match prepare_scan(info, &request.source_root, &options) {
        Ok(p) => p,
        Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, e.to_string()),
    };
    (request.log)(
        LogStream::Stderr,
        &format!("command: {}", prepared.command_line()),
    );
    let log = request.log.clone();
    let outcome = prepared.run_until(stop, &mut |stream, line| {
        let stream = match stream {
            Stream::Stdout => LogStream::Stdout,
            Stream::Stderr => LogStream::Stderr,
        };
        log(stream, line);
    });
    let id = info.tool.as_str();
    match outcome {
        Ok(outcome) => ToolOutput {
            exit_code: outcome.run.exit_code,
            warnings: outcome.warnings,
            ..ToolOutput::completed(
                outcome
                    .findings
                    .into_iter()
                    .map(|f| to_finding(id, f))
                    .collect(),
            )
        },
        Err(e @ ToolError::TimedOut { .. }) => {
            ToolOutput::failed(ToolStatus::TimedOut, None, e.to_string())
        }
        Err(ToolError::ToolFailed {
            exit_code,
            ref stderr_tail,
            ..
        }) => ToolOutput::failed(
            ToolStatus::Failed,
            Some(exit_code),
            format!(
                "exited with {exit_code}: {}",
                stderr_tail.lines().last().unwrap_or("")
            ),
        ),
        Err(e) => ToolOutput::failed(ToolStatus::Failed, None, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A stand-in `bandit` that prints a version, or a report, or hangs — a real process on a real pipe.
    fn fake_bandit(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("bandit");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\ncase \"$1\" in --version) echo 'bandit 9.9.9'; exit 0;; esac\n{body}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Regression: bandit quoted planted credentials in its snippets and messages, and they reached the
    /// bundle's SARIF in clear (found by `tests/secrets_hygiene.rs`).
    #[test]
    fn secrets_quoted_by_a_tool_reach_findings_only_redacted() {
        // Assembled at run time so this file carries no secret-shaped literal.
        let token = format!("ghp_{}", "Zq7Xw2Rt9Lm4".repeat(3));
        let aws = format!("AKIA{}", "BDFWO35RO5MGGD2T");
        let snippet = format!(
            "DEBUG = True\nGITHUB_TOKEN = \"{token}\"  # planted\nAWS_ACCESS_KEY_ID = \"{aws}\"\nx = 1"
        );
        let finding = to_finding(
            "bandit",
            ToolFinding {
                rule_id: "B105".into(),
                rule_name: Some("hardcoded_password_string".into()),
                rule_description: None,
                help_uri: None,
                severity: certus_tools::Severity::Low,
                message: format!("Possible hardcoded password: '{token}'"),
                path: "app/settings.py".into(),
                start_line: 2,
                end_line: Some(3),
                snippet: Some(snippet),
            },
        );
        let shown = finding.snippet.clone().unwrap();
        for secret in [&token, &aws] {
            assert!(!shown.contains(secret.as_str()), "{shown}");
            assert!(
                !finding.message.contains(secret.as_str()),
                "{}",
                finding.message
            );
            assert!(!finding.fingerprint.contains(secret.as_str()));
        }
        assert_eq!(
            shown,
            "DEBUG = True\nGITHUB_TOKEN = \"ghp_****\nAWS_ACCESS_KEY_ID = \"AKIA****\nx = 1"
        );
        assert_eq!(finding.message, "Possible hardcoded password: 'ghp_****");
        // Text without secrets is kept as it was.
        assert_eq!(
            redact_secrets("password = 'x'\nprint(1)"),
            "password = 'x'\nprint(1)"
        );
    }

    fn scanner(bin: &Path) -> ExternalScanner {
        ExternalScanner::locate(ToolId::Bandit, Some(bin)).expect("fake bandit located")
    }

    #[tokio::test]
    async fn a_report_becomes_findings_with_fingerprints() {
        let bin = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.py"), "import subprocess\n").unwrap();
        let report = format!(
            r#"{{"errors": [], "results": [{{"filename": "{}/a.py", "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true", "issue_severity": "HIGH", "issue_confidence": "HIGH", "issue_text": "shell=True", "line_number": 1, "line_range": [1], "code": "1 import subprocess\n"}}]}}"#,
            src.path().canonicalize().unwrap().display()
        );
        fake_bandit(
            bin.path(),
            &format!("echo 'scanning' >&2\ncat <<'EOF'\n{report}\nEOF\nexit 1"),
        );
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let out = scanner(bin.path())
            .scan(crate::tests::request(
                src.path(),
                Arc::new(move |_, l: &str| seen.lock().unwrap().push(l.to_string())),
            ))
            .await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].rule_id, "B602");
        assert_eq!(out.findings[0].severity, Severity::High);
        assert_eq!(out.findings[0].path.as_deref(), Some("a.py"));
        assert!(lines.lock().unwrap().iter().any(|l| l == "scanning"));
    }

    #[tokio::test]
    async fn unparsable_output_fails_the_tool_and_a_hang_times_out() {
        let bin = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fake_bandit(bin.path(), "echo '{not json'\nexit 0");
        let out = scanner(bin.path())
            .scan(crate::tests::request(src.path(), Arc::new(|_, _| {})))
            .await;
        assert_eq!(out.status, ToolStatus::Failed);
        assert!(out.findings.is_empty());

        let bin2 = tempfile::tempdir().unwrap();
        fake_bandit(bin2.path(), "sleep 30");
        let mut request = crate::tests::request(src.path(), Arc::new(|_, _| {}));
        request.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let out = scanner(bin2.path()).scan(request).await;
        assert_eq!(out.status, ToolStatus::TimedOut, "{:?}", out.error);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    /// A cancelled scan (its future dropped, as when the server aborts the scan's task) stops the tool's
    /// process at once instead of leaving it to run on to its timeout in the blocking thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_scan_stops_the_tool() {
        let bin = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        let pid_file = src.path().join("tool.pid");
        fake_bandit(
            bin.path(),
            &format!("echo $$ > '{}'\nexec sleep 300", pid_file.display()),
        );
        let mut request = crate::tests::request(src.path(), Arc::new(|_, _| {}));
        request.timeout = Duration::from_secs(300);
        let scanner = scanner(bin.path());
        let scan = tokio::spawn(async move { scanner.scan(request).await });
        let mut pid = None;
        for _ in 0..500 {
            if let Some(found) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
            {
                pid = Some(found);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid = pid.expect("the tool started");
        scan.abort();
        let _ = scan.await;
        let alive = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                !stat
                    .rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
            })
        };
        for _ in 0..500 {
            if !alive(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the tool {pid} still runs after its scan was dropped");
    }
}
