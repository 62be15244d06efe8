//! The auditors' route over real HTTP: a scan's record and its trail as the audited store wrote them, and
//! the same tenant scope as every other route.

use serde_json::Value;

use crate::support::{start, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_scan_has_its_whole_trail_and_only_its_tenant_sees_it() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let job = s.wait_terminal(&test_id).await;
    let path = format!("/v1/security-scans/{test_id}/audit");

    let response = s.get_as(&s.acme.key, &path).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["job"]["test_id"], test_id.as_str());
    assert_eq!(body["job"]["status"], job.status.as_str());
    let trail = body["trail"].as_array().unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"submitted"), "{kinds:?}");
    for kind in [
        "manifest_recorded",
        "manifest_verification",
        "bundle_stored",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let statuses: Vec<&str> = trail
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .map(|e| e["detail"]["to"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["RUNNING", job.status.as_str()]);
    let seqs: Vec<u64> = trail.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=trail.len() as u64).collect::<Vec<_>>());
    assert_eq!(trail[0]["detail"]["workspace_id"], "ws-acme");

    // Another tenant, a tenant of all workspaces, no credential, a malformed id.
    assert_eq!(s.get_as(&s.globex.key, &path).await.status(), 404);
    assert_eq!(s.get_as(&s.ops.key, &path).await.status(), 200);
    let anonymous = s.http.get(s.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let malformed = s
        .get_as(&s.acme.key, "/v1/security-scans/test_../audit")
        .await;
    assert_eq!(malformed.status(), 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_auditors_key_reads_its_tenants_jobs_and_changes_nothing() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    s.wait_terminal(&test_id).await;
    for path in [
        format!("/v1/security-scans/{test_id}/audit"),
        format!("/v1/security-scans/{test_id}"),
        "/v1/security-scans?workspace_id=ws-acme".to_string(),
    ] {
        assert_eq!(
            s.get_as(&s.auditor.key, &path).await.status(),
            200,
            "{path}"
        );
    }
    let response = s
        .submit_as(&s.auditor.key, &s.body("ws-acme", "sample"))
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("auditor"), "{body}");
    let upload = s
        .http
        .post(s.url(&format!("/v1/security-scans/{test_id}/upload-request")))
        .header("x-api-key", &s.auditor.key)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403);
    // Still another tenant's jobs stay invisible to it.
    let other = s.submit(&s.globex.key, "ws-globex", "sample").await;
    let path = format!("/v1/security-scans/{other}/audit");
    assert_eq!(s.get_as(&s.auditor.key, &path).await.status(), 404);
}
