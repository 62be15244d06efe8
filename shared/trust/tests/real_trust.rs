//! Certus-Assurance against the real Certus-Trust (`../shared/data/certus-trust`, started on loopback by
//! `common::real`): `basic` uploads of a git scan and of a directory scan are permitted and published raw →
//! golden; `verified` is granted to the configured identity and denied `invalid_signer` to another, with
//! nothing published; a stopped service fails closed. And the contract test: the same request bodies to the
//! real service and to the dev server (`trust_dev_server`), the same decisions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use certus_core::job::{Job, UploadStatus};
use certus_core::trust::{Tier, TrustClient, TrustExchange, TrustRequest};
use certus_core::upload::UploadGate;
use certus_trust::{trust_dev_server, LocalTrustGate};
use common::real::{real_trust, RealTrust};
use common::*;
use serde_json::{json, Value};

fn gate(fx: &Fixture, trust: &RealTrust) -> UploadGate {
    UploadGate::new(
        Arc::new(http_client(&trust.base_url(), fast_retry(2))),
        Arc::new(fx.publisher()),
        None,
    )
}

async fn upload(fx: &Fixture, gate: &UploadGate, tier: Tier) -> Job {
    gate.request_upload(&fx.services, &fx.job.test_id, tier)
        .await
        .expect("request_upload")
}

/// The service's `storage_config.raw_s3_prefix`: the git URL with `/` made `-`, a slash, the commit's first
/// 8 characters.
fn service_prefix(git_url: &str, commit: &str) -> String {
    format!("{}/{}", git_url.replace('/', "-"), &commit[..8])
}

fn count(dir: &std::path::Path) -> usize {
    files_under(dir).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_uploads_of_a_git_and_a_directory_scan_are_permitted_and_published() {
    let Some(trust) = real_trust("raw") else {
        return;
    };
    for fx in [finished_job().await, finished_directory_job().await] {
        let job = upload(&fx, &gate(&fx, &trust), Tier::Basic).await;
        assert_published(&fx, &job);
        let exchange = last_exchange(&job);
        assert_eq!(exchange["attempts"][0]["outcome"], "http 202");
        let answer = &exchange["answer"];
        assert_eq!(answer["permitted"], true);
        assert_eq!(answer["tier"], "basic");
        assert_eq!(
            job.upload_permission_id.as_deref(),
            answer["upload_permission_id"].as_str()
        );
        assert_request_contract(
            &fx,
            &serde_json::from_value(exchange["request"].clone()).unwrap(),
        );
        // verification_proof and storage_config as the service gave them, kept in upload_audit.
        let proof = &answer["verification_proof"];
        assert_eq!(proof["signer_inner"], "certus-assurance@certus.cloud");
        assert_eq!(proof["signer_outer"], "certus-trust@certus.cloud");
        assert_eq!(
            &serde_json::to_value(&job.verification_proof).unwrap(),
            proof
        );
        let config = &answer["storage_config"];
        let request = &exchange["request"]["metadata"];
        let prefix = service_prefix(
            request["git_url"].as_str().unwrap(),
            request["commit"].as_str().unwrap(),
        );
        assert_eq!(
            (
                config["raw_s3_bucket"].as_str(),
                config["raw_s3_prefix"].as_str()
            ),
            (Some("raw"), Some(prefix.as_str()))
        );
        let note = job
            .upload_audit
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .find(|e| e["step"] == "storage_config")
            .expect("the storage_config decision is kept");
        assert_eq!(note["note"]["raw_s3_prefix"]["trust"], prefix.as_str());
        let (raw, golden) = (count(&raw_dir(&fx)), count(&golden_dir(&fx)));
        assert_eq!(
            (raw, golden),
            (fx.bundle_names().len(), fx.bundle_names().len())
        );
        println!(
            "{} scan {}: permitted {}, published raw {raw} objects, golden {golden} objects",
            fx.job.source_type, fx.job.test_id, answer["upload_permission_id"]
        );
        println!(
            "exchange: {}",
            serde_json::to_string_pretty(&exchange).unwrap()
        );
    }
    let log = trust.log();
    println!("Certus-Trust log:\n{log}");
    let permits = log
        .lines()
        .filter(|l| l.contains("Upload permitted, calling Transform to execute"))
        .count();
    assert_eq!(permits, 2, "{log}");
    assert!(
        log.contains("\"POST /v1/verify-and-permit-upload HTTP/1.1\" 202 Accepted"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_is_granted_to_the_configured_identity_and_denied_to_another() {
    let Some(trust) = real_trust("raw") else {
        return;
    };
    let fx = finished_job().await;
    let job = upload(&fx, &gate(&fx, &trust), Tier::Verified).await;
    assert_published(&fx, &job);
    assert_eq!(
        job.verification_proof.as_ref().unwrap().signer_inner,
        "certus-assurance@certus.cloud"
    );

    let fx = finished_job().await;
    let other = gate(&fx, &trust).with_signer_identity("assurance-dev@example.invalid");
    let job = upload(&fx, &other, Tier::Verified).await;
    assert_eq!(
        job.upload_status,
        UploadStatus::Denied,
        "{:#?}",
        job.upload_audit
    );
    let answer = &last_exchange(&job)["answer"];
    assert_eq!(answer["reason"], "invalid_signer");
    assert_eq!(
        answer["detail"],
        "Expected certus-assurance@certus.cloud, got assurance-dev@example.invalid"
    );
    assert!(job.upload_permission_id.is_none());
    assert_nothing_published(&fx);
    assert!(trust.log().contains("Upload denied: invalid_signer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_stopped_mid_way_fails_closed() {
    let Some(mut trust) = real_trust("raw") else {
        return;
    };
    let first = finished_job().await;
    let second = finished_job().await;
    let job = upload(&first, &gate(&first, &trust), Tier::Basic).await;
    assert_published(&first, &job);

    let second_gate = gate(&second, &trust);
    trust.stop();
    assert!(!trust.healthy());
    let job = upload(&second, &second_gate, Tier::Basic).await;
    assert_eq!(job.upload_status, UploadStatus::UploadFailed);
    assert!(job.upload_permission_id.is_none());
    let exchange = last_exchange(&job);
    assert!(exchange["answer"].is_null());
    assert_eq!(exchange["attempts"].as_array().unwrap().len(), 2, "bounded");
    let error = exchange["error"].as_str().unwrap();
    assert!(error.contains("could not be reached"), "{error}");
    assert_nothing_published(&second);
}

/// Keeps the request Assurance would send and answers nothing.
#[derive(Default)]
struct Capture(Mutex<Option<TrustRequest>>);

#[async_trait]
impl TrustClient for Capture {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        *self.0.lock().unwrap() = Some(request.clone());
        TrustExchange {
            request: request.clone(),
            answer: None,
            attempts: Vec::new(),
            error: Some("captured".into()),
        }
    }
}

/// What a decision comes to, for comparing two services: the status, and for 202 the decision and its
/// reason, detail and storage_config; for 422 each refused field's type and location (for a body that is not
/// JSON, where the parsers' error offsets differ, only `body`).
fn decision(status: u16, body: &Value) -> Value {
    match status {
        202 => json!({
            "status": 202,
            "permitted": body["permitted"],
            "reason": body["reason"],
            "detail": body["detail"],
            "storage_config": body["storage_config"],
        }),
        422 => json!({
            "status": 422,
            "refused": body["detail"]
                .as_array()
                .map(|items| items.iter().map(|i| match i["type"].as_str() {
                    Some("json_invalid") => json!(["json_invalid", ["body"]]),
                    _ => json!([i["type"], i["loc"]]),
                }).collect::<Vec<_>>()),
        }),
        other => json!({"status": other, "body": body}),
    }
}

async fn post(base: &str, body: &[u8]) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/verify-and-permit-upload"))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    decision(status, &body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_server_and_the_real_service_decide_alike() {
    let Some(trust) = real_trust("raw") else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fx = finished_job().await;
    let capture = Arc::new(Capture::default());
    let capturing = UploadGate::new(capture.clone(), Arc::new(fx.publisher()), None);
    capturing
        .request_upload(&fx.services, &fx.job.test_id, Tier::Basic)
        .await
        .unwrap();
    let genuine =
        serde_json::to_value(capture.0.lock().unwrap().clone().expect("a request")).unwrap();
    let dev = trust_dev_server(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(LocalTrustGate::new().check_bundles(fx.services.artifacts().unwrap().clone())),
        None,
    )
    .await
    .unwrap();

    let variant = |edit: &dyn Fn(&mut Value)| {
        let mut value = genuine.clone();
        edit(&mut value);
        value.to_string().into_bytes()
    };
    let fingerprint = genuine["inner_signature"]["key_fingerprint"].clone();
    let size = genuine["artifacts"][0]["size"].as_u64().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("genuine basic", variant(&|_| {})),
        (
            "genuine verified",
            variant(&|v| v["tier"] = json!("verified")),
        ),
        (
            "basic by another identity",
            variant(&|v| v["inner_signature"]["signer"] = json!("other@example.invalid")),
        ),
        (
            "verified by another identity",
            variant(&|v| {
                v["tier"] = json!("verified");
                v["inner_signature"]["signer"] = json!("other@example.invalid");
            }),
        ),
        (
            "verified signed by a key fingerprint (the old shape)",
            variant(&|v| {
                v["tier"] = json!("verified");
                v["inner_signature"]["signer"] = fingerprint.clone();
            }),
        ),
        ("no artifacts", variant(&|v| v["artifacts"] = json!([]))),
        (
            "the old wire shape",
            variant(&|v| {
                v["metadata"]["branch"] = Value::Null;
                v["storage_destinations"]["raw_s3"] =
                    json!("file:///raw/security-scans/x/incoming/");
                v["storage_destinations"]["oci_registry"] = Value::Null;
            }),
        ),
        (
            "a tier outside the pattern",
            variant(&|v| v["tier"] = json!("gold")),
        ),
        (
            "no metadata",
            variant(&|v| {
                v.as_object_mut().unwrap().remove("metadata");
            }),
        ),
        (
            "a size given as text",
            variant(&|v| v["artifacts"][0]["size"] = json!(format!(" {size} "))),
        ),
        (
            "a size that is not a number",
            variant(&|v| v["artifacts"][0]["size"] = json!("big")),
        ),
        (
            "destinations as words",
            variant(&|v| {
                v["storage_destinations"]["raw_s3"] = json!("yes");
                v["storage_destinations"]["oci_registry"] = json!(0);
            }),
        ),
        (
            "destinations the service cannot read",
            variant(&|v| {
                v["storage_destinations"]["raw_s3"] = json!(" true");
                v["storage_destinations"]["oci_registry"] = json!(2);
            }),
        ),
        (
            "no destinations (the service's defaults)",
            variant(&|v| {
                v.as_object_mut().unwrap().remove("storage_destinations");
            }),
        ),
        ("not an object", b"[]".to_vec()),
        ("not JSON", b"nope".to_vec()),
    ];
    let mut statuses = BTreeSet::new();
    for (name, body) in &cases {
        let real = post(&trust.base_url(), body).await;
        let ours = post(&dev.base_url(), body).await;
        assert_eq!(
            ours, real,
            "{name}: the dev server and Certus-Trust disagree"
        );
        println!("{name}: {}", serde_json::to_string(&real).unwrap());
        statuses.insert(real["status"].to_string());
    }
    assert_eq!(
        statuses,
        BTreeSet::from(["202".to_string(), "422".to_string()])
    );
    dev.shutdown().await.unwrap();
}
