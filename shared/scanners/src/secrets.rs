//! The built-in secrets scanner (gitleaks-format rules) behind the `Scanner` port. Rules are compiled on
//! first use, not at start-up; found secrets reach the findings only redacted.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use certus_beneath::Beneath;
use certus_core::digest::sha256_hex;
use certus_core::finding::{identity_digest, Finding, Severity};
use certus_core::incremental::{self, Basis, Incremental, SinglePass, SourceFile, BINARY_HEAD};
use certus_core::ports::{LogStream, ScanRequest, Scanner, ToolOutput, ToolStatus};
use certus_secrets::{PathScan, RuleSet, ScanOptions, SecretFinding, SkipReason, DEFAULT_RULES};
use serde_json::json;

use crate::per_file::{self, FileResult, Scanned};

pub const SECRETS_ID: &str = "secrets";
const LISTED_SKIPS: usize = 20;

pub struct SecretsScanner {
    /// A gitleaks-format rule file; `None` uses Certus's own default rules.
    rules_file: Option<PathBuf>,
    compiled: OnceLock<Result<Compiled, String>>,
}

/// The engine, and the digest of everything its results depend on besides the engine's own version: the
/// rule text it was compiled from and its limits (file size cap, decoding depth).
#[derive(Clone)]
struct Compiled {
    engine: Arc<certus_secrets::Scanner>,
    settings_sha256: String,
}

impl SecretsScanner {
    pub fn new(rules_file: Option<PathBuf>) -> Self {
        Self {
            rules_file,
            compiled: OnceLock::new(),
        }
    }

    fn compiled(&self) -> Result<Compiled, String> {
        self.compiled
            .get_or_init(|| {
                let (rules, text) = match &self.rules_file {
                    None => (
                        RuleSet::default_rules().map_err(|e| e.to_string())?,
                        DEFAULT_RULES.to_string(),
                    ),
                    Some(path) => {
                        let text = std::fs::read_to_string(path)
                            .map_err(|e| format!("secrets rules {}: {e}", path.display()))?;
                        let rules = RuleSet::from_gitleaks_toml(&text)
                            .map_err(|e| format!("secrets rules {}: {e}", path.display()))?;
                        (rules, text)
                    }
                };
                let options = ScanOptions::default();
                let settings_sha256 = sha256_hex(
                    format!(
                        "{}\0{}\0{}",
                        sha256_hex(text.as_bytes()),
                        options.max_file_size,
                        options.max_decode_depth
                    )
                    .as_bytes(),
                );
                Ok(Compiled {
                    engine: Arc::new(certus_secrets::Scanner::new(rules, options)),
                    settings_sha256,
                })
            })
            .clone()
    }

    /// The scope its results are kept under.
    fn scope(&self, compiled: &Compiled) -> String {
        incremental::scope(SECRETS_ID, &self.version(), &compiled.settings_sha256)
    }
}

/// The secrets scan of each file source preparation reads, from that read.
struct ReadAlong {
    engine: Arc<certus_secrets::Scanner>,
    scope: String,
}

impl SinglePass for ReadAlong {
    fn scope(&self) -> &str {
        &self.scope
    }

    fn limit(&self) -> u64 {
        self.engine.options().max_file_size
    }

    fn scan(&self, path: &str, content: &[u8]) -> Option<Vec<u8>> {
        file_result(&self.engine.scan_read(path, content))
            .encode()
            .ok()
    }
}

// The table's binary files are the engine's: it may skip them unread.
const _: () = assert!(BINARY_HEAD == certus_secrets::BINARY_SNIFF_LEN);

/// One file as the engine's tree scan treats it ([`certus_secrets::Scanner::scan_opened`]), findings reported
/// once per secret. A file the table already shows to be binary or over the size limit is not opened again:
/// only the path-only rules can match it. The others are opened beneath the root through their directory's
/// descriptor, which each scanning thread keeps while the files of that directory come.
fn scan_one(scanner: &certus_secrets::Scanner, root: &Path, file: &SourceFile) -> Scanned {
    thread_local! {
        /// The read buffer of this scanning thread, reused from file to file as the tree scan's workers do.
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        /// Where this scanning thread opens files: the root, and the directory it last read a file of.
        static BENEATH: std::cell::RefCell<Option<Beneath>> = const { std::cell::RefCell::new(None) };
    }
    let (scanned, basis) = match scanner.scan_unread(&file.path, file.stat.size, file.binary) {
        Some(scanned) => (scanned, Basis::Table),
        None => {
            let mut scanned = BENEATH.with_borrow_mut(|beneath| {
                let beneath = match beneath {
                    Some(beneath) if beneath.root() == root => beneath,
                    other => other.insert(Beneath::new(root)),
                };
                BUFFER.with_borrow_mut(|buf| {
                    scanner.scan_opened(&file.path, || beneath.open(&file.path), buf)
                })
            });
            let basis = scanned.stat.take().map_or(Basis::Unknown, Basis::Opened);
            (scanned, basis)
        }
    };
    (file_result(&scanned), basis)
}

/// One file's results as the cache keeps them: findings reported once per secret, and why its content was
/// not scanned.
fn file_result(scanned: &PathScan) -> FileResult {
    FileResult {
        findings: without_generic_duplicates(&scanned.findings)
            .map(to_finding)
            .collect(),
        skipped: scanned.skipped.as_ref().map(SkipReason::to_string),
    }
}

/// The files whose content was not scanned, as the tree scan reports them: a file inside a directory the
/// global allowlist excludes is reported once, as that directory (the tree scan never enters it).
fn skipped_as_the_tree_scan_reports<'a>(
    scanner: &certus_secrets::Scanner,
    files: &'a [(String, FileResult)],
) -> Vec<(&'a str, String)> {
    let excluded = SkipReason::AllowlistedPath.to_string();
    let mut skipped: Vec<(&str, String)> = Vec::new();
    for (path, result) in files {
        let Some(why) = &result.skipped else { continue };
        let reported = match why == &excluded {
            true => path
                .match_indices('/')
                .map(|(at, _)| &path[..at])
                .find(|dir| scanner.path_allowlisted(dir))
                .unwrap_or(path),
            false => path,
        };
        if skipped.last().is_none_or(|(last, _)| *last != reported) {
            skipped.push((reported, why.clone()));
        }
    }
    skipped
}

/// What a secrets scan did not cover: rules that did not load, files whose content was not scanned (the first
/// few named, in path order), findings over the engine's cap.
fn coverage_warnings(
    rule_errors: &[certus_secrets::RuleError],
    skipped: &[(&str, String)],
    skipped_unlisted: u64,
    findings_omitted: u64,
) -> Vec<String> {
    let mut warnings: Vec<String> = rule_errors
        .iter()
        .map(|e| format!("secrets rule {} not loaded: {}", e.rule_id, e.reason))
        .collect();
    warnings.extend(
        skipped
            .iter()
            .take(LISTED_SKIPS)
            .map(|(path, why)| format!("secrets: {path} not scanned ({why})")),
    );
    let unlisted = (skipped.len().saturating_sub(LISTED_SKIPS)) as u64 + skipped_unlisted;
    if unlisted > 0 {
        warnings.push(format!("secrets: {unlisted} more file(s) not scanned"));
    }
    if findings_omitted > 0 {
        warnings.push(format!(
            "secrets: {findings_omitted} finding(s) over the cap not listed"
        ));
    }
    warnings
}

/// The secrets scan over the prepared file table, reusing cached results of unchanged files.
async fn scan_per_file(
    scanner: Arc<certus_secrets::Scanner>,
    incremental: &Incremental,
    scope: String,
    request: ScanRequest,
) -> ToolOutput {
    let root = request.source_root.clone();
    let engine = scanner.clone();
    let run = per_file::scan(incremental, scope, &root, move |root, file| {
        scan_one(&engine, root, file)
    })
    .await;
    let scanner_rules = scanner.rules();
    let run = match run {
        Ok(run) => run,
        Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, e),
    };
    let skipped = skipped_as_the_tree_scan_reports(&scanner, &run.files);
    (request.log)(
        LogStream::Stderr,
        &format!(
            "{} file(s): {} from the cache, {} scanned ({} as the source was read); {} file(s) skipped",
            run.cache.files,
            run.cache.from_cache,
            run.cache.scanned,
            run.single_pass,
            skipped.len()
        ),
    );
    // The tree scan's bound on what one report lists, whatever the repository holds.
    let found: usize = run.files.iter().map(|(_, r)| r.findings.len()).sum();
    let omitted = found.saturating_sub(certus_secrets::MAX_FINDINGS);
    let mut warnings = run.warnings;
    warnings.extend(coverage_warnings(
        scanner_rules.rule_errors(),
        &skipped,
        0,
        omitted as u64,
    ));
    let mut findings: Vec<Finding> = run
        .files
        .into_iter()
        .flat_map(|(_, r)| r.findings)
        .collect();
    findings.sort_by(|a, b| {
        (&a.path, a.start_line, &a.rule_id, column(a)).cmp(&(
            &b.path,
            b.start_line,
            &b.rule_id,
            column(b),
        ))
    });
    findings.truncate(certus_secrets::MAX_FINDINGS);
    ToolOutput {
        warnings,
        cache: Some(run.cache),
        ..ToolOutput::completed(findings)
    }
}

fn column(finding: &Finding) -> u64 {
    finding
        .properties
        .get("column")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// Cloud credentials and private keys open infrastructure: critical. Generic patterns are less certain.
fn severity(rule_id: &str) -> Severity {
    let id = rule_id.to_ascii_lowercase();
    if ["private-key", "aws", "gcp", "azure"]
        .iter()
        .any(|k| id.contains(k))
    {
        Severity::Critical
    } else if id.starts_with("generic") || id.contains("password") {
        Severity::Medium
    } else {
        Severity::High
    }
}

fn to_finding(s: &SecretFinding) -> Finding {
    let mut properties = BTreeMap::new();
    properties.insert("redacted".into(), json!(s.redacted));
    properties.insert("entropy".into(), json!((s.entropy * 100.0).round() / 100.0));
    properties.insert("column".into(), json!(s.column));
    properties.insert("tags".into(), json!(s.tags));
    if !s.decoded.is_empty() {
        // Found in decoded content: the encodings decoded, the one written in the file first.
        properties.insert("decoded".into(), json!(s.decoded));
    }
    Finding {
        tool: SECRETS_ID.into(),
        rule_id: s.rule_id.clone(),
        rule_name: Some(s.description.clone()),
        // The rule (a gitleaks rule) describes itself in one line, its name; it documents no page.
        rule_description: None,
        help_uri: None,
        severity: severity(&s.rule_id),
        message: format!("{} ({})", s.description, s.redacted),
        path: Some(s.path.clone()),
        start_line: Some(s.line),
        end_line: Some(s.end_line),
        snippet: Some(s.snippet.clone()),
        fingerprint: identity_digest(SECRETS_ID, &s.rule_id, &s.path, &s.fingerprint),
        properties,
        suppression: None,
        baseline_state: None,
    }
}

fn is_generic(rule_id: &str) -> bool {
    rule_id.starts_with("generic")
}

/// A secret that a specific rule names is reported once, under that rule, not again by a generic rule.
fn without_generic_duplicates(findings: &[SecretFinding]) -> impl Iterator<Item = &SecretFinding> {
    let specific: HashSet<(&str, u64, u64)> = findings
        .iter()
        .filter(|f| !is_generic(&f.rule_id))
        .map(|f| (f.path.as_str(), f.line, f.column))
        .collect();
    findings.iter().filter(move |f| {
        !is_generic(&f.rule_id) || !specific.contains(&(f.path.as_str(), f.line, f.column))
    })
}

#[async_trait]
impl Scanner for SecretsScanner {
    fn id(&self) -> &str {
        SECRETS_ID
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn reuses_results(&self) -> bool {
        true
    }

    fn reads_tree_only(&self) -> bool {
        true
    }

    fn single_pass(&self) -> Option<Arc<dyn SinglePass>> {
        let compiled = self.compiled().ok()?;
        Some(Arc::new(ReadAlong {
            scope: self.scope(&compiled),
            engine: compiled.engine,
        }))
    }

    fn command(&self, _request: &ScanRequest) -> String {
        match &self.rules_file {
            Some(path) => format!("built-in secrets scanner (rules: {})", path.display()),
            None => "built-in secrets scanner (Certus default rules)".into(),
        }
    }

    async fn scan(&self, request: ScanRequest) -> ToolOutput {
        let compiled = match self.compiled() {
            Ok(c) => c,
            Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, e),
        };
        if let Some(incremental) = request.incremental.clone() {
            let scope = self.scope(&compiled);
            return scan_per_file(compiled.engine, &incremental, scope, request).await;
        }
        let scanner = compiled.engine;
        let root = request.source_root.clone();
        let joined = tokio::task::spawn_blocking(move || scanner.scan_tree(&root)).await;
        let report = match joined {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => return ToolOutput::failed(ToolStatus::Failed, None, e.to_string()),
            Err(e) => {
                return ToolOutput::failed(
                    ToolStatus::Failed,
                    None,
                    format!("secrets task crashed: {e}"),
                )
            }
        };
        (request.log)(
            LogStream::Stderr,
            &format!(
                "{} file(s), {} byte(s) scanned; {} secret(s); {} file(s) skipped",
                report.files_scanned,
                report.bytes_scanned,
                report.findings.len(),
                report.skipped.len() as u64 + report.skipped_omitted
            ),
        );
        let skipped: Vec<(&str, String)> = report
            .skipped
            .iter()
            .map(|(path, why)| (path.as_str(), why.to_string()))
            .collect();
        let warnings = coverage_warnings(
            &report.rule_errors,
            &skipped,
            report.skipped_omitted,
            report.findings_omitted,
        );
        ToolOutput {
            warnings,
            ..ToolOutput::completed(
                without_generic_duplicates(&report.findings)
                    .map(to_finding)
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_a_planted_key_and_never_carries_it_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        // Built from pieces so no credential-shaped string sits in this source file.
        let key_id = format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL");
        let secret = format!("{}{}", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYzq81n3Kd0aQ2");
        std::fs::write(
            dir.path().join("config.py"),
            format!("aws_access_key_id = \"{key_id}\"\naws_secret_access_key = \"{secret}\"\n"),
        )
        .unwrap();
        let out = SecretsScanner::new(None)
            .scan(crate::tests::request(
                dir.path(),
                std::sync::Arc::new(|_, _| {}),
            ))
            .await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert!(!out.findings.is_empty());
        assert!(out
            .findings
            .iter()
            .all(|f| f.path.as_deref() == Some("config.py")));
        assert!(out
            .findings
            .iter()
            .any(|f| f.severity == Severity::Critical));
        let located: HashSet<_> = out
            .findings
            .iter()
            .map(|f| (f.start_line, f.properties["column"].clone()))
            .collect();
        assert_eq!(
            located.len(),
            out.findings.len(),
            "one finding per secret: {:?}",
            out.findings
        );
        let everything = format!("{:?}", out.findings);
        assert!(
            !everything.contains(&key_id) && !everything.contains(&secret),
            "{everything}"
        );
    }

    #[tokio::test]
    async fn a_hex_encoded_key_is_found_at_the_encoded_text_and_marked_decoded() {
        let dir = tempfile::tempdir().unwrap();
        // Built from pieces (a fake), written only hex-encoded.
        let key_id = format!("{}{}", "AKIA", "Q2WE3RT4YU5IO6PA");
        let encoded: String = key_id.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            dir.path().join("values.yaml"),
            format!("# fake\nkey: {encoded}\n"),
        )
        .unwrap();
        let out = SecretsScanner::new(None)
            .scan(crate::tests::request(
                dir.path(),
                std::sync::Arc::new(|_, _| {}),
            ))
            .await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        let finding = &out.findings[0];
        assert_eq!(finding.start_line, Some(2));
        assert_eq!(finding.properties["column"], json!(6));
        assert_eq!(finding.properties["decoded"], json!(["hex"]));
        let everything = format!("{:?}", out.findings);
        assert!(
            !everything.contains(&key_id) && !everything.contains(&encoded),
            "{everything}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_rules_file_fails_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let out = SecretsScanner::new(Some(dir.path().join("missing.toml")))
            .scan(crate::tests::request(
                dir.path(),
                std::sync::Arc::new(|_, _| {}),
            ))
            .await;
        assert_eq!(out.status, ToolStatus::Failed);
    }
}
