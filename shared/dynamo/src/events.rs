//! The event history in its own table: partition `test_id`, sort `seq` (a number), one item per event
//! written with a conditional put, so a seq is never used twice; history and last seq are Queries.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use certus_core::error::{CoreError, Result};
use certus_core::event::Event;
use certus_core::ports::EventLog;
use certus_core::time;

use crate::attrs::{get_n, get_s, is_condition_failure, n, s, storage, Item};

pub const EVENT_PK: &str = "test_id";
pub const EVENT_SK: &str = "seq";
const EVENT: &str = "event";

/// `EventLog` on a DynamoDB table keyed `(test_id, seq)`.
#[derive(Debug, Clone)]
pub struct DynamoEventLog {
    client: Client,
    table: String,
}

impl DynamoEventLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One page of the job's events in seq order after `after_seq` (descending and one item for the last).
    async fn query(
        &self,
        test_id: &str,
        after_seq: u64,
        start: Option<Item>,
        newest_only: bool,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#t = :t AND #s > :after")
            .expression_attribute_names("#t", EVENT_PK)
            .expression_attribute_names("#s", EVENT_SK)
            .expression_attribute_values(":t", s(test_id))
            .expression_attribute_values(":after", n(after_seq))
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

#[async_trait]
impl EventLog for DynamoEventLog {
    async fn append(&self, event: &Event) -> Result<()> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(EVENT_PK, s(&event.test_id))
            .item(EVENT_SK, n(event.seq))
            .item("type", s(event.body.type_name()))
            .item("timestamp", s(time::format(&event.timestamp)))
            .item(EVENT, s(event.to_json_line()))
            .condition_expression("attribute_not_exists(#t)")
            .expression_attribute_names("#t", EVENT_PK)
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(CoreError::EventSeqTaken {
                test_id: event.test_id.clone(),
                seq: event.seq,
            }),
            Err(e) => Err(storage("PutItem", &self.table, e)),
        }
    }

    async fn history(&self, test_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self.query(test_id, after_seq, start, false).await?;
            for item in &items {
                let line = get_s(item, EVENT, "event")?;
                events.push(Event::from_json(line)?);
            }
            match next {
                Some(key) => start = Some(key),
                None => return Ok(events),
            }
        }
    }

    async fn last_seq(&self, test_id: &str) -> Result<u64> {
        let (items, _) = self.query(test_id, 0, None, true).await?;
        items
            .first()
            .map_or(Ok(0), |item| get_n(item, EVENT_SK, "event"))
    }
}
