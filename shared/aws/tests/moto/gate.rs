//! The real `UploadGate` over a real finished job whose bundle lives in S3 (moto): a publication that fails
//! mid-way through promotion ends as `upload_failed` with golden incomplete; the re-run publishes every
//! golden object exactly once without asking Trust again; a third request changes nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_aws::{AwsClients, S3ArtifactStore, S3Publisher};
use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::bundle::{BundleIndex, INDEX};
use certus_core::digest::sha256_hex;
use certus_core::job::{Job, JobStatus, UploadStatus};
use certus_core::pipeline::{self, PipelineSettings, ScannerSet, Services};
use certus_core::ports::ManifestFetcher;
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_core::trust::{Tier, TrustAnswer, TrustClient, TrustExchange, TrustRequest};
use certus_core::upload::UploadGate;
use certus_core::verification::SignaturePolicy;
use certus_core::CoreError;
use certus_local::SqliteStore;
use certus_scanners::SampleScanner;
use certus_source::{GitPolicy, LocalSourcePreparer, SourcePolicy};
use serde_json::json;

use crate::common::{
    get, is_copy_to, listing, moto_clients, moto_clients_with, moto_endpoint, new_bucket, FailAfter,
};

/// A Trust that permits every request and counts them.
#[derive(Default)]
struct PermittingTrust {
    calls: AtomicUsize,
}

#[async_trait]
impl TrustClient for PermittingTrust {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        self.calls.fetch_add(1, Ordering::SeqCst);
        TrustExchange {
            request: request.clone(),
            answer: Some(TrustAnswer {
                upload_permission_id: Some("perm-7f3a".into()),
                scan_id: Some(request.scan_id.clone()),
                tier: Some(request.tier),
                permitted: true,
                reason: None,
                detail: None,
                verification_proof: None,
                storage_config: None,
            }),
            attempts: Vec::new(),
            error: None,
        }
    }
}

/// Manifests here are inline; any fetch is a test failure.
struct NoFetcher;

#[async_trait]
impl ManifestFetcher for NoFetcher {
    async fn fetch(&self, uri: &str, _max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        Err(CoreError::Manifest(format!(
            "{uri}: no fetching in this test"
        )))
    }
}

use certus_testkit::git;

struct Finished {
    dir: tempfile::TempDir,
    services: Services,
    job: Job,
}

/// A repository scanned to SUCCEEDED with the sample scanner; the bundle is stored in `s3://bundles/`.
async fn finished_job(clients: &AwsClients, bundles: &str) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app.py"), "print('hello')\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);

    let store = Arc::new(SqliteStore::open(&dir.path().join("certus.db")).unwrap());
    let services = Services {
        jobs: store.clone(),
        events: store,
        sinks: Vec::new(),
        artifacts: Some(Arc::new(
            S3ArtifactStore::new(clients, &format!("s3://{bundles}/assurance")).unwrap(),
        )),
        sources: Some(Arc::new(LocalSourcePreparer::new(SourcePolicy {
            git: GitPolicy {
                allow_local: true,
                ..GitPolicy::default()
            },
            ..SourcePolicy::default()
        }))),
        fetcher: Some(Arc::new(NoFetcher)),
        verifier: Some(Arc::new(SignaturePolicy::default())),
        signer: Some(Arc::new(
            LocalSigner::load_or_generate(&dir.path().join("keys/signing.pem")).unwrap(),
        )),
        scanners: Some(ScannerSet::new(vec![Arc::new(SampleScanner)])),
        fingerprint_key: Some(
            certus_core::fingerprint::FingerprintKey::generate().expect("fingerprint key"),
        ),
        settings: PipelineSettings {
            workspace_root: dir.path().join("runs"),
            keep_workspace: false,
            max_parallel_tools: 2,
            max_log_lines_per_tool: 100,
            max_tool_timeout: Duration::from_secs(30),
            stream_base: "ws://127.0.0.1:8056".into(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/test".into(),
                version: "test".into(),
            },
            runner_id: format!("pid:{}", std::process::id()),
        },
    };
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws-1".into(),
            component_id: "demo".into(),
            assessment_id: "a-1".into(),
        },
        source: SourceSpec::Git {
            git_url: repo.display().to_string(),
            branch: Some("main".into()),
            commit: None,
            git_credentials_ref: None,
        },
        manifest: ManifestSource::Inline(json!({
            "product": "demo", "version": "1",
            "profiles": [{"name": "light", "tools": ["sample"], "thresholds": {}}],
        })),
        signature: None,
        profile: "light".into(),
        requested_by: Some("aws-tests".into()),
        baseline: None,
        full_scan: false,
    };
    let queued = pipeline::submit(&services.records(), submission)
        .await
        .unwrap();
    let job = pipeline::run(&services, &queued.test_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "errors: {:?}", job.errors);
    assert_eq!(
        job.bundle_location.as_deref(),
        Some(format!("s3://{bundles}/assurance/{}/bundle", job.test_id).as_str())
    );
    Finished { dir, services, job }
}

#[tokio::test]
async fn a_promotion_that_fails_mid_way_is_finished_by_the_re_run_without_asking_trust_again() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bundles = new_bucket(&clients, "gate-bundles").await;
    let raw = new_bucket(&clients, "gate-raw").await;
    let golden = new_bucket(&clients, "gate-golden").await;
    let f = finished_job(&clients, &bundles).await;
    let _keep = &f.dir;
    let test_id = f.job.test_id.clone();
    let location = f.job.bundle_location.clone().unwrap();
    let index_bytes = f
        .services
        .artifacts()
        .unwrap()
        .read_file(&location, INDEX, 1 << 20)
        .await
        .unwrap()
        .unwrap();
    let index: BundleIndex = serde_json::from_slice(&index_bytes).unwrap();
    let mut expected: std::collections::BTreeMap<String, String> = index
        .files
        .iter()
        .map(|e| (e.path.clone(), e.sha256.to_string()))
        .collect();
    expected.insert(INDEX.into(), sha256_hex(&index_bytes));
    assert!(expected.len() > 4, "a real bundle has many files");

    let trust = Arc::new(PermittingTrust::default());
    let raw_root = format!("s3://{raw}/security-scans");
    let golden_root = format!("s3://{golden}/security-scans");
    let golden_prefix = format!("security-scans/{test_id}/golden/");

    // Promotion fails at the index, the last object copied; copies still in flight are abandoned.
    let failing = moto_clients_with(
        &endpoint,
        FailAfter {
            matches: is_copy_to,
            target: format!("/{golden}/{golden_prefix}{INDEX}"),
            allowed: 0,
            seen: AtomicUsize::new(0),
        },
    );
    let broken = UploadGate::new(
        trust.clone(),
        Arc::new(S3Publisher::new(&failing, &raw_root, &golden_root).unwrap()),
        None,
    );
    let job = broken
        .request_upload(&f.services, &test_id, Tier::Basic)
        .await
        .unwrap();
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    assert_eq!(job.upload_permission_id.as_deref(), Some("perm-7f3a"));
    let last = serde_json::to_value(job.upload_audit.last().unwrap()).unwrap();
    assert_eq!(last["step"], "publish");
    let reason = last["error"].as_str().unwrap();
    assert!(
        reason.starts_with("publication failed: ")
            && reason.contains(&format!("to s3://{golden}/")),
        "{reason}"
    );
    let partial = listing(&clients, &golden, "").await;
    assert!(
        !partial.is_empty() && partial.len() < expected.len(),
        "golden is incomplete: {partial:?}"
    );
    assert!(!partial.contains_key(&format!("{golden_prefix}{INDEX}")));
    assert_eq!(trust.calls.load(Ordering::SeqCst), 1);

    // The re-run with the real publisher finishes the job without a second Trust call.
    let gate = UploadGate::new(
        trust.clone(),
        Arc::new(S3Publisher::new(&clients, &raw_root, &golden_root).unwrap()),
        None,
    );
    let job = gate
        .request_upload(&f.services, &test_id, Tier::Basic)
        .await
        .unwrap();
    assert_eq!(
        job.upload_status,
        UploadStatus::Uploaded,
        "{:?}",
        job.upload_audit
    );
    assert_eq!(
        trust.calls.load(Ordering::SeqCst),
        1,
        "no second Trust call"
    );
    assert_eq!(job.remote_artifacts.golden.len(), expected.len());
    let published = listing(&clients, &golden, "").await;
    assert_eq!(
        published.keys().cloned().collect::<Vec<_>>(),
        expected
            .keys()
            .map(|rel| format!("{golden_prefix}{rel}"))
            .collect::<Vec<_>>(),
        "every golden object exactly once"
    );
    for (rel, sha256) in &expected {
        let bytes = get(&clients, &golden, &format!("{golden_prefix}{rel}")).await;
        assert_eq!(&sha256_hex(&bytes), sha256, "{rel}");
    }
    let raw_listing = listing(&clients, &raw, "").await;
    assert_eq!(raw_listing.len(), expected.len());

    // A third request changes nothing.
    let again = gate
        .request_upload(&f.services, &test_id, Tier::Basic)
        .await
        .unwrap();
    assert_eq!(again.upload_status, UploadStatus::Uploaded);
    assert_eq!(again.upload_audit, job.upload_audit);
    assert_eq!(trust.calls.load(Ordering::SeqCst), 1);
    assert_eq!(listing(&clients, &golden, "").await, published);
    assert_eq!(listing(&clients, &raw, "").await, raw_listing);
}
