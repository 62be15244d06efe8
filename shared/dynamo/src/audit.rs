//! The audit trail as items beside the job's record: partition `JOB#<test_id>`, sort
//! `AUDIT#<seq, 20 digits>`, written with a conditional put so an entry is never replaced, read with a
//! Query in seq order. Attribute `prev` holds the hash chain (absent from items written before it); the
//! conditional put on the next seq's key is what makes an append atomic on the chain head.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use certus_core::audit::{seq_taken, AuditEntry, AuditKind, AuditLog};
use certus_core::error::{CoreError, Result};
use certus_core::time;

use crate::attrs::{
    get_n, get_s, is_condition_failure, job_partition, n, s, storage, Item, PK, SK,
};

const AUDIT_PREFIX: &str = "AUDIT#";

fn audit_sort_key(seq: u64) -> String {
    format!("{AUDIT_PREFIX}{seq:020}")
}

/// `AuditLog` in the jobs table (or a table of its own with the same key schema).
#[derive(Debug, Clone)]
pub struct DynamoAuditLog {
    client: Client,
    table: String,
}

impl DynamoAuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn query(
        &self,
        test_id: &str,
        start: Option<Item>,
        newest_only: bool,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :audit)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(job_partition(test_id)))
            .expression_attribute_values(":audit", s(AUDIT_PREFIX))
            .consistent_read(true)
            .set_exclusive_start_key(start);
        if newest_only {
            request = request.scan_index_forward(false).limit(1);
        }
        let output = request
            .send()
            .await
            .map_err(|e| storage("Query", &self.table, e))?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

fn entry_from(item: &Item) -> Result<AuditEntry> {
    const WHAT: &str = "audit entry";
    let at = get_s(item, "at", WHAT)?;
    let kind = get_s(item, "kind", WHAT)?;
    Ok(AuditEntry {
        test_id: get_s(item, "test_id", WHAT)?.to_string(),
        seq: get_n(item, "seq", WHAT)?,
        at: chrono_parse(at)?,
        kind: AuditKind::parse(kind)
            .ok_or_else(|| CoreError::corrupt(WHAT, format!("unknown kind '{kind}'")))?,
        detail: serde_json::from_str(get_s(item, "detail", WHAT)?)
            .map_err(|e| CoreError::corrupt(WHAT, format!("detail is not JSON: {e}")))?,
        prev: match item.get("prev") {
            None => None,
            Some(_) => Some(get_s(item, "prev", WHAT)?.to_string()),
        },
    })
}

fn chrono_parse(text: &str) -> Result<time::Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| CoreError::corrupt("audit entry", format!("bad timestamp '{text}': {e}")))
}

#[async_trait]
impl AuditLog for DynamoAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<()> {
        let detail =
            serde_json::to_string(&entry.detail).map_err(|e| CoreError::json("audit detail", e))?;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(job_partition(&entry.test_id)))
            .item(SK, s(audit_sort_key(entry.seq)))
            .item("test_id", s(&entry.test_id))
            .item("seq", n(entry.seq))
            .item("at", s(time::format(&entry.at)))
            .item("kind", s(entry.kind.as_str()))
            .item("detail", s(detail))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        if let Some(prev) = &entry.prev {
            request = request.item("prev", s(prev));
        }
        let written = request.send().await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(seq_taken(&entry.test_id, entry.seq)),
            Err(e) => Err(storage("PutItem", &self.table, e)),
        }
    }

    async fn trail(&self, test_id: &str) -> Result<Vec<AuditEntry>> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self.query(test_id, start, false).await?;
            for item in &items {
                entries.push(entry_from(item)?);
            }
            match next {
                Some(key) => start = Some(key),
                None => return Ok(entries),
            }
        }
    }

    async fn last(&self, test_id: &str) -> Result<Option<AuditEntry>> {
        let (items, _) = self.query(test_id, None, true).await?;
        items.first().map(entry_from).transpose()
    }
}
