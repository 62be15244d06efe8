//! `certus audit` built with the `aws` feature, pointed at DynamoDB on a real moto server: the tables are
//! created by `certus audit create-tables`, jobs and trails are written by the DynamoDB adapters, and the
//! binary answers list, show and export from them, and verify names an entry removed, edited or reordered
//! directly in the table, and passes a trail from before the chain (stating its legacy prefix). Skipped
//! without `CERTUS_MOTO_ENDPOINT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected
#![cfg(feature = "aws")]

use std::process::{Command, Output};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use certus_core::audit::{AuditEntry, AuditKind, AuditLog, AuditedJobStore};
use certus_core::job::{Job, JobStatus};
use certus_core::ports::JobStore;
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_dynamo::{create_tables, DynamoAuditLog, DynamoJobStore, TableNames};
use serde_json::Value;

fn endpoint() -> Option<String> {
    certus_testkit::moto_endpoint()
}

fn certus(args: &[&str], endpoint: &str) -> Output {
    let empty = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(args)
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", empty.path())
        .env("CERTUS_ASSURANCE_DYNAMODB_ENDPOINT_URL", endpoint)
        .env_remove("CERTUS_ASSURANCE_DYNAMODB_JOBS_TABLE")
        .env_remove("CERTUS_ASSURANCE_DYNAMODB_AUDIT_TABLE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("certus runs")
}

fn ok(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = certus_testkit::emulator_sdk_config(endpoint);
    aws_sdk_dynamodb::Client::new(&config)
}

fn job(n: u32, workspace: &str) -> Job {
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: workspace.into(),
            component_id: "api".into(),
            assessment_id: "q1".into(),
        },
        source: SourceSpec::Git {
            git_url: "https://git.example.invalid/app.git".into(),
            branch: None,
            commit: None,
            git_credentials_ref: None,
        },
        manifest: ManifestSource::RepoPath("certus.json".into()),
        signature: None,
        profile: "light".into(),
        requested_by: None,
        baseline: None,
        full_scan: false,
    };
    let created = certus_core::time::now() + chrono::Duration::seconds(i64::from(n));
    Job::queued(
        format!("test_{n:012x}"),
        submission,
        "ws://x".into(),
        created,
    )
}

#[test]
fn audit_commands_answer_from_dynamodb_tables_they_created() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let stamp = std::process::id();
    let (jobs_table, events_table) = (format!("cli-jobs-{stamp}"), format!("cli-events-{stamp}"));
    let create = [
        "audit",
        "create-tables",
        "--dynamodb-jobs-table",
        &jobs_table,
        "--dynamodb-events-table",
        &events_table,
    ];
    ok(certus(&create, &endpoint));
    let again = certus(&create, &endpoint);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("creating the DynamoDB tables"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = client(&endpoint);
        let store = AuditedJobStore::new(
            Arc::new(DynamoJobStore::new(client.clone(), &jobs_table)),
            Arc::new(DynamoAuditLog::new(client, &jobs_table)),
        );
        for (n, workspace) in [(1, "bank"), (2, "shop"), (3, "bank")] {
            let mut j = job(n, workspace);
            store.create(&j).await.unwrap();
            j.start(j.created_at).unwrap();
            j.commit = Some(format!("{n:040x}"));
            store.save(&j).await.unwrap();
            j.transition(JobStatus::Succeeded, j.created_at).unwrap();
            store.save(&j).await.unwrap();
        }
    });

    let list = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "audit",
            "list",
            "--format",
            "json",
            "--dynamodb-jobs-table",
            &jobs_table,
        ];
        args.extend_from_slice(extra);
        let jobs: Value = serde_json::from_str(&ok(certus(&args, &endpoint))).unwrap();
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|j| j["test_id"].as_str().unwrap().to_string())
            .collect()
    };
    let id = |n: u32| format!("test_{n:012x}");
    assert_eq!(list(&[]), vec![id(3), id(2), id(1)]);
    assert_eq!(list(&["--workspace", "bank"]), vec![id(3), id(1)]);
    assert_eq!(list(&["--commit", &format!("{:040x}", 2)]), vec![id(2)]);
    assert_eq!(
        list(&["--status", "SUCCEEDED", "--limit", "2"]),
        vec![id(3), id(2)]
    );

    let shown: Value = serde_json::from_str(&ok(certus(
        &[
            "audit",
            "show",
            &id(1),
            "--format",
            "json",
            "--dynamodb-jobs-table",
            &jobs_table,
        ],
        &endpoint,
    )))
    .unwrap();
    let kinds: Vec<&str> = shown["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "submitted",
            "source_resolved",
            "status_changed",
            "status_changed"
        ]
    );
    let export = ok(certus(
        &["audit", "export", "--dynamodb-jobs-table", &jobs_table],
        &endpoint,
    ));
    assert_eq!(export.lines().count(), 3);
}

/// The key of one audit item, as `docs/dynamodb.md` lays the trail out.
fn audit_key(test_id: &str, seq: u64) -> [(String, AttributeValue); 2] {
    [
        ("pk".into(), AttributeValue::S(format!("JOB#{test_id}"))),
        ("sk".into(), AttributeValue::S(format!("AUDIT#{seq:020}"))),
    ]
}

#[test]
fn verify_names_an_entry_removed_edited_or_reordered_in_the_dynamodb_table() {
    let Some(endpoint) = endpoint() else {
        return;
    };
    let names = TableNames::new(
        certus_testkit::unique_name("chain-jobs"),
        certus_testkit::unique_name("chain-events"),
    );
    let table = names.jobs.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let id = |n: u32| format!("test_{n:012x}");
    runtime.block_on(async {
        let client = client(&endpoint);
        create_tables(&client, &names).await.unwrap();
        let store = AuditedJobStore::new(
            Arc::new(DynamoJobStore::new(client.clone(), &table)),
            Arc::new(DynamoAuditLog::new(client.clone(), &table)),
        );
        // A job from before the chain: its record keeps no head and its first entries carry no prev.
        let legacy = job(6, "bank");
        let jobs = DynamoJobStore::new(client.clone(), &table);
        jobs.create(&legacy).await.unwrap();
        let trail = DynamoAuditLog::new(client.clone(), &table);
        for (seq, kind) in [(1, AuditKind::Submitted), (2, AuditKind::StatusChanged)] {
            let entry = AuditEntry {
                test_id: legacy.test_id.clone(),
                seq,
                at: legacy.created_at,
                kind,
                detail: serde_json::json!({"legacy": seq}),
                prev: None,
            };
            trail.append(&entry).await.unwrap();
        }
        let mut next = legacy.clone();
        next.commit = Some("6".repeat(40));
        store.save(&next).await.unwrap();
        for n in 1..=5 {
            let mut j = job(n, "bank");
            store.create(&j).await.unwrap();
            j.start(j.created_at).unwrap();
            j.commit = Some(format!("{n:040x}"));
            store.save(&j).await.unwrap();
            j.manifest_digest = Some("d".repeat(64).parse().unwrap());
            store.save(&j).await.unwrap();
            j.transition(JobStatus::Succeeded, j.created_at).unwrap();
            store.save(&j).await.unwrap();
        }
    });
    let verify = |test_id: &str| {
        let out = certus(
            &["audit", "verify", test_id, "--dynamodb-jobs-table", &table],
            &endpoint,
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    for n in 1..=5 {
        let (code, text) = verify(&id(n));
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("5 entries, chain intact"), "{text}");
    }

    runtime.block_on(async {
        let client = client(&endpoint);
        let delete = |test_id: String, seq| {
            client
                .delete_item()
                .table_name(&table)
                .set_key(Some(audit_key(&test_id, seq).into_iter().collect()))
                .send()
        };
        delete(id(1), 3).await.unwrap();
        delete(id(4), 5).await.unwrap();
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(audit_key(&id(2), 2).into_iter().collect()))
            .update_expression("SET detail = :d")
            .expression_attribute_values(":d", AttributeValue::S(r#"{"commit":"forged"}"#.into()))
            .send()
            .await
            .unwrap();
        let item = |seq| {
            client
                .get_item()
                .table_name(&table)
                .set_key(Some(audit_key(&id(3), seq).into_iter().collect()))
                .consistent_read(true)
                .send()
        };
        let (second, third) = (
            item(2).await.unwrap().item.unwrap(),
            item(3).await.unwrap().item.unwrap(),
        );
        for (mut moved, seq) in [(third, 2u64), (second, 3u64)] {
            moved.extend(audit_key(&id(3), seq));
            moved.insert("seq".into(), AttributeValue::N(seq.to_string()));
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(moved))
                .send()
                .await
                .unwrap();
        }
    });
    for (n, named) in [
        (1, "entry 3: removed"),
        (2, "entry 2: edited"),
        (3, "entry 2: reordered"),
        (4, "entry 5: removed"),
    ] {
        let (code, text) = verify(&id(n));
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.starts_with("BROKEN: ") && text.contains(named),
            "{named} in {text}"
        );
    }
    let (code, text) = verify(&id(5));
    assert_eq!(
        code,
        Some(0),
        "the untouched trail beside them still passes: {text}"
    );
    let (code, text) = verify(&id(6));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("3 entries, chain intact")
            && text.contains("entries 1..2 were written before the chain"),
        "{text}"
    );
}
