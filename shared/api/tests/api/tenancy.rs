//! Tenant binding (the red-team's V5): a job belongs to the tenant that submitted it, not only to a workspace
//! id. A key of another tenant whose workspaces include the same id gets, on every route, exactly the answer
//! an unknown id gets; records written before tenants were recorded are shown to nobody.

use certus_core::job::Job;
use certus_core::ports::JobStore;
use certus_core::request::SubmitRequest;
use certus_core::time;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{start, Options, Server};

/// Status and body of a route for `key`, with the job id in the body replaced by `<id>`.
async fn answer(s: &Server, method: &str, path: &str, test_id: &str, key: &str) -> (u16, Value) {
    let url = s.url(&path.replace("{id}", test_id));
    let request = match method {
        "GET" => s.http.get(url),
        _ => s.http.post(url).json(&json!({"tier": "basic"})),
    };
    let response = request.bearer_auth(key).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap().replace(test_id, "<id>");
    (status, serde_json::from_str(&text).unwrap())
}

/// What a watcher of `test_id` receives: the number of events, and the close code.
async fn watch(s: &Server, test_id: &str, key: &str) -> (usize, Option<u16>) {
    let mut request = s.ws_url(test_id).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut events = 0;
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Text(_) => events += 1,
            Message::Close(frame) => return (events, frame.map(|f| u16::from(f.code))),
            _ => {}
        }
    }
    (events, None)
}

const ROUTES: [(&str, &str); 3] = [
    ("GET", "/v1/security-scans/{id}"),
    ("GET", "/v1/security-scans/{id}/audit"),
    ("POST", "/v1/security-scans/{id}/upload-request"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenant_with_the_same_workspace_id_sees_nothing_of_the_job() {
    let s = start(Options {
        uploads: true,
        ..Options::default()
    })
    .await;
    let acme_job = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let done = s.wait_terminal(&acme_job).await;
    assert_eq!(
        done.tenant.as_deref(),
        Some("acme"),
        "the tenant is recorded"
    );
    let unknown = "test_0123456789ab";
    for (method, path) in ROUTES {
        let foreign = answer(&s, method, path, &acme_job, &s.initech.key).await;
        let missing = answer(&s, method, path, unknown, &s.initech.key).await;
        assert_eq!(foreign.0, 404, "{method} {path}");
        assert_eq!(
            foreign, missing,
            "{method} {path}: same answer as an unknown id"
        );
    }
    assert_eq!(watch(&s, &acme_job, &s.initech.key).await, (0, Some(4404)));
    assert_eq!(watch(&s, unknown, &s.initech.key).await, (0, Some(4404)));
    // The listing of the shared workspace id holds none of acme's jobs.
    let page: Value = s
        .get_as(&s.initech.key, "/v1/security-scans?workspace_id=ws-acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    // initech's refused upload request left nothing behind: acme's own request is still answered.
    let record = s.wait_terminal(&acme_job).await;
    assert_eq!(record.upload_status.as_str(), "pending");
    let (status, body) = answer(
        &s,
        "POST",
        "/v1/security-scans/{id}/upload-request",
        &acme_job,
        &s.acme.key,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["upload_status"], "uploaded");
    // acme's own keys (another credential of the tenant) still read it.
    let (status, _) = answer(
        &s,
        "GET",
        "/v1/security-scans/{id}",
        &acme_job,
        &s.multi.key,
    )
    .await;
    assert_eq!(status, 200);
    let (events, code) = watch(&s, &acme_job, &s.auditor.key).await;
    assert!(events > 0);
    assert_eq!(code, Some(1000));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_without_a_tenant_are_shown_to_no_one() {
    let code = tempfile::tempdir().unwrap();
    std::fs::write(code.path().join("app.py"), "print(1)\n").unwrap();
    let request: SubmitRequest = serde_json::from_value(json!({
        "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
        "source_type": "directory", "directory_path": code.path().display().to_string(),
        "manifest": {"product": "demo", "version": "1", "profiles": [{"name": "light", "tools": ["sample"]}]},
    }))
    .unwrap();
    let mut legacy = Job::queued(
        "test_0000000000aa".into(),
        request.validate().unwrap(),
        "ws://127.0.0.1:1/v1/security-scans/test_0000000000aa/stream".into(),
        time::now(),
    );
    legacy.start(time::now()).unwrap();
    legacy.runner = Some(format!("pid:{}", std::process::id()));
    // Stored as before tenants were recorded: the JSON has no `tenant` at all.
    assert!(serde_json::to_value(&legacy)
        .unwrap()
        .get("tenant")
        .is_none());
    let s = start(Options {
        seed: vec![legacy],
        ..Options::default()
    })
    .await;
    for key in [&s.acme.key, &s.ops.key, &s.initech.key] {
        for (method, path) in ROUTES {
            let (status, _) = answer(&s, method, path, "test_0000000000aa", key).await;
            assert_eq!(status, 404, "{method} {path}");
        }
    }
    let page: Value = s
        .get_as(&s.ops.key, "/v1/security-scans")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    // The record itself still reads (compatible format) for the server's own tools.
    let stored = s.store.get("test_0000000000aa").await.unwrap().unwrap();
    assert_eq!(stored.tenant, None);
    s.stop().await;
}
