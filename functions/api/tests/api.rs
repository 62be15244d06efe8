//! The api function's router fed API Gateway HTTP API (payload 2.0) events through `lambda_http`, with its
//! stores on moto's DynamoDB and its launcher on moto's Step Functions. Needs `CERTUS_MOTO_ENDPOINT` (see
//! `shared/aws/tests/start-moto.sh`); without it the tests say they are skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;

use certus_api::{hash_key, ApiKeys, AuthConfig, GatewayPolicy};
use certus_core::job::JobStatus;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Deployment {
    router: axum::Router,
    sfn: aws_sdk_sfn::Client,
    scan_machine: String,
    jobs: std::sync::Arc<dyn certus_core::ports::JobStore>,
    key: String,
    s3: certus_aws::AwsClients,
    bucket: String,
}

fn unique(tag: &str) -> String {
    certus_testkit::unique_name(&format!("api-{tag}"))
}

async fn deploy() -> Option<Deployment> {
    let endpoint = certus_testkit::moto_endpoint()?;
    let config = certus_testkit::emulator_sdk_config(&endpoint);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let sfn = aws_sdk_sfn::Client::new(&config);
    let names = certus_dynamo::TableNames::new(unique("jobs"), unique("events"));
    certus_dynamo::create_tables(&dynamodb, &names)
        .await
        .unwrap();
    let scan_machine = sfn
        .create_state_machine()
        .name(unique("scan"))
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/certus-test")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let s3 = certus_aws::AwsClients::from_sdk_config(&config);
    let bucket = unique("work").to_ascii_lowercase().replace('_', "-");
    s3.s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let settings = api::Settings::from_vars(&|name| {
        let value = match name {
            "CERTUS_ASSURANCE_SCAN_STATE_MACHINE_ARN" => scan_machine.clone(),
            "CERTUS_ASSURANCE_UPLOAD_STATE_MACHINE_ARN" => scan_machine.clone(),
            "CERTUS_ASSURANCE_JOBS_TABLE" => names.jobs.clone(),
            "CERTUS_ASSURANCE_EVENTS_TABLE" => names.events.clone(),
            "CERTUS_ASSURANCE_AUDIT_TABLE" => names.audit.clone(),
            "CERTUS_ASSURANCE_STREAM_BASE" => "wss://ws.example.invalid/live".into(),
            "CERTUS_ASSURANCE_WORK_BUCKET" => format!("s3://{bucket}/bundles"),
            "CERTUS_ASSURANCE_GIT_SECRETS_PREFIX" => "certus-assurance/git/".into(),
            _ => return None,
        };
        Some(value)
    })
    .unwrap();
    let key = unique("key");
    let keys = json!([{"key_sha256": hash_key(&key), "tenant": "acme", "workspaces": ["ws-acme"]}]);
    let auth = AuthConfig::with_gateway(
        ApiKeys::from_json(&keys.to_string()).unwrap(),
        None,
        Some(GatewayPolicy::new(ISSUER, "certus")),
    )
    .unwrap();
    let stores = certus_apigw::edge::stores(&dynamodb, &settings.tables());
    let jobs = stores.jobs.clone();
    let archives = api::archives(&s3, &settings).unwrap();
    let router = api::app(auth, stores, &sfn, &settings, None, archives).unwrap();
    Some(Deployment {
        router,
        sfn,
        scan_machine,
        jobs,
        key,
        s3,
        bucket,
    })
}

/// An HTTP API event from a fixture, edited, turned into a request by `lambda_http`, served by the router.
async fn call(
    deployment: &Deployment,
    fixture: &str,
    edit: impl FnOnce(&mut Value),
) -> (u16, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let mut event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut event);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = deployment.router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn set_path(event: &mut Value, path: &str) {
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
}

#[tokio::test]
async fn health_answers_without_credentials() {
    let Some(d) = deploy().await else { return };
    let (status, body) = call(&d, "http-get.json", |_| {}).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn the_console_answers_without_credentials_naming_only_the_websocket_apis_origin() {
    let Some(d) = deploy().await else { return };
    for (path, content_type, marker) in [
        ("/", "text/html", "<script src=\"/console/app.js\""),
        ("/console/app.js", "text/javascript", "\"subscribe\""),
        ("/console/app.css", "text/css", "{"),
        ("/openapi.yaml", "application/yaml", "openapi: 3.1"),
    ] {
        let mut event: Value = serde_json::from_slice(
            &std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/http-get.json"),
            )
            .unwrap(),
        )
        .unwrap();
        set_path(&mut event, path);
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = d.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert!(header("content-type").starts_with(content_type), "{path}");
        let policy = header("content-security-policy");
        assert!(
            policy.contains("connect-src 'self' wss://ws.example.invalid; "),
            "{path}: {policy}"
        );
        // The HTTP API's own host (the request's Host) is no WebSocket on AWS.
        assert!(!policy.contains("abcdef1234"), "{path}: {policy}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            String::from_utf8_lossy(&body).contains(marker),
            "{path} lacks {marker}"
        );
    }
}

#[tokio::test]
async fn routes_need_credentials() {
    let Some(d) = deploy().await else { return };
    let (status, body) = call(&d, "http-submit.json", |_| {}).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = call(&d, "http-get.json", |e| {
        set_path(e, "/v1/security-scans/test_ffffffffffff");
    })
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(&d, "http-submit.json", |e| {
        e["headers"]["x-api-key"] = json!("not-a-key");
    })
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn submit_records_the_job_and_starts_its_execution() {
    let Some(d) = deploy().await else { return };
    let key = d.key.clone();
    let (status, body) = call(&d, "http-submit.json", |e| {
        e["headers"]["x-api-key"] = json!(key);
    })
    .await;
    assert_eq!(status, 202, "{body}");
    let test_id = body["test_id"].as_str().unwrap().to_string();
    assert_eq!(body["status"], "QUEUED");
    assert_eq!(
        body["stream_url"], "wss://ws.example.invalid/live",
        "a WebSocket API stage URL is the stream URL itself (clients send subscribe there)"
    );
    let job = d.jobs.get(&test_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);

    let executions = d
        .sfn
        .list_executions()
        .state_machine_arn(&d.scan_machine)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = executions.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, vec![test_id.as_str()]);
    let described = d
        .sfn
        .describe_execution()
        .execution_arn(executions.executions()[0].execution_arn())
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input, json!({"test_id": test_id}));

    let key = d.key.clone();
    let (status, record) = call(&d, "http-get.json", |e| {
        set_path(e, &format!("/v1/security-scans/{test_id}"));
        e["headers"]["x-api-key"] = json!(key);
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(record["test_id"], test_id);
}

/// Issue 17: a `secretsmanager:` git_credentials_ref is accepted only for a secret under the deployment's
/// prefix; any other name is refused at submission, naming the field, and no execution starts.
#[tokio::test]
async fn a_secrets_manager_reference_outside_the_prefix_is_refused_at_submission() {
    let Some(d) = deploy().await else { return };
    let submit = |reference: &'static str| {
        let key = d.key.clone();
        call(&d, "http-submit.json", move |e| {
            e["headers"]["x-api-key"] = json!(key);
            let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            body["git_credentials_ref"] = json!(reference);
            e["body"] = json!(body.to_string());
        })
    };
    for reference in [
        "secretsmanager:other-app/db-password",
        "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-app/key-AbCdEf",
    ] {
        let (status, body) = submit(reference).await;
        assert_eq!(status, 422, "{reference}: {body}");
        assert_eq!(body["detail"][0]["field"], "git_credentials_ref", "{body}");
        assert!(
            body.to_string()
                .contains("only secrets named under 'certus-assurance/git/'"),
            "{body}"
        );
    }
    let executions = d
        .sfn
        .list_executions()
        .state_machine_arn(&d.scan_machine)
        .send()
        .await
        .unwrap();
    assert!(
        executions.executions().is_empty(),
        "a refused submission started a scan"
    );
    let (status, body) = submit("secretsmanager:certus-assurance/git/acme").await;
    assert_eq!(status, 202, "{body}");
}

/// `POST /v1/security-scans/{id}/cancel` on AWS: the job's scan execution is stopped (ABORTED) and the job
/// ends CANCELLED; a second cancel is a conflict.
#[tokio::test]
async fn cancel_stops_the_scan_execution_and_ends_the_job_cancelled() {
    let Some(d) = deploy().await else {
        eprintln!("skipped: CERTUS_MOTO_ENDPOINT is not set");
        return;
    };
    let key = d.key.clone();
    let (status, body) = call(&d, "http-submit.json", |e| {
        e["headers"]["x-api-key"] = json!(key);
    })
    .await;
    assert_eq!(status, 202, "{body}");
    let test_id = body["test_id"].as_str().unwrap().to_string();
    let execution = d
        .sfn
        .list_executions()
        .state_machine_arn(&d.scan_machine)
        .send()
        .await
        .unwrap()
        .executions()
        .iter()
        .find(|e| e.name() == test_id)
        .map(|e| e.execution_arn().to_string())
        .expect("the scan's execution");
    let execution_status = || async {
        d.sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap()
            .status()
            .as_str()
            .to_string()
    };
    assert_eq!(execution_status().await, "RUNNING");

    let cancel = |key: String| {
        let path = format!("/v1/security-scans/{test_id}/cancel");
        move |e: &mut Value| {
            set_path(e, &path);
            e["requestContext"]["http"]["method"] = json!("POST");
            e["headers"]["x-api-key"] = json!(key);
        }
    };
    let (status, body) = call(&d, "http-get.json", cancel(d.key.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(execution_status().await, "ABORTED");
    let job = d.jobs.get(&test_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert!(
        job.errors
            .iter()
            .any(|e| e.contains("cancelled by tenant acme")),
        "{:?}",
        job.errors
    );

    let (status, body) = call(&d, "http-get.json", cancel(d.key.clone())).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn status_of_an_unknown_job_is_404() {
    let Some(d) = deploy().await else { return };
    let key = d.key.clone();
    let (status, body) = call(&d, "http-get.json", |e| {
        set_path(e, "/v1/security-scans/test_ffffffffffff");
        e["headers"]["x-api-key"] = json!(key);
    })
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["detail"], "job 'test_ffffffffffff' not found");
}

/// The environment infra/template.yaml gives `name` (written from the translated template by
/// infra/tests/translated.py, checked current by infra/tests/test_template.py).
fn template_environment(name: &str) -> std::collections::HashMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../infra/tests/fixtures/function-environments.json");
    let mut all: std::collections::HashMap<String, std::collections::HashMap<String, String>> =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    all.remove(name).unwrap()
}

/// Serves one object of the work bucket; anything else is missing.
struct OneObject(&'static str, &'static str);

#[async_trait::async_trait]
impl certus_core::ports::ManifestFetcher for OneObject {
    async fn fetch(&self, uri: &str, _max: usize) -> certus_core::Result<Vec<u8>> {
        if uri == self.0 {
            Ok(self.1.as_bytes().to_vec())
        } else {
            Err(certus_core::CoreError::Manifest(format!(
                "{uri}: NoSuchKey"
            )))
        }
    }
}

const CODECOMMIT_REGISTRATION: &str = "[[registrations]]\nid = \"infra\"\nprovider = \"codecommit\"\n\
    repository = \"infra\"\nclone_url = \"https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/infra\"\n\
    branches = [\"main\"]\nmanifest_path = \"certus.json\"\nworkspace_id = \"ws-ops\"\n\
    component_id = \"infra\"\nassessment_id = \"push\"\n";

#[tokio::test]
async fn the_template_environment_starts_the_function_with_or_without_registrations() {
    let env = template_environment("api");
    let var = |name: &str| env.get(name).cloned();
    let settings = api::Settings::from_vars(&var).unwrap();
    certus_apigw::auth_behind_jwt_authorizer(&var).unwrap();
    assert_eq!(
        settings.triggers, None,
        "the default deploys no registrations"
    );
    let uri = "s3://certus-assurance-workbucket-x1y2z3/config/triggers.toml";
    let fetcher = OneObject(uri, CODECOMMIT_REGISTRATION);
    assert!(api::triggers_or_none(&settings, &fetcher).await.is_none());
    assert_eq!(
        certus_core::pipeline::stream_url(&settings.stream_base, "test_0123456789ab"),
        env["CERTUS_ASSURANCE_STREAM_BASE"],
        "jobs advertise the WebSocket API's own URL"
    );
    assert!(settings.stream_base.starts_with("wss://") && settings.stream_base.ends_with("/live"));

    // Configured: read from the work bucket; configured but not uploaded: the function still starts.
    let mut configured = env.clone();
    configured.insert("CERTUS_ASSURANCE_TRIGGERS_URI".into(), uri.into());
    let settings = api::Settings::from_vars(&|name| configured.get(name).cloned()).unwrap();
    let triggers = api::triggers_or_none(&settings, &fetcher).await.unwrap();
    assert_eq!(triggers.registrations().len(), 1);
    let missing = OneObject(
        "s3://elsewhere/config/triggers.toml",
        CODECOMMIT_REGISTRATION,
    );
    assert!(api::triggers_or_none(&settings, &missing).await.is_none());
    let error = certus_apigw::edge::load_triggers(settings.triggers.as_ref().unwrap(), &missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("{uri}: NoSuchKey")), "{error}");
}

#[test]
fn settings_name_what_is_missing() {
    let error = api::Settings::from_vars(&|_| None).unwrap_err().to_string();
    assert!(
        error.contains("CERTUS_ASSURANCE_SCAN_STATE_MACHINE_ARN is not set"),
        "{error}"
    );
}

const ISSUER: &str = "https://idp.example.invalid";

/// What API Gateway's JWT authorizer puts in the event after verifying a token.
fn authorized(event: &mut Value, workspaces: &str) {
    authorized_as(event, "acme", workspaces);
}

/// The same for the tenant `sub` (the default tenant claim).
fn authorized_as(event: &mut Value, sub: &str, workspaces: &str) {
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": {
        "iss": ISSUER, "aud": "[certus]", "sub": sub, "certus_workspaces": workspaces,
    }, "scopes": null}});
}

#[tokio::test]
async fn another_tenants_claims_for_the_same_workspace_see_nothing_of_the_job() {
    let Some(d) = deploy().await else { return };
    let (status, body) = call(&d, "http-submit.json", |e| authorized(e, "[ws-acme]")).await;
    assert_eq!(status, 202, "{body}");
    let test_id = body["test_id"].as_str().unwrap().to_string();
    let stored = d.jobs.get(&test_id).await.unwrap().unwrap();
    assert_eq!(
        stored.tenant.as_deref(),
        Some("acme"),
        "the tenant comes from the claims"
    );
    for suffix in ["", "/audit", "/upload-request"] {
        let ask = |id: &str| {
            let path = format!("/v1/security-scans/{id}{suffix}");
            move |e: &mut Value| {
                authorized_as(e, "initech", "[ws-acme]");
                set_path(e, &path);
                if suffix == "/upload-request" {
                    e["requestContext"]["http"]["method"] = json!("POST");
                }
            }
        };
        let (status, foreign) = call(&d, "http-get.json", ask(&test_id)).await;
        assert_eq!(status, 404, "{suffix}: {foreign}");
        let (_, unknown) = call(&d, "http-get.json", ask("test_ffffffffffff")).await;
        assert_eq!(
            foreign.to_string().replace(&test_id, "<id>"),
            unknown.to_string().replace("test_ffffffffffff", "<id>"),
            "{suffix}: the same answer as an unknown id"
        );
    }
    let (status, page) = call(&d, "http-get.json", |e| {
        authorized_as(e, "initech", "[ws-acme]");
        set_path(e, "/v1/security-scans");
        e["rawQueryString"] = json!("workspace_id=ws-acme");
        e["queryStringParameters"] = json!({"workspace_id": "ws-acme"});
    })
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|job| job["test_id"] != json!(test_id)),
        "{page}"
    );
}

#[tokio::test]
async fn claims_verified_by_the_jwt_authorizer_authenticate_within_their_workspaces() {
    let Some(d) = deploy().await else { return };
    let (status, body) = call(&d, "http-submit.json", |e| authorized(e, "[ws-acme]")).await;
    assert_eq!(status, 202, "{body}");
    let test_id = body["test_id"].as_str().unwrap().to_string();
    let (status, _) = call(&d, "http-get.json", |e| {
        authorized(e, "[ws-acme]");
        set_path(e, &format!("/v1/security-scans/{test_id}"));
    })
    .await;
    assert_eq!(status, 200);
    // The same tenant's token for other workspaces neither sees the job nor submits to ws-acme.
    let (status, _) = call(&d, "http-get.json", |e| {
        authorized(e, "[ws-other]");
        set_path(e, &format!("/v1/security-scans/{test_id}"));
    })
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(&d, "http-submit.json", |e| authorized(e, "[ws-other]")).await;
    assert_eq!(status, 403);
    // Claims of another issuer are refused even though the gateway passed them.
    let (status, _) = call(&d, "http-submit.json", |e| {
        authorized(e, "[ws-acme]");
        e["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] = json!("https://evil.invalid");
    })
    .await;
    assert_eq!(status, 401);
}

/// A multipart form with one file part, as a browser or curl sends it.
fn multipart(file_name: &str, content: &[u8]) -> String {
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    body.push_str(std::str::from_utf8(content).unwrap());
    body.push_str("\r\n--XyZ--\r\n");
    body
}

fn upload(tenant: &'static str, body: String) -> impl FnOnce(&mut Value) {
    move |e: &mut Value| {
        authorized_as(e, tenant, "[ws-acme]");
        set_path(e, "/v1/security-scans/upload-archive");
        e["headers"]["content-type"] = json!("multipart/form-data; boundary=XyZ");
        e["body"] = json!(body);
    }
}

fn submit_archive(tenant: &'static str, archive_path: String) -> impl FnOnce(&mut Value) {
    move |e: &mut Value| {
        authorized_as(e, tenant, "[ws-acme]");
        e["body"] = json!(json!({
            "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
            "source_type": "archive", "archive_path": archive_path,
            "manifest": {"product": "demo", "version": "1",
                         "profiles": [{"name": "light", "tools": ["sample"]}]},
        })
        .to_string());
    }
}

#[tokio::test]
async fn an_uploaded_archive_goes_to_the_work_bucket_and_only_its_tenant_may_scan_it() {
    let Some(d) = deploy().await else { return };
    // A ustar header is enough for the type check; it is ASCII and NULs, so the event body stays text.
    let mut tar = vec![0u8; 1024];
    tar[..5].copy_from_slice(b"a.txt");
    tar[257..262].copy_from_slice(b"ustar");
    let (status, up) = call(
        &d,
        "http-submit.json",
        upload("acme", multipart("../x/app.tar", &tar)),
    )
    .await;
    assert_eq!(status, 201, "{up}");
    let archive_path = up["archive_path"].as_str().unwrap().to_string();
    let root = format!("s3://{}/", d.bucket);
    let key = archive_path
        .strip_prefix(&root)
        .unwrap_or_else(|| panic!("{archive_path}"));
    assert!(
        key.starts_with("uploads/") && key.ends_with("/app.tar"),
        "{key}"
    );
    assert_eq!(up["size"], 1024);
    let stored =
        d.s3.s3()
            .get_object()
            .bucket(&d.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    assert_eq!(stored.content_type(), Some("application/x-tar"));
    let bytes = stored.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.as_ref(), tar.as_slice());

    // The content type is still checked: a .tar that is not one is refused, and nothing is stored.
    let (status, refused) = call(
        &d,
        "http-submit.json",
        upload("acme", multipart("b.tar", b"plain text")),
    )
    .await;
    assert_eq!(status, 415, "{refused}");
    let listed =
        d.s3.s3()
            .list_objects_v2()
            .bucket(&d.bucket)
            .prefix("uploads/")
            .send()
            .await
            .unwrap();
    assert_eq!(listed.contents().len(), 1);

    let (status, accepted) = call(
        &d,
        "http-submit.json",
        submit_archive("acme", archive_path.clone()),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let job = d
        .jobs
        .get(accepted["test_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.archive_path.as_deref(), Some(archive_path.as_str()));

    // Another tenant naming it gets the answer a missing upload gets.
    let (status, foreign) = call(
        &d,
        "http-submit.json",
        submit_archive("initech", archive_path.clone()),
    )
    .await;
    assert_eq!(status, 422, "{foreign}");
    let missing = archive_path.replace("/app.tar", "/gone.tar");
    let (status, absent) = call(&d, "http-submit.json", submit_archive("acme", missing)).await;
    assert_eq!(status, 422, "{absent}");
    assert_eq!(foreign, absent);
    assert!(foreign.to_string().contains("archive_path"), "{foreign}");
}

#[tokio::test]
async fn findings_of_a_stored_bundle_are_not_read_in_this_function() {
    let Some(d) = deploy().await else { return };
    let (status, body) = call(&d, "http-submit.json", |e| authorized(e, "[ws-acme]")).await;
    assert_eq!(status, 202, "{body}");
    let test_id = body["test_id"].as_str().unwrap().to_string();
    let findings = |e: &mut Value| {
        authorized(e, "[ws-acme]");
        set_path(e, &format!("/v1/security-scans/{test_id}/findings"));
    };

    // No bundle yet: nothing to read, an empty list.
    let (status, body) = call(&d, "http-get.json", findings).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bundle"], json!(false), "{body}");

    // A stored bundle: this function reads none (the scan state machine stores them); the cause is logged,
    // not shown.
    let mut job = d.jobs.get(&test_id).await.unwrap().unwrap();
    job.bundle_location = Some(format!("s3://{}/bundles/{test_id}", d.bucket));
    d.jobs.save(&job).await.unwrap();
    let (status, body) = call(&d, "http-get.json", findings).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["detail"], "internal server error", "{body}");
}
