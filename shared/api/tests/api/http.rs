//! The JSON routes: every status code, tenant scope on each route, and pagination.

use serde_json::{json, Value};

use crate::support::{start, Options, GATED};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_needs_no_auth_and_everything_else_does() {
    let s = start(Options::default()).await;
    let health = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");

    let cases = [
        s.http.get(s.url("/v1/security-scans")),
        s.http.get(s.url("/v1/security-scans/test_0123456789ab")),
        s.http
            .post(s.url("/v1/security-scans"))
            .json(&s.body("ws-acme", "sample")),
        s.http
            .post(s.url("/v1/security-scans/test_0123456789ab/upload-request")),
        s.http.post(s.url("/v1/security-scans/upload-archive")),
        s.http
            .get(s.url("/v1/security-scans"))
            .bearer_auth("not-a-key"),
        s.http
            .get(s.url("/v1/security-scans"))
            .header("x-api-key", "not-a-key"),
        s.http
            .get(s.url("/v1/security-scans"))
            .basic_auth("u", Some("p")),
    ];
    for request in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("Bearer"), "{challenge}");
        let detail = response.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(detail.starts_with("authentication required"), "{detail}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_runs_the_job_and_the_record_is_readable() {
    let s = start(Options::default()).await;
    let response = s.submit_as(&s.acme.key, &s.body("ws-acme", "sample")).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let test_id = body["test_id"].as_str().unwrap().to_string();
    assert!(certus_core::ids::parse_test_id(&test_id).is_ok());
    assert_eq!(body["workspace_id"], "ws-acme");
    assert_eq!(body["component_id"], "demo");
    assert_eq!(body["assessment_id"], "a-1");
    assert_eq!(body["status"], "QUEUED");
    assert_eq!(body["profile"], "light");
    assert_eq!(body["manifest_digest"], Value::Null);
    assert_eq!(
        body["stream_url"],
        format!("ws://{}/v1/security-scans/{test_id}/stream", s.addr)
    );

    let job = s.wait_terminal(&test_id).await;
    assert_eq!(job.status.as_str(), "SUCCEEDED", "{:?}", job.errors);
    let record: Value = s
        .get_as(&s.acme.key, &format!("/v1/security-scans/{test_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["status"], "SUCCEEDED");
    assert_eq!(record["source_type"], "directory");
    assert_eq!(record["upload_status"], "pending");
    assert!(record["manifest_digest"].as_str().unwrap().len() == 64);
    assert!(record["created_at"].as_str().unwrap().ends_with('Z'));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_submissions_are_refused_with_the_field_named() {
    let s = start(Options::default()).await;
    let mut missing = s.body("ws-acme", "sample");
    missing.as_object_mut().unwrap().remove("directory_path");
    let response = s.submit_as(&s.acme.key, &missing).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        json!([{"field": "directory_path",
                "message": "directory_path is required when source_type='directory'"}])
    );

    let mut unknown = s.body("ws-acme", "sample");
    unknown["workspace"] = json!("x");
    let response = s.submit_as(&s.acme.key, &unknown).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"][0]["field"], "body");
    assert!(body["detail"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `workspace`"));

    let response = s
        .http
        .post(s.url("/v1/security-scans"))
        .bearer_auth(&s.acme.key)
        .header("content-type", "application/json")
        .body(r#"{"workspace_id": "ws-acme", "#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let detail = response.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("the body is not valid JSON: EOF while parsing"),
        "{detail}"
    );

    let mut huge = s.body("ws-acme", "sample");
    huge["requested_by"] = json!("x".repeat(100 * 1024));
    let response = s.submit_as(&s.acme.key, &huge).await;
    assert_eq!(response.status(), 413);
    let detail = response.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        detail,
        "request body is larger than the limit of 65536 bytes"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_and_malformed_ids_answer_404() {
    let s = start(Options::default()).await;
    for id in [
        "test_0123456789ab",
        "test_XYZ",
        "..%2F..%2Fetc",
        "x".repeat(300).as_str(),
    ] {
        let response = s
            .get_as(&s.acme.key, &format!("/v1/security-scans/{id}"))
            .await;
        assert_eq!(response.status(), 404, "{id}");
        let detail = response.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            detail.starts_with("job '") && detail.ends_with("' not found"),
            "{detail}"
        );
        let response = s
            .http
            .post(s.url(&format!("/v1/security-scans/{id}/upload-request")))
            .bearer_auth(&s.acme.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{id}");
    }
    let response = s.get_as(&s.acme.key, "/v1/elsewhere").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "no route for GET /v1/elsewhere"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_request_answers_409_until_succeeded_then_501() {
    let s = start(Options::default()).await;
    let running = s.submit(&s.acme.key, "ws-acme", GATED).await;
    s.wait_status(&running, "RUNNING").await;
    let ask = |id: String| {
        s.http
            .post(s.url(&format!("/v1/security-scans/{id}/upload-request")))
            .bearer_auth(&s.acme.key)
            .send()
    };
    let response = ask(running.clone()).await.unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        format!("job '{running}' is RUNNING: an upload can be requested only for a SUCCEEDED job")
    );

    let mut failing = s.body("ws-acme", "sample");
    failing["manifest"] = json!({"product": "demo", "version": "1",
               "profiles": [{"name": "other", "tools": ["sample"], "thresholds": {}}]});
    let response = s.submit_as(&s.acme.key, &failing).await;
    let failed = response.json::<Value>().await.unwrap()["test_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.wait_terminal(&failed).await.status.as_str(), "FAILED");
    assert_eq!(ask(failed).await.unwrap().status(), 409);

    s.gate.add_permits(1);
    assert_eq!(s.wait_terminal(&running).await.status.as_str(), "SUCCEEDED");
    let response = ask(running).await.unwrap();
    assert_eq!(response.status(), 501);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "upload gating is not configured on this server"})
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_request_publishes_once_through_the_gate() {
    let s = start(Options {
        uploads: true,
        ..Options::default()
    })
    .await;
    let id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    assert_eq!(s.wait_terminal(&id).await.status.as_str(), "SUCCEEDED");
    // A tier sent without a content type is read, not dropped: `verified` for this unsigned manifest is
    // refused before Trust is asked, and nothing is published.
    let unverified = s
        .http
        .post(s.url(&format!("/v1/security-scans/{id}/upload-request")))
        .bearer_auth(&s.acme.key)
        .body(r#"{"tier":"verified"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unverified.status(), 409);
    let detail = unverified.json::<Value>().await.unwrap()["detail"].to_string();
    assert!(detail.contains("needs a verified manifest"), "{detail}");
    assert_eq!(s.wait_terminal(&id).await.upload_status.as_str(), "pending");
    let ask = || {
        s.http
            .post(s.url(&format!("/v1/security-scans/{id}/upload-request")))
            .bearer_auth(&s.acme.key)
            .json(&json!({"tier": "basic"}))
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(first.status(), 202);
    let body = first.json::<Value>().await.unwrap();
    assert_eq!(body["upload_status"], "uploaded", "{body}");
    let golden = body["remote_artifacts"]["golden"]
        .as_object()
        .unwrap()
        .clone();
    assert!(golden.contains_key("scan.json") && golden.contains_key("bundle-index.json"));
    let second = ask().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(
        second["upload_permission_id"], body["upload_permission_id"],
        "asked twice, permitted once"
    );
    let events: Vec<String> = s
        .history(&id)
        .await
        .iter()
        .map(|e| e.body.type_name().to_string())
        .collect();
    assert_eq!(
        events.iter().filter(|t| *t == "published").count(),
        1,
        "{events:?}"
    );
    let foreign = s
        .http
        .post(s.url(&format!("/v1/security-scans/{id}/upload-request")))
        .bearer_auth(&s.globex.key)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_never_reach_each_others_jobs() {
    let s = start(Options::default()).await;
    let acme_job = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let globex_job = s.submit(&s.globex.key, "ws-globex", "sample").await;
    s.wait_terminal(&acme_job).await;
    s.wait_terminal(&globex_job).await;

    // Submit for a workspace the key does not cover: 403.
    let response = s
        .submit_as(&s.globex.key, &s.body("ws-acme", "sample"))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "workspace 'ws-acme' is not one your credentials may use"
    );
    // Read and upload-request another tenant's job: 404, as if it did not exist.
    let response = s
        .get_as(&s.globex.key, &format!("/v1/security-scans/{acme_job}"))
        .await;
    assert_eq!(response.status(), 404);
    let response = s
        .http
        .post(s.url(&format!("/v1/security-scans/{acme_job}/upload-request")))
        .bearer_auth(&s.globex.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // List another tenant's workspace: 403; list without a filter: only one's own.
    let response = s
        .get_as(&s.globex.key, "/v1/security-scans?workspace_id=ws-acme")
        .await;
    assert_eq!(response.status(), 403);
    let page: Value = s
        .get_as(&s.globex.key, "/v1/security-scans")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["test_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![globex_job.as_str()]);
    // A key with several workspaces must name one; a "*" key sees every workspace of its own tenant.
    let response = s.get_as(&s.multi.key, "/v1/security-scans").await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"][0]["field"],
        "workspace_id"
    );
    let page: Value = s
        .get_as(&s.multi.key, "/v1/security-scans?workspace_id=ws-acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["test_id"], acme_job.as_str());
    let page: Value = s
        .get_as(&s.ops.key, "/v1/security-scans")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["test_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![acme_job.as_str()]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_list_filters_are_422() {
    let s = start(Options::default()).await;
    for (query, field) in [
        ("status=DONE", "status"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-01", "created_before"),
        ("page_token=zz", "page_token"),
        ("colour=red", "query"),
    ] {
        let response = s
            .get_as(&s.acme.key, &format!("/v1/security-scans?{query}"))
            .await;
        assert_eq!(response.status(), 422, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["detail"][0]["field"], field, "{query}: {body}");
    }
    let ok = s
        .get_as(
            &s.acme.key,
            "/v1/security-scans?status=succeeded&created_after=2020-01-01T00:00:00Z&limit=5",
        )
        .await;
    assert_eq!(ok.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_stay_stable_while_jobs_are_added() {
    let s = start(Options::default()).await;
    let mut originals = Vec::new();
    for _ in 0..7 {
        originals.push(s.submit(&s.acme.key, "ws-acme", "sample").await);
    }
    originals.reverse(); // newest first
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let query = match &token {
            Some(t) => format!("/v1/security-scans?limit=3&page_token={t}"),
            None => "/v1/security-scans?limit=3".to_string(),
        };
        let page: Value = s.get_as(&s.acme.key, &query).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["test_id"].as_str().unwrap().to_string()),
        );
        // New jobs arrive between pages: they must not shift or repeat what follows.
        s.submit(&s.acme.key, "ws-acme", "sample").await;
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, originals);
    let filtered: Value = s
        .get_as(&s.acme.key, "/v1/security-scans?component_id=other")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered, json!({"items": [], "next_page_token": null}));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disabled_auth_lets_everyone_use_every_workspace() {
    let s = start(Options {
        auth_disabled: true,
        ..Options::default()
    })
    .await;
    let response = s
        .http
        .post(s.url("/v1/security-scans"))
        .json(&s.body("any-ws", "sample"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let listed = s
        .http
        .get(s.url("/v1/security-scans"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_paths_outside_the_allowed_roots_are_refused() {
    let s = start(Options::default()).await;
    let outside = s.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("m.json"),
        r#"{"profiles": [{"name": "light"}]}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, s.source.join("link-out")).unwrap();
    let field_of = |body: Value| body["detail"][0]["field"].as_str().unwrap().to_string();

    for directory in [outside.clone(), s.source.join("link-out"), "/etc".into()] {
        let mut body = s.body("ws-acme", "sample");
        body["directory_path"] = json!(directory.display().to_string());
        let response = s.submit_as(&s.acme.key, &body).await;
        assert_eq!(response.status(), 422, "{}", directory.display());
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["detail"],
            json!([{"field": "directory_path",
                    "message": "is not under a directory this server lets callers scan"}])
        );
    }
    let body = json!({
        "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
        "source_type": "archive", "archive_path": "/etc/passwd",
        "manifest": {"profiles": [{"name": "light"}]},
    });
    let response = s.submit_as(&s.acme.key, &body).await;
    assert_eq!(response.status(), 422);
    assert_eq!(field_of(response.json().await.unwrap()), "archive_path");

    let mut body = s.body("ws-acme", "sample");
    let fields = body.as_object_mut().unwrap();
    fields.remove("manifest");
    fields.insert(
        "manifest_uri".into(),
        json!(format!("file://{}", outside.join("m.json").display())),
    );
    fields.insert(
        "manifest_signature_uri".into(),
        json!("file:///etc/hostname"),
    );
    let response = s.submit_as(&s.acme.key, &body).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let fields: Vec<&str> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["manifest_uri", "manifest_signature_uri"]);
    s.stop().await;
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_in_git_url_is_refused_and_stored_nowhere() {
    let s = start(Options::default()).await;
    // A fake token made here; the repository is on loopback (nothing is fetched: the request is refused).
    let token = format!("ghp_Planted{}x{}", std::process::id(), "0123456789abcdef");
    let body = json!({
        "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
        "git_url": format!("http://x-access-token:{token}@127.0.0.1:9/app.git"),
        "manifest": {"product": "demo", "version": "1", "profiles": [{"name": "light", "tools": ["sample"]}]},
    });
    let response = s.submit_as(&s.acme.key, &body).await;
    assert_eq!(response.status(), 422);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["detail"][0]["field"], "git_url");
    assert!(
        !answer.to_string().contains(&token),
        "the answer echoes the token"
    );
    // Nothing the server wrote (database and its journal, bundles, uploads) holds the token.
    let listed: Value = s
        .get_as(&s.acme.key, "/v1/security-scans")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
    for file in files_under(s.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{} holds the token",
            file.display()
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_git_credentials_ref_is_validated_naming_the_field_and_recorded_as_a_reference() {
    let s = start(Options::default()).await;
    let body = |reference: &str| {
        json!({
            "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
            "git_url": "https://127.0.0.1:9/app.git", "git_credentials_ref": reference,
            "manifest": {"product": "demo", "version": "1", "profiles": [{"name": "light", "tools": ["sample"]}]},
        })
    };
    for reference in [
        "env:AWS_SECRET_ACCESS_KEY",
        "env:CERTUS_ASSURANCE_TRUST_TOKEN",
        "file:../../etc/passwd",
        "file:sub/token",
        "secretsmanager:arn:aws:secretsmanager:eu-west-1:000000000000:secret:x",
        "ghp_PastedInsteadOfAReference0123",
    ] {
        let response = s.submit_as(&s.acme.key, &body(reference)).await;
        assert_eq!(response.status(), 422, "{reference}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["detail"][0]["field"], "git_credentials_ref",
            "{reference}: {answer}"
        );
        assert!(!answer.to_string().contains("ghp_Pasted"), "{answer}");
    }
    let listed: Value = s
        .get_as(&s.acme.key, "/v1/security-scans")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"],
        json!([]),
        "a refused submission left a job"
    );

    // A valid reference is accepted and the job records it (a name, not a secret).
    let reference = "env:CERTUS_ASSURANCE_GIT_CREDENTIAL_ACME";
    let response = s.submit_as(&s.acme.key, &body(reference)).await;
    assert_eq!(response.status(), 202);
    let test_id = response.json::<Value>().await.unwrap()["test_id"]
        .as_str()
        .unwrap()
        .to_string();
    let job: Value = s
        .get_as(&s.acme.key, &format!("/v1/security-scans/{test_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(job.to_string().contains(reference), "{job}");
    s.stop().await;
}
