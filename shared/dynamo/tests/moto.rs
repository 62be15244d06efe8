//! The DynamoDB adapters against a real moto server: every access pattern, pagination, conditional
//! refusals (trail, event seq, stale job saves) and the table design. Start moto with
//! `shared/aws/tests/start-moto.sh <port>` and export `CERTUS_MOTO_ENDPOINT`; without it every test is
//! skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_core::audit::{AuditEntry, AuditKind, AuditLog};
use certus_core::event::{Event, EventBody};
use certus_core::job::{JobStatus, UploadStatus};
use certus_core::ports::{EventLog, JobQuery, JobStore};
use certus_core::record::UploadStep;
use certus_core::{time, CoreError};
use certus_dynamo::{create_tables, DynamoAuditLog, DynamoJobStore, TableNames, JOB_INDEXES};
use common::{all_pages, id, job, moto_endpoint, run, tables, unique};
use serde_json::json;

const REPO_A: &str = "https://git.example.invalid/a.git";
const REPO_B: &str = "https://git.example.invalid/b.git";

fn ids(jobs: &[certus_core::job::Job]) -> Vec<String> {
    jobs.iter().map(|j| j.test_id.clone()).collect()
}

fn expect(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|&n| id(n)).collect()
}

#[tokio::test]
async fn every_access_pattern_is_one_query_and_answers_newest_first() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let store = t.audited();
    let c1 = "1".repeat(40);
    let c2 = "2".repeat(40);
    let (d1, d2) = ("a".repeat(64), "b".repeat(64));
    let fixture = [
        (
            1,
            ("w1", "api", "q1"),
            REPO_A,
            1,
            &c1,
            &d1,
            JobStatus::Succeeded,
        ),
        (
            2,
            ("w1", "api", "q2"),
            REPO_A,
            2,
            &c2,
            &d1,
            JobStatus::Failed,
        ),
        (
            3,
            ("w1", "web", "q1"),
            REPO_B,
            3,
            &c1,
            &d2,
            JobStatus::Succeeded,
        ),
        (
            4,
            ("w2", "api", "q1"),
            REPO_A,
            4,
            &c2,
            &d2,
            JobStatus::Running,
        ),
        (
            5,
            ("w2", "api", "q1"),
            REPO_B,
            5,
            &c2,
            &d1,
            JobStatus::Queued,
        ),
    ];
    for (n, triple, repo, minute, commit, digest, end) in fixture {
        run(&store, job(n, triple, repo, minute), commit, digest, end).await;
    }

    let by_id = t.jobs.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(by_id.commit.as_deref(), Some(c1.as_str()));
    assert_eq!(t.jobs.get(&id(99)).await.unwrap(), None);

    let q = |f: fn(&mut JobQuery)| {
        let mut query = JobQuery {
            limit: 10,
            ..Default::default()
        };
        f(&mut query);
        query
    };
    let cases: Vec<(&str, JobQuery, Vec<u32>)> = vec![
        (
            "workspace",
            q(|q| q.workspace_id = Some("w1".into())),
            vec![3, 2, 1],
        ),
        (
            "workspace+component",
            q(|q| {
                q.workspace_id = Some("w1".into());
                q.component_id = Some("api".into());
            }),
            vec![2, 1],
        ),
        (
            "workspace+component+assessment",
            q(|q| {
                q.workspace_id = Some("w2".into());
                q.component_id = Some("api".into());
                q.assessment_id = Some("q1".into());
            }),
            vec![5, 4],
        ),
        (
            "repository",
            q(|q| q.repository = Some(REPO_A.into())),
            vec![4, 2, 1],
        ),
        (
            "repository+commit",
            q(|q| {
                q.repository = Some(REPO_A.into());
                q.commit = Some("2".repeat(40));
            }),
            vec![4, 2],
        ),
        (
            "manifest digest",
            q(|q| q.manifest_digest = Some("b".repeat(64))),
            vec![4, 3],
        ),
        (
            "status",
            q(|q| q.status = Some(JobStatus::Succeeded)),
            vec![3, 1],
        ),
        ("all", q(|_| {}), vec![5, 4, 3, 2, 1]),
        (
            "time range",
            q(|q| {
                q.created_after = Some(common::job(0, ("w", "c", "a"), REPO_A, 2).created_at);
                q.created_before = Some(common::job(0, ("w", "c", "a"), REPO_A, 4).created_at);
            }),
            vec![3, 2],
        ),
    ];
    for (name, query, expected) in cases {
        let page = t.jobs.list(&query).await.unwrap();
        assert_eq!(ids(&page.jobs), expect(&expected), "{name}");
        assert_eq!(page.next_page_token, None, "{name}");
    }

    let trail = t.audit.trail(&id(1)).await.unwrap();
    let kinds: Vec<AuditKind> = trail.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            AuditKind::Submitted,
            AuditKind::SourceResolved,
            AuditKind::StatusChanged,
            AuditKind::ManifestRecorded,
            AuditKind::ManifestVerification,
            AuditKind::StatusChanged,
        ]
    );
    assert_eq!(
        trail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(t.audit.last(&id(1)).await.unwrap().map(|e| e.seq), Some(6));
    assert!(t.audit.trail(&id(99)).await.unwrap().is_empty());
}

#[tokio::test]
async fn pages_are_stable_with_no_duplicates_and_no_gaps() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    // Nine jobs, three pairs sharing a creation time; every third one in another component.
    for n in 0..9 {
        let component = if n % 3 == 0 { "odd" } else { "main" };
        let created = job(n, ("w", component, "a"), REPO_A, n / 2);
        t.jobs.create(&created).await.unwrap();
    }
    let everything = all_pages(
        t.jobs.as_ref(),
        &JobQuery {
            workspace_id: Some("w".into()),
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&everything), expect(&[8, 7, 6, 5, 4, 3, 2, 1, 0]));
    for limit in [1, 2, 4, 9] {
        let paged = all_pages(
            t.jobs.as_ref(),
            &JobQuery {
                workspace_id: Some("w".into()),
                limit,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(ids(&paged), ids(&everything), "limit {limit}");
    }
    // A filter the chosen index does not answer (the component, on the repository index) still gives full pages.
    let main_only = all_pages(
        t.jobs.as_ref(),
        &JobQuery {
            repository: Some(REPO_A.into()),
            component_id: Some("main".into()),
            limit: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&main_only), expect(&[8, 7, 5, 4, 2, 1]));
}

#[tokio::test]
async fn a_forged_or_foreign_page_token_is_a_validation_error() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    for n in 0..3 {
        t.jobs
            .create(&job(n, ("w", "c", "a"), REPO_A, n))
            .await
            .unwrap();
    }
    let first = t
        .jobs
        .list(&JobQuery {
            workspace_id: Some("w".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let token = first.next_page_token.unwrap();
    for (name, query) in [
        (
            "another workspace",
            JobQuery {
                workspace_id: Some("other".into()),
                limit: 1,
                page_token: Some(token.clone()),
                ..Default::default()
            },
        ),
        (
            "another index",
            JobQuery {
                status: Some(JobStatus::Queued),
                limit: 1,
                page_token: Some(token.clone()),
                ..Default::default()
            },
        ),
        (
            "not base64",
            JobQuery {
                page_token: Some("{\"index\":\"by_created\"}".into()),
                ..Default::default()
            },
        ),
    ] {
        let err = t.jobs.list(&query).await.unwrap_err();
        assert!(
            matches!(&err, CoreError::Validation(f) if f[0].field == "page_token"),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn the_trail_and_the_event_history_cannot_be_overwritten() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let entry = |seq, detail| AuditEntry {
        test_id: id(1),
        seq,
        at: time::now(),
        kind: AuditKind::StatusChanged,
        detail,
        prev: None,
    };
    t.audit
        .append(&entry(1, json!({"to": "RUNNING"})))
        .await
        .unwrap();
    let refused = t
        .audit
        .append(&entry(1, json!({"to": "SUCCEEDED"})))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CoreError::Conflict(m) if m.contains("append-only")),
        "{refused}"
    );
    let trail = t.audit.trail(&id(1)).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].detail, json!({"to": "RUNNING"}));

    for seq in 1..=3 {
        t.events
            .append(&Event::new(
                &id(1),
                seq,
                EventBody::phase(format!("p{seq}")),
            ))
            .await
            .unwrap();
    }
    let taken = t
        .events
        .append(&Event::new(&id(1), 2, EventBody::phase("again")))
        .await;
    assert!(matches!(
        taken,
        Err(CoreError::EventSeqTaken { seq: 2, .. })
    ));
    let after_one: Vec<u64> = t
        .events
        .history(&id(1), 1)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(after_one, vec![2, 3]);
    assert_eq!(
        t.events.history(&id(1), 0).await.unwrap()[1].body,
        EventBody::phase("p2")
    );
    assert_eq!(t.events.last_seq(&id(1)).await.unwrap(), 3);
    assert_eq!(t.events.last_seq(&id(2)).await.unwrap(), 0);
}

#[tokio::test]
async fn job_saves_refuse_duplicates_unknown_jobs_and_stale_copies() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let mut j = job(1, ("w", "c", "a"), REPO_A, 0);
    t.jobs.create(&j).await.unwrap();
    assert!(matches!(
        t.jobs.create(&j).await,
        Err(CoreError::JobExists(_))
    ));
    assert!(matches!(
        t.jobs.save(&job(2, ("w", "c", "a"), REPO_A, 0)).await,
        Err(CoreError::JobNotFound(_))
    ));
    let stale = j.clone();
    j.start(time::now()).unwrap();
    j.transition(JobStatus::Succeeded, time::now()).unwrap();
    j.upload_audit
        .push(UploadStep::publish_failed("publication failed: gone"));
    j.set_upload_status(UploadStatus::Denied).unwrap();
    t.jobs.save(&j).await.unwrap();
    assert_eq!(t.jobs.get(&j.test_id).await.unwrap(), Some(j.clone()));

    let err = t.jobs.save(&stale).await.unwrap_err().to_string();
    assert!(err.contains("already ended SUCCEEDED"), "{err}");
    let mut dropped = j.clone();
    dropped.upload_audit.clear();
    let err = t.jobs.save(&dropped).await.unwrap_err().to_string();
    assert!(err.contains("stale copy"), "{err}");
    assert_eq!(t.jobs.get(&j.test_id).await.unwrap(), Some(j));
}

#[tokio::test]
async fn the_upload_lease_is_one_holders_until_released_or_expired_and_saves_leave_it() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let j = job(1, ("w", "c", "a"), REPO_A, 0);
    t.jobs.create(&j).await.unwrap();
    let lease = std::time::Duration::from_secs(600);
    assert!(t
        .jobs
        .claim_upload(&j.test_id, "gate-a", lease)
        .await
        .unwrap());
    assert!(!t
        .jobs
        .claim_upload(&j.test_id, "gate-b", lease)
        .await
        .unwrap());
    // Saving the record (the holder's own progress) does not free the job.
    t.jobs.save(&j).await.unwrap();
    assert!(!t
        .jobs
        .claim_upload(&j.test_id, "gate-b", lease)
        .await
        .unwrap());
    assert_eq!(t.jobs.get(&j.test_id).await.unwrap(), Some(j.clone()));
    // Only the holder gives it back.
    t.jobs.release_upload(&j.test_id, "gate-b").await.unwrap();
    assert!(!t
        .jobs
        .claim_upload(&j.test_id, "gate-b", lease)
        .await
        .unwrap());
    t.jobs.release_upload(&j.test_id, "gate-a").await.unwrap();
    assert!(t
        .jobs
        .claim_upload(&j.test_id, "gate-b", lease)
        .await
        .unwrap());
    // A holder that never came back: its expired lease is taken over.
    let other = job(2, ("w", "c", "a"), REPO_A, 0);
    t.jobs.create(&other).await.unwrap();
    let expired = std::time::Duration::ZERO;
    assert!(t
        .jobs
        .claim_upload(&other.test_id, "gone", expired)
        .await
        .unwrap());
    assert!(t
        .jobs
        .claim_upload(&other.test_id, "gate-a", lease)
        .await
        .unwrap());
    // The lease item stays out of every listing.
    let listed = t.jobs.list(&JobQuery::default()).await.unwrap().jobs;
    assert_eq!(listed.len(), 2, "{:?}", ids(&listed));
}

#[tokio::test]
async fn concurrent_saves_never_lose_an_acknowledged_write() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let mut j = job(1, ("w", "c", "a"), REPO_A, 0);
    t.jobs.create(&j).await.unwrap();
    j.start(time::now()).unwrap();
    let mut writers = Vec::new();
    for n in 0..8 {
        let store = t.jobs.clone();
        let mut copy = j.clone();
        copy.warnings.push(format!("writer {n}"));
        writers.push(tokio::spawn(async move { (store.save(&copy).await, copy) }));
    }
    let mut acknowledged = 0u64;
    let mut last_ok = Vec::new();
    for writer in writers {
        let (result, copy) = writer.await.unwrap();
        match result {
            Ok(()) => {
                acknowledged += 1;
                last_ok.push(copy);
            }
            Err(CoreError::Conflict(m)) => assert!(m.contains("another writer"), "{m}"),
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert!(acknowledged >= 1);
    let item = t
        .client
        .get_item()
        .table_name(&t.names.jobs)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{}", id(1))),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("JOB".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let version = item["version"].as_n().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        version,
        1 + acknowledged,
        "every acknowledged save is one version"
    );
    let stored = t.jobs.get(&id(1)).await.unwrap().unwrap();
    assert!(
        last_ok.contains(&stored),
        "the stored record is one that was acknowledged"
    );
}

#[tokio::test]
async fn concurrent_appends_keep_one_chain() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let store = std::sync::Arc::new(t.audited());
    let j = job(1, ("w", "c", "a"), REPO_A, 0);
    store.create(&j).await.unwrap();
    let mut writers = Vec::new();
    for n in 0..6 {
        let store = store.clone();
        let mut copy = j.clone();
        copy.upload_audit
            .push(UploadStep::publish_failed(format!("writer {n}")));
        writers.push(tokio::spawn(async move { store.save(&copy).await }));
    }
    for writer in writers {
        // A writer may lose the record's version race; its trail entry is in the chain all the same.
        match writer.await.unwrap() {
            Ok(()) | Err(CoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    let trail = t.audit.trail(&id(1)).await.unwrap();
    let check = certus_core::audit_chain::check_chain(&trail, None).unwrap();
    assert_eq!(check.broken, None, "one chain, no fork");
    let prevs: std::collections::BTreeSet<_> = trail.iter().map(|e| e.prev.clone()).collect();
    assert_eq!(prevs.len(), trail.len(), "no two entries share a prev");
    assert!(trail.len() >= 2);
}

#[tokio::test]
async fn the_tables_have_the_documented_keys_and_the_trail_may_live_apart() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let client = common::client(&endpoint);
    let mut names = TableNames::new(unique("jobs"), unique("events"));
    names.audit = unique("audit");
    create_tables(&client, &names).await.unwrap();
    let described = client
        .describe_table()
        .table_name(&names.jobs)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, String)> = described
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );
    let mut indexes: Vec<String> = described
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_string))
        .collect();
    indexes.sort();
    let mut documented: Vec<String> = JOB_INDEXES.iter().map(|(i, _)| i.to_string()).collect();
    documented.sort();
    assert_eq!(indexes, documented);
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/dynamodb.md"
    ))
    .unwrap();
    for (index, partition) in JOB_INDEXES {
        assert!(
            docs.contains(&format!("`{index}`")) && docs.contains(&format!("`{partition}`")),
            "docs/dynamodb.md describes {index} on {partition}"
        );
    }

    let audit = DynamoAuditLog::new(client.clone(), &names.audit);
    let jobs = DynamoJobStore::new(client.clone(), &names.jobs);
    let store = certus_core::audit::AuditedJobStore::new(
        std::sync::Arc::new(jobs),
        std::sync::Arc::new(audit.clone()),
    );
    store
        .create(&job(1, ("w", "c", "a"), REPO_A, 0))
        .await
        .unwrap();
    assert_eq!(audit.trail(&id(1)).await.unwrap().len(), 1);
    let in_jobs_table = DynamoAuditLog::new(client, &names.jobs);
    assert!(in_jobs_table.trail(&id(1)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_corrupt_job_record_is_not_retried_and_an_unreachable_store_is() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use certus_core::{Retry, Retryability};

    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    for (n, record) in [
        (1, AttributeValue::S("{not json".into())),
        (2, AttributeValue::N("7".into())),
    ] {
        t.client
            .put_item()
            .table_name(&t.names.jobs)
            .item("pk", AttributeValue::S(format!("JOB#{}", id(n))))
            .item("sk", AttributeValue::S("JOB".into()))
            .item("record", record)
            .send()
            .await
            .unwrap();
        let err = t.jobs.get(&id(n)).await.unwrap_err();
        assert!(
            matches!(&err, CoreError::CorruptRecord { what, .. } if what.starts_with("job record")),
            "{err}"
        );
        assert_eq!(err.retry(), Retry::NonRetryable, "{err}");
    }

    // Nothing listens on a port just given back: the store is unavailable, which a retry may cure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = DynamoJobStore::new(
        common::client(&format!("http://127.0.0.1:{port}")),
        &t.names.jobs,
    );
    let err = unreachable.get(&id(1)).await.unwrap_err();
    assert!(matches!(&err, CoreError::Storage(_)), "{err}");
    assert_eq!(err.retry(), Retry::Retryable, "{err}");
}

/// Issue 17: a step still in flight when the job is cancelled saves its stale copy afterwards; the save
/// (its ConditionExpression: version, and an ended status kept) refuses it, and the job stays CANCELLED with its one `scan_complete`.
#[tokio::test]
async fn a_step_save_after_cancel_leaves_the_job_cancelled_with_one_scan_complete() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let mut j = job(41, ("w1", "api", "q1"), REPO_A, 1);
    t.jobs.create(&j).await.unwrap();
    j.start(time::now()).unwrap();
    t.jobs.save(&j).await.unwrap();
    let mut late = t.jobs.get(&j.test_id).await.unwrap().unwrap();
    let records = certus_core::pipeline::Records {
        jobs: t.jobs.clone(),
        events: t.events.clone(),
        sinks: Vec::new(),
        stream_base: String::new(),
    };
    certus_core::pipeline::cancel(&records, None, &j.test_id, "cancelled by the user")
        .await
        .unwrap();

    late.commit = Some("late".into());
    assert!(matches!(
        t.jobs.save(&late).await,
        Err(CoreError::Conflict(_))
    ));
    late.transition(JobStatus::Succeeded, time::now()).unwrap();
    assert!(matches!(
        t.jobs.save(&late).await,
        Err(CoreError::Conflict(_))
    ));
    let stored = t.jobs.get(&j.test_id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Cancelled);
    assert_eq!(stored.commit, None);
    let completes = t
        .events
        .history(&j.test_id, 0)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.body.is_terminal())
        .count();
    assert_eq!(completes, 1);
}
