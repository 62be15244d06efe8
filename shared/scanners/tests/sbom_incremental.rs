//! The dependency inventory over a prepared file table: a rescan with no lockfile and no advisory file changed
//! reuses the previous result without loading the database, with the findings and SBOM components of a full
//! scan; a changed lockfile, sibling file or advisory file, or a tampered cache entry, computes it again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use certus_core::bundle::{ADVISORY_DATABASE, SBOM_CYCLONEDX, SBOM_SPDX};
use certus_core::incremental::{CacheUse, Incremental, ScanCache};
use certus_core::ports::{ScanRequest, Scanner, ToolOutput, ToolStatus};
use certus_local::LocalScanCache;
use certus_scanners::{AdvisorySnapshot, AdvisorySource, SbomScanner};
use common::{request_logged, table};
use serde_json::{json, Value};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A new inode, as a checkout writes files.
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, &path).unwrap();
}

const CARGO: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
const NPM: &str = r#"{"lockfileVersion":3,"packages":{"":{"name":"web","version":"1.0.0","dependencies":{"left-pad":"^1"}},"node_modules/left-pad":{"version":"1.3.0"}}}"#;
const POETRY: &str = "[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\noptional = false\npython-versions = \">=3.7\"\nfiles = []\n\n[metadata]\nlock-version = \"2.0\"\npython-versions = \"^3.11\"\ncontent-hash = \"0000\"\n";

/// A tree with lockfiles of five ecosystems (and files that are not lockfiles).
fn tree(root: &Path) {
    write(root, "Cargo.lock", CARGO);
    write(root, "web/package-lock.json", NPM);
    write(root, "web/node_modules/x/package-lock.json", NPM);
    write(
        root,
        "requirements.txt",
        "flask==3.0.0\n-r common/base.txt\n",
    );
    write(root, "common/base.txt", "attrs===23.1.0\n");
    write(root, "svc/poetry.lock", POETRY);
    write(
        root,
        "svc/pyproject.toml",
        "[tool.poetry]\nname = \"svc\"\n\n[tool.poetry.dependencies]\nrequests = \"^2.31\"\n",
    );
    write(
        root,
        "go/go.mod",
        "module example.com/svc\nrequire golang.org/x/text v0.13.0\n",
    );
    write(
        root,
        "go/go.sum",
        "golang.org/x/text v0.13.0 h1:ablQoSUd0tRdKxZewP80B+BaqeKJuVhuRxj/dkrun3k=\n",
    );
    for n in 0..50 {
        write(root, &format!("src/m{}/f{n}.rs", n % 5), "fn main() {}\n");
    }
}

fn advisory(id: &str, ecosystem: &str, name: &str, fixed: &str) -> String {
    json!({"id": id, "summary": format!("{id} in {name}"), "published": "2026-11-30T00:00:00Z",
           "affected": [{"package": {"ecosystem": ecosystem, "name": name},
                         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
           "database_specific": {"severity": "HIGH"}})
    .to_string()
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    db: PathBuf,
    cache: Arc<LocalScanCache>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    tree(&root);
    let db = dir.path().join("advisories");
    write(
        &db,
        "crates/T-1.json",
        &advisory("T-1", "crates.io", "smallvec", "1.6.1"),
    );
    write(
        &db,
        "pypi/T-2.json",
        &advisory("T-2", "PyPI", "flask", "3.0.1"),
    );
    let cache = Arc::new(LocalScanCache::open(dir.path().join("cache"), 1 << 30).unwrap());
    Setup {
        _dir: dir,
        root,
        db,
        cache,
    }
}

type Logged = Arc<Mutex<Vec<String>>>;

fn request(root: &Path, incremental: Option<Incremental>, logged: &Logged) -> ScanRequest {
    let logged = logged.clone();
    request_logged(
        root,
        incremental,
        Arc::new(move |_, line| logged.lock().unwrap().push(line.to_string())),
    )
}

fn scanner(db: &Path, max_age_days: Option<u32>) -> SbomScanner {
    SbomScanner {
        advisory_db: Some(db.to_path_buf()),
        max_age_days,
        ..SbomScanner::default()
    }
}

/// Scans with the file table; returns the output and whether the database was loaded (from the tool's log).
async fn cached(s: &Setup, max_age_days: Option<u32>) -> (ToolOutput, bool) {
    let logged = Logged::default();
    let incremental = table(&s.root, &s.cache).await;
    let out = scanner(&s.db, max_age_days)
        .scan(request(&s.root, Some(incremental), &logged))
        .await;
    (out, database_loaded(&logged))
}

/// Whether the tool's log says it loaded the advisory database.
fn database_loaded(logged: &Logged) -> bool {
    logged
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.contains("advisories loaded"))
}

async fn full(s: &Setup) -> ToolOutput {
    scanner(&s.db, None)
        .scan(request(&s.root, None, &Logged::default()))
        .await
}

fn attachment(out: &ToolOutput, path: &str) -> Value {
    let found = out
        .attachments
        .iter()
        .find(|a| a.bundle_path == path)
        .unwrap_or_else(|| panic!("no {path} in {out:?}"));
    serde_json::from_slice(&found.bytes).unwrap()
}

/// An incremental output says what a full scan of the same tree says (the SBOMs' dates and ids aside).
fn same_as_full(cached: &ToolOutput, full: &ToolOutput) {
    assert_eq!(cached.status, ToolStatus::Completed, "{:?}", cached.error);
    assert_eq!(full.status, ToolStatus::Completed, "{:?}", full.error);
    assert_eq!(cached.findings, full.findings);
    assert_eq!(cached.warnings, full.warnings);
    assert_eq!(cached.coverage_gaps, full.coverage_gaps);
    for path in [SBOM_CYCLONEDX, SBOM_SPDX] {
        let (a, b) = (attachment(cached, path), attachment(full, path));
        for field in ["components", "dependencies", "packages", "relationships"] {
            assert_eq!(a.get(field), b.get(field), "{path} {field}");
        }
    }
    assert_eq!(
        attachment(cached, ADVISORY_DATABASE),
        attachment(full, ADVISORY_DATABASE)
    );
    assert!(
        full.cache.is_none(),
        "a scan without a file table says nothing of a cache"
    );
}

fn cache_use(out: &ToolOutput) -> CacheUse {
    out.cache
        .clone()
        .expect("the record says how the cache was used")
}

#[tokio::test]
async fn an_unchanged_tree_reuses_the_result_without_loading_the_database() {
    let s = setup();
    let (first, loaded) = cached(&s, None).await;
    assert!(loaded);
    let fresh = full(&s).await;
    same_as_full(&first, &fresh);
    let ids: Vec<&str> = first.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, ["T-1", "T-2"], "{:?}", first.findings);
    let used = cache_use(&first);
    // Cargo.lock, requirements.txt, web/package-lock.json, svc/poetry.lock, go/go.mod, go/go.sum.
    assert_eq!(
        (used.files, used.from_cache, used.scanned, used.discarded),
        (6, 0, 6, 0)
    );

    let (second, loaded) = cached(&s, None).await;
    assert!(
        !loaded,
        "the database is not loaded when the result is reused"
    );
    same_as_full(&second, &fresh);
    let reused = cache_use(&second);
    assert_eq!((reused.files, reused.from_cache, reused.scanned), (6, 6, 0));
    assert_eq!(reused.scope, used.scope);
    assert_ne!(reused.entries_sha256, used.entries_sha256);
}

#[tokio::test]
async fn a_changed_lockfile_sibling_or_advisory_computes_the_result_again() {
    let s = setup();
    let (first, _) = cached(&s, None).await;
    assert_eq!(cache_use(&first).scanned, 6);

    // A lockfile: smallvec upgraded past the fix.
    write(&s.root, "Cargo.lock", &CARGO.replace("1.6.0", "1.6.1"));
    let (out, loaded) = cached(&s, None).await;
    assert!(loaded);
    assert_eq!(cache_use(&out).from_cache, 0);
    same_as_full(&out, &full(&s).await);
    assert!(!out.findings.iter().any(|f| f.rule_id == "T-1"));

    // A file read beside a lockfile (not itself a lockfile): requests becomes a direct dependency no more.
    let (out, _) = cached(&s, None).await;
    assert_eq!(cache_use(&out).from_cache, 6);
    write(
        &s.root,
        "svc/pyproject.toml",
        "[tool.poetry]\nname = \"svc\"\n",
    );
    let (out, loaded) = cached(&s, None).await;
    assert!(loaded);
    assert_eq!(cache_use(&out).from_cache, 0);
    same_as_full(&out, &full(&s).await);

    // An advisory file rewritten with a new advisory: the database's identity changed.
    write(
        &s.db,
        "npm/T-3.json",
        &advisory("T-3", "npm", "left-pad", "1.3.1"),
    );
    let (out, loaded) = cached(&s, None).await;
    assert!(loaded, "a changed database is loaded again");
    assert_eq!(cache_use(&out).from_cache, 0);
    same_as_full(&out, &full(&s).await);
    assert!(out.findings.iter().any(|f| f.rule_id == "T-3"));
    let (out, loaded) = cached(&s, None).await;
    assert!(!loaded);
    assert_eq!(cache_use(&out).from_cache, 6);
}

#[tokio::test]
async fn a_tampered_entry_is_discarded_and_the_result_computed_again() {
    let s = setup();
    let (first, _) = cached(&s, None).await;
    let scope = cache_use(&first).scope;
    let lineage = table(&s.root, &s.cache).await.lineage;
    let bytes = s.cache.index(&scope, &lineage).await.unwrap().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("T-1"));
    s.cache
        .put_index(&scope, &lineage, text.replace("T-1", "T-9").into_bytes())
        .await
        .unwrap();
    let (out, loaded) = cached(&s, None).await;
    assert!(loaded);
    let used = cache_use(&out);
    assert_eq!((used.from_cache, used.scanned, used.discarded), (0, 6, 1));
    same_as_full(&out, &full(&s).await);
    // The entry stored again is reused by the next scan.
    let (out, loaded) = cached(&s, None).await;
    assert!(!loaded);
    assert_eq!(cache_use(&out).discarded, 0);
    assert_eq!(cache_use(&out).from_cache, 6);
}

#[tokio::test]
async fn a_reused_result_still_fails_when_the_database_has_grown_too_old() {
    let s = setup();
    let (first, _) = cached(&s, Some(36_500)).await;
    assert_eq!(first.status, ToolStatus::Completed, "{:?}", first.error);
    let age = attachment(&first, ADVISORY_DATABASE)["age_days"]
        .as_i64()
        .unwrap();
    assert!(
        age > 0,
        "the fixture's advisories are dated 2026-11-30: {age}"
    );
    let (out, loaded) = cached(&s, Some(0)).await;
    assert!(!loaded, "the age is checked on the stored snapshot date");
    assert_eq!(out.status, ToolStatus::Failed);
    assert!(
        out.error.unwrap_or_default().contains("is stale"),
        "a stale database fails a reused result too"
    );
}

#[tokio::test]
async fn without_a_file_table_the_tree_is_walked_and_no_cache_is_recorded() {
    let s = setup();
    let walked = full(&s).await;
    assert_eq!(walked.status, ToolStatus::Completed, "{:?}", walked.error);
    assert!(walked.cache.is_none());
    assert_eq!(walked.findings.len(), 2);
}

/// A synced snapshot whose recorded digest the test sets.
#[derive(Debug)]
struct Synced {
    dir: PathBuf,
    digest: Mutex<String>,
}

#[async_trait::async_trait]
impl AdvisorySource for Synced {
    fn describe(&self) -> String {
        "a synced snapshot".into()
    }

    async fn current(&self) -> Result<AdvisorySnapshot, String> {
        Ok(AdvisorySnapshot {
            dir: self.dir.clone(),
            record: json!({"digest": format!("sha256:{}", self.digest.lock().unwrap())}),
        })
    }
}

#[tokio::test]
async fn a_synced_snapshot_is_known_by_its_recorded_digest() {
    let s = setup();
    let source = Arc::new(Synced {
        dir: s.db.clone(),
        digest: Mutex::new("a".repeat(64)),
    });
    let scan = || async {
        let logged = Logged::default();
        let incremental = table(&s.root, &s.cache).await;
        let out = SbomScanner {
            advisory_source: Some(source.clone()),
            ..SbomScanner::default()
        }
        .scan(request(&s.root, Some(incremental), &logged))
        .await;
        (out, database_loaded(&logged))
    };
    let (first, loaded) = scan().await;
    assert!(loaded);
    assert_eq!(first.status, ToolStatus::Completed, "{:?}", first.error);
    let (again, loaded) = scan().await;
    assert!(!loaded);
    assert_eq!(again.findings, first.findings);
    assert_eq!(
        attachment(&again, ADVISORY_DATABASE),
        attachment(&first, ADVISORY_DATABASE)
    );
    *source.digest.lock().unwrap() = "b".repeat(64);
    let (next, loaded) = scan().await;
    assert!(loaded, "another snapshot is loaded");
    assert_eq!(cache_use(&next).from_cache, 0);
    assert_eq!(
        attachment(&next, ADVISORY_DATABASE)["snapshot"]["digest"],
        format!("sha256:{}", "b".repeat(64))
    );
}

#[tokio::test]
async fn a_lockfile_changed_between_hashing_and_reading_never_lends_its_result_to_the_hashed_content(
) {
    let s = setup();
    // The table hashes the vulnerable lockfile; before the tool reads it, smallvec is upgraded past the fix.
    let hashed = table(&s.root, &s.cache).await;
    write(&s.root, "Cargo.lock", &CARGO.replace("1.6.0", "1.6.1"));
    let raced = scanner(&s.db, None)
        .scan(request(&s.root, Some(hashed), &Logged::default()))
        .await;
    assert_eq!(raced.status, ToolStatus::Completed, "{:?}", raced.error);
    assert!(!raced.findings.iter().any(|f| f.rule_id == "T-1"));
    // The lockfile is put back as it was hashed: the result computed from the upgraded one is not reused.
    write(&s.root, "Cargo.lock", CARGO);
    let (again, loaded) = cached(&s, None).await;
    assert!(loaded, "computed again, the database loaded");
    assert_eq!(cache_use(&again).from_cache, 0);
    assert!(again.findings.iter().any(|f| f.rule_id == "T-1"));
    same_as_full(&again, &full(&s).await);
}
