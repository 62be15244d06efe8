//! One table of audit questions, asked of the embedded SQLite store and of DynamoDB (moto) loaded with the
//! same jobs through the same audited store: every answer — each page's records and each trail — must be
//! identical. Without `CERTUS_MOTO_ENDPOINT` the test is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_core::audit::{AuditEntry, AuditLog, AuditedJobStore};
use certus_core::audit_chain::check_chain;
use certus_core::job::{Job, JobStatus};
use certus_core::ports::{JobQuery, JobStore};
use certus_local::SqliteStore;
use common::{all_pages, id, job, moto_endpoint, run, tables};
use std::sync::Arc;

const REPOS: [&str; 3] = [
    "https://git.example.invalid/payments.git",
    "https://git.example.invalid/portal.git",
    "https://git.example.invalid/tools.git",
];
const WORKSPACES: [&str; 2] = ["bank", "shop"];
const COMPONENTS: [&str; 3] = ["api", "web", "batch"];
const ENDS: [JobStatus; 5] = [
    JobStatus::Succeeded,
    JobStatus::Failed,
    JobStatus::Running,
    JobStatus::Queued,
    JobStatus::Succeeded,
];

fn commit(n: u32) -> String {
    format!("{:040x}", n % 4)
}

fn digest(n: u32) -> String {
    format!("{:064x}", n % 3)
}

/// Records without their chain heads: each store's trail was written at its own moment, so its entries and
/// their hashes differ; each head is checked against its own trail instead.
fn headless(jobs: impl IntoIterator<Item = Job>) -> Vec<Job> {
    jobs.into_iter()
        .map(|mut job| {
            job.audit_head = None;
            job
        })
        .collect()
}

/// The trail without its wall-clock times (each store's trail was written at its own moment).
fn comparable(trail: Vec<AuditEntry>) -> Vec<(u64, String, serde_json::Value)> {
    trail
        .into_iter()
        .map(|e| (e.seq, e.kind.to_string(), e.detail))
        .collect()
}

#[tokio::test]
async fn the_embedded_store_and_dynamodb_answer_every_audit_question_alike() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let dynamo = tables(&endpoint).await;
    let sqlite = Arc::new(SqliteStore::in_memory().unwrap());
    let stores: [(&str, AuditedJobStore, Arc<dyn AuditLog>); 2] = [
        (
            "sqlite",
            AuditedJobStore::new(sqlite.clone(), sqlite.clone()),
            sqlite.clone(),
        ),
        ("dynamodb", dynamo.audited(), dynamo.audit.clone()),
    ];
    // 24 jobs over two workspaces, three components and repositories, four commits, three manifests,
    // five outcomes; creation minutes repeat so ties are broken by id.
    let count = 24;
    for n in 0..count {
        let triple = (
            WORKSPACES[(n % 2) as usize],
            COMPONENTS[(n % 3) as usize],
            if n % 4 < 2 { "q1" } else { "q2" },
        );
        let created = job(n, triple, REPOS[(n % 3) as usize], (n * 7) % 11);
        for (_, store, _) in &stores {
            run(
                store,
                created.clone(),
                &commit(n),
                &digest(n),
                ENDS[(n % 5) as usize],
            )
            .await;
        }
    }

    let minute = |m| job(0, ("w", "c", "a"), REPOS[0], m).created_at;
    let q = |limit: usize, f: &dyn Fn(&mut JobQuery)| {
        let mut query = JobQuery {
            limit,
            ..Default::default()
        };
        f(&mut query);
        query
    };
    let questions: Vec<(&str, JobQuery)> = vec![
        ("everything", q(5, &|_| {})),
        ("workspace", q(3, &|q| q.workspace_id = Some("bank".into()))),
        (
            "workspace and component",
            q(2, &|q| {
                q.workspace_id = Some("shop".into());
                q.component_id = Some("web".into());
            }),
        ),
        (
            "workspace, component and assessment",
            q(2, &|q| {
                q.workspace_id = Some("bank".into());
                q.component_id = Some("api".into());
                q.assessment_id = Some("q1".into());
            }),
        ),
        (
            "component alone",
            q(4, &|q| q.component_id = Some("batch".into())),
        ),
        (
            "assessment alone",
            q(4, &|q| q.assessment_id = Some("q2".into())),
        ),
        (
            "repository",
            q(3, &|q| q.repository = Some(REPOS[1].into())),
        ),
        (
            "repository and commit",
            q(2, &|q| {
                q.repository = Some(REPOS[0].into());
                q.commit = Some(commit(3));
            }),
        ),
        ("commit", q(2, &|q| q.commit = Some(commit(1)))),
        (
            "manifest digest",
            q(3, &|q| q.manifest_digest = Some(digest(2))),
        ),
        ("status", q(2, &|q| q.status = Some(JobStatus::Succeeded))),
        (
            "status in a workspace",
            q(2, &|q| {
                q.status = Some(JobStatus::Failed);
                q.workspace_id = Some("shop".into());
            }),
        ),
        (
            "time range",
            q(3, &|q| {
                q.created_after = Some(minute(3));
                q.created_before = Some(minute(8));
            }),
        ),
        (
            "digest in a time range and workspace",
            q(1, &|q| {
                q.manifest_digest = Some(digest(0));
                q.workspace_id = Some("bank".into());
                q.created_after = Some(minute(2));
            }),
        ),
        (
            "created before",
            q(4, &|q| q.created_before = Some(minute(5))),
        ),
        (
            "inverted range",
            q(4, &|q| {
                q.created_after = Some(minute(8));
                q.created_before = Some(minute(3));
            }),
        ),
        (
            "unknown repository",
            q(4, &|q| {
                q.repository = Some("https://nowhere.invalid/x.git".into());
            }),
        ),
    ];
    let mut matched = 0;
    for (name, question) in &questions {
        let answers = [
            all_pages(&stores[0].1, question).await,
            all_pages(&stores[1].1, question).await,
        ];
        assert_eq!(
            answers[0].iter().map(|j| &j.test_id).collect::<Vec<_>>(),
            answers[1].iter().map(|j| &j.test_id).collect::<Vec<_>>(),
            "{name}: the same jobs in the same order"
        );
        assert_eq!(
            headless(answers[0].clone()),
            headless(answers[1].clone()),
            "{name}: the same records"
        );
        matched += usize::from(!answers[0].is_empty());
        // Single pages too, not only their concatenation.
        let pages = [
            stores[0].1.list(question).await.unwrap(),
            stores[1].1.list(question).await.unwrap(),
        ];
        assert_eq!(
            headless(pages[0].jobs.clone()),
            headless(pages[1].jobs.clone()),
            "{name}: the same first page"
        );
        assert_eq!(
            pages[0].next_page_token.is_some(),
            pages[1].next_page_token.is_some(),
            "{name}: both know whether more follows"
        );
    }
    assert_eq!(
        matched,
        questions.len() - 2,
        "every question but the two empty ones matches some job"
    );
    for n in 0..count {
        let trails = [
            comparable(stores[0].2.trail(&id(n)).await.unwrap()),
            comparable(stores[1].2.trail(&id(n)).await.unwrap()),
        ];
        assert!(!trails[0].is_empty());
        assert_eq!(trails[0], trails[1], "trail of {}", id(n));
        assert_eq!(
            stores[0].2.last(&id(n)).await.unwrap().map(|e| e.seq),
            stores[1].2.last(&id(n)).await.unwrap().map(|e| e.seq)
        );
        let records = [
            stores[0].1.get(&id(n)).await.unwrap(),
            stores[1].1.get(&id(n)).await.unwrap(),
        ];
        assert_eq!(headless(records[0].clone()), headless(records[1].clone()));
        for (store, record) in stores.iter().zip(&records) {
            let head = record.as_ref().and_then(|r| r.audit_head.as_ref());
            let check = check_chain(&store.2.trail(&id(n)).await.unwrap(), head).unwrap();
            assert_eq!(
                check.broken,
                None,
                "{}: {} trail of {}",
                store.0,
                check.entries,
                id(n)
            );
            assert_eq!(
                check.head.as_ref(),
                head,
                "{}: the record keeps the head",
                store.0
            );
        }
    }
}
