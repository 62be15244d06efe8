//! DynamoDB adapters for Certus-Assurance: job records (`DynamoJobStore`), the event history
//! (`DynamoEventLog`) and the audit trail (`DynamoAuditLog`). Every read is a `GetItem` or a `Query` on a
//! key designed for it — never a `Scan`; every write that must not replace history is a conditional put.
//! The table design is documented in `docs/dynamodb.md`; [`create_tables`] creates exactly that design.

mod attrs;
mod audit;
mod client;
mod events;
mod jobs;
mod page;
mod tables;

pub use audit::DynamoAuditLog;
pub use client::dynamodb_client;
pub use events::DynamoEventLog;
pub use jobs::DynamoJobStore;
pub use tables::{create_tables, TableNames, JOB_INDEXES};
