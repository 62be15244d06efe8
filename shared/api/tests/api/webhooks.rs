//! Push webhooks through the real router: GitHub deliveries signed here with HMAC-SHA256 (computed by hand
//! from the RFC 2104 definition, independently of the server's code) under a secret generated here, GitLab
//! hooks with their token, and a real git repository made here whose pushed commit is then scanned.

use std::sync::Arc;

use certus_core::ids::new_test_id;
use certus_core::ports::{JobQuery, JobStore};
use certus_triggers::Triggers;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{start, Options, Server};

const MANIFEST: &str = r#"{"product": "demo", "version": "1", "profiles": [{"name": "light", "tools": ["sample"], "thresholds": {}}]}"#;

/// HMAC-SHA256 per RFC 2104 (64-byte blocks), as `sha256=<hex>`.
fn github_signature(secret: &[u8], body: &[u8]) -> String {
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    format!("sha256={}", hex::encode(outer))
}

use certus_testkit::git;

struct Hooks {
    server: Server,
    _registrations: tempfile::TempDir,
    repo: tempfile::TempDir,
    github_secret: String,
    gitlab_secret: String,
    /// The commit at the head of `main`.
    head: String,
}

/// A server with registrations for a GitHub repository and a GitLab project, both cloned from a git
/// repository made here (branches `main` and `release/*` trigger).
async fn hooks() -> Hooks {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(repo.path().join("certus.json"), MANIFEST).unwrap();
    std::fs::write(repo.path().join("app.py"), "print('pushed')\n").unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "first"]);
    let head = git(repo.path(), &["rev-parse", "HEAD"]);

    let registrations = tempfile::tempdir().unwrap();
    let github_secret = format!("gh-{}-{}", new_test_id().unwrap(), new_test_id().unwrap());
    let gitlab_secret = format!("gl-{}-{}", new_test_id().unwrap(), new_test_id().unwrap());
    std::fs::write(registrations.path().join("github.secret"), &github_secret).unwrap();
    std::fs::write(registrations.path().join("gitlab.secret"), &gitlab_secret).unwrap();
    let entry = |id: &str, provider: &str, repository: &str, secret: &str| {
        json!({
            "id": id, "provider": provider, "repository": repository, "secret": secret,
            "clone_url": repo.path().display().to_string(), "branches": ["main", "release/*"],
            "manifest_path": "certus.json", "workspace_id": "ws-acme", "component_id": "app",
            "assessment_id": "push"
        })
    };
    let path = registrations.path().join("triggers.json");
    std::fs::write(
        &path,
        json!({"registrations": [
            entry("gh-app", "github", "acme/app", "github.secret"),
            entry("gl-app", "gitlab", "acme/platform/app", "gitlab.secret"),
        ]})
        .to_string(),
    )
    .unwrap();
    let triggers = Triggers::load(&path).unwrap();
    let server = start(Options {
        triggers: Some(Arc::new(triggers)),
        git_allow_local: true,
        ..Options::default()
    })
    .await;
    Hooks {
        server,
        _registrations: registrations,
        repo,
        github_secret,
        gitlab_secret,
        head,
    }
}

fn push_body(reference: &str, after: &str) -> Vec<u8> {
    json!({
        "ref": reference, "before": "0".repeat(40), "after": after, "created": true, "deleted": false,
        "repository": {"full_name": "acme/app", "clone_url": "https://attacker.invalid/x.git"},
        "commits": [], "head_commit": null
    })
    .to_string()
    .into_bytes()
}

impl Hooks {
    async fn github(
        &self,
        event: &str,
        delivery: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> reqwest::Response {
        let mut request = self
            .server
            .http
            .post(self.server.url("/v1/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        request.send().await.unwrap()
    }

    async fn signed(&self, event: &str, delivery: &str, body: &[u8]) -> reqwest::Response {
        let signature = github_signature(self.github_secret.as_bytes(), body);
        self.github(event, delivery, Some(&signature), body).await
    }

    async fn job_count(&self) -> usize {
        let query = JobQuery {
            limit: 100,
            ..JobQuery::default()
        };
        self.server.store.list(&query).await.unwrap().jobs.len()
    }
}

async fn answer(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_push_scans_the_pushed_commit_once() {
    let h = hooks().await;
    // A second commit on main: the push names the first one, which is what must be scanned.
    std::fs::write(h.repo.path().join("later.py"), "print('later')\n").unwrap();
    git(h.repo.path(), &["add", "."]);
    git(h.repo.path(), &["commit", "-q", "-m", "later"]);

    let body = push_body("refs/heads/main", &h.head);
    let started = answer(h.signed("push", "delivery-1", &body).await, 202).await;
    assert_eq!(started["result"], "started");
    assert_eq!(started["commit"], h.head.as_str());
    assert_eq!(started["delivery"], "delivery-1");
    let test_id = started["test_id"].as_str().unwrap().to_string();

    let job = h.server.wait_terminal(&test_id).await;
    assert_eq!(job.status.as_str(), "SUCCEEDED", "{:?}", job.errors);
    assert_eq!(job.commit.as_deref(), Some(h.head.as_str()));
    assert_eq!(job.branch.as_deref(), Some("main"));
    assert_eq!(job.requested_by.as_deref(), Some("push-trigger/gh-app"));

    // The same delivery replayed, then the same commit under a new delivery id: nothing more starts.
    let replay = answer(h.signed("push", "delivery-1", &body).await, 200).await;
    assert_eq!(replay["result"], "already_started");
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["test_id"], test_id.as_str());
    let redelivered = answer(h.signed("push", "delivery-2", &body).await, 200).await;
    assert_eq!(redelivered["result"], "already_started");
    assert_eq!(redelivered["test_id"], test_id.as_str());
    assert_eq!(h.job_count().await, 1);
    h.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_signatures_are_refused_and_start_nothing() {
    let h = hooks().await;
    let body = push_body("refs/heads/main", &h.head);
    let forged = github_signature(b"a-secret-the-attacker-guessed", &body);
    let response = h.github("push", "f-1", Some(&forged), &body).await;
    let refused = answer(response, 401).await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{refused}"
    );
    let response = h.github("push", "f-2", None, &body).await;
    assert!(answer(response, 401).await["detail"]
        .as_str()
        .unwrap()
        .contains("X-Hub-Signature-256 header is missing"));
    // A genuine signature, but over another body (same commit, another branch).
    let other = github_signature(
        h.github_secret.as_bytes(),
        &push_body("refs/heads/release/1", &h.head),
    );
    answer(h.github("push", "f-3", Some(&other), &body).await, 401).await;
    // An API key is no substitute for the signature.
    let response = h
        .server
        .http
        .post(h.server.url("/v1/webhooks/github"))
        .bearer_auth(&h.server.ops.key)
        .header("x-github-event", "push")
        .header("x-github-delivery", "f-4")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    answer(response, 401).await;
    // The GitLab project's token is not the GitHub repository's secret.
    let response = h
        .server
        .http
        .post(h.server.url("/v1/webhooks/github"))
        .header("x-github-event", "push")
        .header("x-github-delivery", "f-5")
        .header("x-gitlab-token", &h.gitlab_secret)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    answer(response, 401).await;
    assert_eq!(h.job_count().await, 0);
    h.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pings_deletes_tags_and_other_branches_are_answered_without_a_scan() {
    let h = hooks().await;
    let ping = json!({"zen": "Design for failure.", "hook_id": 7, "repository": {"full_name": "acme/app"}})
        .to_string();
    let pong = answer(h.signed("ping", "p-1", ping.as_bytes()).await, 200).await;
    assert_eq!(pong["result"], "ignored");
    assert!(pong["reason"].as_str().unwrap().starts_with("ping"));

    let deleted = json!({"ref": "refs/heads/main", "before": h.head, "after": "0".repeat(40),
                         "deleted": true, "repository": {"full_name": "acme/app"}})
    .to_string();
    let ignored = answer(h.signed("push", "p-2", deleted.as_bytes()).await, 200).await;
    assert!(
        ignored["reason"].as_str().unwrap().contains("deleted"),
        "{ignored}"
    );

    let tag = push_body("refs/tags/v1.0", &h.head);
    let ignored = answer(h.signed("push", "p-3", &tag).await, 200).await;
    assert!(
        ignored["reason"].as_str().unwrap().contains("not a branch"),
        "{ignored}"
    );

    let wrong_branch = push_body("refs/heads/experiment", &h.head);
    let ignored = answer(h.signed("push", "p-4", &wrong_branch).await, 200).await;
    assert!(
        ignored["reason"].as_str().unwrap().contains("'experiment'"),
        "{ignored}"
    );
    assert_eq!(h.job_count().await, 0);

    // Unregistered repository, malformed body, oversized body.
    let stranger = json!({"ref": "refs/heads/main", "after": h.head,
                          "repository": {"full_name": "acme/unknown"}})
    .to_string();
    answer(h.signed("push", "p-5", stranger.as_bytes()).await, 404).await;
    answer(h.signed("push", "p-6", b"[1, 2").await, 400).await;
    let huge = vec![b' '; certus_triggers::MAX_BODY + 1];
    assert_eq!(h.signed("push", "p-7", &huge).await.status(), 413);
    assert_eq!(h.job_count().await, 0);
    h.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gitlab_push_hooks_need_the_registered_token() {
    let h = hooks().await;
    let body = json!({
        "object_kind": "push", "ref": "refs/heads/release/2", "before": "0".repeat(40),
        "after": h.head, "checkout_sha": h.head,
        "project": {"path_with_namespace": "acme/platform/app"}, "commits": []
    })
    .to_string();
    let send = |token: Option<String>| {
        let mut request = h
            .server
            .http
            .post(h.server.url("/v1/webhooks/gitlab"))
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-event-uuid", "7b0c7a3e-1")
            .body(body.clone());
        if let Some(token) = token {
            request = request.header("x-gitlab-token", token);
        }
        request.send()
    };
    answer(send(None).await.unwrap(), 401).await;
    answer(
        send(Some("not-the-token-at-all".into())).await.unwrap(),
        401,
    )
    .await;
    answer(send(Some(h.github_secret.clone())).await.unwrap(), 401).await;
    assert_eq!(h.job_count().await, 0);

    let started = answer(send(Some(h.gitlab_secret.clone())).await.unwrap(), 202).await;
    assert_eq!(started["registration"], "gl-app");
    assert_eq!(started["branch"], "release/2");
    let job = h
        .server
        .wait_terminal(started["test_id"].as_str().unwrap())
        .await;
    assert_eq!(job.commit.as_deref(), Some(h.head.as_str()));
    let again = answer(send(Some(h.gitlab_secret.clone())).await.unwrap(), 200).await;
    assert_eq!(again["test_id"], started["test_id"]);
    assert_eq!(h.job_count().await, 1);
    h.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_registrations_the_webhooks_answer_404_and_other_routes_keep_their_auth() {
    let s = start(Options::default()).await;
    for path in ["/v1/webhooks/github", "/v1/webhooks/gitlab"] {
        let response = s.http.post(s.url(path)).body("{}").send().await.unwrap();
        let body = answer(response, 404).await;
        assert_eq!(
            body["detail"],
            "push triggers are not configured on this server"
        );
    }
    let response = s
        .http
        .get(s.url("/v1/security-scans"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    s.stop().await;
}
