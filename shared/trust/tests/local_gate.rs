//! The in-process Trust gate on real requests for a real finished job: it permits a genuine request (and
//! the bundle is published), and denies each kind of forgery with the contract's reason. Also the dev
//! server: the same gate over HTTP, with a bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use certus_core::bundle::BundleIndex;
use certus_core::job::UploadStatus;
use certus_core::ports::{ArtifactStore, BundleSigner};
use certus_core::trust::{TrustClient, TrustExchange, TrustRequest};
use certus_core::upload::UploadGate;
use certus_core::CoreError;
use certus_trust::{
    signed_artifact_bytes, trust_dev_server, HttpTrustClient, HttpTrustConfig, LocalTrustGate,
    TrustError,
};
use common::*;

/// Keeps the request and denies it, so nothing is published while the test gets a genuine request.
#[derive(Default)]
struct Capture {
    request: Mutex<Option<TrustRequest>>,
}

#[async_trait]
impl TrustClient for Capture {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        *self.request.lock().unwrap() = Some(request.clone());
        TrustExchange {
            request: request.clone(),
            answer: None,
            attempts: Vec::new(),
            error: Some("captured".into()),
        }
    }
}

async fn genuine_request(fx: &Fixture) -> TrustRequest {
    let capture = Arc::new(Capture::default());
    let gate = UploadGate::new(capture.clone(), Arc::new(fx.publisher()), None);
    fx.request_upload(&gate).await;
    let request = capture.request.lock().unwrap().clone().unwrap();
    assert_request_contract(fx, &request);
    request
}

/// Signs the request's artifacts again with `signer`, as Assurance would.
async fn resign(request: &mut TrustRequest, signer: &dyn BundleSigner) {
    let signature = signer
        .sign(&signed_artifact_bytes(&request.artifacts).unwrap())
        .await
        .unwrap();
    request.inner_signature.signature = base64::engine::general_purpose::STANDARD.encode(signature);
}

async fn denial(gate: &LocalTrustGate, request: &TrustRequest) -> (String, String) {
    let answer = gate.evaluate(request).await.unwrap();
    assert!(!answer.permitted, "{answer:?}");
    assert!(answer.upload_permission_id.is_none());
    (answer.reason.unwrap(), answer.detail.unwrap())
}

fn checking_gate(fx: &Fixture) -> LocalTrustGate {
    LocalTrustGate::new().check_bundles(fx.services.artifacts().unwrap().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_gate_permits_a_genuine_request_and_the_bundle_is_published() {
    let fx = finished_job().await;
    let key = format!("sha256:{}", fx.services.signer().unwrap().key_id());
    let gate = LocalTrustGate::new()
        .pin_keys([key.clone()])
        .unwrap()
        .check_bundles(fx.services.artifacts().unwrap().clone());
    let upload = UploadGate::new(Arc::new(gate), Arc::new(fx.publisher()), None);

    let job = fx.request_upload(&upload).await;
    assert_published(&fx, &job);
    let proof = serde_json::to_value(job.verification_proof.clone().unwrap()).unwrap();
    assert_eq!(proof["chain_verified"], true);
    assert_eq!(proof["chain_unbroken"], true);
    assert_eq!(proof["inner_signature_valid"], true);
    assert_eq!(proof["outer_signature_valid"], false);
    assert_eq!(proof["signer_inner"], "certus-assurance@certus.cloud");
    assert_eq!(proof["key_fingerprint"], key.as_str());
    assert!(proof["verification_timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let exchange = last_exchange(&job);
    assert_eq!(exchange["attempts"][0]["outcome"], "local gate: http 202");
    let config = &exchange["answer"]["storage_config"];
    assert_eq!(config["raw_s3_bucket"], "raw");
    assert_eq!(config["upload_to_s3"], true);
    assert_eq!(config["upload_to_oci"], false);
    let note = job
        .upload_audit
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .find(|e| e["step"] == "storage_config")
        .expect("the storage_config decision is kept");
    assert_eq!(note["note"]["raw_s3_bucket"], "raw");
    assert_eq!(note["note"]["raw_s3_prefix"]["followed"], false);
    assert_request_contract(
        &fx,
        &serde_json::from_value(exchange["request"].clone()).unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_are_denied_with_the_contract_reason() {
    let fx = finished_job().await;
    let genuine = genuine_request(&fx).await;
    let gate = checking_gate(&fx);
    let signer = fx.services.signer().unwrap().as_ref();
    assert!(gate.evaluate(&genuine).await.unwrap().permitted);

    let mut r = genuine.clone();
    let mut sig = base64::engine::general_purpose::STANDARD
        .decode(&r.inner_signature.signature)
        .unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    r.inner_signature.signature = base64::engine::general_purpose::STANDARD.encode(sig);
    assert_eq!(denial(&gate, &r).await.0, "invalid_signature");

    let mut r = genuine.clone();
    r.inner_signature.signature = "not base64!".into();
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(
        (reason.as_str(), detail.as_str()),
        (
            "invalid_signature",
            "inner signature is not standard base64"
        )
    );

    let mut r = genuine.clone();
    r.artifacts[0].size += 1;
    assert_eq!(
        denial(&gate, &r).await.0,
        "invalid_signature",
        "the signature covers sizes"
    );

    let mut r = genuine.clone();
    r.artifacts[0].size += 1;
    resign(&mut r, signer).await;
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "digest_mismatch");
    assert!(detail.contains(&r.artifacts[0].name), "{detail}");

    let mut r = genuine.clone();
    let dropped = r.artifacts.remove(1);
    resign(&mut r, signer).await;
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "digest_mismatch");
    assert_eq!(
        detail,
        format!("bundle file {} is not declared", dropped.name)
    );

    let mut r = genuine.clone();
    let mut extra = r.artifacts[0].clone();
    extra.name = "reports/extra.json".into();
    r.artifacts.push(extra);
    resign(&mut r, signer).await;
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "digest_mismatch");
    assert!(
        detail.contains("reports/extra.json is not a file of the stored bundle"),
        "{detail}"
    );

    let mut r = genuine.clone();
    r.artifacts[0].hash = format!("sha256:{}", r.artifacts[0].hash);
    resign(&mut r, signer).await;
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "malformed_request");
    assert!(detail.contains("64 lowercase hex"), "{detail}");

    let mut r = genuine.clone();
    r.artifacts[0].hash = r.artifacts[0]
        .hash
        .to_uppercase()
        .replace("SHA256:", "sha256:");
    resign(&mut r, signer).await;
    assert_eq!(denial(&gate, &r).await.0, "malformed_request");

    let mut r = genuine.clone();
    r.artifacts[0].name = "../escape.json".into();
    resign(&mut r, signer).await;
    assert_eq!(denial(&gate, &r).await.0, "malformed_request");

    let mut r = genuine.clone();
    let duplicate = r.artifacts[0].clone();
    r.artifacts.push(duplicate);
    resign(&mut r, signer).await;
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "malformed_request");
    assert!(detail.contains("declared twice"), "{detail}");

    let mut r = genuine.clone();
    r.scan_id = "../test_x".into();
    assert_eq!(denial(&gate, &r).await.0, "malformed_request");

    let mut r = genuine.clone();
    r.scan_id = "test_000000000000".into();
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "digest_mismatch");
    assert!(detail.contains("no bundle index"), "{detail}");

    let mut r = genuine.clone();
    r.inner_signature.key_fingerprint = format!("sha256:{}", "0".repeat(64));
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(reason, "invalid_signer");
    assert!(
        detail.contains("not the fingerprint of the declared key"),
        "{detail}"
    );

    let mut r = genuine.clone();
    r.inner_signature.certificate =
        Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into());
    assert_eq!(denial(&gate, &r).await.0, "invalid_signer");

    let mut r = genuine.clone();
    r.inner_signature.certificate = None;
    assert_eq!(denial(&gate, &r).await.0, "invalid_signer");

    // The service's rules: `verified` only for the Assurance identity; nothing declared is `no_artifacts`.
    let mut r = genuine.clone();
    r.inner_signature.signer = "someone@example.invalid".into();
    let (reason, detail) = denial(&gate, &r).await;
    assert_eq!(
        (reason.as_str(), detail.as_str()),
        (
            "invalid_signer",
            "Expected certus-assurance@certus.cloud, got someone@example.invalid"
        )
    );
    r.tier = certus_core::trust::Tier::Basic;
    assert!(
        gate.evaluate(&r).await.unwrap().permitted,
        "basic: any signer"
    );
    r.artifacts.clear();
    resign(&mut r, signer).await;
    assert_eq!(denial(&gate, &r).await.0, "no_artifacts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_keys_decide_whose_signature_counts() {
    let fx = finished_job().await;
    let genuine = genuine_request(&fx).await;

    // Another key signs the same artifacts: self-consistent, so unpinned it passes, pinned it does not.
    let other = certus_core::attestation::LocalSigner::load_or_generate(
        &fx.dir.path().join("keys/other.pem"),
    )
    .unwrap();
    let mut forged = genuine.clone();
    forged.inner_signature.certificate = Some(other.public_key_pem());
    forged.inner_signature.key_fingerprint = format!("sha256:{}", other.key_id());
    resign(&mut forged, &other).await;
    let unpinned = checking_gate(&fx).evaluate(&forged).await.unwrap();
    assert!(unpinned.permitted);
    assert_eq!(
        serde_json::to_value(unpinned.verification_proof.unwrap()).unwrap()["chain_verified"],
        false
    );

    let ours = format!("sha256:{}", fx.services.signer().unwrap().key_id());
    let pinned = checking_gate(&fx).pin_keys([ours]).unwrap();
    let (reason, detail) = denial(&pinned, &forged).await;
    assert_eq!(reason, "invalid_signer");
    assert!(detail.contains("not one of the pinned keys"), "{detail}");
    assert!(pinned.evaluate(&genuine).await.unwrap().permitted);

    let err = LocalTrustGate::new()
        .pin_keys(["sha256:sha256:abc"])
        .err()
        .unwrap();
    assert!(matches!(err, TrustError::PinnedKey(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bundle_store_the_proof_says_digests_were_not_checked() {
    let fx = finished_job().await;
    let genuine = genuine_request(&fx).await;
    let answer = LocalTrustGate::new().evaluate(&genuine).await.unwrap();
    assert!(answer.permitted);
    let proof = serde_json::to_value(answer.verification_proof.unwrap()).unwrap();
    assert_eq!(proof["chain_unbroken"], false);
    assert_eq!(proof["artifacts_checked_against_bundle"], false);
}

struct BrokenStore;

#[async_trait]
impl ArtifactStore for BrokenStore {
    fn location(&self, test_id: &str) -> String {
        format!("/nonexistent/{test_id}")
    }

    async fn store_bundle(
        &self,
        _test_id: &str,
        _bundle_dir: &Path,
        _index: &BundleIndex,
    ) -> Result<String, CoreError> {
        Err(CoreError::Storage("disk on fire".into()))
    }

    async fn read_file(
        &self,
        _location: &str,
        _rel: &str,
        _max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, CoreError> {
        Err(CoreError::Storage("disk on fire".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_that_cannot_read_the_bundle_fails_closed_without_a_final_denial() {
    let fx = finished_job().await;
    let genuine = genuine_request(&fx).await;
    let gate = LocalTrustGate::new().check_bundles(Arc::new(BrokenStore));
    let exchange = gate.verify_and_permit(&genuine).await;
    assert!(!exchange.permitted());
    assert!(exchange.answer.is_none(), "not a denial: it may be retried");
    assert!(exchange.error.unwrap().contains("disk on fire"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_server_answers_over_http_and_requires_its_token() {
    let fx = finished_job().await;
    let gate = Arc::new(checking_gate(&fx));
    let server = trust_dev_server("127.0.0.1:0".parse().unwrap(), gate, Some(TOKEN.into()))
        .await
        .unwrap();
    assert_ne!(server.addr().port(), 0);
    // A plain reqwest client (no preconfigured TLS) needs a process-wide rustls provider.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let raw = reqwest::Client::new()
        .post(format!("{}/v1/verify-and-permit-upload", server.base_url()))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.status().as_u16(),
        422,
        "as the service: its model refuses"
    );
    let body: serde_json::Value = serde_json::from_slice(&raw.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body["detail"][0]["loc"],
        serde_json::json!(["body", "scan_id"])
    );
    assert_eq!(body["detail"][0]["type"], "missing");

    let no_token = HttpTrustClient::new(&HttpTrustConfig::new(server.base_url())).unwrap();
    let job = fx
        .request_upload(&UploadGate::new(
            Arc::new(no_token),
            Arc::new(fx.publisher()),
            None,
        ))
        .await;
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    let exchange = last_exchange(&job);
    assert_eq!(
        exchange["attempts"].as_array().unwrap().len(),
        1,
        "401 is final"
    );
    assert!(exchange["error"].as_str().unwrap().contains("http 401"));
    assert_nothing_published(&fx);

    let client = http_client(&server.base_url(), fast_retry(2));
    let job = fx
        .request_upload(&UploadGate::new(
            Arc::new(client),
            Arc::new(fx.publisher()),
            None,
        ))
        .await;
    assert_published(&fx, &job);
    assert_eq!(
        serde_json::to_value(job.verification_proof.unwrap()).unwrap()["chain_unbroken"],
        true
    );

    let base = server.base_url();
    server.shutdown().await.unwrap();
    assert!(reqwest::Client::new()
        .post(format!("{base}/v1/verify-and-permit-upload"))
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_whose_storage_config_disagrees_is_refused_and_asking_again_is_possible() {
    let fx = finished_job().await;
    let elsewhere = UploadGate::new(
        Arc::new(checking_gate(&fx).raw_bucket("elsewhere")),
        Arc::new(fx.publisher()),
        None,
    );
    let job = fx.request_upload(&elsewhere).await;
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    assert!(job.upload_permission_id.is_none(), "the permit is not used");
    assert_eq!(last_exchange(&job)["answer"]["permitted"], true);
    let refused = job
        .upload_audit
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .find(|e| e["step"] == "storage_config")
        .and_then(|e| e["refused"].as_str().map(str::to_string))
        .expect("the refusal is kept");
    assert!(refused.contains("raw_s3_bucket \"elsewhere\""), "{refused}");
    assert_nothing_published(&fx);

    // Once Trust names the bucket Assurance publishes to, a new request is asked and published.
    let aligned = UploadGate::new(Arc::new(checking_gate(&fx)), Arc::new(fx.publisher()), None);
    let job = fx.request_upload(&aligned).await;
    assert_published(&fx, &job);
    let asked = job
        .upload_audit
        .iter()
        .filter(|e| e.exchange().is_some())
        .count();
    assert_eq!(asked, 2);
}
