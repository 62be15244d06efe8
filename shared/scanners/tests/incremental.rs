//! Incremental and full secrets scans of the same tree give the same findings: a generated history of
//! changes (edits, new files, deletions, renames, planted and removed secrets, binary and oversized files)
//! scanned after each step with the cache and without it, in a directory and as commits of a repository (a kept
//! checkout against fresh clones); a tampered cache entry is discarded and rescanned.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certus_core::finding::Finding;
use certus_core::incremental::{delta_lineage, Incremental, Paths, ResultIndex};
use certus_core::ports::{PreparedSource, Reuse, SourcePreparer};
use certus_core::ports::{ScanRequest, Scanner, ToolOutput, ToolStatus};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;
use certus_local::LocalScanCache;
use certus_scanners::SecretsScanner;
use certus_source::{GitPolicy, KeptCheckouts, LocalSourcePreparer, SourcePolicy};
use certus_testkit::git;
use common::{request_logged, table, table_for, table_scanning};

/// A deterministic generator (xorshift), so the history is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A credential-shaped line, built from pieces so none sits in this source file.
fn secret_line(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let tail: String = (0..16)
        .map(|_| ALPHABET[rng.below(32) as usize] as char)
        .collect();
    format!(
        "aws_access_key_id = \"{}{tail}\"\n",
        "AK".to_string() + "IA"
    )
}

fn content(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    for line in 0..(1 + rng.below(30)) {
        if rng.below(25) == 0 {
            text.push_str(&secret_line(rng));
        } else {
            text.push_str(&format!("value_{line} = {}\n", rng.next()));
        }
    }
    match rng.below(20) {
        0 => {
            let mut bytes = text.into_bytes();
            bytes.insert(0, 0);
            bytes
        }
        _ => text.into_bytes(),
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A new inode, as a checkout writes files.
    let staged = path.with_extension("staged");
    std::fs::write(&staged, bytes).unwrap();
    std::fs::rename(&staged, &path).unwrap();
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(root, root);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(root, &path));
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out
}

/// The head of `main` of the repository at `repo`.
fn head_of(repo: &Path) -> SourceSpec {
    SourceSpec::Git {
        git_url: format!("file://{}", repo.display()),
        branch: Some("main".into()),
        commit: None,
        git_credentials_ref: None,
    }
}

fn local_git() -> SourcePolicy {
    SourcePolicy {
        git: GitPolicy {
            allow_local: true,
            ..GitPolicy::default()
        },
        ..SourcePolicy::default()
    }
}

/// How many files under `root` the secrets tool's single pass scans when it reads them all: text within the size
/// limit (no NUL among the first bytes).
fn scanned_whole(root: &Path) -> u64 {
    let head = certus_secrets::BINARY_SNIFF_LEN;
    files_under(root)
        .iter()
        .map(|rel| std::fs::read(root.join(rel)).unwrap())
        .filter(|bytes| bytes.len() as u64 <= certus_secrets::DEFAULT_MAX_FILE_SIZE)
        .filter(|bytes| !bytes[..bytes.len().min(head)].contains(&0))
        .count() as u64
}

/// The head of `main` of `repo` as `certus scan` prepares it with the scan cache: in its kept checkout under
/// `kept` (held until the prepared source is dropped), with the file table for one tenant.
pub async fn kept_checkout(
    repo: &Path,
    cache: &Arc<LocalScanCache>,
    kept: &Path,
) -> (PreparedSource, Incremental) {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = RunWorkspace::create(scratch.path().join("run")).unwrap();
    let tenant = "tenant-a";
    let prepared = LocalSourcePreparer::new(local_git())
        .with_cache(cache.clone())
        .with_timestamp_tick(Duration::ZERO)
        .with_kept_checkouts(KeptCheckouts::new(kept.to_path_buf(), 2))
        .prepare(
            &head_of(repo),
            &workspace,
            Reuse::Allowed {
                tenant: Some(tenant),
            },
            None,
        )
        .await
        .unwrap();
    assert!(prepared.root.starts_with(kept), "{:?}", prepared.warnings);
    let files = prepared
        .files
        .clone()
        .expect("a file table with a scan cache");
    let incremental = Incremental::new(files, cache.clone(), Some(tenant), "demo");
    (prepared, incremental)
}

/// The head of `main` of `repo` cloned into a new workspace (kept as long as the directory returned).
pub async fn fresh_clone(repo: &Path) -> (tempfile::TempDir, PreparedSource) {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = RunWorkspace::create(scratch.path().join("run")).unwrap();
    let prepared = LocalSourcePreparer::new(local_git())
        .prepare(&head_of(repo), &workspace, Reuse::Never, None)
        .await
        .unwrap();
    (scratch, prepared)
}

fn request(root: &Path, incremental: Option<Incremental>) -> ScanRequest {
    request_logged(root, incremental, Arc::new(|_, _| {}))
}

/// What two scans must agree on, per finding.
fn key(
    f: &Finding,
) -> (
    String,
    String,
    Option<u64>,
    Option<u64>,
    String,
    String,
    String,
) {
    (
        f.path.clone().unwrap_or_default(),
        f.rule_id.clone(),
        f.start_line,
        f.end_line,
        f.properties["column"].to_string(),
        f.fingerprint.clone(),
        f.message.clone(),
    )
}

/// A scratch directory (kept while the first value lives), the tree's place in it, and a scan cache beside.
fn tree_and_cache() -> (tempfile::TempDir, PathBuf, Arc<LocalScanCache>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let cache = Arc::new(LocalScanCache::open(dir.path().join("cache"), 1 << 30).unwrap());
    (dir, root, cache)
}

fn completed(out: &ToolOutput) {
    assert_eq!(out.status, ToolStatus::Completed, "{:?}", out.error);
}

#[tokio::test]
async fn incremental_and_full_scans_agree_over_a_history_of_changes() {
    let (dir, root, cache) = tree_and_cache();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for n in 0..300 {
        let bytes = content(&mut rng);
        write(&root, &format!("d{}/s{}/f{n}.txt", n % 7, n % 3), &bytes);
    }
    // Path-only rule and global path allowlist: both depend on the path, not the content.
    write(&root, "keys/server.p12", b"\0binary");
    write(&root, "Cargo.lock", secret_line(&mut rng).as_bytes());
    // A repository's own files are scanned too (a credential in a remote URL is a finding), except where
    // the rules' allowlist prunes them.
    write(&root, ".git/config", secret_line(&mut rng).as_bytes());
    write(
        &root,
        ".git/objects/ab/cdef",
        secret_line(&mut rng).as_bytes(),
    );
    let oversized = vec![b'a'; (certus_secrets::DEFAULT_MAX_FILE_SIZE + 1) as usize];
    write(&root, "big/huge.txt", &oversized);
    write(&root, "big/huge.bin", &vec![0; oversized.len()]);
    // Binary by a NUL at the head's last byte, and text with a NUL just past it, a secret after both.
    let head = certus_secrets::BINARY_SNIFF_LEN;
    let mut late_nul = b"x\n".repeat(head / 2);
    late_nul[head - 1] = 0;
    let mut past_the_head = b"x\n".repeat(head / 2);
    past_the_head.extend_from_slice(b"\0\n");
    for (path, mut bytes) in [
        ("blobs/late-nul.bin", late_nul),
        ("blobs/nul-past-the-head.dat", past_the_head),
    ] {
        bytes.extend_from_slice(secret_line(&mut rng).as_bytes());
        write(&root, path, &bytes);
    }
    let scanner = SecretsScanner::new(None);
    // The same history prepared a second way, kept apart: each file read for the table is scanned from that
    // read (the tool's single pass).
    let read_along_cache =
        Arc::new(LocalScanCache::open(dir.path().join("cache-read-along"), 1 << 30).unwrap());
    let mut reused_total = 0;
    let mut base = None;
    for step in 0..8 {
        let expected_read_along = match step {
            0 => Some(scanned_whole(&root)),
            _ => None,
        };
        let read_along =
            table_scanning(&root, &read_along_cache, "tenant-a", scanner.single_pass()).await;
        let incremental = table(&root, &cache).await;
        let stored = |lineage: &str, scope: &str| {
            std::fs::read(
                dir.path()
                    .join("cache")
                    .join(scope)
                    .join(format!("{lineage}.idx")),
            )
            .ok()
        };
        let lineage = incremental.lineage.clone();
        let cached = scanner.scan(request(&root, Some(incremental))).await;
        let full = scanner.scan(request(&root, None)).await;
        completed(&cached);
        completed(&full);
        let cache_use = cached.cache.clone().unwrap();
        assert_eq!(cache_use.files, cache_use.from_cache + cache_use.scanned);
        if step > 0 {
            assert!(
                cache_use.scanned < cache_use.files,
                "step {step}: {cache_use:?}"
            );
        }
        reused_total += cache_use.from_cache;
        // The first scan keeps every file's results; each rescan only what differs from them, beside them.
        let kept_base = stored(&lineage, &cache_use.scope);
        let delta = stored(&delta_lineage(&lineage), &cache_use.scope);
        match step {
            0 => {
                assert!(kept_base.is_some() && delta.is_none());
                base = kept_base;
            }
            _ => {
                assert_eq!(
                    kept_base, base,
                    "step {step}: the base is not written again"
                );
                let delta = delta.unwrap();
                assert!(delta.len() < base.as_ref().unwrap().len(), "step {step}");
            }
        }
        let (a, b): (Vec<_>, Vec<_>) = (
            cached.findings.iter().map(key).collect(),
            full.findings.iter().map(key).collect(),
        );
        assert!(!b.is_empty());
        assert_eq!(a, b, "step {step}: incremental and full findings differ");
        assert_eq!(
            cached.warnings, full.warnings,
            "step {step}: what was not covered is said the same way"
        );
        let lines: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let log = lines.clone();
        let single = scanner
            .scan(request_logged(
                &root,
                Some(read_along),
                Arc::new(move |_, line| log.lock().unwrap().push(line.to_string())),
            ))
            .await;
        completed(&single);
        let c: Vec<_> = single.findings.iter().map(key).collect();
        assert_eq!(c, b, "step {step}: single-pass and full findings differ");
        assert_eq!(single.warnings, full.warnings, "step {step}");
        let scanned = single.cache.clone().unwrap().scanned;
        let said = lines.lock().unwrap().join("\n");
        let read_along = said
            .split_once(" scanned (")
            .and_then(|(_, rest)| rest.split_once(" as the source was read)"))
            .and_then(|(n, _)| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("step {step}: {said}"));
        match expected_read_along {
            Some(expected) => assert_eq!(read_along, expected, "step {step}: {said}"),
            None => assert!(
                0 < read_along && read_along <= scanned,
                "step {step}: {said}"
            ),
        }
        push(&root, &mut rng, step);
    }
    assert!(reused_total > 1000, "results were reused: {reused_total}");
}

/// The next push: edit, add, delete and rename a few files (not the repository's own), add a secret.
fn push(root: &Path, rng: &mut Rng, step: usize) {
    let files: Vec<String> = files_under(root)
        .into_iter()
        .filter(|path| !path.starts_with(".git/"))
        .collect();
    for _ in 0..(3 + rng.below(6)) {
        let victim = &files[rng.below(files.len() as u64) as usize];
        match rng.below(4) {
            0 => {
                let _ = std::fs::remove_file(root.join(victim));
            }
            1 => {
                let to = format!("moved/{step}/{}", victim.replace('/', "_"));
                std::fs::create_dir_all(root.join(&to).parent().unwrap()).unwrap();
                let _ = std::fs::rename(root.join(victim), root.join(&to));
            }
            _ => {
                let bytes = content(rng);
                write(root, victim, &bytes);
            }
        }
    }
    let bytes = content(rng);
    write(root, &format!("new/{step}/added.txt"), &bytes);
    write(
        root,
        &format!("new/{step}/secret.env"),
        secret_line(rng).as_bytes(),
    );
}

#[tokio::test]
async fn rescans_of_a_kept_checkout_agree_with_fresh_clones_over_a_history_of_commits() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let cache = Arc::new(LocalScanCache::open(dir.path().join("cache"), 1 << 30).unwrap());
    let kept = dir.path().join("checkouts");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in 0..200 {
        let bytes = content(&mut rng);
        write(&repo, &format!("d{}/f{n}.txt", n % 5), &bytes);
    }
    write(&repo, "Cargo.lock", secret_line(&mut rng).as_bytes());
    git(&repo, &["init", "-q", "-b", "main"]);
    let scanner = SecretsScanner::new(None);
    let mut kept_root = None;
    for step in 0..6 {
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", &format!("step {step}")]);
        let (checkout, incremental) = kept_checkout(&repo, &cache, &kept).await;
        let (_fresh_dir, fresh) = fresh_clone(&repo).await;
        assert_eq!(checkout.commit, fresh.commit);
        assert_eq!(
            kept_root.get_or_insert_with(|| checkout.root.clone()),
            &checkout.root,
            "step {step}: the same kept checkout"
        );
        let cached = scanner
            .scan(request(&checkout.root, Some(incremental)))
            .await;
        let full = scanner.scan(request(&fresh.root, None)).await;
        completed(&cached);
        completed(&full);
        let cache_use = cached.cache.clone().unwrap();
        if step > 0 {
            assert!(
                cache_use.scanned < cache_use.files / 4,
                "step {step}: {cache_use:?}"
            );
        }
        let (a, b): (Vec<_>, Vec<_>) = (
            cached.findings.iter().map(key).collect(),
            full.findings.iter().map(key).collect(),
        );
        assert!(!b.is_empty());
        assert_eq!(a, b, "step {step}: incremental and full findings differ");
        assert_eq!(cached.warnings, full.warnings, "step {step}");
        drop(checkout);
        push(&repo, &mut rng, step);
    }
}

#[tokio::test]
async fn a_tampered_cache_entry_is_discarded_and_rescanned() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let cache_dir = dir.path().join("cache");
    let cache = Arc::new(LocalScanCache::open(cache_dir.clone(), 1 << 30).unwrap());
    let mut rng = Rng(7);
    write(&root, "a/config.py", secret_line(&mut rng).as_bytes());
    write(&root, "b/plain.txt", b"nothing here\n");
    let scanner = SecretsScanner::new(None);
    let first = scanner
        .scan(request(&root, Some(table(&root, &cache).await)))
        .await;
    completed(&first);
    assert_eq!(first.findings.len(), 1);
    // Someone edits the stored results to hide the finding, without recomputing the entry's digest (the
    // index as a whole is re-encoded, so its own trailing digest checks).
    let scope = first.cache.clone().unwrap().scope;
    let lineage = table(&root, &cache).await.lineage;
    let index = cache_dir.join(&scope).join(format!("{lineage}.idx"));
    let stored = std::fs::read(&index).unwrap();
    let paths = Paths::default();
    let mut decoded = ResultIndex::decode(&stored, &scope, &paths).unwrap();
    for entry in &mut decoded.entries {
        entry.results = std::borrow::Cow::Borrowed(&[]);
    }
    std::fs::write(&index, ResultIndex::encode(&scope, decoded.entries.iter())).unwrap();
    let second = scanner
        .scan(request(&root, Some(table(&root, &cache).await)))
        .await;
    completed(&second);
    let used = second.cache.clone().unwrap();
    assert_eq!((used.discarded, used.from_cache, used.scanned), (1, 1, 1));
    assert_eq!(
        second.findings.iter().map(key).collect::<Vec<_>>(),
        first.findings.iter().map(key).collect::<Vec<_>>()
    );
    // A flipped byte anywhere fails the whole index's digest: nothing is reused, everything rescanned.
    let mut flipped = std::fs::read(&index).unwrap();
    flipped[40] ^= 0x20;
    std::fs::write(&index, flipped).unwrap();
    let third = scanner
        .scan(request(&root, Some(table(&root, &cache).await)))
        .await;
    completed(&third);
    let used = third.cache.clone().unwrap();
    assert_eq!((used.discarded, used.from_cache, used.scanned), (1, 0, 2));
    assert_eq!(
        third.findings.iter().map(key).collect::<Vec<_>>(),
        first.findings.iter().map(key).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn one_tenant_never_reuses_or_replaces_another_tenants_results() {
    let (_dir, root, cache) = tree_and_cache();
    let mut rng = Rng(11);
    write(&root, "a/config.py", secret_line(&mut rng).as_bytes());
    write(&root, "b/plain.txt", b"nothing here\n");
    let scanner = SecretsScanner::new(None);
    let a = table_for(&root, &cache, "tenant-a").await;
    let b = table_for(&root, &cache, "tenant-b").await;
    assert_ne!(a.lineage, b.lineage);
    completed(&scanner.scan(request(&root, Some(a.clone()))).await);
    let first_b = scanner.scan(request(&root, Some(b.clone()))).await;
    completed(&first_b);
    assert_eq!(first_b.cache.clone().unwrap().from_cache, 0);
    let again_a = scanner.scan(request(&root, Some(a))).await;
    assert_eq!(again_a.cache.clone().unwrap().from_cache, 2);
}

#[tokio::test]
async fn a_file_changed_between_hashing_and_scanning_never_lends_its_results_to_the_hashed_content()
{
    let (_dir, root, cache) = tree_and_cache();
    let mut rng = Rng(23);
    let with_secret = secret_line(&mut rng);
    write(&root, "app/settings.py", with_secret.as_bytes());
    write(&root, "app/plain.txt", b"nothing here\n");
    let scanner = SecretsScanner::new(None);
    // The table hashes the file holding the secret; before the scanner reads it, it is swapped for a clean
    // one. The scan reports what it read (nothing) and says the file changed.
    let hashed = table(&root, &cache).await;
    write(&root, "app/settings.py", b"DEBUG = False\n");
    let raced = scanner.scan(request(&root, Some(hashed))).await;
    completed(&raced);
    assert!(raced.findings.is_empty());
    let warnings = raced.warnings.join("\n");
    assert!(
        warnings.contains("1 file(s) changed while the scan read them (first: app/settings.py)"),
        "{warnings}"
    );
    // The file is put back as it was hashed: the clean result must not be reused for it.
    write(&root, "app/settings.py", with_secret.as_bytes());
    let again = scanner
        .scan(request(&root, Some(table(&root, &cache).await)))
        .await;
    completed(&again);
    assert_eq!(again.findings.len(), 1, "{:?}", again.findings);
    let used = again.cache.clone().unwrap();
    assert_eq!((used.from_cache, used.scanned), (1, 1), "{used:?}");
}

#[tokio::test]
async fn a_directory_swapped_for_a_link_after_hashing_is_never_read_through() {
    let (dir, root, cache) = tree_and_cache();
    let mut rng = Rng(41);
    write(&root, "app/settings.py", b"DEBUG = False\n");
    write(&root, "app/plain.txt", b"nothing here\n");
    // Outside the tree, under the same names: a secret the scan must never see.
    let outside = dir.path().join("outside");
    write(&outside, "settings.py", secret_line(&mut rng).as_bytes());
    write(&outside, "plain.txt", secret_line(&mut rng).as_bytes());
    let scanner = SecretsScanner::new(None);
    // The table hashes `app/`; before the scanner reads it, `app` becomes a link to the outside directory.
    let hashed = table(&root, &cache).await;
    std::fs::rename(root.join("app"), dir.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("app")).unwrap();
    let out = scanner.scan(request(&root, Some(hashed))).await;
    completed(&out);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let warnings = out.warnings.join("\n");
    assert!(
        warnings.contains("app/settings.py not scanned (unreadable"),
        "{warnings}"
    );
    // Followed, the link gives both secrets: what the scan would report through a plain open.
    let through = certus_secrets::Scanner::new(
        certus_secrets::RuleSet::default_rules().unwrap(),
        certus_secrets::ScanOptions::default(),
    )
    .scan_tree(&outside)
    .unwrap();
    let paths: std::collections::BTreeSet<&str> =
        through.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["plain.txt", "settings.py"].into());
}

#[tokio::test]
async fn a_binary_file_is_judged_by_the_read_that_hashed_it_and_not_opened_again() {
    let (_dir, root, cache) = tree_and_cache();
    let mut rng = Rng(37);
    let secret = secret_line(&mut rng);
    write(&root, "assets/blob.bin", b"\0binary");
    write(&root, "app/plain.txt", b"nothing here\n");
    let scanner = SecretsScanner::new(None);
    // The table hashes a binary file; before the scanner runs, text with a secret replaces it. The scan
    // reports the content the table's digest names, binary: the file is not read again.
    let hashed = table(&root, &cache).await;
    write(&root, "assets/blob.bin", secret.as_bytes());
    let out = scanner.scan(request(&root, Some(hashed))).await;
    completed(&out);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let warnings = out.warnings.join("\n");
    assert!(
        warnings.contains("secrets: assets/blob.bin not scanned (binary file"),
        "{warnings}"
    );
    assert!(
        !warnings.contains("changed while the scan read them"),
        "{warnings}"
    );
    // The next scan's table sees the new content, and the scanner reads it.
    let again = scanner
        .scan(request(&root, Some(table(&root, &cache).await)))
        .await;
    completed(&again);
    assert_eq!(again.findings.len(), 1, "{:?}", again.findings);
    assert_eq!(again.findings[0].path.as_deref(), Some("assets/blob.bin"));
    let used = again.cache.clone().unwrap();
    assert_eq!((used.from_cache, used.scanned), (1, 1), "{used:?}");
}

#[tokio::test]
async fn a_report_lists_at_most_the_engines_cap_whatever_the_repository_holds() {
    let (_dir, root, cache) = tree_and_cache();
    let mut rng = Rng(31);
    // 101 files of 1,000 key-shaped lines each: more findings than the 100,000 one report lists.
    for n in 0..101 {
        let text: String = (0..1000).map(|_| secret_line(&mut rng)).collect();
        write(&root, &format!("keys/k{n}.env"), text.as_bytes());
    }
    let out = SecretsScanner::new(None)
        .scan(request(&root, Some(table(&root, &cache).await)))
        .await;
    completed(&out);
    assert_eq!(out.findings.len(), certus_secrets::MAX_FINDINGS);
    let omitted: Vec<u64> = out
        .warnings
        .iter()
        .filter_map(|w| w.strip_prefix("secrets: "))
        .filter_map(|w| w.strip_suffix(" finding(s) over the cap not listed"))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(matches!(omitted[..], [n] if n > 0), "{:?}", out.warnings);
}

#[tokio::test]
async fn results_a_table_carries_for_other_rules_are_never_used() {
    let (dir, root, cache) = tree_and_cache();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    write(&root, "app/config.env", secret_line(&mut rng).as_bytes());
    // Rules that find nothing in that file: their single pass carries an empty result for it.
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nid = \"never\"\ndescription = \"never\"\nregex = '''zq{40}'''\n",
    )
    .unwrap();
    let other = SecretsScanner::new(Some(rules));
    let read_along = table_scanning(&root, &cache, "tenant-a", other.single_pass()).await;
    assert!(read_along.files.files.iter().all(|f| f.scanned.is_some()));
    let out = SecretsScanner::new(None)
        .scan(request(&root, Some(read_along)))
        .await;
    completed(&out);
    let rules: Vec<&str> = out.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(rules, ["aws-access-key-id"], "{:?}", out.findings);
}
