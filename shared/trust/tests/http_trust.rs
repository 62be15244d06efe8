//! The upload gate over HTTP against a real Trust server started here on 127.0.0.1:0, on a real finished
//! job: permits publish every bundle file exactly once; every other outcome publishes nothing and records
//! why; retries are bounded; TLS is verified.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use certus_core::job::UploadStatus;
use certus_core::upload::UploadGate;
use certus_trust::{HttpTrustClient, HttpTrustConfig};
use common::*;

fn gate(fx: &Fixture, client: HttpTrustClient) -> UploadGate {
    UploadGate::new(Arc::new(client), Arc::new(fx.publisher()), None)
}

fn mtimes(dir: &std::path::Path) -> BTreeMap<std::path::PathBuf, SystemTime> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, modified)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_publishes_every_file_and_asking_again_publishes_nothing() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::Permit, &fx);
    let base = serve(script.clone()).await;
    let gate = gate(&fx, http_client(&base, fast_retry(4)));

    let job = fx.request_upload(&gate).await;
    assert_published(&fx, &job);
    assert_eq!(script.hits(), 1);
    let requests = script.requests();
    assert_request_contract(&fx, &requests[0]);
    assert_eq!(
        script.authorizations.lock().unwrap()[0].as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let permission = job.upload_permission_id.clone().unwrap();
    assert!(permission.starts_with("perm_"), "{permission}");
    let proof = serde_json::to_value(job.verification_proof.clone().unwrap()).unwrap();
    assert_eq!(proof["inner_signature_valid"], true);
    assert_eq!(
        proof["chain_unbroken"], true,
        "checked against the stored bundle"
    );
    let exchange = last_exchange(&job);
    assert_eq!(exchange["attempts"][0]["outcome"], "http 200");
    assert!(exchange["error"].is_null());
    let record = serde_json::to_string(&job).unwrap();
    assert!(!record.contains(TOKEN), "the token is never recorded");
    let raw_sidecar: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            fx.data_dir()
                .join("raw/security-scans")
                .join(&job.test_id)
                .join(certus_trust::RAW_SIDECAR),
        )
        .unwrap(),
    )
    .unwrap();
    let scan = &raw_sidecar["objects"]["scan.json"];
    assert_eq!(scan["test_id"], job.test_id.as_str());
    assert_eq!(scan["workspace_id"], "ws-1");
    assert_eq!(scan["component_id"], "demo");
    assert_eq!(scan["assessment_id"], "a-1");
    assert_eq!(
        scan["manifest_digest"],
        job.manifest_digest.unwrap().prefixed()
    );
    assert_eq!(
        scan["sha256"],
        format!("sha256:{}", digest_of(&fx.bundle_dir().join("scan.json")))
    );

    let before = (mtimes(&raw_dir(&fx)), mtimes(&golden_dir(&fx)));
    let again = fx.request_upload(&gate).await;
    assert_eq!(again.upload_status, UploadStatus::Uploaded);
    assert_eq!(
        again.upload_permission_id.as_deref(),
        Some(permission.as_str())
    );
    assert_eq!(script.hits(), 1, "no second Trust call");
    assert_eq!(
        (mtimes(&raw_dir(&fx)), mtimes(&golden_dir(&fx))),
        before,
        "nothing rewritten"
    );
    assert_published(&fx, &again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_publishes_nothing_and_keeps_the_reason() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::DenyInvalidSigner, &fx);
    let base = serve(script.clone()).await;
    let gate = gate(&fx, http_client(&base, fast_retry(4)));

    let job = fx.request_upload(&gate).await;
    assert_eq!(job.upload_status, UploadStatus::Denied);
    assert_eq!(script.hits(), 1);
    assert_nothing_published(&fx);
    let exchange = last_exchange(&job);
    assert_eq!(exchange["answer"]["reason"], "invalid_signer");
    assert_eq!(exchange["answer"]["permitted"], false);
    assert!(job.upload_permission_id.is_none());
    assert_request_contract(&fx, &script.requests()[0]);

    // A new request asks again (the denial is not permanent) and both exchanges stay in the record.
    let again = fx.request_upload(&gate).await;
    assert_eq!(again.upload_status, UploadStatus::Denied);
    assert_eq!(
        script.hits(),
        2,
        "a denied job is asked about again on a new request"
    );
    let exchanges = again
        .upload_audit
        .iter()
        .filter(|step| step.exchange().is_some())
        .count();
    assert_eq!(exchanges, 2, "{:#?}", again.upload_audit);
    assert_nothing_published(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_retried_then_the_permit_is_used() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::FailThenPermit(1), &fx);
    let base = serve(script.clone()).await;
    let gate = gate(&fx, http_client(&base, fast_retry(4)));

    let job = fx.request_upload(&gate).await;
    assert_published(&fx, &job);
    assert_eq!(script.hits(), 2);
    let outcomes: Vec<String> = last_exchange(&job)["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, vec!["http 500", "http 200"]);
    let requests = script.requests();
    assert_eq!(requests[0], requests[1], "the same request is retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_always_fails_gets_bounded_attempts_and_nothing_is_published() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::AlwaysFail, &fx);
    let base = serve(script.clone()).await;
    let gate = gate(&fx, http_client(&base, fast_retry(3)));

    let job = fx.request_upload(&gate).await;
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    assert_eq!(script.hits(), 3, "exactly the allowed attempts");
    assert_nothing_published(&fx);
    let exchange = last_exchange(&job);
    assert!(exchange["answer"].is_null());
    assert_eq!(exchange["attempts"].as_array().unwrap().len(), 3);
    let error = exchange["error"].as_str().unwrap();
    assert!(error.contains("after 3 attempts"), "{error}");
    assert!(error.contains("http 500"), "{error}");
    assert!(job.upload_permission_id.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_times_out_and_fails_closed() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::Slow(3_000), &fx);
    let base = serve(script.clone()).await;
    let mut config = HttpTrustConfig::new(&base);
    config.request_timeout = Duration::from_millis(300);
    config.retry = fast_retry(2);
    let gate = gate(&fx, HttpTrustClient::new(&config).unwrap());

    let started = Instant::now();
    let job = fx.request_upload(&gate).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timeouts are enforced"
    );
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    assert_eq!(script.hits(), 2);
    let exchange = last_exchange(&job);
    let outcomes: Vec<&str> = exchange["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| o.starts_with("timeout: ")),
        "{outcomes:?}"
    );
    assert!(exchange["error"]
        .as_str()
        .unwrap()
        .contains("did not answer within 300 ms"));
    // The slow server would have permitted: even so nothing may appear later.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert_nothing_published(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_answers_and_refusals_are_final_and_never_a_permit() {
    let cases = [
        (Behaviour::MalformedJson, "not a Trust answer"),
        (Behaviour::MissingPermitted, "missing field `permitted`"),
        (Behaviour::WrongScanId, "not test_"),
        (Behaviour::Forbidden, "refused the request (http 403)"),
    ];
    for (behaviour, expected) in cases {
        let fx = finished_job().await;
        let script = Script::new(behaviour, &fx);
        let base = serve(script.clone()).await;
        let gate = gate(&fx, http_client(&base, fast_retry(4)));

        let job = fx.request_upload(&gate).await;
        assert_eq!(
            job.upload_status,
            UploadStatus::UploadFailed,
            "{behaviour:?}"
        );
        assert_eq!(script.hits(), 1, "{behaviour:?}: not retried");
        assert_nothing_published(&fx);
        let exchange = last_exchange(&job);
        assert!(exchange["answer"].is_null(), "{behaviour:?}");
        let error = exchange["error"].as_str().unwrap();
        assert!(error.contains(expected), "{behaviour:?}: {error}");
        assert!(job.upload_permission_id.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiting_is_honoured_then_the_permit_is_used() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::RateLimited(1), &fx);
    let base = serve(script.clone()).await;
    let gate = gate(&fx, http_client(&base, fast_retry(4)));

    let started = Instant::now();
    let job = fx.request_upload(&gate).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_published(&fx, &job);
    assert_eq!(script.hits(), 2);
    let attempts = last_exchange(&job)["attempts"].clone();
    assert_eq!(attempts[0]["outcome"], "http 429");
    assert_eq!(attempts[1]["outcome"], "http 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_an_unknown_ca_fails_closed_and_with_the_ca_passes() {
    let fx = finished_job().await;
    let pki = test_pki();
    let script = Script::new(Behaviour::Permit, &fx);
    let base = serve_tls(script.clone(), pki.server_config.clone()).await;

    let mut config = HttpTrustConfig::new(&base);
    config.retry = fast_retry(3);
    let without_ca = gate(&fx, HttpTrustClient::new(&config).unwrap());
    let job = fx.request_upload(&without_ca).await;
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    assert_eq!(
        script.hits(),
        0,
        "no request crosses an unverified connection"
    );
    assert_nothing_published(&fx);
    let exchange = last_exchange(&job);
    assert_eq!(
        exchange["attempts"].as_array().unwrap().len(),
        1,
        "a certificate failure is final"
    );
    let outcome = exchange["attempts"][0]["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("tls verification failed: ") && outcome.contains("UnknownIssuer"),
        "{outcome}"
    );
    let error = exchange["error"].as_str().unwrap();
    assert!(error.contains("could not be verified"), "{error}");

    config.extra_ca_pem = Some(pki.ca_pem.clone());
    let with_ca = gate(&fx, HttpTrustClient::new(&config).unwrap());
    let job = fx.request_upload(&with_ca).await;
    assert_published(&fx, &job);
    assert_eq!(script.hits(), 1);
    assert_request_contract(&fx, &script.requests()[0]);
}

/// A gate whose first publication fails with raw complete and golden partly promoted.
fn failing_midway(fx: &Fixture, base: &str) -> UploadGate {
    let publisher = FailOnceMidway {
        inner: fx.publisher(),
        golden_dir: golden_dir(fx),
        blocked: "scan.json".into(),
        calls: AtomicUsize::new(0),
    };
    UploadGate::new(
        Arc::new(http_client(base, fast_retry(4))),
        Arc::new(publisher),
        None,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_failing_midway_is_completed_by_a_rerun_without_duplicates() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::Permit, &fx);
    let base = serve(script.clone()).await;
    let gate = failing_midway(&fx, &base);

    let job = fx.request_upload(&gate).await;
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    let failure = serde_json::to_value(job.upload_audit.last().unwrap()).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(failure.contains("not a regular file"), "{failure}");
    let raw_before = mtimes(&raw_dir(&fx));
    assert_eq!(
        raw_before.len(),
        fx.bundle_names().len(),
        "raw was complete"
    );
    let golden_before = mtimes(&golden_dir(&fx));
    assert!(!golden_before.is_empty(), "golden was partly promoted");
    assert!(golden_before.len() < fx.bundle_names().len());
    assert!(
        !fx.data_dir()
            .join("golden/security-scans")
            .join(&job.test_id)
            .join(certus_trust::GOLDEN_SIDECAR)
            .exists(),
        "golden metadata only for a complete set"
    );

    let job = fx.request_upload(&gate).await;
    assert_published(&fx, &job);
    assert_eq!(
        mtimes(&raw_dir(&fx)),
        raw_before,
        "raw objects not rewritten"
    );
    let golden_after = mtimes(&golden_dir(&fx));
    for (path, modified) in &golden_before {
        assert_eq!(golden_after.get(path), Some(modified), "{path:?} rewritten");
    }
}

/// A re-run after a failed publication keeps the permission already given instead of asking Trust again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_a_failed_publication_keeps_the_permission() {
    let fx = finished_job().await;
    let script = Script::new(Behaviour::Permit, &fx);
    let base = serve(script.clone()).await;
    let gate = failing_midway(&fx, &base);

    let failed = fx.request_upload(&gate).await;
    assert_eq!(failed.upload_status, UploadStatus::UploadFailed);
    let permission = failed.upload_permission_id.clone().unwrap();
    let job = fx.request_upload(&gate).await;
    assert_published(&fx, &job);
    assert_eq!(script.hits(), 1, "no second Trust call");
    assert_eq!(
        job.upload_permission_id.as_deref(),
        Some(permission.as_str()),
        "permission kept"
    );
}
