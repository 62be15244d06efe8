//! Fault injection through the real local pipeline and upload gate: wrapper adapters fail the Nth call a run
//! makes to the job store, event log, artifact store, Trust or the publisher — either refusing it, or letting
//! it take effect and then reporting a timeout (a lost acknowledgement). The sweep covers every call of a run
//! and of an upload request. After each fault the job must be terminal (or resumable, and complete after the
//! service's own recovery), its event history gap-free with exactly one `scan_complete`, any stored bundle
//! whole, nothing half-published, a re-run must not publish twice, and the error must name what failed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use certus_core::bundle::{check_index, read_index, BundleIndex, INDEX, STREAM};
use certus_core::digest::sha256_file;
use certus_core::event::{Event, EventBody};
use certus_core::job::{Job, JobStatus, RemoteArtifacts, UploadStatus};
use certus_core::pipeline::{self, ScannerSet, Services};
use certus_core::ports::{ArtifactStore, EventLog, JobPage, JobQuery, JobStore, Publisher};
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_core::trust::{Tier, TrustClient, TrustExchange, TrustRequest};
use certus_core::upload::UploadGate;
use certus_core::verification::SignaturePolicy;
use certus_core::{CoreError, Result};
use certus_integration::{harness, Harness};
use certus_scanners::SbomScanner;
use certus_trust::{LocalPublisher, LocalPublisherConfig, LocalTrustGate};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The call is not made; the caller gets an error.
    Refuse,
    /// The call takes effect, then the caller gets a timeout (the acknowledgement is lost).
    TimeOutAfterEffect,
}

/// Counts the calls made through every wrapper, in order, and fires one fault at call number `at`.
struct Faults {
    at: Option<(usize, Fault)>,
    calls: Mutex<Vec<String>>,
    fired: Mutex<Option<String>>,
}

impl Faults {
    fn new(at: Option<(usize, Fault)>) -> Arc<Self> {
        Arc::new(Self {
            at,
            calls: Mutex::new(Vec::new()),
            fired: Mutex::new(None),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn fired(&self) -> Option<String> {
        self.fired.lock().unwrap().clone()
    }

    /// Records `call`; returns the fault and its message when this is the chosen call.
    fn next(&self, call: &str) -> Option<(Fault, String)> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(call.to_string());
        let (at, fault) = self.at?;
        if calls.len() != at {
            return None;
        }
        let message = match fault {
            Fault::Refuse => format!("injected fault: {call} refused"),
            Fault::TimeOutAfterEffect => format!("injected fault: {call} timed out"),
        };
        *self.fired.lock().unwrap() = Some(message.clone());
        Some((fault, message))
    }

    async fn guard<T>(&self, call: &str, op: impl Future<Output = Result<T>>) -> Result<T> {
        match self.next(call) {
            None => op.await,
            Some((Fault::Refuse, message)) => Err(CoreError::Storage(message)),
            Some((Fault::TimeOutAfterEffect, message)) => {
                let _ = op.await;
                Err(CoreError::Storage(message))
            }
        }
    }
}

struct FaultyJobs(Arc<dyn JobStore>, Arc<Faults>);
struct FaultyEvents(Arc<dyn EventLog>, Arc<Faults>);
struct FaultyArtifacts(Arc<dyn ArtifactStore>, Arc<Faults>);
struct FaultyTrust(Arc<dyn TrustClient>, Arc<Faults>);
struct FaultyPublisher(Arc<dyn Publisher>, Arc<Faults>);

#[async_trait]
impl JobStore for FaultyJobs {
    async fn create(&self, job: &Job) -> Result<()> {
        self.1.guard("job store create", self.0.create(job)).await
    }
    async fn get(&self, test_id: &str) -> Result<Option<Job>> {
        self.1.guard("job store get", self.0.get(test_id)).await
    }
    async fn save(&self, job: &Job) -> Result<()> {
        self.1.guard("job store save", self.0.save(job)).await
    }
    async fn list(&self, query: &JobQuery) -> Result<JobPage> {
        self.1.guard("job store list", self.0.list(query)).await
    }
    // The upload lease is not a fault point: a release that fails keeps the job leased until the lease
    // expires, which these tests' immediate re-runs would only wait out.
    async fn claim_upload(
        &self,
        test_id: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<bool> {
        self.0.claim_upload(test_id, holder, lease).await
    }
    async fn release_upload(&self, test_id: &str, holder: &str) -> Result<()> {
        self.0.release_upload(test_id, holder).await
    }
}

#[async_trait]
impl EventLog for FaultyEvents {
    async fn append(&self, event: &Event) -> Result<()> {
        self.1.guard("event log append", self.0.append(event)).await
    }
    async fn history(&self, test_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        self.1
            .guard("event log history", self.0.history(test_id, after_seq))
            .await
    }
    async fn last_seq(&self, test_id: &str) -> Result<u64> {
        self.1
            .guard("event log last_seq", self.0.last_seq(test_id))
            .await
    }
}

#[async_trait]
impl ArtifactStore for FaultyArtifacts {
    fn location(&self, test_id: &str) -> String {
        self.0.location(test_id)
    }
    async fn store_bundle(&self, test_id: &str, dir: &Path, index: &BundleIndex) -> Result<String> {
        self.1
            .guard(
                "artifact store store_bundle",
                self.0.store_bundle(test_id, dir, index),
            )
            .await
    }
    async fn read_file(&self, location: &str, rel: &str, max: usize) -> Result<Option<Vec<u8>>> {
        self.1
            .guard(
                "artifact store read_file",
                self.0.read_file(location, rel, max),
            )
            .await
    }
}

#[async_trait]
impl TrustClient for FaultyTrust {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        let failed = |message: String| TrustExchange {
            request: request.clone(),
            answer: None,
            attempts: Vec::new(),
            error: Some(message),
        };
        match self.1.next("trust verify_and_permit") {
            None => self.0.verify_and_permit(request).await,
            Some((Fault::Refuse, message)) => failed(message),
            Some((Fault::TimeOutAfterEffect, message)) => {
                let _ = self.0.verify_and_permit(request).await;
                failed(message)
            }
        }
    }
}

#[async_trait]
impl Publisher for FaultyPublisher {
    fn raw_destination(&self, test_id: &str) -> String {
        self.0.raw_destination(test_id)
    }
    fn raw_bucket(&self) -> String {
        self.0.raw_bucket()
    }
    async fn publish(
        &self,
        job: &Job,
        location: &str,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts> {
        self.1
            .guard("publisher publish", self.0.publish(job, location, index))
            .await
    }
}

fn with_faults(services: &Services, faults: &Arc<Faults>) -> Services {
    Services {
        jobs: Arc::new(FaultyJobs(services.jobs.clone(), faults.clone())),
        events: Arc::new(FaultyEvents(services.events.clone(), faults.clone())),
        artifacts: Some(Arc::new(FaultyArtifacts(
            services.artifacts().unwrap().clone(),
            faults.clone(),
        ))),
        ..services.clone()
    }
}

/// A small project directory to scan (a lockfile for the dependency scanner).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.lock"),
        "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("main.py"), "print('hello')\n").unwrap();
    dir
}

fn fresh(project: &Path) -> (Harness, ValidatedSubmission) {
    let h = harness(
        SignaturePolicy::default(),
        ScannerSet::new(vec![Arc::new(SbomScanner::default())]),
    );
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "demo".into(),
            assessment_id: "faults".into(),
        },
        source: SourceSpec::Directory {
            directory_path: project.display().to_string(),
        },
        manifest: ManifestSource::Inline(json!({
            "product": "demo", "version": "1",
            "profiles": [{"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}],
                          "thresholds": {"critical": 0}}],
        })),
        signature: None,
        profile: "light".into(),
        requested_by: Some("fault-injection".into()),
        baseline: None,
        full_scan: false,
    };
    (h, submission)
}

async fn terminal_events(h: &Harness, test_id: &str) -> usize {
    let history = h.store.history(test_id, 0).await.unwrap();
    history.iter().filter(|e| e.body.is_terminal()).count()
}

/// The event contract on the persisted history: seq 1..=n, exactly one scan_complete and it is last.
async fn assert_history(h: &Harness, test_id: &str, case: &str) -> Vec<Event> {
    let history = h.store.history(test_id, 0).await.unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "{case}: gap in the event history"
    );
    let terminals: Vec<&Event> = history.iter().filter(|e| e.body.is_terminal()).collect();
    assert_eq!(
        terminals.len(),
        1,
        "{case}: scan_complete events: {terminals:?}"
    );
    let last_terminal = history.iter().rposition(|e| e.body.is_terminal()).unwrap();
    assert!(
        history[last_terminal + 1..].iter().all(|e| matches!(
            e.body,
            EventBody::UploadPermitted { .. }
                | EventBody::UploadDenied { .. }
                | EventBody::Published { .. }
        )),
        "{case}: only upload events may follow scan_complete"
    );
    history
}

fn assert_bundle_whole(job: &Job, case: &str) {
    if let Some(location) = &job.bundle_location {
        let dir = Path::new(location);
        let index = read_index(dir).unwrap_or_else(|e| panic!("{case}: {location}: {e}"));
        assert!(
            check_index(dir, &index).unwrap().is_empty(),
            "{case}: stored bundle does not match its index"
        );
    }
}

async fn pipeline_calls(project: &Path) -> Vec<String> {
    let (h, submission) = fresh(project);
    let job = pipeline::submit(&h.services.records(), submission)
        .await
        .unwrap();
    let faults = Faults::new(None);
    let done = pipeline::run(&with_faults(&h.services, &faults), &job.test_id)
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.errors);
    faults.calls()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_and_event_call_of_a_run_can_fail_and_the_job_still_ends_cleanly() {
    let project = project();
    let calls = pipeline_calls(project.path()).await;
    assert!(calls.len() > 10, "{calls:?}");
    let mut cases = 0;
    let mut unfinished = Vec::new();
    for at in 1..=calls.len() {
        for fault in [Fault::Refuse, Fault::TimeOutAfterEffect] {
            let case = format!("call {at} ({}) {fault:?}", calls[at - 1]);
            let (h, submission) = fresh(project.path());
            let queued = pipeline::submit(&h.services.records(), submission)
                .await
                .unwrap();
            let faults = Faults::new(Some((at, fault)));
            let outcome = pipeline::run(&with_faults(&h.services, &faults), &queued.test_id).await;
            let injected = faults
                .fired()
                .unwrap_or_else(|| panic!("{case}: not fired"));

            // What the service does next: a QUEUED job, or a final one whose run reported an error, is run
            // again; a RUNNING one whose runner stopped is ended by the start-up sweep.
            let mut job = h.store.get(&queued.test_id).await.unwrap().unwrap();
            let rerun = job.status == JobStatus::Queued;
            match job.status {
                JobStatus::Queued => {
                    job = pipeline::run(&h.services, &job.test_id).await.unwrap();
                }
                status if status.is_terminal() && outcome.is_err() => {
                    match pipeline::run(&h.services, &job.test_id).await {
                        Ok(repaired) => job = repaired,
                        Err(CoreError::InvalidTransition { .. }) => {}
                        Err(e) => panic!("{case}: re-run: {e}"),
                    }
                }
                JobStatus::Running => {
                    let runner = h.services.settings.runner_id.clone();
                    let ended = pipeline::end_interrupted(&h.services.records(), &|r| r == runner)
                        .await
                        .unwrap();
                    assert_eq!(ended.len(), 1, "{case}");
                    job = h.store.get(&job.test_id).await.unwrap().unwrap();
                }
                _ => {}
            }
            assert!(job.status.is_terminal(), "{case}: {}", job.status);
            if terminal_events(&h, &job.test_id).await != 1 {
                unfinished.push(format!(
                    "{case}: {} ended without scan_complete",
                    job.status
                ));
                continue;
            }
            let history = assert_history(&h, &job.test_id, &case).await;
            assert_bundle_whole(&job, &case);
            if let Some(location) = &job.bundle_location {
                let stream = std::fs::read_to_string(Path::new(location).join(STREAM)).unwrap();
                let terminal = history.iter().find(|e| e.body.is_terminal()).unwrap();
                assert_eq!(
                    stream.lines().last(),
                    Some(terminal.to_json_line().as_str()),
                    "{case}: the committed scan_complete is not the bundle's"
                );
            }
            let said = match &outcome {
                Err(e) => e.to_string(),
                Ok(ended) => ended.errors.join("; "),
            };
            let recorded = job.errors.join("; ");
            assert!(
                said.contains(&injected) || recorded.contains(&injected),
                "{case}: neither the caller ({said}) nor the record ({recorded}) says what failed"
            );
            // SUCCEEDED only on a re-run, or when the fault hit the final save or the final event, after the
            // verdict and the bundle were settled (the re-run then commits the bundle's scan_complete).
            assert!(
                job.status != JobStatus::Succeeded || rerun || at + 1 >= calls.len(),
                "{case}: a run that met a fault ended SUCCEEDED"
            );
            assert!(
                job.status != JobStatus::Succeeded || job.bundle_location.is_some(),
                "{case}: SUCCEEDED without a bundle"
            );
            cases += 1;
        }
    }
    println!(
        "run faults: {cases} cases over {} calls: {calls:?}",
        calls.len()
    );
    assert!(
        unfinished.is_empty(),
        "terminal without scan_complete: {unfinished:#?}"
    );
}

struct UploadFixture {
    h: Harness,
    job: Job,
    publisher: Arc<LocalPublisher>,
    trust: Arc<LocalTrustGate>,
    golden: PathBuf,
    raw: PathBuf,
}

async fn succeeded(project: &Path) -> UploadFixture {
    let (h, submission) = fresh(project);
    let job = pipeline::submit(&h.services.records(), submission)
        .await
        .unwrap();
    let job = pipeline::run(&h.services, &job.test_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.errors);
    let publisher = Arc::new(
        LocalPublisher::new(&LocalPublisherConfig::under(&h.dir.path().join("data"))).unwrap(),
    );
    let signer = format!("sha256:{}", h.services.signer().unwrap().key_id());
    let trust = Arc::new(
        LocalTrustGate::new()
            .pin_keys([signer])
            .unwrap()
            .check_bundles(h.services.artifacts().unwrap().clone()),
    );
    let golden = publisher.golden_dir(&job.test_id).unwrap();
    let raw = publisher.raw_dir(&job.test_id).unwrap();
    UploadFixture {
        h,
        job,
        publisher,
        trust,
        golden,
        raw,
    }
}

/// Files under `dir` by relative path.
fn files_under(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, sha256_file(&path).unwrap().0);
            }
        }
    }
    out
}

/// The whole published set: every index file with its digest, plus the index.
fn expected_set(fx: &UploadFixture) -> BTreeMap<String, String> {
    let bundle = PathBuf::from(fx.job.bundle_location.clone().unwrap());
    let mut set: BTreeMap<String, String> = read_index(&bundle)
        .unwrap()
        .files
        .into_iter()
        .map(|e| (e.path, e.sha256.to_string()))
        .collect();
    set.insert(INDEX.into(), sha256_file(&bundle.join(INDEX)).unwrap().0);
    set
}

fn assert_empty_or_complete(dir: &Path, expected: &BTreeMap<String, String>, case: &str) {
    let found = files_under(dir);
    assert!(
        found.is_empty() || &found == expected,
        "{case}: {} holds a partial set: {:?}",
        dir.display(),
        found.keys().collect::<Vec<_>>()
    );
}

fn published_events(history: &[Event]) -> usize {
    history
        .iter()
        .filter(|e| matches!(e.body, EventBody::Published { .. }))
        .count()
}

async fn upload_calls(project: &Path) -> Vec<String> {
    let fx = succeeded(project).await;
    let faults = Faults::new(None);
    let gate = UploadGate::new(
        Arc::new(FaultyTrust(fx.trust.clone(), faults.clone())),
        Arc::new(FaultyPublisher(fx.publisher.clone(), faults.clone())),
        None,
    );
    let job = gate
        .request_upload(
            &with_faults(&fx.h.services, &faults),
            &fx.job.test_id,
            Tier::Basic,
        )
        .await
        .unwrap();
    assert_eq!(job.upload_status, UploadStatus::Uploaded, "{job:?}");
    faults.calls()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_an_upload_request_can_fail_and_a_re_run_publishes_exactly_once() {
    let project = project();
    let calls = upload_calls(project.path()).await;
    assert!(calls.iter().any(|c| c.starts_with("trust")), "{calls:?}");
    assert!(
        calls.iter().any(|c| c.starts_with("publisher")),
        "{calls:?}"
    );
    let mut cases = 0;
    let mut missing = Vec::new();
    for at in 1..=calls.len() {
        for fault in [Fault::Refuse, Fault::TimeOutAfterEffect] {
            let case = format!("upload call {at} ({}) {fault:?}", calls[at - 1]);
            let fx = succeeded(project.path()).await;
            let expected = expected_set(&fx);
            let faults = Faults::new(Some((at, fault)));
            let gate = UploadGate::new(
                Arc::new(FaultyTrust(fx.trust.clone(), faults.clone())),
                Arc::new(FaultyPublisher(fx.publisher.clone(), faults.clone())),
                None,
            );
            let outcome = gate
                .request_upload(
                    &with_faults(&fx.h.services, &faults),
                    &fx.job.test_id,
                    Tier::Basic,
                )
                .await;
            let injected = faults
                .fired()
                .unwrap_or_else(|| panic!("{case}: not fired"));
            let after = fx.h.store.get(&fx.job.test_id).await.unwrap().unwrap();
            assert_ne!(
                after.upload_status,
                UploadStatus::Denied,
                "{case}: a fault is not a denial"
            );
            if after.upload_status == UploadStatus::Uploaded {
                assert_eq!(
                    files_under(&fx.golden),
                    expected,
                    "{case}: uploaded but incomplete"
                );
            }
            assert_empty_or_complete(&fx.golden, &expected, &case);
            assert_empty_or_complete(&fx.raw, &expected, &case);
            let said = match &outcome {
                Err(e) => e.to_string(),
                Ok(job) => serde_json::to_string(&job.upload_audit).unwrap(),
            };
            let recorded = serde_json::to_string(&after.upload_audit).unwrap();
            assert!(
                said.contains(&injected) || recorded.contains(&injected),
                "{case}: neither the caller ({said}) nor the audit ({recorded}) says what failed"
            );

            // The re-run, without faults, completes; a further request changes nothing.
            let clean = UploadGate::new(fx.trust.clone(), fx.publisher.clone(), None);
            let done = clean
                .request_upload(&fx.h.services, &fx.job.test_id, Tier::Basic)
                .await
                .unwrap();
            assert_eq!(
                done.upload_status,
                UploadStatus::Uploaded,
                "{case}: {done:?}"
            );
            assert_eq!(
                files_under(&fx.golden),
                expected,
                "{case}: golden after re-run"
            );
            assert_eq!(files_under(&fx.raw), expected, "{case}: raw after re-run");
            let history = assert_history(&fx.h, &fx.job.test_id, &case).await;
            if published_events(&history) != 1 {
                missing.push(format!(
                    "{case}: {} published events",
                    published_events(&history)
                ));
            }
            let again = clean
                .request_upload(&fx.h.services, &fx.job.test_id, Tier::Basic)
                .await
                .unwrap();
            assert_eq!(
                again.upload_permission_id, done.upload_permission_id,
                "{case}"
            );
            assert_eq!(
                fx.h.store.history(&fx.job.test_id, 0).await.unwrap().len(),
                history.len(),
                "{case}: a request after upload changed the history"
            );
            cases += 1;
        }
    }
    println!(
        "upload faults: {cases} cases over {} calls: {calls:?}",
        calls.len()
    );
    assert!(
        missing.is_empty(),
        "publication missing from the audit trail: {missing:#?}"
    );
}

/// Trust that holds every request until released, counting them.
struct HeldTrust {
    inner: Arc<LocalTrustGate>,
    calls: std::sync::atomic::AtomicUsize,
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait]
impl TrustClient for HeldTrust {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.verify_and_permit(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_asking_at_once_get_one_trust_call_and_one_publication() {
    let project = project();
    let fx = succeeded(project.path()).await;
    let trust = Arc::new(HeldTrust {
        inner: fx.trust.clone(),
        calls: Default::default(),
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    // The second "process": its own gate and its own handle on the same database file, as the CLI's
    // `certus upload-request` beside a running `certus serve`.
    let other_store =
        Arc::new(certus_local::SqliteStore::open(&fx.h.dir.path().join("certus.db")).unwrap());
    let other_services = Services {
        jobs: Arc::new(certus_core::audit::AuditedJobStore::new(
            other_store.clone(),
            other_store.clone(),
        )),
        events: other_store,
        ..fx.h.services.clone()
    };
    let first_gate = UploadGate::new(trust.clone(), fx.publisher.clone(), None);
    let second_gate = UploadGate::new(trust.clone(), fx.publisher.clone(), None);

    let services = fx.h.services.clone();
    let test_id = fx.job.test_id.clone();
    let first = tokio::spawn(async move {
        first_gate
            .request_upload(&services, &test_id, Tier::Basic)
            .await
    });
    trust.entered.notified().await;
    let second = second_gate
        .request_upload(&other_services, &fx.job.test_id, Tier::Basic)
        .await
        .unwrap_err();
    assert!(
        matches!(&second, CoreError::Conflict(m) if m.contains("already in progress")),
        "{second}"
    );
    trust.release.notify_one();
    let job = first.await.unwrap().unwrap();
    assert_eq!(
        job.upload_status,
        UploadStatus::Uploaded,
        "{:?}",
        job.upload_audit
    );
    assert_eq!(trust.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let history = fx.h.store.history(&fx.job.test_id, 0).await.unwrap();
    assert_eq!(published_events(&history), 1);

    // The lease was given back: a later request from the other process answers at once.
    let again = UploadGate::new(trust.clone(), fx.publisher.clone(), None)
        .request_upload(&other_services, &fx.job.test_id, Tier::Basic)
        .await
        .unwrap();
    assert_eq!(again.upload_status, UploadStatus::Uploaded);
    assert_eq!(trust.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
