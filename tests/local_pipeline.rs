//! The whole pipeline on one machine with real parts: git repositories made here, signatures made by
//! openssl, the SQLite store, the local bundle store, the built-in dependency scanner and a real external
//! tool process. Asserts the contract: terminal states, ordered events with one final `scan_complete`
//! written after the record and bundle, verification before execution, and bundle digests that hold.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;
use std::sync::Arc;

use certus_core::bundle::{self, check_index, read_index};
use certus_core::digest::{canonical_json, sha256_hex, Sha256Digest};
use certus_core::event::EventBody;
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, ScannerSet};
use certus_core::ports::EventLog;
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_integration::{cosign_sign, git_repo, harness, p256_keypair, Harness};
use certus_scanners::{ExternalScanner, SampleScanner, SbomScanner};
use serde_json::json;

const CARGO_LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

fn manifest(thresholds: serde_json::Value) -> String {
    json!({
        "product": "demo", "version": "1",
        "profiles": [{"name": "light", "tools": ["sbom"], "thresholds": thresholds}],
    })
    .to_string()
}

fn advisory_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("advisories");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(
        db.join("TEST-0001.json"),
        json!({"id": "TEST-0001", "summary": "memory corruption in insert_many",
               "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
                             "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.1"}]}]}],
               "database_specific": {"severity": "CRITICAL"}})
        .to_string(),
    )
    .unwrap();
    db
}

fn scanners(db: Option<&Path>) -> ScannerSet {
    ScannerSet::new(vec![
        Arc::new(SampleScanner),
        Arc::new(SbomScanner {
            advisory_db: db.map(Path::to_path_buf),
            max_age_days: None,
            ..SbomScanner::default()
        }),
    ])
}

fn key_policy(public: &Path, required: bool) -> SignaturePolicy {
    SignaturePolicy {
        required,
        key: Some(
            certus_verify::PublicKey::from_pem(&std::fs::read_to_string(public).unwrap()).unwrap(),
        ),
        ..Default::default()
    }
}

fn submission(
    source: SourceSpec,
    manifest: ManifestSource,
    signature: Option<SignatureSource>,
) -> ValidatedSubmission {
    ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "demo".into(),
            assessment_id: "a1".into(),
        },
        source,
        manifest,
        signature,
        profile: "light".into(),
        requested_by: Some("tests".into()),
        baseline: None,
        full_scan: false,
    }
}

async fn scan(h: &Harness, sub: ValidatedSubmission) -> Job {
    let job = pipeline::submit(&h.services.records(), sub).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    pipeline::run(&h.services, &job.test_id).await.unwrap()
}

/// The event contract: seq 1..=n without gaps, exactly one scan_complete, and it is the last; the live
/// stream equals the persisted history, which equals the bundle's stream.jsonl when there is a bundle.
async fn assert_event_contract(h: &Harness, job: &Job) -> Vec<certus_core::event::Event> {
    let history = h.store.history(&job.test_id, 0).await.unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=history.len() as u64).collect::<Vec<_>>());
    let terminals = history.iter().filter(|e| e.body.is_terminal()).count();
    assert_eq!(terminals, 1, "exactly one scan_complete");
    assert!(
        history.last().unwrap().body.is_terminal(),
        "scan_complete is last"
    );
    assert_eq!(
        h.recorder.events(),
        history,
        "live delivery matches the persisted history"
    );
    let snapshot = h.recorder.at_terminal.lock().unwrap().clone().unwrap();
    assert_eq!(
        snapshot.job_status.as_deref(),
        Some(job.status.as_str()),
        "record final before scan_complete"
    );
    if let Some(bundle) = &job.bundle_location {
        assert!(
            snapshot.bundle_index_exists,
            "bundle final before scan_complete"
        );
        let stream = std::fs::read_to_string(Path::new(bundle).join(bundle::STREAM)).unwrap();
        let lines: Vec<String> = history.iter().map(|e| e.to_json_line()).collect();
        assert_eq!(stream.lines().collect::<Vec<_>>(), lines);
    }
    history
}

fn assert_bundle_verifies(job: &Job) {
    let dir = Path::new(job.bundle_location.as_deref().expect("bundle"));
    let index = read_index(dir).unwrap();
    assert!(check_index(dir, &index).unwrap().is_empty());
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(bundle::SCAN_JSON)).unwrap()).unwrap();
    assert_eq!(scan["job"]["status"], job.status.as_str());
    for path in job.artifacts.values() {
        assert!(
            dir.join(path).is_file(),
            "artifact {path} listed but missing"
        );
    }
}

#[tokio::test]
async fn signed_repository_manifest_on_a_git_repo_runs_and_fails_on_thresholds() {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = p256_keypair(work.path());
    let repo = work.path().join("repo");
    let head = git_repo(
        &repo,
        &[
            ("Cargo.lock", CARGO_LOCK),
            ("certus.json", &manifest(json!({"critical": 0}))),
        ],
    );
    // Sign the manifest as committed, then commit the signature beside it.
    cosign_sign(
        &key,
        &repo.join("certus.json"),
        &repo.join("certus.json.sig"),
    );
    certus_integration::git(&repo, &["add", "-A"]);
    certus_integration::git(&repo, &["commit", "-q", "-m", "sign manifest"]);
    let head_after = certus_integration::git(&repo, &["rev-parse", "HEAD"]);
    assert_ne!(head, head_after);

    let h = harness(
        key_policy(&public, true),
        scanners(Some(&advisory_db(work.path()))),
    );
    let job = scan(
        &h,
        submission(
            SourceSpec::Git {
                git_url: repo.display().to_string(),
                branch: Some("main".into()),
                commit: None,
                git_credentials_ref: None,
            },
            ManifestSource::RepoPath("certus.json".into()),
            Some(SignatureSource::RepoPath("certus.json.sig".into())),
        ),
    )
    .await;

    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.commit.as_deref(),
        Some(head_after.as_str()),
        "resolved SHA recorded"
    );
    assert_eq!(
        job.errors,
        vec!["critical findings exceeded threshold (1 > 0)".to_string()]
    );
    let verification = job.manifest_verification.clone().unwrap();
    assert_eq!(verification.method, "cosign-keyed-ecdsa-p256");
    assert!(verification.verified);
    let manifest_bytes = std::fs::read(repo.join("certus.json")).unwrap();
    assert_eq!(
        job.manifest_digest.map(|d| d.to_string()),
        Some(sha256_hex(&manifest_bytes))
    );

    let history = assert_event_contract(&h, &job).await;
    assert!(history
        .iter()
        .any(|e| matches!(&e.body, EventBody::Phase { commit: Some(c), .. } if *c == head_after)));
    assert_bundle_verifies(&job);
    let bundle = Path::new(job.bundle_location.as_deref().unwrap());
    assert_eq!(
        std::fs::read(bundle.join(bundle::MANIFEST_JSON)).unwrap(),
        manifest_bytes
    );
    assert_eq!(
        std::fs::read(bundle.join(bundle::MANIFEST_SIG)).unwrap(),
        std::fs::read(repo.join("certus.json.sig")).unwrap()
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(bundle::sarif_path("sbom"))).unwrap())
            .unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "TEST-0001");
    assert!(bundle.join(bundle::SBOM_CYCLONEDX).is_file());
    assert!(
        !h.dir.path().join("runs").join(&job.test_id).exists(),
        "private workspace removed"
    );
}

#[tokio::test]
async fn a_pinned_commit_is_scanned_even_when_the_branch_moved_on() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let first = git_repo(&repo, &[("Cargo.lock", CARGO_LOCK)]);
    std::fs::write(repo.join("Cargo.lock"), "version = 3\n").unwrap();
    certus_integration::git(&repo, &["commit", "-q", "-am", "drop deps"]);

    let h = harness(
        SignaturePolicy::default(),
        scanners(Some(&advisory_db(work.path()))),
    );
    let job = scan(
        &h,
        submission(
            SourceSpec::Git {
                git_url: format!("file://{}", repo.display()),
                branch: Some("main".into()),
                commit: Some(first.clone()),
                git_credentials_ref: None,
            },
            ManifestSource::Inline(serde_json::from_str(&manifest(json!({}))).unwrap()),
            None,
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.errors);
    assert_eq!(job.commit, Some(first));
    assert_eq!(job.findings_summary.as_ref().unwrap().totals.critical, 1);
    let inline: serde_json::Value = serde_json::from_str(&manifest(json!({}))).unwrap();
    assert_eq!(
        job.manifest_digest,
        Some(Sha256Digest::of(&canonical_json(&inline).unwrap()))
    );
    assert!(job.warnings.iter().any(|w| w.contains("not signed")));
    assert_event_contract(&h, &job).await;
    assert_bundle_verifies(&job);
}

#[tokio::test]
async fn a_finished_run_lets_go_of_its_kept_checkout_before_it_returns() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    git_repo(&repo, &[("Cargo.lock", CARGO_LOCK)]);
    let db = advisory_db(work.path());
    let mut h = harness(SignaturePolicy::default(), scanners(Some(&db)));
    let cache: Arc<dyn certus_core::incremental::ScanCache> = Arc::new(
        certus_local::scan_cache::LocalScanCache::open(work.path().join("cache"), 1 << 30).unwrap(),
    );
    h.services.sources = Some(Arc::new(
        certus_source::LocalSourcePreparer::new(certus_source::SourcePolicy {
            git: certus_source::GitPolicy {
                allow_local: true,
                ..certus_source::GitPolicy::default()
            },
            ..certus_source::SourcePolicy::default()
        })
        .with_cache(cache.clone())
        .with_kept_checkouts(certus_source::kept::KeptCheckouts::new(
            work.path().join("checkouts"),
            4,
        )),
    ));
    h.services.scanners = Some(scanners(Some(&db)).with_cache(cache));
    let git = || {
        submission(
            SourceSpec::Git {
                git_url: format!("file://{}", repo.display()),
                branch: Some("main".into()),
                commit: None,
                git_credentials_ref: None,
            },
            ManifestSource::Inline(serde_json::from_str(&manifest(json!({}))).unwrap()),
            None,
        )
    };
    // The second scan starts the moment the first returns, as a server's next job would: the kept checkout
    // must be free for it (its run state, a large table, may still be freed behind).
    for n in 0..3 {
        let job = scan(&h, git()).await;
        assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.errors);
        assert!(
            !job.warnings.iter().any(|w| w.contains("holds it")),
            "scan {n}: {:?}",
            job.warnings
        );
    }
}

#[tokio::test]
async fn a_tampered_manifest_fails_before_any_scanner_starts() {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = p256_keypair(work.path());
    let manifest_path = work.path().join("m.json");
    std::fs::write(&manifest_path, manifest(json!({}))).unwrap();
    cosign_sign(&key, &manifest_path, &work.path().join("m.sig"));
    std::fs::write(&manifest_path, manifest(json!({"critical": 99}))).unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();

    let h = harness(key_policy(&public, false), scanners(None));
    let job = scan(
        &h,
        submission(
            SourceSpec::Directory {
                directory_path: src.display().to_string(),
            },
            ManifestSource::Uri(format!("file://{}", manifest_path.display())),
            Some(SignatureSource::Uri(format!(
                "file://{}",
                work.path().join("m.sig").display()
            ))),
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job.errors[0].contains("bad signature"), "{:?}", job.errors);
    let history = assert_event_contract(&h, &job).await;
    assert!(
        !history
            .iter()
            .any(|e| matches!(e.body, EventBody::ToolStart { .. })),
        "no scanner may start"
    );
    assert_bundle_verifies(&job);
}

#[tokio::test]
async fn required_verification_refuses_an_unsigned_manifest() {
    let work = tempfile::tempdir().unwrap();
    let (_key, public) = p256_keypair(work.path());
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let h = harness(key_policy(&public, true), scanners(None));
    let job = scan(
        &h,
        submission(
            SourceSpec::Directory {
                directory_path: src.display().to_string(),
            },
            ManifestSource::Inline(serde_json::from_str(&manifest(json!({}))).unwrap()),
            None,
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors[0].contains("verification is required but no signature was provided"),
        "{:?}",
        job.errors
    );
    let history = assert_event_contract(&h, &job).await;
    assert!(!history
        .iter()
        .any(|e| matches!(e.body, EventBody::ToolStart { .. })));
}

#[tokio::test]
async fn an_unreachable_repository_ends_failed_with_the_cause() {
    let h = harness(SignaturePolicy::default(), scanners(None));
    let job = scan(
        &h,
        submission(
            SourceSpec::Git {
                git_url: "/nonexistent/certus/repo".into(),
                branch: None,
                commit: None,
                git_credentials_ref: None,
            },
            ManifestSource::Inline(serde_json::from_str(&manifest(json!({}))).unwrap()),
            None,
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors[0].contains("git fetch failed"),
        "{:?}",
        job.errors
    );
    let history = assert_event_contract(&h, &job).await;
    assert!(history
        .iter()
        .any(|e| matches!(e.body, EventBody::Error { .. })));
    assert_bundle_verifies(&job);
}

#[tokio::test]
async fn archives_are_scanned_and_unsupported_ones_refused() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    std::fs::create_dir_all(tree.join("app")).unwrap();
    std::fs::write(tree.join("Cargo.lock"), CARGO_LOCK).unwrap();
    let tgz = work.path().join("code.tgz");
    certus_integration::run(
        std::process::Command::new("tar")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(&tree)
            .arg("."),
    );
    let h = harness(
        SignaturePolicy::default(),
        scanners(Some(&advisory_db(work.path()))),
    );
    let inline = || ManifestSource::Inline(serde_json::from_str(&manifest(json!({}))).unwrap());
    let job = scan(
        &h,
        submission(
            SourceSpec::Archive {
                archive_path: tgz.display().to_string(),
            },
            inline(),
            None,
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.errors);
    assert_eq!(
        job.source_digest,
        Some(
            certus_core::digest::sha256_file(&tgz)
                .unwrap()
                .0
                .parse()
                .unwrap()
        )
    );
    assert_eq!(job.findings_summary.as_ref().unwrap().totals.critical, 1);

    let bz2 = work.path().join("code.tar.bz2");
    std::fs::write(&bz2, b"BZh9").unwrap();
    let job = scan(
        &h,
        submission(
            SourceSpec::Archive {
                archive_path: bz2.display().to_string(),
            },
            inline(),
            None,
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors[0].contains("unsupported archive type"),
        "{:?}",
        job.errors
    );
}

#[tokio::test]
async fn a_hung_tool_is_killed_at_its_timeout_and_fails_the_job() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("bandit");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in --version) echo 'bandit 0'; exit 0;; esac\nsleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bandit = ExternalScanner::locate(certus_tools_id(), Some(&bin)).unwrap();
    let src = work.path().join("src");
    std::fs::create_dir(&src).unwrap();

    let h = harness(
        SignaturePolicy::default(),
        ScannerSet::new(vec![Arc::new(bandit), Arc::new(SbomScanner::default())]),
    );
    let m = json!({"profiles": [{"name": "light", "tools": ["bandit", {"id": "sbom", "config": {"advisories": "off"}}],
                             "thresholds": {}}]});
    let job = scan(
        &h,
        submission(
            SourceSpec::Directory {
                directory_path: src.display().to_string(),
            },
            ManifestSource::Inline(m),
            None,
        ),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors
            .iter()
            .any(|e| e.starts_with("tool 'bandit' timed_out")),
        "{:?}",
        job.errors
    );
    let history = assert_event_contract(&h, &job).await;
    let completes: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolComplete { tool, status, .. } => Some((tool.clone(), status.clone())),
            _ => None,
        })
        .collect();
    assert!(completes.contains(&("bandit".into(), "timed_out".into())));
    assert!(
        completes.contains(&("sbom".into(), "completed".into())),
        "the other tool still ran"
    );
    assert_bundle_verifies(&job);
}

fn certus_tools_id() -> certus_tools::ToolId {
    certus_tools::ToolId::Bandit
}

#[tokio::test]
async fn an_unknown_profile_fails_naming_the_available_ones() {
    let work = tempfile::tempdir().unwrap();
    let h = harness(SignaturePolicy::default(), scanners(None));
    let mut sub = submission(
        SourceSpec::Directory {
            directory_path: work.path().display().to_string(),
        },
        ManifestSource::Inline(serde_json::from_str(&manifest(json!({}))).unwrap()),
        None,
    );
    sub.profile = "heavy".into();
    let job = scan(&h, sub).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.errors,
        vec!["manifest profile 'heavy' not found. Available profiles: light".to_string()]
    );
    assert_event_contract(&h, &job).await;
}

fn directory(work: &Path) -> SourceSpec {
    let src = work.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("Cargo.lock"), CARGO_LOCK).unwrap();
    SourceSpec::Directory {
        directory_path: src.display().to_string(),
    }
}

#[tokio::test]
async fn suppressions_mark_findings_until_they_expire() {
    let work = tempfile::tempdir().unwrap();
    let h = harness(
        SignaturePolicy::default(),
        scanners(Some(&advisory_db(work.path()))),
    );
    let with_suppression = |expires: &str| {
        ManifestSource::Inline(json!({
            "profiles": [{"name": "light", "tools": ["sbom"], "thresholds": {"critical": 0}}],
            "suppressions": [{"rule": "TEST-0001", "path": "**/Cargo.lock", "reason": "not reachable from our code", "expires": expires}],
        }))
    };
    let job = scan(
        &h,
        submission(directory(work.path()), with_suppression("2999-12-31"), None),
    )
    .await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.errors);
    let bundle = Path::new(job.bundle_location.as_deref().unwrap());
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(bundle::sarif_path("sbom"))).unwrap())
            .unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["ruleId"], "TEST-0001",
        "suppressed findings are kept"
    );
    assert_eq!(
        result["suppressions"][0]["justification"],
        "not reachable from our code"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(bundle::SUMMARY)).unwrap()).unwrap();
    assert_eq!(summary["tools"][0]["suppressed"], 1);

    let job = scan(
        &h,
        submission(directory(work.path()), with_suppression("2020-01-01"), None),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.errors,
        vec!["critical findings exceeded threshold (1 > 0)".to_string()]
    );
    assert!(
        job.warnings
            .iter()
            .any(|w| w.contains("expired on 2020-01-01")),
        "{:?}",
        job.warnings
    );
}

#[tokio::test]
async fn a_baseline_lets_thresholds_apply_to_new_findings_only() {
    let work = tempfile::tempdir().unwrap();
    let h = harness(
        SignaturePolicy::default(),
        scanners(Some(&advisory_db(work.path()))),
    );
    let manifest = |scope: &str| {
        ManifestSource::Inline(json!({"profiles": [{"name": "light", "tools": ["sbom"],
            "thresholds": {"critical": 0}, "thresholdScope": scope}]}))
    };
    let first = scan(
        &h,
        submission(directory(work.path()), manifest("all"), None),
    )
    .await;
    assert_eq!(first.status, JobStatus::Failed);

    let mut second = submission(directory(work.path()), manifest("new"), None);
    second.baseline = Some(certus_core::request::BaselineSource::TestId(
        first.test_id.clone(),
    ));
    let job = scan(&h, second).await;
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "known finding is not new: {:?}",
        job.errors
    );
    let bundle = Path::new(job.bundle_location.as_deref().unwrap());
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(bundle::sarif_path("sbom"))).unwrap())
            .unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["baselineState"], "unchanged");

    // Without the scope, the same baseline only labels: thresholds still count everything.
    let mut third = submission(directory(work.path()), manifest("all"), None);
    third.baseline = Some(certus_core::request::BaselineSource::TestId(
        first.test_id.clone(),
    ));
    assert_eq!(scan(&h, third).await.status, JobStatus::Failed);

    // A baseline from another workspace is refused.
    let mut foreign = submission(directory(work.path()), manifest("new"), None);
    foreign.ids.workspace_id = "other".into();
    foreign.baseline = Some(certus_core::request::BaselineSource::TestId(
        first.test_id.clone(),
    ));
    let job = scan(&h, foreign).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors[0].contains("is not a job of workspace 'other'"),
        "{:?}",
        job.errors
    );
}

#[tokio::test]
async fn an_unparsable_requirements_line_is_a_named_warning_and_hides_no_advisory() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("requirements.txt"),
        "PyYAML==5.3\nnot a valid requirement line %%%\nflask==3.0.0\n",
    )
    .unwrap();
    let advisories = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples/advisories");
    let h = harness(SignaturePolicy::default(), scanners(Some(&advisories)));
    let job = scan(
        &h,
        submission(
            SourceSpec::Directory {
                directory_path: src.display().to_string(),
            },
            ManifestSource::Inline(json!({"profiles": [{"name": "light", "tools": ["sbom"],
                "thresholds": {"critical": 0}}]})),
            None,
        ),
    )
    .await;
    assert_eq!(
        job.status,
        JobStatus::Failed,
        "the critical advisory still counts"
    );
    assert_eq!(job.findings_summary.as_ref().unwrap().totals.critical, 1);
    let warning = "sbom: lockfile line skipped: requirements.txt line 2: ";
    assert!(
        job.warnings.iter().any(|w| w.starts_with(warning)),
        "{:?}",
        job.warnings
    );
    let bundle = Path::new(job.bundle_location.as_deref().unwrap());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(bundle::SUMMARY)).unwrap()).unwrap();
    assert!(
        summary["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(warning)),
        "{summary}"
    );
    let report = std::fs::read_to_string(bundle.join(bundle::REPORT_MD)).unwrap();
    assert!(report.contains("requirements.txt line 2"), "{report}");
}
