//! External tools (semgrep, bandit, checkov, detect-secrets) as scanners, when installed: located on `PATH`
//! (or a configured bin dir) at startup without running them; run in their own process group with the
//! scan's hard timeout; their findings normalised into the core's shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use async_trait::async_trait;
use certus_core::finding::{fingerprint, Finding, Severity};
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

fn to_finding(tool: &str, f: ToolFinding) -> Finding {
    let basis = f.snippet.clone().unwrap_or_else(|| f.message.clone());
    Finding {
        tool: tool.to_string(),
        fingerprint: fingerprint(tool, &f.rule_id, &f.path, &basis),
        rule_id: f.rule_id,
        rule_name: f.rule_name,
        severity: severity(f.severity),
        message: f.message,
        path: Some(f.path),
        start_line: Some(u64::from(f.start_line)),
        end_line: f.end_line.map(u64::from),
        snippet: f.snippet,
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
        let joined = tokio::task::spawn_blocking(move || run_blocking(&info, &request)).await;
        joined.unwrap_or_else(|e| {
            ToolOutput::failed(ToolStatus::Failed, None, format!("{id} task crashed: {e}"))
        })
    }
}

fn run_blocking(info: &ToolInfo, request: &ScanRequest) -> ToolOutput {
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
    let outcome = prepared.run(&mut |stream, line| {
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
}
