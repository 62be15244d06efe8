//! The triggers against a real embedded job store (SQLite): signed GitHub deliveries, GitLab tokens and
//! CodeCommit EventBridge events, each checked for the job it creates (or does not) and the launch it asks
//! for. Secrets are generated here; payloads have the providers' shapes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use certus_core::ids::new_test_id;
use certus_core::pipeline::Records;
use certus_core::ports::JobQuery;
use certus_core::request::SourceSpec;
use certus_core::Retryability;
use certus_local::SqliteStore;
use certus_triggers::{
    handle_codecommit_event, Delivery, GithubDelivery, GitlabDelivery, JobStarter, Outcome,
    TriggerError, Triggers,
};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

#[derive(Default)]
struct Started(Mutex<Vec<String>>);

#[async_trait]
impl JobStarter for Started {
    async fn start(&self, test_id: String) {
        self.0.lock().unwrap().push(test_id);
    }
}

impl Started {
    fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    records: Records,
    triggers: Triggers,
    github_secret: String,
    gitlab_secret: String,
    started: Started,
}

const REPO: &str = "acme/payments";
const ARN: &str = "arn:aws:codecommit:eu-west-1:123456789012:infra";

fn secret() -> String {
    format!("{}-{}", new_test_id().unwrap(), new_test_id().unwrap())
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let github_secret = secret();
    let gitlab_secret = secret();
    std::fs::write(dir.path().join("github.secret"), &github_secret).unwrap();
    std::fs::write(dir.path().join("gitlab.secret"), &gitlab_secret).unwrap();
    let common = json!({
        "branches": ["main", "release/*"], "manifest_path": "certus.json",
        "workspace_id": "ws-acme", "component_id": "payments", "assessment_id": "push"
    });
    let mut entries = Vec::new();
    for (id, provider, repository, url, secret) in [
        (
            "gh",
            "github",
            REPO,
            "https://github.com/acme/payments.git",
            Some("github.secret"),
        ),
        (
            "gh-other",
            "github",
            "acme/other",
            "https://github.com/acme/other.git",
            Some("gitlab.secret"),
        ),
        (
            "gl",
            "gitlab",
            "acme/platform/payments",
            "https://gitlab.example/acme/platform/payments.git",
            Some("gitlab.secret"),
        ),
        (
            "cc",
            "codecommit",
            ARN,
            "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/infra",
            None,
        ),
    ] {
        let mut entry = common.clone();
        entry["id"] = json!(id);
        entry["provider"] = json!(provider);
        entry["repository"] = json!(repository);
        entry["clone_url"] = json!(url);
        if let Some(secret) = secret {
            entry["secret"] = json!(secret);
        }
        entries.push(entry);
    }
    let path = dir.path().join("triggers.json");
    std::fs::write(&path, json!({ "registrations": entries }).to_string()).unwrap();
    let triggers = Triggers::load(&path).unwrap();

    let store = Arc::new(SqliteStore::open(&dir.path().join("certus.db")).unwrap());
    let records = Records {
        jobs: store.clone(),
        events: store,
        sinks: Vec::new(),
        stream_base: "ws://127.0.0.1:1".into(),
    };
    Fixture {
        _dir: dir,
        records,
        triggers,
        github_secret,
        gitlab_secret,
        started: Started::default(),
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn github_push(reference: &str, after: &str) -> Vec<u8> {
    json!({
        "ref": reference, "before": "1".repeat(40), "after": after, "created": false,
        "deleted": false, "forced": false,
        "repository": {"id": 1, "name": "payments", "full_name": "Acme/Payments",
                        "clone_url": "https://attacker.invalid/evil.git"},
        "pusher": {"name": "dev"}, "commits": [], "head_commit": null
    })
    .to_string()
    .into_bytes()
}

impl Fixture {
    async fn github(
        &self,
        event: &str,
        delivery: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<certus_triggers::Handled, TriggerError> {
        let delivery = GithubDelivery {
            event: Some(event),
            delivery: Some(delivery),
            signature,
            body,
        };
        self.triggers
            .github(&delivery, &self.records, &self.started)
            .await
    }

    async fn signed_github(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
    ) -> certus_triggers::Handled {
        let signature = sign(&self.github_secret, body);
        self.github(event, delivery, Some(&signature), body)
            .await
            .unwrap()
    }

    async fn jobs(&self) -> Vec<certus_core::job::Job> {
        let query = JobQuery {
            limit: 100,
            ..JobQuery::default()
        };
        self.records.jobs.list(&query).await.unwrap().jobs
    }
}

fn ignored_reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Ignored { reason } => reason,
        other => panic!("expected an ignored delivery, got {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_github_push_starts_one_job_of_the_pushed_commit() {
    let f = fixture();
    let commit = "ab".repeat(20);
    let handled = f
        .signed_github("push", "d-1", &github_push("refs/heads/main", &commit))
        .await;
    let Outcome::Started {
        test_id,
        registration,
        branch,
        commit: pushed,
    } = &handled.outcome
    else {
        panic!("not started: {handled:?}");
    };
    assert_eq!(
        (registration.as_str(), branch.as_str(), pushed.as_str()),
        ("gh", "main", commit.as_str())
    );
    assert_eq!(handled.delivery.as_deref(), Some("d-1"));
    assert_eq!(f.started.ids(), vec![test_id.clone()]);
    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(&job.test_id, test_id);
    assert_eq!(job.ids.workspace_id, "ws-acme");
    // The registration's clone URL, never the one in the payload.
    assert_eq!(
        job.submission.source,
        SourceSpec::Git {
            git_url: "https://github.com/acme/payments.git".into(),
            branch: Some("main".into()),
            commit: Some(commit.clone()),
            git_credentials_ref: None,
        }
    );
}

#[tokio::test]
async fn replayed_deliveries_and_redelivered_commits_start_nothing_more() {
    let f = fixture();
    let commit = "cd".repeat(20);
    let body = github_push("refs/heads/main", &commit);
    let first = f.signed_github("push", "d-1", &body).await;
    let replay = f.signed_github("push", "d-1", &body).await;
    assert!(replay.replayed);
    assert!(
        matches!(replay.outcome, Outcome::AlreadyStarted { .. }),
        "{replay:?}"
    );
    assert_eq!(replay.outcome.test_id(), first.outcome.test_id());
    // The same commit again under a new delivery id (a redelivery, or a push of it to another branch).
    let again = f
        .signed_github("push", "d-2", &github_push("refs/heads/release/1", &commit))
        .await;
    let Outcome::AlreadyStarted { test_id, .. } = &again.outcome else {
        panic!("expected already started: {again:?}");
    };
    assert_eq!(Some(test_id.as_str()), first.outcome.test_id());
    assert_eq!(f.jobs().await.len(), 1);
    assert_eq!(f.started.ids().len(), 1);
}

/// W10 of the 2026-12 red-team: another registrant who reuses a delivery id (here `gh-other`, whose secret
/// differs) gets its own push handled, not the first registrant's recorded outcome.
#[tokio::test]
async fn a_delivery_id_reused_under_another_registration_is_not_answered_with_its_outcome() {
    let f = fixture();
    let first = f
        .signed_github(
            "push",
            "d-shared",
            &github_push("refs/heads/main", &"ab".repeat(20)),
        )
        .await;
    assert!(
        matches!(first.outcome, Outcome::Started { .. }),
        "{first:?}"
    );
    let other_body = json!({
        "ref": "refs/heads/main", "before": "1".repeat(40), "after": "de".repeat(20), "created": false,
        "deleted": false, "forced": false,
        "repository": {"id": 2, "name": "other", "full_name": "acme/other",
                        "clone_url": "https://attacker.invalid/evil.git"},
        "pusher": {"name": "dev"}, "commits": [], "head_commit": null
    })
    .to_string()
    .into_bytes();
    let signature = sign(&f.gitlab_secret, &other_body);
    let other = f
        .github("push", "d-shared", Some(&signature), &other_body)
        .await
        .unwrap();
    assert!(!other.replayed, "{other:?}");
    let Outcome::Started {
        registration,
        commit,
        test_id,
        ..
    } = &other.outcome
    else {
        panic!("the other registrant's push was not started: {other:?}");
    };
    assert_eq!(
        (registration.as_str(), commit.as_str()),
        ("gh-other", "de".repeat(20).as_str())
    );
    assert_ne!(Some(test_id.as_str()), first.outcome.test_id());
    assert_eq!(f.started.ids().len(), 2);
    // Each registrant's own replay still answers its own outcome.
    let replay = f
        .github("push", "d-shared", Some(&signature), &other_body)
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.outcome.test_id(), Some(test_id.as_str()));
}

#[tokio::test]
async fn forged_missing_and_misplaced_signatures_are_refused_before_anything_happens() {
    let f = fixture();
    let body = github_push("refs/heads/main", &"ef".repeat(20));
    let forged = sign("not-the-registered-secret-at-all", &body);
    let other_body = sign(
        &f.github_secret,
        &github_push("refs/heads/main", &"12".repeat(20)),
    );
    for signature in [
        Some(forged.as_str()),
        None,
        Some(other_body.as_str()),
        Some("sha256=zz"),
        Some("sha1=00"),
    ] {
        let err = f.github("push", "d-x", signature, &body).await.unwrap_err();
        assert!(
            matches!(err, TriggerError::Unauthenticated(_)),
            "{signature:?}: {err}"
        );
    }
    // Signed with another registration's secret (the GitLab one is also gh-other's): not this repository's.
    let wrong_registration = sign(&f.gitlab_secret, &body);
    let err = f
        .github("push", "d-y", Some(&wrong_registration), &body)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not signed with the secret registered for 'acme/payments'"),
        "{err}"
    );
    // A malformed body is read only once signed, and then refused as malformed.
    let garbage = b"{not json";
    let err = f
        .github(
            "push",
            "d-z",
            Some(&sign(&f.github_secret, garbage)),
            garbage,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TriggerError::Malformed(_)), "{err}");
    assert!(f.jobs().await.is_empty());
    assert!(f.started.ids().is_empty());
}

#[tokio::test]
async fn pings_deletes_tags_other_branches_and_events_start_nothing() {
    let f = fixture();
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1,
                      "repository": {"full_name": REPO}})
    .to_string();
    let handled = f.signed_github("ping", "p-1", ping.as_bytes()).await;
    assert!(ignored_reason(&handled.outcome).starts_with("ping"));

    let deleted =
        json!({"ref": "refs/heads/main", "before": "ab".repeat(20), "after": "0".repeat(40),
                         "deleted": true, "repository": {"full_name": REPO}})
        .to_string();
    let handled = f.signed_github("push", "x-1", deleted.as_bytes()).await;
    assert!(ignored_reason(&handled.outcome).contains("deleted"));

    let tag = github_push("refs/tags/v1.0.0", &"ab".repeat(20));
    let handled = f.signed_github("push", "x-2", &tag).await;
    assert!(ignored_reason(&handled.outcome).contains("not a branch"));

    let feature = github_push("refs/heads/feature/x", &"ab".repeat(20));
    let handled = f.signed_github("push", "x-3", &feature).await;
    let reason = ignored_reason(&handled.outcome);
    assert!(
        reason.contains("'feature/x'") && reason.contains("main, release/*"),
        "{reason}"
    );

    let handled = f.signed_github("issues", "x-4", b"{}").await;
    assert!(ignored_reason(&handled.outcome).contains("'issues'"));
    assert!(f.jobs().await.is_empty());
}

#[tokio::test]
async fn an_unregistered_repository_is_refused_as_such() {
    let f = fixture();
    let body = json!({"ref": "refs/heads/main", "after": "ab".repeat(20),
                      "repository": {"full_name": "acme/unknown"}})
    .to_string();
    let err = f
        .github(
            "push",
            "u-1",
            Some(&sign(&f.github_secret, body.as_bytes())),
            body.as_bytes(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TriggerError::Unregistered { .. }), "{err}");
    assert!(err.to_string().contains("acme/unknown"));
}

fn gitlab_push(reference: &str, after: &str, checkout: Option<&str>) -> Vec<u8> {
    json!({
        "object_kind": "push", "event_name": "push", "before": "1".repeat(40), "after": after,
        "ref": reference, "checkout_sha": checkout, "user_username": "dev",
        "project": {"id": 7, "path_with_namespace": "acme/platform/payments",
                    "git_http_url": "https://attacker.invalid/evil.git"},
        "commits": [], "total_commits_count": 0
    })
    .to_string()
    .into_bytes()
}

impl Fixture {
    async fn gitlab(
        &self,
        event: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<certus_triggers::Handled, TriggerError> {
        let delivery = GitlabDelivery {
            event: Some(event),
            delivery: None,
            token,
            body,
        };
        self.triggers
            .gitlab(&delivery, &self.records, &self.started)
            .await
    }
}

#[tokio::test]
async fn gitlab_push_hooks_need_the_registered_token() {
    let f = fixture();
    let commit = "9f".repeat(20);
    let body = gitlab_push("refs/heads/main", &commit, Some(&commit));
    for token in [
        None,
        Some("wrong-token-wrong-token"),
        Some(f.github_secret.as_str()),
    ] {
        let err = f.gitlab("Push Hook", token, &body).await.unwrap_err();
        assert!(
            matches!(err, TriggerError::Unauthenticated(_)),
            "{token:?}: {err}"
        );
    }
    assert!(f.jobs().await.is_empty());

    let handled = f
        .gitlab("Push Hook", Some(&f.gitlab_secret), &body)
        .await
        .unwrap();
    let Outcome::Started { commit: pushed, .. } = &handled.outcome else {
        panic!("not started: {handled:?}");
    };
    assert_eq!(pushed, &commit);
    let again = f
        .gitlab("Push Hook", Some(&f.gitlab_secret), &body)
        .await
        .unwrap();
    assert!(
        matches!(again.outcome, Outcome::AlreadyStarted { .. }),
        "{again:?}"
    );
    assert_eq!(f.jobs().await.len(), 1);

    let deleted = gitlab_push("refs/heads/main", &"0".repeat(40), None);
    let handled = f
        .gitlab("Push Hook", Some(&f.gitlab_secret), &deleted)
        .await
        .unwrap();
    assert!(ignored_reason(&handled.outcome).contains("deleted"));
    let tag = gitlab_push("refs/tags/v1", &commit, Some(&commit));
    let handled = f
        .gitlab("Tag Push Hook", Some(&f.gitlab_secret), &tag)
        .await
        .unwrap();
    assert!(ignored_reason(&handled.outcome).contains("'Tag Push Hook'"));
    assert_eq!(f.started.ids().len(), 1);
}

fn codecommit_event(
    id: &str,
    event: &str,
    reference_type: &str,
    name: &str,
    commit: &str,
) -> Value {
    json!({
        "version": "0", "id": id,
        "detail-type": "CodeCommit Repository State Change", "source": "aws.codecommit",
        "account": "123456789012", "time": "2026-11-29T01:00:00Z", "region": "eu-west-1",
        "resources": [ARN],
        "detail": {
            "callerUserArn": "arn:aws:iam::123456789012:user/dev", "commitId": commit,
            "event": event, "oldCommitId": "1".repeat(40), "referenceFullName": format!("refs/heads/{name}"),
            "referenceName": name, "referenceType": reference_type, "repositoryId": "1234-abcd",
            "repositoryName": "infra"
        }
    })
}

#[tokio::test]
async fn a_codecommit_push_starts_one_job_even_when_delivered_twice() {
    let f = fixture();
    let commit = "7e".repeat(20);
    let event = codecommit_event("ev-1", "referenceUpdated", "branch", "main", &commit);
    let first = handle_codecommit_event(&f.triggers, &event, &f.records, &f.started)
        .await
        .unwrap();
    let Outcome::Started {
        test_id,
        registration,
        ..
    } = &first.outcome
    else {
        panic!("not started: {first:?}");
    };
    assert_eq!(registration, "cc");
    let twice = handle_codecommit_event(&f.triggers, &event, &f.records, &f.started)
        .await
        .unwrap();
    assert!(twice.replayed);
    // A second rule delivering the same change under another event id.
    let other_id = codecommit_event("ev-2", "referenceCreated", "branch", "release/7", &commit);
    let again = handle_codecommit_event(&f.triggers, &other_id, &f.records, &f.started)
        .await
        .unwrap();
    assert_eq!(again.outcome.test_id(), Some(test_id.as_str()));
    assert!(matches!(again.outcome, Outcome::AlreadyStarted { .. }));
    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].submission.source,
        SourceSpec::Git {
            git_url: "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/infra".into(),
            branch: Some("main".into()),
            commit: Some(commit),
            git_credentials_ref: None,
        }
    );
    assert_eq!(f.started.ids(), vec![test_id.clone()]);
}

#[tokio::test]
async fn codecommit_deletes_tags_and_strangers_start_nothing() {
    let f = fixture();
    let commit = "7e".repeat(20);
    let deleted = codecommit_event("e-1", "referenceDeleted", "branch", "main", &commit);
    let handled = handle_codecommit_event(&f.triggers, &deleted, &f.records, &f.started)
        .await
        .unwrap();
    assert!(ignored_reason(&handled.outcome).contains("deleted"));
    let tag = codecommit_event("e-2", "referenceCreated", "tag", "v1", &commit);
    let handled = handle_codecommit_event(&f.triggers, &tag, &f.records, &f.started)
        .await
        .unwrap();
    assert!(ignored_reason(&handled.outcome).contains("not a branch"));
    let nameless = codecommit_event("e-6", "referenceUpdated", "branch", "", &commit);
    let handled = handle_codecommit_event(&f.triggers, &nameless, &f.records, &f.started)
        .await
        .unwrap();
    assert!(ignored_reason(&handled.outcome).contains("without a branch name"));

    let mut foreign = codecommit_event("e-3", "referenceUpdated", "branch", "main", &commit);
    foreign["resources"] = json!(["arn:aws:codecommit:eu-west-1:999999999999:infra"]);
    let err = handle_codecommit_event(&f.triggers, &foreign, &f.records, &f.started)
        .await
        .unwrap_err();
    assert!(matches!(err, TriggerError::Unregistered { .. }), "{err}");

    let mut spoofed = codecommit_event("e-4", "referenceUpdated", "branch", "main", &commit);
    spoofed["source"] = json!("custom.codecommit");
    let err = handle_codecommit_event(&f.triggers, &spoofed, &f.records, &f.started)
        .await
        .unwrap_err();
    assert!(matches!(err, TriggerError::Malformed(_)), "{err}");

    let bad_commit = codecommit_event("e-5", "referenceUpdated", "branch", "main", "HEAD~1");
    let err = handle_codecommit_event(&f.triggers, &bad_commit, &f.records, &f.started)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("commitId"), "{err}");
    assert!(!err.is_retryable());
    assert!(f.jobs().await.is_empty());
}

#[test]
fn inspecting_a_delivery_authenticates_and_parses_it_without_starting_anything() {
    let f = fixture();
    let commit = "ab".repeat(20);
    let body = github_push("refs/heads/main", &commit);
    let signature = sign(&f.github_secret, &body);
    fn delivery<'a>(signature: &'a str, body: &'a [u8]) -> Delivery<'a> {
        Delivery::Github(GithubDelivery {
            event: Some("push"),
            delivery: Some("d-1"),
            signature: Some(signature),
            body,
        })
    }
    let push = f
        .triggers
        .inspect(&delivery(&signature, &body))
        .unwrap()
        .unwrap();
    assert_eq!(
        (push.branch.as_str(), push.commit.as_str()),
        ("main", commit.as_str())
    );
    let forged = sign("another-secret-of-enough-length", &body);
    assert!(matches!(
        f.triggers.inspect(&delivery(&forged, &body)),
        Err(TriggerError::Unauthenticated(_))
    ));
    let tag = gitlab_push("refs/tags/v1", &commit, Some(&commit));
    let ignored = f.triggers.inspect(&Delivery::Gitlab(GitlabDelivery {
        event: Some("Push Hook"),
        delivery: None,
        token: Some(&f.gitlab_secret),
        body: &tag,
    }));
    assert_eq!(ignored.unwrap(), None, "a tag push is ignored");
    let event = codecommit_event("ev-9", "referenceCreated", "branch", "main", &commit);
    let push = f
        .triggers
        .inspect(&Delivery::Codecommit(&event))
        .unwrap()
        .unwrap();
    assert_eq!(push.commit, commit);
    assert!(f.started.ids().is_empty(), "inspecting starts nothing");
}
