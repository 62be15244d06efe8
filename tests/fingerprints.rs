//! Finding fingerprints through the real pipeline: distinct findings never share one (a second hard-coded
//! password beside a known one is new, so a `thresholdScope: "new"` gate fails), lines inserted above keep
//! them, a secret's fingerprint is keyed (not its SHA-256, different under another deployment's key), and a
//! baseline of the earlier unkeyed scheme is refused with a message instead of being misread.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use certus_core::bundle;
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, ScannerSet};
use certus_core::request::{
    BaselineSource, ManifestSource, ScanIds, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_integration::{harness, Harness};
use certus_scanners::{ExternalScanner, SecretsScanner};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A stand-in for semgrep: one result per line containing `password`, with no snippet (as semgrep reports
/// hard-coded credentials), in SARIF on stdout.
const FAKE_SEMGREP: &str = r#"#!/bin/sh
case "$1" in --version) echo 1.0.0; exit 0;; esac
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
printf '{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep","rules":[{"id":"hardcoded-password","properties":{"security-severity":"7.5"}}]}},"results":['
sep=""
for f in "$@"; do
  [ -f "$f" ] || continue
  for n in $(grep -n 'password' "$f" | cut -d: -f1); do
    printf '%s{"ruleId":"hardcoded-password","level":"error","message":{"text":"hard-coded password"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"%s"},"region":{"startLine":%s}}}]}' "$sep" "$f" "$n"
    sep=","
  done
done
printf ']}]}\n'
"#;

fn fake_semgrep(dir: &Path) -> ExternalScanner {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join("semgrep");
    std::fs::write(&path, FAKE_SEMGREP).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = "semgrep".parse::<certus_tools::ToolId>().unwrap();
    ExternalScanner::locate(id, Some(&bin)).expect("the fake semgrep is found")
}

fn submission(
    src: &Path,
    tool: &str,
    scope: &str,
    baseline: Option<BaselineSource>,
) -> ValidatedSubmission {
    ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "demo".into(),
            assessment_id: "fingerprints".into(),
        },
        source: SourceSpec::Directory {
            directory_path: src.display().to_string(),
        },
        manifest: ManifestSource::Inline(json!({"profiles": [{"name": "light", "tools": [tool],
            "thresholds": {"critical": 0, "high": 0, "medium": 0}, "thresholdScope": scope}]})),
        signature: None,
        profile: "light".into(),
        requested_by: Some("tests".into()),
        baseline,
        full_scan: false,
    }
}

async fn scan(h: &Harness, sub: ValidatedSubmission) -> Job {
    let job = pipeline::submit(&h.services.records(), sub).await.unwrap();
    pipeline::run(&h.services, &job.test_id).await.unwrap()
}

fn results(job: &Job, tool: &str) -> Vec<Value> {
    let dir = Path::new(job.bundle_location.as_deref().expect("a bundle"));
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(dir.join(bundle::sarif_path(tool))).unwrap())
            .unwrap();
    sarif["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn fingerprints(job: &Job, tool: &str) -> Vec<String> {
    results(job, tool)
        .iter()
        .map(|r| {
            r["partialFingerprints"]["certus/v2"]
                .as_str()
                .expect("a v2 fingerprint")
                .to_string()
        })
        .collect()
}

fn since(job: &Job) -> Option<BaselineSource> {
    Some(BaselineSource::TestId(job.test_id.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_snippetless_finding_of_a_rule_in_a_file_is_new_and_inserted_lines_change_nothing()
{
    let work = tempfile::tempdir().unwrap();
    let semgrep = fake_semgrep(work.path());
    let h = harness(
        SignaturePolicy::default(),
        ScannerSet::new(vec![Arc::new(semgrep)]),
    );
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = src.join("settings.py");
    std::fs::write(&file, "import os\ndb_password = 'hunter2'\n").unwrap();

    let base = scan(&h, submission(&src, "semgrep", "all", None)).await;
    assert_eq!(
        base.status,
        JobStatus::Failed,
        "one high finding breaches: {:?}",
        base.errors
    );
    let known = fingerprints(&base, "semgrep");
    assert_eq!(known.len(), 1);

    // Unrelated lines above: the known finding keeps its fingerprint and the "new" gate passes.
    std::fs::write(
        &file,
        "# settings\nimport sys\n\nimport os\ndb_password = 'hunter2'\n",
    )
    .unwrap();
    let moved = scan(&h, submission(&src, "semgrep", "new", since(&base))).await;
    assert_eq!(moved.status, JobStatus::Succeeded, "{:?}", moved.errors);
    assert_eq!(fingerprints(&moved, "semgrep"), known);
    assert_eq!(results(&moved, "semgrep")[0]["baselineState"], "unchanged");

    // A second hard-coded password of the same rule in the same file is a new finding: the gate fails.
    std::fs::write(
        &file,
        "# settings\nimport sys\n\nimport os\ndb_password = 'hunter2'\nadmin_password = 'letmein'\n",
    )
    .unwrap();
    let added = scan(&h, submission(&src, "semgrep", "new", since(&base))).await;
    assert_eq!(
        added.status,
        JobStatus::Failed,
        "a new password must fail the gate"
    );
    let prints = fingerprints(&added, "semgrep");
    assert_eq!(prints.len(), 2);
    assert_ne!(prints[0], prints[1]);
    let states: Vec<Value> = results(&added, "semgrep")
        .iter()
        .map(|r| r["baselineState"].clone())
        .collect();
    assert_eq!(states, [json!("unchanged"), json!("new")]);
    assert!(
        added
            .errors
            .iter()
            .any(|e| e.contains("high findings exceeded threshold (1 > 0)")),
        "{:?}",
        added.errors
    );

    // The very same line twice: still two findings, told apart by their occurrence.
    std::fs::write(&file, "db_password = 'hunter2'\ndb_password = 'hunter2'\n").unwrap();
    let twice = scan(&h, submission(&src, "semgrep", "new", since(&base))).await;
    let prints = fingerprints(&twice, "semgrep");
    assert_eq!(prints.len(), 2);
    assert_eq!(prints[0], known[0]);
    assert_ne!(prints[0], prints[1]);
    assert_eq!(twice.status, JobStatus::Failed);
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_fingerprint_is_keyed_per_deployment() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Built from pieces so no credential-shaped string sits in this source file.
    let key_id = format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL");
    std::fs::write(
        src.join("config.py"),
        format!("aws_access_key_id = \"{key_id}\"\n"),
    )
    .unwrap();

    let scanners = || ScannerSet::new(vec![Arc::new(SecretsScanner::new(None))]);
    let one = harness(SignaturePolicy::default(), scanners());
    let other = harness(SignaturePolicy::default(), scanners());
    let first = scan(&one, submission(&src, "secrets", "all", None)).await;
    let again = scan(&one, submission(&src, "secrets", "all", None)).await;
    let elsewhere = scan(&other, submission(&src, "secrets", "all", None)).await;

    let found = results(&first, "secrets");
    assert_eq!(found.len(), 1, "{found:?}");
    let rule = found[0]["ruleId"].as_str().unwrap().to_string();
    let print = fingerprints(&first, "secrets")[0].clone();
    assert_eq!(
        fingerprints(&again, "secrets"),
        std::slice::from_ref(&print),
        "stable under one key"
    );
    assert_ne!(
        fingerprints(&elsewhere, "secrets"),
        std::slice::from_ref(&print),
        "another key, another fingerprint"
    );

    // Neither the plain SHA-256 of the value nor the earlier unkeyed scheme (which a word list reversed).
    let plain = hex_sha256(&[key_id.as_bytes()]);
    let inner = hex_sha256(&[
        rule.as_bytes(),
        b"\0",
        b"config.py",
        b"\0",
        key_id.as_bytes(),
    ]);
    let legacy = hex_sha256(&[
        b"secrets",
        b"\0",
        rule.as_bytes(),
        b"\0",
        b"config.py",
        b"\0",
        inner.as_bytes(),
        b"\0",
    ]);
    for unkeyed in [plain, inner, legacy] {
        assert_ne!(print, unkeyed);
        let bundle = Path::new(first.bundle_location.as_deref().unwrap());
        let sarif = std::fs::read_to_string(bundle.join(bundle::MERGED_SARIF)).unwrap();
        assert!(
            !sarif.contains(&unkeyed),
            "an unkeyed digest of the secret is published"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_of_the_earlier_scheme_is_refused_not_misread() {
    let work = tempfile::tempdir().unwrap();
    let semgrep = fake_semgrep(work.path());
    let h = harness(
        SignaturePolicy::default(),
        ScannerSet::new(vec![Arc::new(semgrep)]),
    );
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("settings.py"), "db_password = 'hunter2'\n").unwrap();
    let old = work.path().join("old-merged.sarif.json");
    std::fs::write(
        &old,
        json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": [
            {"ruleId": "hardcoded-password", "partialFingerprints": {"certus/v1": "0".repeat(64)}}]}]})
        .to_string(),
    )
    .unwrap();
    let job = scan(
        &h,
        submission(
            &src,
            "semgrep",
            "new",
            Some(BaselineSource::Path(old.display().to_string())),
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors
            .iter()
            .any(|e| e.contains("earlier scheme 'certus/v1'")
                && e.contains("scan the baseline again")),
        "{:?}",
        job.errors
    );
}
