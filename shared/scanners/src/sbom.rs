//! The built-in dependency inventory as a scanner: lockfiles → CycloneDX and SPDX SBOMs in the bundle, and one
//! finding per vulnerable component version from an offline advisory database. Advisory data is part of the
//! verdict: without a database the tool fails (unless the manifest turns matching off for it), a database older
//! than the configured maximum age fails it too, and the bundle records which database (snapshot date and
//! digest) the findings came from. Given a prepared file table, the tool chooses the lockfiles from it and
//! reuses the previous scan's result when nothing it depends on changed (`sbom_reuse`).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use certus_core::bundle::{ADVISORY_DATABASE, SBOM_CYCLONEDX, SBOM_SPDX};
use certus_core::finding::{identity_digest, Finding, Severity};
use certus_core::manifest::advisories_off;
use certus_core::ports::{Attachment, LogStream, ScanRequest, Scanner, ToolOutput, ToolStatus};
use certus_core::time;
use certus_sbom::{
    cyclonedx, inventory, spdx, AdvisoryDb, Component, Inventory, SbomMeta, VulnFinding,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sbom_reuse;

pub const SBOM_ID: &str = "sbom";

#[derive(Debug, Clone, Default)]
pub struct SbomScanner {
    /// A RustSec advisory-db checkout or a directory of OSV JSON files.
    pub advisory_db: Option<PathBuf>,
    /// A database whose snapshot date is older than this many days fails the tool.
    pub max_age_days: Option<u32>,
    /// Where the database comes from when it is not a local directory (the synced snapshot on AWS): asked at
    /// each scan, so a long-lived process follows new snapshots. Takes precedence over `advisory_db`.
    pub advisory_source: Option<Arc<dyn AdvisorySource>>,
}

/// An advisory database kept elsewhere and unpacked on demand.
#[async_trait]
pub trait AdvisorySource: Send + Sync + std::fmt::Debug {
    /// Where the snapshot is read from, for the tool's command line.
    fn describe(&self) -> String;
    /// The current snapshot, unpacked; the error says why there is none, and the scan fails with it.
    async fn current(&self) -> Result<AdvisorySnapshot, String>;
}

/// One unpacked advisory snapshot.
#[derive(Debug, Clone)]
pub struct AdvisorySnapshot {
    /// The directory holding the advisories (RustSec or OSV files, at any depth).
    pub dir: PathBuf,
    /// Where the snapshot came from (its object, date and SHA-256), recorded in the bundle as `snapshot`.
    pub record: serde_json::Value,
}

/// What the tool answers when advisory matching is asked for (the default) and no database is configured.
pub const NO_DATABASE: &str = "no advisory database is configured, so dependency vulnerabilities cannot be \
checked: set CERTUS_ASSURANCE_ADVISORY_DB to a RustSec advisory-db checkout or a directory of OSV JSON files, \
or turn matching off for this profile in the manifest ({\"id\": \"sbom\", \"config\": {\"advisories\": \"off\"}})";

fn severity(s: certus_sbom::Severity) -> Severity {
    match s {
        certus_sbom::Severity::Critical => Severity::Critical,
        certus_sbom::Severity::High => Severity::High,
        certus_sbom::Severity::Medium => Severity::Medium,
        certus_sbom::Severity::Low => Severity::Low,
    }
}

/// The longest advisory body a SARIF rule repeats.
const MAX_DESCRIPTION_CHARS: usize = 4000;

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
        rule_description: Some(v.description.trim())
            .filter(|text| !text.is_empty())
            .map(|text| text.chars().take(MAX_DESCRIPTION_CHARS).collect()),
        help_uri: v.url.clone(),
        severity: severity(v.severity),
        message: format!(
            "{} {} is affected by {}: {} ({fixed})",
            v.package, v.version, v.advisory_id, v.title
        ),
        fingerprint: identity_digest(
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

    fn reuses_results(&self) -> bool {
        true
    }

    fn reads_tree_only(&self) -> bool {
        true
    }

    fn command(&self, request: &ScanRequest) -> String {
        if let (Some(source), false) = (
            &self.advisory_source,
            advisories_off(request.config.as_ref()),
        ) {
            return format!(
                "built-in dependency inventory (advisories: {})",
                source.describe()
            );
        }
        match (&self.advisory_db, advisories_off(request.config.as_ref())) {
            (_, true) => {
                "built-in dependency inventory (advisory matching off in the manifest)".into()
            }
            (Some(db), false) => format!(
                "built-in dependency inventory (advisories: {})",
                db.display()
            ),
            (None, false) => {
                "built-in dependency inventory (no advisory database configured)".into()
            }
        }
    }

    async fn scan(&self, request: ScanRequest) -> ToolOutput {
        let matching = if advisories_off(request.config.as_ref()) {
            Matching::Off
        } else if let Some(source) = &self.advisory_source {
            match source.current().await {
                Ok(snapshot) => Matching::Database {
                    dir: snapshot.dir,
                    max_age_days: self.max_age_days,
                    snapshot: Some(snapshot.record),
                },
                Err(reason) => return ToolOutput::failed(ToolStatus::Failed, None, reason),
            }
        } else {
            match &self.advisory_db {
                Some(dir) => Matching::Database {
                    dir: dir.clone(),
                    max_age_days: self.max_age_days,
                    snapshot: None,
                },
                None => return ToolOutput::failed(ToolStatus::Failed, None, NO_DATABASE),
            }
        };
        if let Some(incremental) = request.incremental.clone() {
            return sbom_reuse::scan(&self.version(), &incremental, request, matching).await;
        }
        let joined = tokio::task::spawn_blocking(move || scan_blocking(&request, &matching)).await;
        joined.unwrap_or_else(|e| {
            ToolOutput::failed(
                ToolStatus::Failed,
                None,
                format!("inventory task crashed: {e}"),
            )
        })
    }
}

/// How vulnerabilities are matched in one scan.
pub(crate) enum Matching {
    /// The manifest turned matching off: an inventory only.
    Off,
    Database {
        dir: PathBuf,
        max_age_days: Option<u32>,
        /// Where the directory came from, when it was unpacked from a synced snapshot.
        snapshot: Option<serde_json::Value>,
    },
}

/// Everything the tool's output is rebuilt from, except what depends on the time of the scan (the SBOMs'
/// creation time, the database's age): what an incremental scan keeps for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Computed {
    pub components: Vec<Component>,
    pub lockfiles: Vec<String>,
    /// Every lockfile (or line of one) that could not be read.
    pub coverage_gaps: Vec<String>,
    /// `None` when matching is off.
    pub database: Option<DatabaseFacts>,
    pub findings: Vec<Finding>,
}

/// What the loaded advisory database said of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DatabaseFacts {
    pub snapshot_date: Option<String>,
    pub digest: String,
    pub advisories: usize,
    pub files: usize,
    pub unparsable_files: usize,
    /// One per advisory file skipped.
    pub warnings: Vec<String>,
}

fn scan_blocking(request: &ScanRequest, matching: &Matching) -> ToolOutput {
    let (inventory, database) = with_database(matching, || inventory(&request.source_root));
    let inventory = match inventory {
        Ok(inv) => inv,
        Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, e.to_string()),
    };
    match compute(request, inventory, matching, database) {
        Ok(computed) => finish(request, computed, matching),
        Err(e) => ToolOutput::failed(ToolStatus::Failed, None, e),
    }
}

/// The advisory database `matching` names, loaded (`None` when matching is off); the error fails the tool.
pub(crate) type Loaded = Option<Result<AdvisoryDb, String>>;

/// `work` (reading the lockfiles) done while another thread loads the database `matching` names.
pub(crate) fn with_database<T>(matching: &Matching, work: impl FnOnce() -> T) -> (T, Loaded) {
    let Matching::Database { dir, .. } = matching else {
        return (work(), None);
    };
    let load =
        || AdvisoryDb::load(dir).map_err(|e| format!("advisory database {}: {e}", dir.display()));
    std::thread::scope(|scope| {
        let loading = scope.spawn(load);
        let done = work();
        let loaded = loading.join().unwrap_or_else(|_| {
            Err(format!(
                "advisory database {}: the thread loading it failed",
                dir.display()
            ))
        });
        (done, Some(loaded))
    })
}

/// Matches the inventory against the loaded database; the error fails the tool.
pub(crate) fn compute(
    request: &ScanRequest,
    inventory: Inventory,
    matching: &Matching,
    database: Loaded,
) -> Result<Computed, String> {
    // Every lockfile (or line of one) that could not be read: the verdict does not cover it, so it is said in
    // the job's warnings, not only in the log.
    let coverage_gaps: Vec<String> = inventory
        .errors
        .iter()
        .map(|e| match e {
            certus_sbom::SbomError::SkippedLine { .. } => format!("lockfile line skipped: {e}"),
            _ => format!("lockfile skipped: {e}"),
        })
        .collect();
    let (findings, database) = match (matching, database) {
        (Matching::Off, _) => (Vec::new(), None),
        (Matching::Database { dir, .. }, None) => {
            return Err(format!("advisory database {}: not loaded", dir.display()))
        }
        (Matching::Database { dir, .. }, Some(loaded)) => {
            let db = loaded?;
            if db.is_empty() {
                return Err(format!(
                    "advisory database {} holds no advisory ({} file(s) read, {} unparsable): is it the right directory?",
                    dir.display(),
                    db.file_count(),
                    db.errors().len()
                ));
            }
            (request.log)(
                LogStream::Stderr,
                &format!("{} advisories loaded from {}", db.len(), dir.display()),
            );
            let findings = db.matches(&inventory).iter().map(to_finding).collect();
            let facts = DatabaseFacts {
                snapshot_date: db.snapshot_date(),
                digest: db.digest().to_string(),
                advisories: db.len(),
                files: db.file_count(),
                unparsable_files: db.errors().len(),
                warnings: db
                    .errors()
                    .iter()
                    .map(|e| format!("advisory skipped: {e}"))
                    .collect(),
            };
            (findings, Some(facts))
        }
    };
    Ok(Computed {
        components: inventory.components,
        lockfiles: inventory.lockfiles,
        coverage_gaps,
        database,
        findings,
    })
}

/// The tool's output from a computed result: the database's age checked against now, the SBOMs dated now.
pub(crate) fn finish(request: &ScanRequest, computed: Computed, matching: &Matching) -> ToolOutput {
    (request.log)(
        LogStream::Stderr,
        &format!(
            "{} component(s) from {} lockfile(s)",
            computed.components.len(),
            computed.lockfiles.len()
        ),
    );
    let coverage_gaps = computed.coverage_gaps;
    let mut warnings = coverage_gaps.clone();
    let created = time::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let meta = SbomMeta::new(&request.subject, None, &created);
    let database = match (matching, computed.database) {
        (Matching::Off, _) => {
            warnings.push(
                "advisory matching is off in the manifest: dependency vulnerabilities were not checked"
                    .into(),
            );
            json!({"matching": "off", "reason": "the manifest sets {\"advisories\": \"off\"} for this tool"})
        }
        (Matching::Database { dir, .. }, None) => {
            return ToolOutput::failed(
                ToolStatus::Failed,
                None,
                format!(
                    "advisory database {}: the result to report was computed without matching (a stored \
                     result from another configuration); nothing is reported rather than an unmatched inventory",
                    dir.display()
                ),
            )
        }
        (
            Matching::Database {
                dir,
                max_age_days,
                snapshot: origin,
            },
            Some(db),
        ) => {
            let snapshot = db.snapshot_date;
            let age_days = snapshot
                .as_deref()
                .and_then(|day| time::days_since(day, &time::now()));
            if let Some(max) = *max_age_days {
                match age_days {
                    Some(age) if age <= i64::from(max) => {}
                    Some(age) => {
                        return ToolOutput::failed(
                            ToolStatus::Failed,
                            None,
                            format!(
                                "advisory database {} is stale: its snapshot date {} is {age} days old and \
                                 CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS allows {max}; update the database",
                                dir.display(),
                                snapshot.as_deref().unwrap_or_default()
                            ),
                        )
                    }
                    None => {
                        return ToolOutput::failed(
                            ToolStatus::Failed,
                            None,
                            format!(
                                "advisory database {}: no advisory in it carries a date, so its age cannot be \
                                 checked against CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS={max}",
                                dir.display()
                            ),
                        )
                    }
                }
            }
            warnings.extend(db.warnings);
            (request.log)(
                LogStream::Stderr,
                &format!(
                    "advisory database: {} advisories, snapshot date {}, digest sha256:{}",
                    db.advisories,
                    snapshot.as_deref().unwrap_or("unknown"),
                    db.digest
                ),
            );
            let mut database = json!({
                "matching": "on",
                "snapshot_date": snapshot,
                "age_days": age_days,
                "max_age_days": max_age_days,
                "digest": format!("sha256:{}", db.digest),
                "advisories": db.advisories,
                "files": db.files,
                "unparsable_files": db.unparsable_files,
            });
            if let Some(origin) = origin {
                database["snapshot"] = origin.clone();
            }
            database
        }
    };
    let inventory = Inventory {
        components: computed.components,
        lockfiles: computed.lockfiles,
        ..Inventory::default()
    };
    // The two SBOMs are built, written out and dropped on two threads.
    let rendered = std::thread::scope(|scope| {
        let cyclonedx = scope.spawn(|| serde_json::to_vec_pretty(&cyclonedx(&inventory, &meta)));
        let spdx = serde_json::to_vec_pretty(&spdx(&inventory, &meta));
        let cyclonedx = cyclonedx
            .join()
            .unwrap_or_else(|_| Err(serde::ser::Error::custom("the thread rendering it failed")));
        [
            (SBOM_CYCLONEDX, cyclonedx),
            (SBOM_SPDX, spdx),
            (ADVISORY_DATABASE, serde_json::to_vec_pretty(&database)),
        ]
    });
    let mut attachments = Vec::new();
    for (path, bytes) in rendered {
        match bytes {
            Ok(bytes) => attachments.push(Attachment {
                bundle_path: path.into(),
                bytes,
            }),
            Err(e) => return ToolOutput::failed(ToolStatus::Failed, None, format!("{path}: {e}")),
        }
    }
    ToolOutput {
        attachments,
        warnings,
        coverage_gaps,
        ..ToolOutput::completed(computed.findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    use certus_core::ports::ScanRequest;

    const LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

    fn request(root: &Path, config: Option<serde_json::Value>) -> ScanRequest {
        ScanRequest {
            config,
            ..crate::tests::request(root, Arc::new(|_, _| {}))
        }
    }

    fn attachment(out: &ToolOutput, path: &str) -> serde_json::Value {
        let found = out
            .attachments
            .iter()
            .find(|a| a.bundle_path == path)
            .unwrap_or_else(|| panic!("no {path} in {out:?}"));
        serde_json::from_slice(&found.bytes).unwrap()
    }

    /// An OSV database of one advisory against smallvec < 1.6.1, published on `published`.
    fn osv_db(published: &str) -> tempfile::TempDir {
        let db = tempfile::tempdir().unwrap();
        std::fs::write(
            db.path().join("TEST-0001.json"),
            json!({"id": "TEST-0001", "summary": "buffer overflow in insert_many", "published": published,
                   "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
                                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.1"}]}]}],
                   "database_specific": {"severity": "CRITICAL"}})
            .to_string(),
        )
        .unwrap();
        db
    }

    #[tokio::test]
    async fn without_a_database_the_tool_fails_unless_the_manifest_turns_matching_off() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let scanner = SbomScanner::default();
        let out = scanner.scan(request(dir.path(), None)).await;
        assert_eq!(out.status, ToolStatus::Failed);
        assert_eq!(out.error.as_deref(), Some(NO_DATABASE));

        let off = Some(json!({"advisories": "off"}));
        assert!(scanner
            .command(&request(dir.path(), off.clone()))
            .contains("advisory matching off"));
        let out = scanner.scan(request(dir.path(), off)).await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert!(out.findings.is_empty());
        let cdx = attachment(&out, SBOM_CYCLONEDX);
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
        assert!(out.attachments.iter().any(|a| a.bundle_path == SBOM_SPDX));
        assert_eq!(attachment(&out, ADVISORY_DATABASE)["matching"], "off");
        assert!(out.warnings.iter().any(|w| w.contains("not checked")));
    }

    #[tokio::test]
    async fn matches_an_osv_advisory_and_records_the_database() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let db = osv_db("2026-11-30T00:00:00Z");
        let out = SbomScanner {
            advisory_db: Some(db.path().to_path_buf()),
            max_age_days: None,
            ..SbomScanner::default()
        }
        .scan(request(dir.path(), None))
        .await;
        assert_eq!(out.findings.len(), 1, "{:?}", out);
        let f = &out.findings[0];
        assert_eq!(
            (f.rule_id.as_str(), f.severity),
            ("TEST-0001", Severity::Critical)
        );
        assert_eq!(f.path.as_deref(), Some("Cargo.lock"));
        assert!(f.message.contains("fixed in 1.6.1"), "{}", f.message);
        let record = attachment(&out, ADVISORY_DATABASE);
        assert_eq!(record["matching"], "on");
        assert_eq!(record["snapshot_date"], "2026-11-30");
        assert_eq!(record["advisories"], 1);
        let digest = record["digest"].as_str().unwrap().to_string();
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "{digest}"
        );

        // Another advisory file gives another digest.
        std::fs::write(db.path().join("TEST-0002.json"), "{\"id\": \"TEST-0002\"}").unwrap();
        let again = SbomScanner {
            advisory_db: Some(db.path().to_path_buf()),
            max_age_days: None,
            ..SbomScanner::default()
        }
        .scan(request(dir.path(), None))
        .await;
        assert_ne!(
            attachment(&again, ADVISORY_DATABASE)["digest"],
            digest.as_str()
        );
    }

    #[tokio::test]
    async fn a_database_older_than_the_maximum_age_fails_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let db = osv_db("2020-01-01T00:00:00Z");
        let scanner = |max_age_days| SbomScanner {
            advisory_db: Some(db.path().to_path_buf()),
            max_age_days,
            ..SbomScanner::default()
        };
        let out = scanner(Some(30)).scan(request(dir.path(), None)).await;
        assert_eq!(out.status, ToolStatus::Failed);
        let error = out.error.unwrap_or_default();
        assert!(
            error.contains("is stale: its snapshot date 2020-01-01")
                && error.contains("CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS allows 30"),
            "{error}"
        );
        let out = scanner(Some(36_500)).scan(request(dir.path(), None)).await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert_eq!(out.findings.len(), 1);
    }

    #[tokio::test]
    async fn a_missing_or_empty_advisory_database_fails_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let out = SbomScanner {
            advisory_db: Some(dir.path().join("nope")),
            max_age_days: None,
            ..SbomScanner::default()
        }
        .scan(request(dir.path(), None))
        .await;
        assert_eq!(out.status, ToolStatus::Failed);
        let empty = tempfile::tempdir().unwrap();
        let out = SbomScanner {
            advisory_db: Some(empty.path().to_path_buf()),
            max_age_days: None,
            ..SbomScanner::default()
        }
        .scan(request(dir.path(), None))
        .await;
        assert_eq!(out.status, ToolStatus::Failed);
        assert!(
            out.error.unwrap_or_default().contains("holds no advisory"),
            "an empty directory is not a database"
        );
    }

    /// The real RustSec snapshot in ../shared: findings, snapshot date and digest recorded, and the maximum
    /// age applied to it.
    #[tokio::test]
    async fn the_rustsec_snapshot_is_matched_recorded_and_aged() {
        let shared = std::env::var_os("CERTUS_SHARED_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
        let db_dir = shared.join("data/rustsec-advisory-db");
        if !db_dir.is_dir() {
            println!("skipped: ../shared absent");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), LOCK).unwrap();
        let scanner = |max_age_days| SbomScanner {
            advisory_db: Some(db_dir.clone()),
            max_age_days,
            ..SbomScanner::default()
        };
        let out = scanner(None).scan(request(dir.path(), None)).await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        assert!(
            out.findings
                .iter()
                .any(|f| f.rule_id == "RUSTSEC-2021-0003"),
            "{:?}",
            out.findings
        );
        let record = attachment(&out, ADVISORY_DATABASE);
        let snapshot = record["snapshot_date"].as_str().unwrap().to_string();
        // The snapshot was taken on 2026-08-21 (its SOURCE.md); no advisory in it is newer.
        assert!(
            snapshot.as_str() <= "2026-08-21" && snapshot.as_str() >= "2026-01-01",
            "{snapshot}"
        );
        assert!(record["advisories"].as_u64().unwrap() > 1100);
        let age = record["age_days"].as_i64().unwrap();

        // A maximum age it is within passes; one it is past fails the scan.
        let within = u32::try_from(age).unwrap() + 1;
        let out = scanner(Some(within)).scan(request(dir.path(), None)).await;
        assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
        if age > 1 {
            let out = scanner(Some(1)).scan(request(dir.path(), None)).await;
            assert_eq!(out.status, ToolStatus::Failed);
            assert!(out
                .error
                .unwrap_or_default()
                .contains(&format!("its snapshot date {snapshot} is {age} days old")));
        }
    }
}
