//! Each step Lambda builds only the ports its part of the pipeline uses (`certus_lambda::ports`), and those are
//! the ports its IAM role in `infra/template.yaml` grants: a step cannot reach a bundle store, a signing key,
//! the fingerprint secret or the publication buckets it has no role for. The state-machine tests prove the
//! other direction (each step still does its work with only these ports).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::BTreeSet;
use std::path::PathBuf;

use certus_aws::AwsClients;
use certus_lambda::{ports, stages_for, Clients, Port, StepEnv};
use certus_stages::{Stage, Stages};

/// Clients configured with dummy credentials and an endpoint nothing listens on: building the wiring sends no
/// request (keys are local files, no Trust URL is set).
fn clients() -> Clients {
    let config = certus_testkit::emulator_sdk_config("http://127.0.0.1:9");
    Clients {
        aws: AwsClients::from_sdk_config(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        secrets: aws_sdk_secretsmanager::Client::new(&config),
        credentials: config.credentials_provider(),
    }
}

fn env(dir: &std::path::Path) -> StepEnv {
    env_with(dir, "true")
}

fn env_with(dir: &std::path::Path, sample_mode: &str) -> StepEnv {
    let vars = [
        ("CERTUS_ASSURANCE_JOBS_TABLE", "jobs".to_string()),
        ("CERTUS_ASSURANCE_AUDIT_TABLE", "audit".into()),
        ("CERTUS_ASSURANCE_EVENTS_TABLE", "events".into()),
        ("CERTUS_ASSURANCE_RUNS_ROOT", "s3://work-bucket/runs".into()),
        (
            "CERTUS_ASSURANCE_WORK_BUCKET",
            "s3://work-bucket/bundles".into(),
        ),
        (
            "CERTUS_ASSURANCE_SIGNING_KEY_REF",
            dir.join("signing.pem").display().to_string(),
        ),
        (
            "CERTUS_ASSURANCE_FINGERPRINT_KEY_REF",
            dir.join("fingerprint.key").display().to_string(),
        ),
        (
            "CERTUS_ASSURANCE_WORKSPACE_ROOT",
            dir.join("work").display().to_string(),
        ),
        ("CERTUS_ASSURANCE_SAMPLE_MODE", sample_mode.into()),
    ];
    StepEnv::from_vars(&|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// The ports a built wiring holds, as it holds them.
fn built(stages: &Stages) -> BTreeSet<String> {
    let s = &stages.services;
    [
        ("Artifacts", s.artifacts.is_some()),
        ("Sources", s.sources.is_some()),
        ("Fetcher", s.fetcher.is_some()),
        ("Verifier", s.verifier.is_some()),
        ("Signer", s.signer.is_some()),
        ("Scanners", s.scanners.is_some()),
        ("FingerprintKey", s.fingerprint_key.is_some()),
        ("Uploads", stages.uploads.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(name, _)| name.to_string())
    .collect()
}

fn declared(stage: Stage) -> BTreeSet<String> {
    ports(stage).iter().map(|p| format!("{p:?}")).collect()
}

#[tokio::test]
async fn every_step_builds_exactly_the_ports_it_declares() {
    let dir = tempfile::tempdir().unwrap();
    let (env, clients) = (env(dir.path()), clients());
    for stage in Stage::ALL {
        let stages = stages_for(stage, &env, &clients).await.unwrap();
        assert_eq!(built(&stages), declared(stage), "{}", stage.name());
    }
}

#[tokio::test]
async fn a_step_asked_for_a_port_it_was_built_without_refuses_with_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let stages = stages_for(Stage::PrepareSource, &env(dir.path()), &clients())
        .await
        .unwrap();
    let refusal = stages.services.signer().err().unwrap();
    assert!(
        matches!(refusal, certus_core::CoreError::Config(_)),
        "{refusal:?}"
    );
    assert!(refusal.to_string().contains("no signer port"), "{refusal}");
}

/// The policy text of one function's role: from `  <Name>Role:` to the next resource.
fn role_policy(template: &str, stage: Stage) -> String {
    let name: String = stage
        .name()
        .split('-')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect();
    let header = format!("  {name}Role:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "no {name}Role in the template");
    // The role ends where the next resource (two spaces of indent, then a name) begins.
    lines
        .take_while(|l| {
            !(l.starts_with("  ") && l[2..].starts_with(|c: char| c.is_ascii_alphabetic()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn each_step_holds_a_port_exactly_where_its_role_grants_what_the_port_needs() {
    let template = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml"),
    )
    .unwrap();
    // What each port needs from the role; Fetcher and Scanners need no grant of their own.
    let grants: [(Port, &[&str]); 6] = [
        (Port::Artifacts, &["${WorkBucket.Arn}/bundles/*"]),
        (Port::Sources, &["${WorkBucket.Arn}/uploads/*"]),
        (Port::Verifier, &["${WorkBucket.Arn}/config/*"]),
        (Port::Signer, &["kms:Sign"]),
        (Port::FingerprintKey, &["!Ref FingerprintKeySecret"]),
        (Port::Uploads, &["RawBucket", "TrustTokenSecretArn"]),
    ];
    let mut mismatches = Vec::new();
    for stage in Stage::ALL {
        let policy = role_policy(&template, stage);
        for (port, needs) in &grants {
            let granted = needs.iter().any(|n| policy.contains(n));
            let held = ports(stage).contains(port);
            if granted != held {
                mismatches.push(format!(
                    "{}: {port:?} held={held} granted={granted}",
                    stage.name()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn only_the_step_that_runs_tools_holds_the_scan_cache_and_only_its_role_reaches_it() {
    let template = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (env, clients) = (env_with(dir.path(), "false"), clients());
    for stage in Stage::ALL {
        let stages = stages_for(stage, &env, &clients).await.unwrap();
        let held = stages
            .services
            .scanners
            .as_ref()
            .is_some_and(|s| s.cache().is_some());
        let granted = role_policy(&template, stage).contains("${WorkBucket.Arn}/scan-cache/*");
        let runs_tools = stage == Stage::RunScanner;
        assert_eq!(
            (held, granted),
            (runs_tools, runs_tools),
            "{}",
            stage.name()
        );
    }
}
