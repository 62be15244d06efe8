//! Webhook bodies past authentication: a GitHub push signed with the registered secret (the target computes
//! the HMAC, so every input reaches the parser), a GitLab hook with the registered token, and a CodeCommit
//! EventBridge event. Hostile bodies must be refused or ignored with an error, never panic, and an accepted
//! push names a branch and a 40-hex commit.
#![no_main]

use std::sync::OnceLock;

use certus_triggers::registration::{Format, Registrations};
use certus_triggers::{Delivery, GithubDelivery, GitlabDelivery, Triggers};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const SECRET: &str = "fuzzing-secret-0123456789abcdef";

fn triggers() -> &'static Triggers {
    static TRIGGERS: OnceLock<(tempfile::TempDir, Triggers)> = OnceLock::new();
    &TRIGGERS
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("secret"), SECRET).expect("secret file");
            let text = r#"{"registrations": [
              {"id": "gh", "provider": "github", "repository": "acme/app", "secret": "secret",
               "clone_url": "https://example.invalid/acme/app.git", "branches": ["main", "release/*"],
               "manifest_path": "certus.json", "workspace_id": "ws", "component_id": "app", "assessment_id": "push"},
              {"id": "gl", "provider": "gitlab", "repository": "acme/app", "secret": "secret",
               "clone_url": "https://example.invalid/acme/app.git", "branches": ["**"],
               "manifest_path": "certus.json", "workspace_id": "ws", "component_id": "app", "assessment_id": "push"},
              {"id": "cc", "provider": "codecommit", "repository": "infra",
               "clone_url": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/infra", "branches": ["main"],
               "manifest_path": "certus.json", "workspace_id": "ws", "component_id": "infra", "assessment_id": "push"}
            ]}"#;
            let registrations = Registrations::parse(text, Format::Json, dir.path()).expect("registrations");
            let triggers = Triggers::new(registrations);
            (dir, triggers)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let signature;
    let event;
    let delivery = match selector % 3 {
        0 => {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
            mac.update(body);
            signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            Delivery::Github(GithubDelivery {
                event: Some("push"),
                delivery: Some("fuzz"),
                signature: Some(&signature),
                body,
            })
        }
        1 => Delivery::Gitlab(GitlabDelivery {
            event: Some("Push Hook"),
            delivery: None,
            token: Some(SECRET),
            body,
        }),
        _ => {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
                return;
            };
            event = value;
            Delivery::Codecommit(&event)
        }
    };
    if let Ok(Some(push)) = triggers().inspect(&delivery) {
        assert!(!push.branch.is_empty(), "a push without a branch");
        // A commit id: SHA-1 (40 hex digits) or, in a SHA-256 repository, 64.
        assert!(
            matches!(push.commit.len(), 40 | 64) && push.commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "a push of a malformed commit: {:?}",
            push.commit
        );
    }
});
