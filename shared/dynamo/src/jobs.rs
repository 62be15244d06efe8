//! Job records: one item per job (partition `JOB#<test_id>`, sort `JOB`) carrying the whole record as
//! JSON plus the attributes its indexes are keyed on. Lookups by id are a `GetItem`; every listing is a
//! `Query` on the index whose partition matches the most selective filter, newest first, with any other
//! filter applied by the same Query. Saves are conditional on the version read just before, and refuse to
//! move a job out of a final state or to drop recorded Trust exchanges, so two writers never silently
//! overwrite each other.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use certus_core::error::{CoreError, Result};
use certus_core::job::{Job, JobStatus, UploadStatus};
use certus_core::ports::{JobPage, JobQuery, JobStore};
use certus_core::time;

use crate::attrs::{
    get_n, get_s, is_condition_failure, job_partition, n, s, storage, Item, PK, SK,
};
use crate::page::{self, Partition};

pub const CREATED_KEY: &str = "created_key";
pub const JOB_SORT_KEY: &str = "JOB";
const ENTITY: &str = "entity";
const RECORD: &str = "record";
const VERSION: &str = "version";
/// The sort key of a job's upload lease item, beside its record in the job's partition.
const UPLOAD_LEASE_SORT_KEY: &str = "UPLOAD_LEASE";
const LEASE_HOLDER: &str = "lease_holder";
const LEASE_UNTIL: &str = "lease_until_ms";
const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

/// `JobStore` on the jobs table.
#[derive(Debug, Clone)]
pub struct DynamoJobStore {
    client: Client,
    table: String,
}

/// `<created_at>#<test_id>`: sorts by time, then id, like the embedded store.
fn created_key(job: &Job) -> String {
    format!("{}#{}", time::format(&job.created_at), job.test_id)
}

fn job_item(job: &Job, version: u64) -> Result<Item> {
    let record = serde_json::to_string(job).map_err(|e| CoreError::json("job record", e))?;
    let ids = &job.ids;
    let mut item: Item = [
        (PK, s(job_partition(&job.test_id))),
        (SK, s(JOB_SORT_KEY)),
        (ENTITY, s("job")),
        ("test_id", s(&job.test_id)),
        (CREATED_KEY, s(created_key(job))),
        ("status", s(job.status.as_str())),
        ("workspace_id", s(&ids.workspace_id)),
        ("component_id", s(&ids.component_id)),
        ("assessment_id", s(&ids.assessment_id)),
        (
            "ws_component",
            s(format!("{}#{}", ids.workspace_id, ids.component_id)),
        ),
        (
            "ws_assessment",
            s(format!(
                "{}#{}#{}",
                ids.workspace_id, ids.component_id, ids.assessment_id
            )),
        ),
        (RECORD, s(record)),
        (VERSION, n(version)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // Index keys cannot be empty strings: an absent value leaves the job out of that (sparse) index.
    for (name, value) in [
        ("repository", &job.git_url),
        ("commit_sha", &job.commit),
        (
            "manifest_digest",
            &job.manifest_digest.map(|d| d.to_string()),
        ),
        ("tenant", &job.tenant),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            item.insert(name.to_string(), s(value));
        }
    }
    Ok(item)
}

fn parse_record(item: &Item) -> Result<Job> {
    Job::from_json(get_s(item, RECORD, "job record")?)
}

/// A save that would rewrite settled history is refused, whatever the version says.
fn check_save(stored: &Job, next: &Job) -> Result<()> {
    let refuse = |why: String| {
        Err(CoreError::Conflict(format!(
            "job '{}' was not saved: {why}",
            next.test_id
        )))
    };
    if stored.status.is_terminal() && next.status != stored.status {
        return refuse(format!(
            "it already ended {} and cannot become {}",
            stored.status, next.status
        ));
    }
    let settled = matches!(
        stored.upload_status,
        UploadStatus::Uploaded | UploadStatus::Denied
    );
    if settled && next.upload_status != stored.upload_status {
        return refuse(format!(
            "its upload is already {} and cannot become {}",
            stored.upload_status, next.upload_status
        ));
    }
    if next.upload_audit.len() < stored.upload_audit.len() {
        return refuse(format!(
            "the record would drop {} recorded upload step(s); it was written from a stale copy",
            stored.upload_audit.len() - next.upload_audit.len()
        ));
    }
    Ok(())
}

/// A filter applied inside the Query (any filter the chosen index's partition does not already answer).
struct Residual {
    attribute: &'static str,
    value: String,
}

/// Picks the index for a query: the most selective filter becomes the partition, the rest are residual.
fn plan(query: &JobQuery) -> (Partition, Vec<Residual>) {
    let ws = query.workspace_id.clone();
    let comp = query.component_id.clone();
    let assess = query.assessment_id.clone();
    let partition = |index, attribute, value| Partition {
        index,
        attribute,
        value,
    };
    let (chosen, answered): (Partition, &[&str]) = if let Some(commit) = &query.commit {
        (
            partition("by_commit", "commit_sha", commit.clone()),
            &["commit_sha"],
        )
    } else if let Some(digest) = &query.manifest_digest {
        (
            partition("by_manifest", "manifest_digest", digest.clone()),
            &["manifest_digest"],
        )
    } else if let (Some(w), Some(c), Some(a)) = (&ws, &comp, &assess) {
        (
            partition("by_assessment", "ws_assessment", format!("{w}#{c}#{a}")),
            &["workspace_id", "component_id", "assessment_id"],
        )
    } else if let (Some(w), Some(c)) = (&ws, &comp) {
        (
            partition("by_component", "ws_component", format!("{w}#{c}")),
            &["workspace_id", "component_id"],
        )
    } else if let Some(repository) = &query.repository {
        (
            partition("by_repository", "repository", repository.clone()),
            &["repository"],
        )
    } else if let Some(w) = &ws {
        (
            partition("by_workspace", "workspace_id", w.clone()),
            &["workspace_id"],
        )
    } else if let Some(status) = query.status {
        (
            partition("by_status", "status", status.as_str().to_string()),
            &["status"],
        )
    } else {
        (partition("by_created", ENTITY, "job".into()), &[])
    };
    let residual = [
        ("tenant", query.tenant.clone()),
        ("workspace_id", ws),
        ("component_id", comp),
        ("assessment_id", assess),
        ("status", query.status.map(|st| st.as_str().to_string())),
        ("repository", query.repository.clone()),
        ("commit_sha", query.commit.clone()),
        ("manifest_digest", query.manifest_digest.clone()),
    ]
    .into_iter()
    .filter(|(attribute, _)| !answered.contains(attribute))
    .filter_map(|(attribute, value)| value.map(|value| Residual { attribute, value }))
    .collect();
    (chosen, residual)
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A put of the job's upload lease item: `holder` until `until_ms` (Unix milliseconds).
    fn put_lease(
        &self,
        test_id: &str,
        holder: &str,
        until_ms: i64,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(job_partition(test_id)))
            .item(SK, s(UPLOAD_LEASE_SORT_KEY))
            .item(ENTITY, s("upload_lease"))
            .item(LEASE_HOLDER, s(holder))
            .item(LEASE_UNTIL, AttributeValue::N(until_ms.to_string()))
    }

    async fn get_item(&self, test_id: &str) -> Result<Option<Item>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(job_partition(test_id)))
            .key(SK, s(JOB_SORT_KEY))
            .consistent_read(true)
            .send()
            .await
            .map(|output| output.item)
            .map_err(|e| storage("GetItem", &self.table, e))
    }

    /// One Query call of a listing: up to `want` items after `start`, newest first.
    async fn query_once(
        &self,
        query: &JobQuery,
        partition: &Partition,
        residual: &[Residual],
        start: Option<Item>,
        want: usize,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        let mut names: HashMap<String, String> =
            HashMap::from([("#p".to_string(), partition.attribute.to_string())]);
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":p".to_string(), s(&partition.value))]);
        let mut condition = "#p = :p".to_string();
        let after = query.created_after.as_ref().map(time::format);
        let before = query.created_before.as_ref().map(time::format);
        // Sort keys are `<timestamp>#<id>`: every key of an instant sorts after the bare timestamp, so
        // `>= after` includes that instant and `<= before` (or `< before`) excludes it, as the embedded store does.
        match (after, before) {
            (Some(a), Some(b)) => {
                condition.push_str(" AND #c BETWEEN :a AND :b");
                values.insert(":a".into(), s(a));
                values.insert(":b".into(), s(b));
            }
            (Some(a), None) => {
                condition.push_str(" AND #c >= :a");
                values.insert(":a".into(), s(a));
            }
            (None, Some(b)) => {
                condition.push_str(" AND #c < :b");
                values.insert(":b".into(), s(b));
            }
            (None, None) => {}
        }
        if values.len() > 1 {
            names.insert("#c".into(), CREATED_KEY.into());
        }
        let mut filters = Vec::new();
        for (i, filter) in residual.iter().enumerate() {
            names.insert(format!("#f{i}"), filter.attribute.to_string());
            values.insert(format!(":f{i}"), s(&filter.value));
            filters.push(format!("#f{i} = :f{i}"));
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(partition.index)
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(i32::try_from(want).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        let output = request
            .send()
            .await
            .map_err(|e| storage("Query", &self.table, e))?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn create(&self, job: &Job) -> Result<()> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job, 1)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(CoreError::JobExists(job.test_id.clone())),
            Err(e) => Err(storage("PutItem", &self.table, e)),
        }
    }

    async fn get(&self, test_id: &str) -> Result<Option<Job>> {
        self.get_item(test_id)
            .await?
            .as_ref()
            .map(parse_record)
            .transpose()
    }

    async fn save(&self, job: &Job) -> Result<()> {
        let stored = self
            .get_item(&job.test_id)
            .await?
            .ok_or_else(|| CoreError::JobNotFound(job.test_id.clone()))?;
        let version = get_n(&stored, VERSION, "job record")?;
        check_save(&parse_record(&stored)?, job)?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job, version + 1)?))
            // The version, and — part of the same write — a job that has ended keeps its status, so a step
            // still in flight cannot save over a job cancelled meanwhile.
            .condition_expression("#v = :v AND (#st = :next OR NOT (#st IN (:t0, :t1, :t2, :t3)))")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":next", s(job.status.as_str()));
        let written = JobStatus::TERMINAL
            .iter()
            .enumerate()
            .fold(put, |put, (i, status)| {
                put.expression_attribute_values(format!(":t{i}"), s(status.as_str()))
            })
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(CoreError::Conflict(format!(
                "job '{}' was saved by another writer at the same time, or has ended (version {version} \
                 is gone); nothing was overwritten: read it again and retry",
                job.test_id
            ))),
            Err(e) => Err(storage("PutItem", &self.table, e)),
        }
    }

    async fn list(&self, query: &JobQuery) -> Result<JobPage> {
        let limit = match query.limit {
            0 => DEFAULT_PAGE,
            l => l.min(MAX_PAGE),
        };
        if let (Some(after), Some(before)) = (query.created_after, query.created_before) {
            if after >= before {
                return Ok(JobPage {
                    jobs: Vec::new(),
                    next_page_token: None,
                });
            }
        }
        let (partition, residual) = plan(query);
        let mut start = query
            .page_token
            .as_deref()
            .map(|token| page::decode(&partition, token))
            .transpose()?;
        // One more than a page tells whether another page exists; filtered-out items may need more calls.
        let mut items = Vec::new();
        loop {
            let want = limit + 1 - items.len();
            let (found, next) = self
                .query_once(query, &partition, &residual, start, want)
                .await?;
            items.extend(found);
            match next {
                Some(key) if items.len() <= limit => start = Some(key),
                _ => break,
            }
        }
        let next_page_token = match items.get(limit) {
            Some(_) => Some(page::encode(&partition, &items[limit - 1])?),
            None => None,
        };
        let jobs = items
            .iter()
            .take(limit)
            .map(parse_record)
            .collect::<Result<Vec<_>>>()?;
        Ok(JobPage {
            jobs,
            next_page_token,
        })
    }

    /// The lease is an item of its own in the job's partition (sort key `UPLOAD_LEASE_SORT_KEY`), so saves
    /// of the record never touch it; it is taken by a conditional put.
    async fn claim_upload(
        &self,
        test_id: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<bool> {
        let (now, until) = time::lease_window(lease);
        let written = self
            .put_lease(test_id, holder, until)
            .condition_expression(
                "attribute_not_exists(#pk) OR #until <= :now OR #holder = :holder",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_names("#holder", LEASE_HOLDER)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(storage("PutItem", &self.table, e)),
        }
    }

    /// Expires the lease (a put, so the roles that save records need no DeleteItem); another holder's lease
    /// is left alone.
    async fn release_upload(&self, test_id: &str, holder: &str) -> Result<()> {
        let written = self
            .put_lease(test_id, holder, 0)
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", LEASE_HOLDER)
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(storage("PutItem", &self.table, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::job::JobStatus;

    #[test]
    fn the_most_selective_filter_picks_the_index() {
        let cases = [
            (
                JobQuery {
                    commit: Some("c0ffee".into()),
                    repository: Some("https://r".into()),
                    workspace_id: Some("w".into()),
                    ..Default::default()
                },
                "by_commit",
                vec!["workspace_id", "repository"],
            ),
            (
                JobQuery {
                    workspace_id: Some("w".into()),
                    component_id: Some("c".into()),
                    assessment_id: Some("a".into()),
                    status: Some(JobStatus::Failed),
                    ..Default::default()
                },
                "by_assessment",
                vec!["status"],
            ),
            (
                JobQuery {
                    component_id: Some("c".into()),
                    ..Default::default()
                },
                "by_created",
                vec!["component_id"],
            ),
            (
                JobQuery {
                    status: Some(JobStatus::Running),
                    ..Default::default()
                },
                "by_status",
                vec![],
            ),
        ];
        for (query, index, residual) in cases {
            let (partition, rest) = plan(&query);
            assert_eq!(partition.index, index);
            assert_eq!(
                rest.iter().map(|r| r.attribute).collect::<Vec<_>>(),
                residual
            );
        }
    }
}
