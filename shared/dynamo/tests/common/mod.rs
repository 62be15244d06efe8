//! Shared helpers for the DynamoDB tests: a moto client with dummy credentials, fresh tables, and jobs
//! that differ in every attribute an auditor filters on.

// Each test binary uses a part of these helpers.
#![allow(dead_code)]

use std::sync::Arc;

use certus_core::audit::AuditedJobStore;
use certus_core::job::{Job, JobStatus};
use certus_core::ports::{JobQuery, JobStore};
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_dynamo::{create_tables, DynamoAuditLog, DynamoEventLog, DynamoJobStore, TableNames};
use chrono::{TimeZone, Utc};

pub use certus_testkit::moto_endpoint;

/// A client whose configuration carries dummy credentials and a region, so no credential chain (and no
/// cloud metadata address) is consulted.
pub fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = certus_testkit::emulator_sdk_config(endpoint);
    aws_sdk_dynamodb::Client::new(&config)
}

pub use certus_testkit::unique_name as unique;

pub struct Tables {
    pub client: aws_sdk_dynamodb::Client,
    pub names: TableNames,
    pub jobs: Arc<DynamoJobStore>,
    pub events: Arc<DynamoEventLog>,
    pub audit: Arc<DynamoAuditLog>,
}

impl Tables {
    pub fn audited(&self) -> AuditedJobStore {
        AuditedJobStore::new(self.jobs.clone(), self.audit.clone())
    }
}

/// Fresh tables on moto (the trail in the jobs table).
pub async fn tables(endpoint: &str) -> Tables {
    let client = client(endpoint);
    let names = TableNames::new(unique("jobs"), unique("events"));
    create_tables(&client, &names).await.unwrap();
    Tables {
        jobs: Arc::new(DynamoJobStore::new(client.clone(), &names.jobs)),
        events: Arc::new(DynamoEventLog::new(client.clone(), &names.events)),
        audit: Arc::new(DynamoAuditLog::new(client.clone(), &names.audit)),
        client,
        names,
    }
}

pub fn id(n: u32) -> String {
    format!("test_{n:012x}")
}

/// A queued git job; `minute` sets its creation time.
pub fn job(n: u32, ids: (&str, &str, &str), repository: &str, minute: u32) -> Job {
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: ids.0.into(),
            component_id: ids.1.into(),
            assessment_id: ids.2.into(),
        },
        source: SourceSpec::Git {
            git_url: repository.into(),
            branch: Some("main".into()),
            commit: None,
            git_credentials_ref: None,
        },
        manifest: ManifestSource::RepoPath("certus-manifest.json".into()),
        signature: None,
        profile: "light".into(),
        requested_by: Some("ci".into()),
        baseline: None,
        full_scan: false,
    };
    let created = Utc
        .with_ymd_and_hms(2026, 11, 28, 10, minute, 0)
        .single()
        .unwrap();
    Job::queued(id(n), submission, "ws://x".into(), created)
}

/// Takes a job through a run: started, commit and manifest recorded, ended with `end`.
pub async fn run(store: &dyn JobStore, mut job: Job, commit: &str, digest: &str, end: JobStatus) {
    store.create(&job).await.unwrap();
    if end == JobStatus::Queued {
        return;
    }
    let at = job.created_at + chrono::Duration::seconds(1);
    job.start(at).unwrap();
    job.commit = Some(commit.into());
    store.save(&job).await.unwrap();
    job.manifest_digest = Some(digest.parse().unwrap());
    job.manifest_verification = Some(
        serde_json::from_value(
            serde_json::json!({"method": "cosign-keyed-ecdsa-p256", "verified": true}),
        )
        .unwrap(),
    );
    store.save(&job).await.unwrap();
    if end != JobStatus::Running {
        job.transition(end, at + chrono::Duration::seconds(5))
            .unwrap();
        store.save(&job).await.unwrap();
    }
}

/// Every job a query matches, page by page (`limit` per page), checking each page's size.
pub async fn all_pages(store: &dyn JobStore, query: &JobQuery) -> Vec<Job> {
    let mut query = query.clone();
    let mut found: Vec<Job> = Vec::new();
    loop {
        let page = store.list(&query).await.unwrap();
        match page.next_page_token {
            Some(token) => {
                assert_eq!(
                    page.jobs.len(),
                    query.limit,
                    "a page before the last is full"
                );
                found.extend(page.jobs);
                query.page_token = Some(token);
            }
            None => {
                found.extend(page.jobs);
                return found;
            }
        }
    }
}
