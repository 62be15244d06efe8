//! `certus scan` of a directory twice: the rescan takes unchanged files' secrets results from the cache in the
//! data directory, records how many in the tool's record and in the signed provenance, and reports the same
//! findings as `--no-cache`, which records no cache use; the bundles verify. A git source's rescan works from
//! its kept checkout, unless the data directory keeps none, and nothing a tool left in it survives.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn certus(args: &[&str], data: &Path) -> Output {
    certus_with(args, data, &[])
}

fn certus_with(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Output {
    command(args, data, env).output().expect("certus runs")
}

/// `certus` with `args`, its data directory `data` (unless `args` name one) and `env` set.
fn command(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certus"));
    command
        .args(args)
        .env_remove("CERTUS_ASSURANCE_KEPT_CHECKOUTS")
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env(
            "CERTUS_ASSURANCE_ADVISORY_DB",
            certus_testkit::workspace_root().join("examples/advisories"),
        )
        .env_remove("CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env_remove("CERTUS_ASSURANCE_DYNAMODB_JOBS_TABLE")
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .envs(env.iter().copied());
    command
}

/// Scans `tree` under the demo manifest's `builtin` profile into `out`.
fn scan(tree: &Path, data: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let done = run_scan(tree, data, out, extra, &[]);
    assert!(
        matches!(done.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out.to_path_buf()
}

/// `certus scan` of `tree` under the demo manifest's `builtin` profile into `out`, with `env` set.
fn run_scan(tree: &Path, data: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    run_profile(tree, data, out, "builtin", extra, env)
}

/// `certus scan` of `tree` under the demo manifest's `profile` into `out`, with `env` set.
fn run_profile(
    tree: &Path,
    data: &Path,
    out: &Path,
    profile: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let manifest = certus_testkit::workspace_root().join("examples/demo-app/certus-manifest.json");
    let mut args = vec![
        "scan",
        tree.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--profile",
        profile,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    certus_with(&args, data, env)
}

/// A repository of the demo app with one commit on `main`, under `work`; its `file://` URL.
fn demo_repo(work: &Path) -> (PathBuf, String) {
    let repo = work.join("repo");
    certus_testkit::copy_dir(
        &certus_testkit::workspace_root().join("examples/demo-app"),
        &repo,
    );
    let git = |args: &[&str]| certus_testkit::git(&repo, args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    let url = format!("file://{}", repo.display());
    (repo, url)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn secrets_cache(bundle: &Path) -> Value {
    let summary = json(&bundle.join("summary.json"));
    summary["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "secrets")
        .expect("a secrets record")
        .get("cache")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Rule, location, column and fingerprint of every secrets finding, sorted.
fn findings(bundle: &Path) -> Vec<String> {
    let sarif = json(&bundle.join("reports/sast/secrets.sarif.json"));
    let mut keys: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r["ruleId"],
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"],
                r["properties"]["column"],
                r["partialFingerprints"]
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The cache annotation of the secrets scanner in the signed statement's provenance.
fn attested_cache(bundle: &Path) -> Value {
    use base64::Engine;
    let envelope = json(&bundle.join("reports/signing/attestation.intoto.json"));
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "scanner:secrets")
        .expect("the secrets scanner in the provenance")["annotations"]
        .get("cache")
        .cloned()
        .unwrap_or(Value::Null)
}

fn verifies(bundle: &Path, data: &Path) {
    let verified = certus(
        &[
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--trust-embedded-key",
        ],
        data,
    );
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
}

#[test]
fn a_rescan_reuses_unchanged_files_and_says_so_in_the_signed_record() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let tree = work.path().join("tree");
    certus_testkit::copy_dir(
        &certus_testkit::workspace_root().join("examples/demo-app"),
        &tree,
    );
    // Only a file older than a timestamp tick has its digest and results kept for the next scan.
    std::thread::sleep(certus_source::TIMESTAMP_TICK + std::time::Duration::from_millis(100));
    let first = scan(&tree, &data, &work.path().join("b1"), &[]);
    let cold = secrets_cache(&first);
    let files = cold["files"].as_u64().unwrap();
    assert!(files > 1, "{cold}");
    assert_eq!(
        (cold["from_cache"].as_u64(), cold["scanned"].as_u64()),
        (Some(0), Some(files))
    );

    // One changed file (a new inode, as a checkout writes it), with a secret in it.
    let key = format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL");
    std::fs::write(
        tree.join("pushed.py"),
        format!("aws_access_key_id = \"{key}\"\n"),
    )
    .unwrap();
    let second = scan(&tree, &data, &work.path().join("b2"), &[]);
    let warm = secrets_cache(&second);
    assert_eq!(warm["files"].as_u64(), Some(files + 1), "{warm}");
    assert_eq!(warm["from_cache"].as_u64(), Some(files), "{warm}");
    assert_eq!(warm["scanned"].as_u64(), Some(1), "{warm}");
    assert_eq!(warm["scope"], cold["scope"]);
    assert_eq!(
        attested_cache(&second),
        warm,
        "the attestation covers the cache record"
    );
    verifies(&second, &data);

    let full = scan(&tree, &data, &work.path().join("b3"), &["--no-cache"]);
    assert_eq!(
        secrets_cache(&full),
        Value::Null,
        "--no-cache uses no cache"
    );
    assert_eq!(attested_cache(&full), Value::Null);
    let (incremental, everything) = (findings(&second), findings(&full));
    assert!(
        incremental.iter().any(|f| f.contains("pushed.py")),
        "{incremental:?}"
    );
    assert_eq!(incremental, everything);
    verifies(&full, &data);
}

#[test]
fn a_git_source_rescanned_after_a_commit_reuses_the_unchanged_content() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (repo, url) = demo_repo(work.path());
    let git = |args: &[&str]| certus_testkit::git(&repo, args);
    let first = scan(Path::new(&url), &data, &work.path().join("b1"), &[]);
    let cold = secrets_cache(&first);
    assert_eq!(cold["from_cache"].as_u64(), Some(0), "{cold}");

    let key = format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL");
    std::fs::write(
        repo.join("pushed.py"),
        format!("aws_access_key_id = \"{key}\"\n"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "second"]);
    let second = scan(Path::new(&url), &data, &work.path().join("b2"), &[]);
    let warm = secrets_cache(&second);
    let worktree_files = walk_files(&repo).len() as u64;
    // The kept checkout holds exactly the commit's files (git's own are kept beside it): every one but the
    // new file comes from the cache.
    assert_eq!(warm["files"].as_u64(), Some(worktree_files), "{warm}");
    assert_eq!(
        warm["from_cache"].as_u64(),
        Some(worktree_files - 1),
        "{warm}"
    );
    assert_eq!(warm["scanned"].as_u64(), Some(1), "{warm}");
    let kept: Vec<_> = std::fs::read_dir(data.join("checkouts")).unwrap().collect();
    assert_eq!(kept.len(), 1, "one kept checkout: {kept:?}");
    verifies(&second, &data);

    let full = scan(
        Path::new(&url),
        &data,
        &work.path().join("b3"),
        &["--no-cache"],
    );
    let (incremental, everything) = (findings(&second), findings(&full));
    assert!(
        incremental.iter().any(|f| f.contains("pushed.py")),
        "{incremental:?}"
    );
    assert_eq!(incremental, everything);
}

#[test]
fn a_relative_data_directory_keeps_a_git_sources_checkout_for_the_next_scan() {
    let work = tempfile::tempdir().unwrap();
    let (repo, url) = demo_repo(work.path());
    let manifest = certus_testkit::workspace_root().join("examples/demo-app/certus-manifest.json");
    let scan_from_work = |out: &str| {
        let args = [
            "scan",
            url.as_str(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--profile",
            "builtin",
            "--json",
            "--data-dir",
            "data",
            "--out",
            out,
        ];
        let done = command(&args, &work.path().join("unused"), &[])
            .current_dir(work.path())
            .output()
            .expect("certus runs");
        assert!(
            matches!(done.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        secrets_cache(&work.path().join(out))
    };
    scan_from_work("b1");
    std::fs::write(repo.join("pushed.txt"), "one more file\n").unwrap();
    certus_testkit::git(&repo, &["add", "."]);
    certus_testkit::git(&repo, &["commit", "-q", "-m", "second"]);
    // git runs inside the kept checkout: a data directory named relative to where certus started still
    // holds it, and the rescan reads only the new file.
    let warm = scan_from_work("b2");
    assert_eq!(warm["scanned"].as_u64(), Some(1), "{warm}");
    assert_eq!(
        std::fs::read_dir(work.path().join("data/checkouts"))
            .unwrap()
            .count(),
        1
    );
    assert!(!work.path().join("unused").exists());
}

/// A `bandit` that leaves a file holding a (fake, planted) credential in the tree it is given, and reports
/// nothing.
fn littering_bandit(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let key = format!("{}{}", "AKIA", "LEFTBEHIND2TOOL7");
    std::fs::write(
        bin.join("bandit"),
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo 'bandit 0'; exit 0;; esac\n\
             echo 'aws_access_key_id = \"{key}\"' > \"$2/left-by-bandit.py\"\n\
             echo '{{\"errors\": [], \"results\": []}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("bandit"), std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn what_a_tool_leaves_in_a_kept_checkout_is_gone_by_the_next_scan() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (repo, url) = demo_repo(work.path());
    let git = |args: &[&str]| certus_testkit::git(&repo, args);
    // The demo's `standard` profile: the in-process tools, and bandit (the others it names are optional and
    // not installed here).
    let bin = littering_bandit(work.path());
    let tools = [("CERTUS_ASSURANCE_TOOLS_BIN_DIR", bin.to_str().unwrap())];
    let first = work.path().join("b1");
    let done = run_profile(Path::new(&url), &data, &first, "standard", &[], &tools);
    assert!(
        matches!(done.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let checkout = std::fs::read_dir(data.join("checkouts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let litter = checkout.join("tree/left-by-bandit.py");
    assert!(litter.exists(), "the tool wrote into the kept checkout");

    // The next push, scanned with the in-process tools only: the tree is read whole again, the file the tool
    // left is removed and neither listed nor scanned.
    std::fs::write(repo.join("pushed.txt"), "a push\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "second"]);
    let second = scan(Path::new(&url), &data, &work.path().join("b2"), &[]);
    assert!(!litter.exists(), "what the tool left is removed");
    let worktree_files = walk_files(&repo).len() as u64;
    assert_eq!(
        secrets_cache(&second)["files"].as_u64(),
        Some(worktree_files)
    );
    let found = findings(&second);
    assert!(
        !found.iter().any(|f| f.contains("left-by-bandit")),
        "{found:?}"
    );
    assert!(
        !checkout.join("exposed").exists(),
        "in-process tools leave the tree as git wrote it"
    );

    // And the push after: only what git changed is read, the findings are a fresh clone's.
    std::fs::write(repo.join("pushed.txt"), "another push\n").unwrap();
    git(&["commit", "-q", "-am", "third"]);
    let third = scan(Path::new(&url), &data, &work.path().join("b3"), &[]);
    let warm = secrets_cache(&third);
    assert_eq!(warm["scanned"].as_u64(), Some(1), "{warm}");
    let full = scan(
        Path::new(&url),
        &data,
        &work.path().join("b4"),
        &["--no-cache"],
    );
    assert_eq!(findings(&third), findings(&full));
    verifies(&third, &data);
}

#[test]
fn with_no_kept_checkouts_every_git_scan_clones_afresh() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (_repo, url) = demo_repo(work.path());
    let kept = |setting: &'static str| [("CERTUS_ASSURANCE_KEPT_CHECKOUTS", setting)];
    for run in ["b1", "b2"] {
        let out = work.path().join(run);
        let done = run_scan(Path::new(&url), &data, &out, &[], &kept("0"));
        assert!(
            matches!(done.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        // Results are still reused by content; only the checkout is not kept.
        assert!(secrets_cache(&out)["files"].as_u64().unwrap() > 0);
    }
    assert!(
        !data.join("checkouts").exists(),
        "no checkout is kept when the setting is 0"
    );
    let out = work.path().join("b3");
    let refused = run_scan(Path::new(&url), &data, &out, &[], &kept("many"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("CERTUS_ASSURANCE_KEPT_CHECKOUTS"),
        "{stderr}"
    );
}

/// The files of the work tree, `.git` left out.
fn walk_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found
}
