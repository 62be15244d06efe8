//! The pipeline cut into steps (`certus-stages`, one Lambda each on AWS) against the one-process runner, with
//! real parts: git repositories made here, openssl signatures, SQLite, the local bundle store and a directory
//! run store. The steps run in the order the state machine runs them, each on a fresh workspace, and must
//! give the same record and bundle as `pipeline::run`; retried steps must not act twice; a failed step ends
//! the job FAILED with its cause and one `scan_complete`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use certus_core::bundle::{self, check_index, read_index};
use certus_core::event::{Event, EventBody};
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, ScannerSet};
use certus_core::ports::{EventLog, JobStore};
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_integration::{cosign_sign, git_repo, harness, p256_keypair, Harness};
use certus_local::DirRunStore;
use certus_scanners::{SbomScanner, SecretsScanner};
use certus_stages::{Failure, Stage, StageError, StageInput, StageOutput, Stages};
use serde_json::json;

const CARGO_LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
/// A fake key in the shape the secrets rules look for (random, labelled: not a credential).
const PLANTED: &str = "aws_secret = \"AKIAQX4NT7RZ2M5WCJ3E\"\n";

fn manifest() -> String {
    json!({
        "product": "demo", "version": "1",
        "profiles": [{"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}, "secrets"],
                      "thresholds": {"critical": 0}}],
    })
    .to_string()
}

fn scanners() -> ScannerSet {
    ScannerSet::new(vec![
        Arc::new(SbomScanner::default()),
        Arc::new(SecretsScanner::new(None)),
    ])
}

struct Fixture {
    harness: Harness,
    stages: Stages,
    submission: ValidatedSubmission,
}

/// A signed repository manifest on a git repository with a lock file and a planted fake secret.
fn fixture(tamper: bool) -> Fixture {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = p256_keypair(keys.path());
    let policy = SignaturePolicy {
        required: true,
        key: Some(
            certus_verify::PublicKey::from_pem(&std::fs::read_to_string(&public).unwrap()).unwrap(),
        ),
        ..Default::default()
    };
    let harness = harness(policy, scanners());
    let repo = harness.harness_dir().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let manifest_text = manifest();
    std::fs::write(repo.join("certus.json"), &manifest_text).unwrap();
    cosign_sign(
        &key,
        &repo.join("certus.json"),
        &repo.join("certus.json.sig"),
    );
    if tamper {
        std::fs::write(
            repo.join("certus.json"),
            manifest_text.replace("demo", "dem0"),
        )
        .unwrap();
    }
    let files = [
        ("Cargo.lock", CARGO_LOCK.to_string()),
        ("config/settings.py", PLANTED.to_string()),
        (
            "certus.json",
            std::fs::read_to_string(repo.join("certus.json")).unwrap(),
        ),
        (
            "certus.json.sig",
            std::fs::read_to_string(repo.join("certus.json.sig")).unwrap(),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    git_repo(&repo, &refs);
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "demo".into(),
            assessment_id: "a1".into(),
        },
        source: SourceSpec::Git {
            git_url: repo.display().to_string(),
            branch: Some("main".into()),
            commit: None,
            git_credentials_ref: None,
        },
        manifest: ManifestSource::RepoPath("certus.json".into()),
        signature: Some(SignatureSource::RepoPath("certus.json.sig".into())),
        profile: "light".into(),
        requested_by: Some("tests".into()),
        baseline: None,
        full_scan: false,
    };
    let stages = Stages {
        services: harness.services.clone(),
        runs: Arc::new(DirRunStore::new(harness.harness_dir().join("runstore"))),
        uploads: None,
    };
    Fixture {
        harness,
        stages,
        submission,
    }
}

trait HarnessDir {
    fn harness_dir(&self) -> &Path;
}

impl HarnessDir for Harness {
    fn harness_dir(&self) -> &Path {
        self.dir.path()
    }
}

fn input(test_id: &str) -> StageInput {
    StageInput {
        test_id: test_id.into(),
        tool: None,
        tier: None,
        failure: None,
    }
}

/// A failure as Step Functions hands a Lambda's error to a `Catch`.
fn caught(e: &StageError) -> Failure {
    Failure {
        error: e.error_type().into(),
        cause: json!({"errorType": e.error_type(), "errorMessage": e.message()}).to_string(),
    }
}

/// Runs the scan state machine's flow in process: the steps in order, the tools concurrently, every failure
/// caught into `finalize` with the failure.
async fn run_staged(stages: &Stages, test_id: &str) -> Job {
    let steps = async {
        for stage in [
            Stage::PrepareSource,
            Stage::FetchManifest,
            Stage::VerifyManifest,
        ] {
            stages.run(stage, input(test_id)).await?;
        }
        let plan = stages.run(Stage::LaunchScanners, input(test_id)).await?;
        let runs = plan.tools.unwrap_or_default().into_iter().map(|run| {
            let stages = stages.clone();
            async move {
                let mut item = input(&run.test_id);
                item.tool = Some(run.tool.clone());
                if let Err(e) = stages.run(Stage::RunScanner, item.clone()).await {
                    item.failure = Some(caught(&e));
                    stages.run(Stage::RunScanner, item).await?;
                }
                Ok::<_, StageError>(())
            }
        });
        for result in futures_join(runs).await {
            result?;
        }
        stages.run(Stage::BuildBundle, input(test_id)).await?;
        stages.run(Stage::Finalize, input(test_id)).await
    }
    .await;
    if let Err(e) = steps {
        let mut failed = input(test_id);
        failed.failure = Some(caught(&e));
        stages.run(Stage::Finalize, failed).await.unwrap();
    }
    stages.services.jobs.get(test_id).await.unwrap().unwrap()
}

async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn one_process(f: &Fixture) -> Job {
    let job = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap();
    pipeline::run(&f.harness.services, &job.test_id)
        .await
        .unwrap()
}

async fn staged(f: &Fixture) -> Job {
    let job = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap();
    run_staged(&f.stages, &job.test_id).await
}

async fn history(f: &Fixture, test_id: &str) -> Vec<Event> {
    f.harness.store.history(test_id, 0).await.unwrap()
}

/// What the two runners must agree on: the record without ids and times.
fn comparable(job: &Job) -> serde_json::Value {
    json!({
        "status": job.status, "commit": job.commit, "branch": job.branch,
        "manifest_digest": job.manifest_digest, "manifest_metadata": job.manifest_metadata,
        "verified": job.manifest_verification.as_ref().map(|v| v.method.clone()),
        "findings": job.findings_summary, "artifacts": job.artifacts,
        "errors": job.errors, "warnings": job.warnings, "upload_status": job.upload_status,
    })
}

/// The event stream as kinds (tool logs and completions sorted: tools run concurrently in both runners).
fn shape(events: &[Event]) -> (Vec<String>, BTreeSet<String>) {
    let mut ordered = Vec::new();
    let mut tools = BTreeSet::new();
    for event in events {
        match &event.body {
            EventBody::Phase { message, .. } => ordered.push(format!("phase:{message}")),
            EventBody::ToolStart { tool, .. } => {
                tools.insert(format!("start:{tool}"));
            }
            EventBody::ToolComplete {
                tool,
                status,
                findings,
                ..
            } => {
                tools.insert(format!("complete:{tool}:{status}:{findings}"));
            }
            EventBody::Log { .. } => {}
            other => ordered.push(serde_json::to_value(other).unwrap()["type"].to_string()),
        }
    }
    (ordered, tools)
}

fn findings_of(bundle_dir: &Path, rel: &str) -> serde_json::Value {
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle_dir.join(rel)).unwrap()).unwrap();
    log["runs"][0]["results"].clone()
}

fn assert_contract(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "gap-free seq"
    );
    assert_eq!(events.iter().filter(|e| e.body.is_terminal()).count(), 1);
    assert!(events.last().unwrap().body.is_terminal());
}

#[tokio::test]
async fn the_steps_give_the_record_and_bundle_of_the_one_process_runner() {
    let f = fixture(false);
    let local = one_process(&f).await;
    let steps = staged(&f).await;

    assert_eq!(local.status, JobStatus::Failed, "{:?}", local.errors);
    assert_eq!(comparable(&steps), comparable(&local));
    let (local_events, steps_events) = (
        history(&f, &local.test_id).await,
        history(&f, &steps.test_id).await,
    );
    assert_contract(&steps_events);
    assert_eq!(shape(&steps_events), shape(&local_events));

    let (a, b) = (
        Path::new(local.bundle_location.as_deref().unwrap()),
        Path::new(steps.bundle_location.as_deref().unwrap()),
    );
    let (ia, ib) = (read_index(a).unwrap(), read_index(b).unwrap());
    let paths =
        |i: &bundle::BundleIndex| i.files.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&ib), paths(&ia));
    assert!(check_index(b, &ib).unwrap().is_empty());
    for rel in ["manifest.json", "manifest.sig", "manifest-info.json"] {
        assert_eq!(
            std::fs::read(a.join(rel)).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
            "{rel}"
        );
    }
    for tool in ["sbom", "secrets"] {
        let rel = bundle::sarif_path(tool);
        assert_eq!(findings_of(b, &rel), findings_of(a, &rel), "{rel}");
    }
    let stream = std::fs::read_to_string(b.join(bundle::STREAM)).unwrap();
    let lines: Vec<String> = steps_events.iter().map(|e| e.to_json_line()).collect();
    assert_eq!(
        stream.lines().collect::<Vec<_>>(),
        lines,
        "the stream ends with the committed scan_complete"
    );
    let text = std::fs::read_to_string(b.join(bundle::sarif_path("secrets"))).unwrap();
    assert!(
        !text.contains("AKIAQX4NT7RZ2M5WCJ3E"),
        "the planted value is redacted"
    );
}

#[tokio::test]
async fn a_failed_verification_ends_the_staged_job_like_the_local_one() {
    let f = fixture(true);
    let local = one_process(&f).await;
    let steps = staged(&f).await;
    assert_eq!(steps.status, JobStatus::Failed);
    assert_eq!(comparable(&steps), comparable(&local));
    let events = history(&f, &steps.test_id).await;
    assert_contract(&events);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.body, EventBody::ToolStart { .. })),
        "no scanner starts after a failed verification"
    );
    assert!(
        steps.errors.iter().any(|e| e.contains("verification")),
        "{:?}",
        steps.errors
    );
}

#[tokio::test]
async fn retried_steps_do_not_act_twice() {
    let f = fixture(false);
    let job = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap();
    let id = job.test_id.clone();
    let mut outputs: Vec<StageOutput> = Vec::new();
    for stage in [
        Stage::PrepareSource,
        Stage::FetchManifest,
        Stage::VerifyManifest,
        Stage::LaunchScanners,
    ] {
        let first = f.stages.run(stage, input(&id)).await.unwrap();
        let before = history(&f, &id).await.len();
        let again = f.stages.run(stage, input(&id)).await.unwrap();
        assert_eq!(again, first, "{} answers the same", stage.name());
        assert_eq!(
            history(&f, &id).await.len(),
            before,
            "{} emitted nothing new",
            stage.name()
        );
        outputs.push(first);
    }
    for run in outputs.last().unwrap().tools.clone().unwrap() {
        let mut item = input(&id);
        item.tool = Some(run.tool);
        let first = f.stages.run(Stage::RunScanner, item.clone()).await.unwrap();
        let before = history(&f, &id).await.len();
        assert_eq!(f.stages.run(Stage::RunScanner, item).await.unwrap(), first);
        assert_eq!(history(&f, &id).await.len(), before);
    }
    let built = f.stages.run(Stage::BuildBundle, input(&id)).await.unwrap();
    let record = f.harness.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        f.stages.run(Stage::BuildBundle, input(&id)).await.unwrap(),
        built
    );
    assert_eq!(
        f.harness.store.get(&id).await.unwrap().unwrap(),
        record,
        "the record is not rewritten"
    );
    for _ in 0..3 {
        f.stages.run(Stage::Finalize, input(&id)).await.unwrap();
    }
    // A late Catch on a finished job changes nothing either.
    let mut late = input(&id);
    late.failure = Some(Failure {
        error: "States.Timeout".into(),
        cause: String::new(),
    });
    f.stages.run(Stage::Finalize, late).await.unwrap();
    let events = history(&f, &id).await;
    assert_contract(&events);
    assert_eq!(f.harness.store.get(&id).await.unwrap().unwrap(), record);
}

#[tokio::test]
async fn a_tool_that_crashed_or_timed_out_is_recorded_and_the_others_still_count() {
    let f = fixture(false);
    let job = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap();
    let id = job.test_id.clone();
    for stage in [
        Stage::PrepareSource,
        Stage::FetchManifest,
        Stage::VerifyManifest,
        Stage::LaunchScanners,
    ] {
        f.stages.run(stage, input(&id)).await.unwrap();
    }
    let mut sbom = input(&id);
    sbom.tool = Some("sbom".into());
    f.stages.run(Stage::RunScanner, sbom).await.unwrap();
    let mut secrets = input(&id);
    secrets.tool = Some("secrets".into());
    secrets.failure = Some(Failure {
        error: "States.Timeout".into(),
        cause: String::new(),
    });
    let out = f.stages.run(Stage::RunScanner, secrets).await.unwrap();
    assert_eq!(out.status.as_deref(), Some("timed_out"));
    f.stages.run(Stage::BuildBundle, input(&id)).await.unwrap();
    f.stages.run(Stage::Finalize, input(&id)).await.unwrap();
    let job = f.harness.store.get(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors
            .iter()
            .any(|e| e.contains("tool 'secrets' timed_out") && e.contains("States.Timeout")),
        "{:?}",
        job.errors
    );
    let dir = Path::new(job.bundle_location.as_deref().unwrap());
    assert!(
        dir.join(bundle::sarif_path("sbom")).is_file(),
        "the other tool's results are kept"
    );
    assert_contract(&history(&f, &id).await);
}

#[tokio::test]
async fn steps_called_out_of_order_or_with_bad_input_are_refused_clearly() {
    let f = fixture(false);
    let job = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap();
    let e = f
        .stages
        .run(Stage::FetchManifest, input(&job.test_id))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "NonRetryable");
    assert!(e.message().contains("QUEUED"), "{e}");
    let e = f
        .stages
        .run(Stage::PrepareSource, input("test_../../etc"))
        .await
        .unwrap_err();
    assert!(e.message().contains("test_id"), "{e}");
    let e = f
        .stages
        .run(Stage::Finalize, input(&job.test_id))
        .await
        .unwrap_err();
    assert!(e.message().contains("not been built"), "{e}");
    // A step that crashes before the job started: the Catch still ends it, with one scan_complete.
    let mut failed = input(&job.test_id);
    failed.failure = Some(Failure {
        error: "Lambda.ServiceException".into(),
        cause: "the function could not be invoked".into(),
    });
    f.stages.run(Stage::Finalize, failed).await.unwrap();
    let job = f.harness.store.get(&job.test_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job
        .errors
        .iter()
        .any(|e| e.contains("Lambda.ServiceException: the function could not be invoked")));
    assert_contract(&history(&f, &job.test_id).await);
}

/// `launch-scanners` resolves the profile as `certus scan` does, except that the container tools count as
/// available: the template runs them as Fargate tasks, not in this function (the deployment's stand-ins,
/// `fargate::with_fargate_tools`). A tool nobody here can run still fails the plan, and so does a manifest
/// that breaks the contract.
#[tokio::test]
async fn launch_scanners_plans_container_tools_on_fargate_and_fails_closed_otherwise() {
    let keys = tempfile::tempdir().unwrap();
    let src = keys.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("Cargo.lock"), CARGO_LOCK).unwrap();
    let h = harness(SignaturePolicy::default(), scanners());
    let mut staged = h.services.clone();
    let image_tools: Vec<String> = certus_stages::fargate::CONTAINER_TOOLS
        .iter()
        .map(|t| t.to_string())
        .collect();
    staged.scanners = Some(
        certus_stages::fargate::with_fargate_tools(staged.scanners().unwrap(), &image_tools)
            .unwrap(),
    );
    let stages = Stages {
        services: staged,
        runs: Arc::new(DirRunStore::new(h.harness_dir().join("runstore"))),
        uploads: None,
    };
    let submission = |tools: serde_json::Value| ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "demo".into(),
            assessment_id: "a1".into(),
        },
        source: SourceSpec::Directory {
            directory_path: src.display().to_string(),
        },
        manifest: ManifestSource::Inline(json!({
            "profiles": [{"name": "light", "tools": tools, "thresholds": {"critical": 0}}],
        })),
        signature: None,
        profile: "light".into(),
        requested_by: Some("tests".into()),
        baseline: None,
        full_scan: false,
    };
    let plan = |tools: serde_json::Value| {
        let stages = stages.clone();
        let services = h.services.clone();
        let submission = submission(tools);
        async move {
            let job = pipeline::submit(&services.records(), submission)
                .await
                .unwrap();
            for stage in [
                Stage::PrepareSource,
                Stage::FetchManifest,
                Stage::VerifyManifest,
            ] {
                stages.run(stage, input(&job.test_id)).await.unwrap();
            }
            stages.run(Stage::LaunchScanners, input(&job.test_id)).await
        }
    };

    let output = plan(json!(["secrets", "semgrep", {"id": "bandit"}]))
        .await
        .unwrap();
    let runs: Vec<(String, String)> = output
        .tools
        .unwrap()
        .into_iter()
        .map(|r| (r.tool, r.runner))
        .collect();
    assert_eq!(
        runs,
        vec![
            ("secrets".to_string(), "lambda".to_string()),
            ("semgrep".to_string(), "fargate".to_string()),
            ("bandit".to_string(), "fargate".to_string()),
        ]
    );

    // The one-process runner on the same machine has no semgrep: the same manifest fails there, naming it.
    let job = pipeline::submit(
        &h.services.records(),
        submission(json!(["secrets", "semgrep", {"id": "bandit"}])),
    )
    .await
    .unwrap();
    let job = pipeline::run(&h.services, &job.test_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors[0].contains("names tools that cannot run here: semgrep (not installed"),
        "{:?}",
        job.errors
    );

    // The sample scanner is not part of this deployment, so a profile naming it cannot be planned.
    let err = plan(json!(["sample"])).await.unwrap_err();
    assert_eq!(err.error_type(), "NonRetryable");
    assert!(
        err.message()
            .contains("names tools that cannot run here: sample"),
        "{}",
        err.message()
    );
}

/// Runs `stages` of the job in order, each expected to succeed.
async fn run_steps(f: &Fixture, test_id: &str, stages: &[Stage]) {
    for stage in stages {
        f.stages.run(*stage, input(test_id)).await.unwrap();
    }
}

/// Ends the job as the state machine's Catch does, with the step's error.
async fn catch_into_finalize(f: &Fixture, test_id: &str, e: &StageError) -> Job {
    let mut failed = input(test_id);
    failed.failure = Some(caught(e));
    f.stages.run(Stage::Finalize, failed).await.unwrap();
    f.harness.store.get(test_id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_manifest_changed_in_the_run_store_stops_the_steps_that_reload_it() {
    let f = fixture(false);
    let id = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap()
        .test_id;
    run_steps(&f, &id, &[Stage::PrepareSource, Stage::FetchManifest]).await;
    let stored = f
        .harness
        .harness_dir()
        .join("runstore")
        .join(&id)
        .join("bundle")
        .join(bundle::MANIFEST_JSON);
    let original = std::fs::read_to_string(&stored).unwrap();
    std::fs::write(
        &stored,
        original.replace(r#""thresholds":{"critical":0}"#, r#""thresholds":{}"#),
    )
    .unwrap();
    assert_ne!(std::fs::read_to_string(&stored).unwrap(), original);

    for stage in [Stage::VerifyManifest, Stage::LaunchScanners] {
        let e = f.stages.run(stage, input(&id)).await.unwrap_err();
        assert_eq!(e.error_type(), "NonRetryable", "{stage:?}: {e}");
        assert!(
            e.message()
                .contains("the manifest in the run store does not match the digest"),
            "{stage:?}: {e}"
        );
    }
    let e = f
        .stages
        .run(Stage::VerifyManifest, input(&id))
        .await
        .unwrap_err();
    let job = catch_into_finalize(&f, &id, &e).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors
            .iter()
            .any(|e| e.contains("the manifest in the run store does not match the digest")),
        "{:?}",
        job.errors
    );
    assert!(job.manifest_verification.is_none(), "nothing was verified");
    assert_contract(&history(&f, &id).await);
}

#[tokio::test]
async fn a_source_snapshot_changed_in_the_run_store_is_not_scanned() {
    let f = fixture(false);
    let id = pipeline::submit(&f.harness.services.records(), f.submission.clone())
        .await
        .unwrap()
        .test_id;
    run_steps(
        &f,
        &id,
        &[
            Stage::PrepareSource,
            Stage::FetchManifest,
            Stage::VerifyManifest,
            Stage::LaunchScanners,
        ],
    )
    .await;
    let recorded = f.harness.store.get(&id).await.unwrap().unwrap();
    let digest = recorded.snapshot_digest.expect("a snapshot digest");
    let snapshot = f
        .harness
        .harness_dir()
        .join("runstore")
        .join(&id)
        .join("source.tgz");
    assert_eq!(
        certus_core::digest::sha256_file(&snapshot).unwrap().0,
        digest.to_string()
    );
    // Another tree packed in its place: one without the planted secret.
    let other = f.harness.harness_dir().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("Cargo.lock"), CARGO_LOCK).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&snapshot)
        .arg("-C")
        .arg(&other)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());

    let mut item = input(&id);
    item.tool = Some("secrets".into());
    let e = f.stages.run(Stage::RunScanner, item).await.unwrap_err();
    assert_eq!(e.error_type(), "NonRetryable", "{e}");
    assert!(
        e.message()
            .contains("the source snapshot in the run store does not match the digest"),
        "{e}"
    );
    let job = catch_into_finalize(&f, &id, &e).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors
            .iter()
            .any(|e| e.contains("source snapshot in the run store does not match")),
        "{:?}",
        job.errors
    );
}
