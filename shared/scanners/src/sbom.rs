//! The built-in dependency inventory as a scanner: lockfiles → CycloneDX and SPDX SBOMs in the bundle, and,
//! when an offline advisory database is configured, one finding per vulnerable component version.

use std::path::PathBuf;

use async_trait::async_trait;
use certus_core::bundle::{SBOM_CYCLONEDX, SBOM_SPDX};
use certus_core::finding::{fingerprint, Finding, Severity};
use certus_core::ports::{Attachment, LogStream, ScanRequest, Scanner, ToolOutput, ToolStatus};
use certus_core::time;
use certus_sbom::{cyclonedx_json, inventory, spdx_json, AdvisoryDb, SbomMeta, VulnFinding};
use serde_json::json;

pub const SBOM_ID: &str = "sbom";

pub struct SbomScanner {
    /// A RustSec advisory-db checkout or a directory of OSV JSON files.
    pub advisory_db: Option<PathBuf>,
}

fn severity(s: certus_sbom::Severity) -> Severity {
    match s {
        certus_sbom::Severity::Critical => Severity::Critical,
        certus_sbom::Severity::High => Severity::High,
        certus_sbom::Severity::Medium => Severity::Medium,
        certus_sbom::Severity::Low => Severity::Low,
    }
}

fn to_finding(v: &VulnFinding) -> Finding {
    let path = v.source_files.first().cloned();
    let fixed = if v.fixed_versions.is_empty() {
        "no fixed version known".to_string()
    } else {
        format!("fixed in {}", v.fixed_versions.join(", "))
    };
    let mut properties = std::collections::BTreeMap::new();
    properties.insert("purl".into(), json!(v.purl));
    properties.insert("advisory".into(), json!(v.advisory_id));
    properties.insert("aliases".into(), json!(v.aliases));
    properties.insert("fixed_versions".into(), json!(v.fixed_versions));
    if let Some(score) = v.cvss_score {
        properties.insert("cvss_score".into(), json!(score));
    }
    if let Some(kind) = &v.informational {
        properties.insert("informational".into(), json!(kind));
    }
    Finding {
        tool: SBOM_ID.into(),
        rule_id: v.advisory_id.clone(),
        rule_name: Some(v.title.clone()),
        severity: severity(v.severity),
        message: format!(
            "{} {} is affected by {}: {} ({fixed})",
            v.package, v.version, v.advisory_id, v.title
        ),
        fingerprint: fingerprint(
            SBOM_ID,
            &v.advisory_id,
            path.as_deref().unwrap_or(""),
            &v.purl,
        ),
        path,
        start_line: None,
        end_line: None,
        snippet: None,
        properties,
        suppression: None,
        baseline_state: None,
    }
}

#[async_trait]
impl Scanner for SbomScanner {
    fn id(&self) -> &str {
        SBOM_ID
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn command(&self, _request: &ScanRequest) -> String {
        match &self.advisory_db {
            Some(db) => format!(
                "built-in dependency inventory (advisories: {})",
                db.display()
            ),
            None => "built-in dependency inventory (no advisory database configured)".into(),
        }
    }

    async fn scan(&self, request: ScanRequest) -> ToolOutput {
        let advisory_db = self.advisory_db.clone();
        let joined =
            tokio::task::spawn_blocking(move || scan_blocking(&request, advisory_db)).await;
        joined.unwrap_or_else(|e| {
            ToolOutput::failed(
                ToolStatus::Failed,
                None,
                format!("inventory task crashed: {e}"),
            )
        })
    }
}

fn scan_blocking(request: &ScanRequest, advisory_db: Option<PathBuf>) -> ToolOutput {
    let inventory = match inventory(&request.source_root) {
        Ok(inv) => inv,
        Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, e.to_string()),
    };
    (request.log)(
        LogStream::Stderr,
        &format!(
            "{} component(s) from {} lockfile(s)",
            inventory.components.len(),
            inventory.lockfiles.len()
        ),
    );
    let mut warnings: Vec<String> = inventory
        .errors
        .iter()
        .map(|e| format!("lockfile skipped: {e}"))
        .collect();
    let meta = SbomMeta::new(&request.subject, None, &time::format(&time::now()));
    let mut attachments = Vec::new();
    for (path, doc) in [
        (SBOM_CYCLONEDX, cyclonedx_json(&inventory, &meta)),
        (SBOM_SPDX, spdx_json(&inventory, &meta)),
    ] {
        match serde_json::to_vec_pretty(&doc) {
            Ok(bytes) => attachments.push(Attachment {
                bundle_path: path.into(),
                bytes,
            }),
            Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, format!("{path}: {e}")),
        }
    }
    let findings = match advisory_db {
        None => Vec::new(),
        Some(dir) => match AdvisoryDb::load(&dir) {
            Ok(db) => {
                warnings.extend(db.errors().iter().map(|e| format!("advisory skipped: {e}")));
                (request.log)(
                    LogStream::Stderr,
                    &format!("{} advisories loaded", db.len()),
                );
                db.matches(&inventory).iter().map(to_finding).collect()
            }
            Err(e) => {
                return ToolOutput::failed(
                    ToolStatus::Failed,
                    None,
                    format!("advisory database {}: {e}", dir.display()),
                )
            }
        },
    };
    ToolOutput {
        attachments,
        warnings,
        ..ToolOutput::completed(findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

    #[tokio::test]
    async fn writes_both_sboms_and_no_findings_without_a_database() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let out = SbomScanner { advisory_db: None }
            .scan(crate::tests::request(dir.path(), Arc::new(|_, _| {})))
            .await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert!(out.findings.is_empty());
        let cdx: serde_json::Value = serde_json::from_slice(&out.attachments[0].bytes).unwrap();
        let purls: Vec<_> = cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["purl"].clone())
            .collect();
        assert!(
            purls.contains(&json!("pkg:cargo/smallvec@1.6.0")),
            "{purls:?}"
        );
        assert_eq!(out.attachments[1].bundle_path, SBOM_SPDX);
    }

    #[tokio::test]
    async fn matches_an_osv_advisory_from_an_offline_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let db = tempfile::tempdir().unwrap();
        std::fs::write(
            db.path().join("TEST-0001.json"),
            json!({"id": "TEST-0001", "summary": "buffer overflow in insert_many",
                   "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
                                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.1"}]}]}],
                   "database_specific": {"severity": "CRITICAL"}})
            .to_string(),
        )
        .unwrap();
        let out = SbomScanner {
            advisory_db: Some(db.path().to_path_buf()),
        }
        .scan(crate::tests::request(dir.path(), Arc::new(|_, _| {})))
        .await;
        assert_eq!(out.findings.len(), 1, "{:?}", out);
        let f = &out.findings[0];
        assert_eq!(
            (f.rule_id.as_str(), f.severity),
            ("TEST-0001", Severity::Critical)
        );
        assert_eq!(f.path.as_deref(), Some("Cargo.lock"));
        assert!(f.message.contains("fixed in 1.6.1"), "{}", f.message);
    }

    #[tokio::test]
    async fn a_missing_advisory_database_fails_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let out = SbomScanner {
            advisory_db: Some(dir.path().join("nope")),
        }
        .scan(crate::tests::request(dir.path(), Arc::new(|_, _| {})))
        .await;
        assert_eq!(out.status, ToolStatus::Failed);
    }
}
