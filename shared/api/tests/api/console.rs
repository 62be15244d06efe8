//! The web console's side of the API: its assets under a strict Content-Security-Policy, who the caller is
//! (`/v1/session`), the audit filters of the scans list, a finished scan's findings and re-verified evidence, the auditor's readable refusal, and
//! the documented 426 for a plain GET on the stream.

use serde_json::Value;

use crate::support::{start, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_is_served_with_a_policy_that_allows_only_this_origin() {
    let s = start(Options::default()).await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let response = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self';"), "{policy}");
        assert!(
            policy.contains(&format!("connect-src 'self' ws://{}", s.addr)),
            "{policy}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let page = s
        .http
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<script src="/console/app.js" defer></script>"#));
    let script = s
        .http
        .get(s.url("/console/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Data from the API reaches the page as text only.
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(forbidden), "app.js uses {forbidden}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_session_names_the_tenant_its_workspaces_and_the_auditor_role() {
    let s = start(Options::default()).await;
    let client: Value = s
        .get_as(&s.multi.key, "/v1/session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(client["tenant"], "acme");
    assert_eq!(
        client["workspaces"],
        serde_json::json!(["ws-acme", "ws-other"])
    );
    assert_eq!(client["role"], "client");
    let all: Value = s
        .get_as(&s.ops.key, "/v1/session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["workspaces"], serde_json::json!(["*"]));
    let auditor: Value = s
        .get_as(&s.auditor.key, "/v1/session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(auditor["role"], "auditor");
    assert_eq!(s.get_as("wrong", "/v1/session").await.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_scan_shows_its_findings_and_verified_evidence_to_its_tenant_only() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    s.wait_terminal(&test_id).await;
    let findings: Value = s
        .get_as(
            &s.auditor.key,
            &format!("/v1/security-scans/{test_id}/findings"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(findings["bundle"], true);
    let list = findings["findings"].as_array().unwrap();
    assert!(!list.is_empty(), "{findings}");
    let rank = |f: &Value| {
        ["critical", "high", "medium", "low"]
            .iter()
            .position(|s| f["severity"] == *s)
            .unwrap()
    };
    assert!(
        list.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "most severe first"
    );
    assert!(list
        .iter()
        .all(|f| f["tool"] == "sample" && f["rule_id"].is_string()));

    let path = format!("/v1/security-scans/{test_id}/evidence");
    let evidence: Value = s.get_as(&s.acme.key, &path).await.json().await.unwrap();
    assert_eq!(evidence["passed"], true, "{evidence}");
    let checks = evidence["checks"].as_array().unwrap();
    let verdict_of = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["verdict"].clone())
    };
    assert_eq!(verdict_of("index"), Some("pass".into()), "{evidence}");
    assert_eq!(verdict_of("signature"), Some("pass".into()), "{evidence}");
    assert!(evidence["verdict"].is_string());

    // Tampering with the stored bundle turns the same route's answer into a failure naming the file.
    let bundle = s.on_disk(evidence["bundle_location"].as_str().unwrap());
    std::fs::write(bundle.join("report.md"), "tampered\n").unwrap();
    let evidence: Value = s.get_as(&s.acme.key, &path).await.json().await.unwrap();
    assert_eq!(evidence["passed"], false);
    assert!(evidence.to_string().contains("report.md"), "{evidence}");

    for route in ["findings", "evidence"] {
        let other = s
            .get_as(
                &s.globex.key,
                &format!("/v1/security-scans/{test_id}/{route}"),
            )
            .await;
        assert_eq!(other.status(), 404, "{route}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_auditors_refusal_reads_as_one_and_a_plain_get_on_the_stream_is_426() {
    let s = start(Options::default()).await;
    let refused = s
        .submit_as(&s.auditor.key, &s.body("ws-acme", "sample"))
        .await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "this key belongs to an auditor and may only read (jobs, findings, trails): \
         POST /v1/security-scans is refused"
    );

    let test_id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let plain = s
        .http
        .get(s.url(&format!("/v1/security-scans/{test_id}/stream")))
        .bearer_auth(&s.acme.key)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 426);
    assert_eq!(plain.headers()["upgrade"], "websocket");
    let body: Value = plain.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("WebSocket"),
        "{body}"
    );
    s.wait_terminal(&test_id).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_list_filters_by_manifest_digest_commit_and_repository_as_the_audit_command_does() {
    let s = start(Options::default()).await;
    let first = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let mut other = s.body("ws-acme", "sample");
    other["manifest"]["version"] = serde_json::json!("2");
    let response = s.submit_as(&s.acme.key, &other).await;
    assert_eq!(response.status(), 202);
    let second: Value = response.json().await.unwrap();
    s.wait_terminal(&first).await;
    let second_job = s.wait_terminal(second["test_id"].as_str().unwrap()).await;
    let digest = second_job.manifest_digest.expect("a manifest digest");
    let ids = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["test_id"].as_str().unwrap().to_string())
            .collect()
    };
    let page: Value = s
        .get_as(
            &s.acme.key,
            &format!(
                "/v1/security-scans?manifest_digest={}",
                digest.to_string().to_uppercase()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(page),
        vec![second["test_id"].as_str().unwrap().to_string()]
    );
    // Directory sources have no repository and no commit.
    for query in [
        "repository=https%3A%2F%2Fgit.example.invalid%2Fdemo.git",
        "commit=0123456789abcdef0123456789abcdef01234567",
    ] {
        let page: Value = s
            .get_as(&s.acme.key, &format!("/v1/security-scans?{query}"))
            .await
            .json()
            .await
            .unwrap();
        assert!(ids(page).is_empty(), "{query}");
    }
    let refused = s
        .get_as(
            &s.acme.key,
            "/v1/security-scans?commit=81325cb&manifest_digest=zz",
        )
        .await;
    assert_eq!(refused.status(), 422);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("commit") && body.contains("manifest_digest"),
        "{body}"
    );
    s.stop().await;
}
