//! The table design of `docs/dynamodb.md` and the function that creates it (tests and `certus` against a
//! local server use it; the SAM template declares the same keys).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use certus_core::{CoreError, Result};

use crate::attrs::{storage, PK, SK};
use crate::events::{EVENT_PK, EVENT_SK};
use crate::jobs::CREATED_KEY;

/// Where the adapters keep their items. The audit trail may share the jobs table (its items live beside
/// the job's record under the same partition key) or have its own table with the same key schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub jobs: String,
    pub events: String,
    pub audit: String,
}

impl TableNames {
    /// The trail kept in the jobs table.
    pub fn new(jobs: impl Into<String>, events: impl Into<String>) -> Self {
        let jobs = jobs.into();
        Self {
            audit: jobs.clone(),
            events: events.into(),
            jobs,
        }
    }
}

/// The global secondary indexes of the jobs table: name and partition attribute; every one is sorted by
/// `created_key` (`<created_at>#<test_id>`) and projects the whole item.
pub const JOB_INDEXES: &[(&str, &str)] = &[
    ("by_workspace", "workspace_id"),
    ("by_component", "ws_component"),
    ("by_assessment", "ws_assessment"),
    ("by_repository", "repository"),
    ("by_commit", "commit_sha"),
    ("by_manifest", "manifest_digest"),
    ("by_status", "status"),
    ("by_created", "entity"),
];

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(build_error)
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> CoreError {
    CoreError::Config(format!("dynamodb table definition: {e}"))
}

/// Creates the jobs table (with its indexes), the events table and, when it is a table of its own, the
/// audit table — all on-demand. Fails if one exists already.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<()> {
    let mut jobs = client
        .create_table()
        .table_name(&names.jobs)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .attribute_definitions(attribute(PK, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(SK, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(CREATED_KEY, ScalarAttributeType::S)?);
    for (index, partition) in JOB_INDEXES {
        jobs = jobs
            .attribute_definitions(attribute(partition, ScalarAttributeType::S)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(*index)
                    .key_schema(key(partition, KeyType::Hash)?)
                    .key_schema(key(CREATED_KEY, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_error)?,
            );
    }
    jobs.send()
        .await
        .map_err(|e| storage("CreateTable", &names.jobs, e))?;
    client
        .create_table()
        .table_name(&names.events)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(EVENT_PK, KeyType::Hash)?)
        .key_schema(key(EVENT_SK, KeyType::Range)?)
        .attribute_definitions(attribute(EVENT_PK, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(EVENT_SK, ScalarAttributeType::N)?)
        .send()
        .await
        .map_err(|e| storage("CreateTable", &names.events, e))?;
    if names.audit != names.jobs {
        client
            .create_table()
            .table_name(&names.audit)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .attribute_definitions(attribute(PK, ScalarAttributeType::S)?)
            .attribute_definitions(attribute(SK, ScalarAttributeType::S)?)
            .send()
            .await
            .map_err(|e| storage("CreateTable", &names.audit, e))?;
    }
    Ok(())
}
