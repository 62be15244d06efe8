//! The WebSocket connections table (DynamoDB): one item per open connection, keyed by `connection_id`, with
//! the caller's tenant and workspaces, a TTL, and — once it subscribed — the job it follows (`test_id`, the
//! hash key of the sparse GSI `by_test_id` that fan-out queries), `sent_through` (the highest `seq` delivered
//! to it) and a short delivery lease (`lease_owner`, `lease_until`) that makes delivery exactly-once.
//!
//! Table: pk `connection_id` (S); GSI `by_test_id`: hash `test_id` (S), projection KEYS_ONLY; TTL attribute
//! `expires_at` (epoch seconds).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use certus_api::auth::{WorkspaceScope, ANY_WORKSPACE};
use certus_api::Principal;

use crate::error::{sdk_failure, ApigwError, Result};

pub const CONNECTION_ID: &str = "connection_id";
pub const TEST_ID: &str = "test_id";
pub const BY_TEST_ID: &str = "by_test_id";
pub const EXPIRES_AT: &str = "expires_at";
const TENANT: &str = "tenant";
const WORKSPACES: &str = "workspaces";
const CONNECTED_AT: &str = "connected_at";
const SENT_THROUGH: &str = "sent_through";
const LEASE_OWNER: &str = "lease_owner";
const LEASE_UNTIL: &str = "lease_until";
/// API Gateway closes a WebSocket connection after two hours at most; the record expires a little later.
pub const CONNECTION_TTL: Duration = Duration::from_secs(2 * 3600 + 600);

/// One open connection as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    pub principal: Principal,
    /// The job it follows, once subscribed.
    pub test_id: Option<String>,
    pub sent_through: u64,
}

/// What recording a subscription found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// The connection now follows the job (or already did).
    Recorded,
    /// The connection already follows another job.
    OtherJob(String),
    /// No such connection (never connected, or disconnected meanwhile).
    NoConnection,
}

/// The connections table.
#[derive(Debug, Clone)]
pub struct ConnectionTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl ConnectionTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_string(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn failure<E>(
        &self,
        operation: &'static str,
        error: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> ApigwError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (reason, retry) = sdk_failure(error);
        ApigwError::Dynamo {
            operation,
            table: self.table.clone(),
            reason,
            retry,
        }
    }

    /// Records a newly authenticated connection (a repeated `$connect` for the same id replaces it).
    pub async fn record(&self, connection_id: &str, principal: &Principal) -> Result<()> {
        let workspaces = match &principal.workspaces {
            WorkspaceScope::All => vec![AttributeValue::S(ANY_WORKSPACE.into())],
            WorkspaceScope::Only(set) => set.iter().cloned().map(AttributeValue::S).collect(),
        };
        let now = SystemTime::now();
        let expires = now + CONNECTION_TTL;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .item(TENANT, AttributeValue::S(principal.tenant.clone()))
            .item(WORKSPACES, AttributeValue::L(workspaces))
            .item(
                CONNECTED_AT,
                AttributeValue::N(epoch_seconds(now).to_string()),
            )
            .item(
                EXPIRES_AT,
                AttributeValue::N(epoch_seconds(expires).to_string()),
            )
            .send()
            .await
            .map_err(|e| self.failure("PutItem", &e))?;
        Ok(())
    }

    /// The connection's record, read consistently.
    pub async fn get(&self, connection_id: &str) -> Result<Option<Connection>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failure("GetItem", &e))?;
        output
            .item()
            .map(|item| connection_from(connection_id, item))
            .transpose()
    }

    /// Makes the connection follow `test_id` (from `seq` 0). A connection follows one job for its lifetime.
    pub async fn subscribe(&self, connection_id: &str, test_id: &str) -> Result<Subscription> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .update_expression("SET #t = :t, #s = if_not_exists(#s, :zero)")
            .condition_expression("attribute_exists(#c) AND (attribute_not_exists(#t) OR #t = :t)")
            .expression_attribute_names("#c", CONNECTION_ID)
            .expression_attribute_names("#t", TEST_ID)
            .expression_attribute_names("#s", SENT_THROUGH)
            .expression_attribute_values(":t", AttributeValue::S(test_id.into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(Subscription::Recorded),
            Err(error) if is_condition_failure(&error) => match self.get(connection_id).await? {
                None => Ok(Subscription::NoConnection),
                Some(Connection {
                    test_id: Some(other),
                    ..
                }) if other != test_id => Ok(Subscription::OtherJob(other)),
                // Recorded meanwhile by a concurrent subscribe for the same job.
                Some(_) => Ok(Subscription::Recorded),
            },
            Err(error) => Err(self.failure("UpdateItem", &error)),
        }
    }

    /// The connections following `test_id`, from the GSI (eventually consistent), every page.
    pub async fn subscribers(&self, test_id: &str) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_TEST_ID)
                .key_condition_expression("#t = :t")
                .expression_attribute_names("#t", TEST_ID)
                .expression_attribute_values(":t", AttributeValue::S(test_id.into()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.failure("Query", &e))?;
            found.extend(
                output
                    .items()
                    .iter()
                    .filter_map(|item| match item.get(CONNECTION_ID) {
                        Some(AttributeValue::S(id)) => Some(id.clone()),
                        _ => None,
                    }),
            );
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }

    /// Takes the connection's delivery lease for `lease` if it follows `test_id` and no one else holds an
    /// unexpired lease; returns its `sent_through`, or `None` when the lease is not to be had.
    pub async fn take_lease(
        &self,
        connection_id: &str,
        test_id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<u64>> {
        let now = epoch_millis(SystemTime::now());
        let until = now.saturating_add(millis(lease));
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .update_expression("SET #o = :o, #u = :u")
            .condition_expression(
                "attribute_exists(#c) AND #t = :t AND (attribute_not_exists(#u) OR #u < :now)",
            )
            .expression_attribute_names("#c", CONNECTION_ID)
            .expression_attribute_names("#t", TEST_ID)
            .expression_attribute_names("#o", LEASE_OWNER)
            .expression_attribute_names("#u", LEASE_UNTIL)
            .expression_attribute_values(":t", AttributeValue::S(test_id.into()))
            .expression_attribute_values(":o", AttributeValue::S(owner.into()))
            .expression_attribute_values(":u", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(output) => {
                let item = output.attributes().cloned().unwrap_or_default();
                Ok(Some(number(connection_id, &item, SENT_THROUGH)?))
            }
            Err(error) if is_condition_failure(&error) => Ok(None),
            Err(error) => Err(self.failure("UpdateItem", &error)),
        }
    }

    /// Records `seq` as delivered and extends the lease, if `owner` still holds it; false otherwise.
    pub async fn advance(
        &self,
        connection_id: &str,
        owner: &str,
        seq: u64,
        lease: Duration,
    ) -> Result<bool> {
        let until = epoch_millis(SystemTime::now()).saturating_add(millis(lease));
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .update_expression("SET #s = :s, #u = :u")
            .condition_expression("#o = :o AND #s < :s")
            .expression_attribute_names("#s", SENT_THROUGH)
            .expression_attribute_names("#o", LEASE_OWNER)
            .expression_attribute_names("#u", LEASE_UNTIL)
            .expression_attribute_values(":s", AttributeValue::N(seq.to_string()))
            .expression_attribute_values(":o", AttributeValue::S(owner.into()))
            .expression_attribute_values(":u", AttributeValue::N(until.to_string()))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(self.failure("UpdateItem", &error)),
        }
    }

    /// Gives the lease back (nothing happens when `owner` no longer holds it).
    pub async fn release_lease(&self, connection_id: &str, owner: &str) -> Result<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .update_expression("REMOVE #o, #u")
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", LEASE_OWNER)
            .expression_attribute_names("#u", LEASE_UNTIL)
            .expression_attribute_values(":o", AttributeValue::S(owner.into()))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(self.failure("UpdateItem", &error)),
        }
    }

    /// Forgets the connection (idempotent).
    pub async fn remove(&self, connection_id: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.into()))
            .send()
            .await
            .map_err(|e| self.failure("DeleteItem", &e))?;
        Ok(())
    }
}

fn is_condition_failure(
    error: &aws_sdk_dynamodb::error::SdkError<
        UpdateItemError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> bool {
    error
        .as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
}

fn connection_from(
    connection_id: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<Connection> {
    let bad = |reason: &str| ApigwError::BadRecord {
        connection_id: connection_id.to_string(),
        reason: reason.to_string(),
    };
    let tenant = match item.get(TENANT) {
        Some(AttributeValue::S(tenant)) if !tenant.is_empty() => tenant.clone(),
        _ => return Err(bad("no tenant")),
    };
    let workspaces = match item.get(WORKSPACES) {
        Some(AttributeValue::L(list)) if !list.is_empty() => list
            .iter()
            .map(|value| match value {
                AttributeValue::S(ws) if !ws.is_empty() => Ok(ws.clone()),
                _ => Err(bad("a workspace is not a non-empty string")),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => return Err(bad("no workspaces")),
    };
    let test_id = match item.get(TEST_ID) {
        Some(AttributeValue::S(test_id)) => Some(test_id.clone()),
        None => None,
        Some(_) => return Err(bad("test_id is not a string")),
    };
    let sent_through = match item.get(SENT_THROUGH) {
        None => 0,
        Some(_) => number(connection_id, item, SENT_THROUGH)?,
    };
    Ok(Connection {
        connection_id: connection_id.to_string(),
        principal: Principal::with_workspaces(tenant, workspaces),
        test_id,
        sent_through,
    })
}

fn number(connection_id: &str, item: &HashMap<String, AttributeValue>, name: &str) -> Result<u64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| ApigwError::BadRecord {
            connection_id: connection_id.to_string(),
            reason: format!("{name} '{n}' is not a whole number"),
        }),
        _ => Err(ApigwError::BadRecord {
            connection_id: connection_id.to_string(),
            reason: format!("{name} is missing"),
        }),
    }
}

fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
