//! Embedded adapters for one machine: job records and events in SQLite, bundles in local directories,
//! manifests from `file://` URIs.

pub mod artifacts;
pub mod fetch;
pub mod sqlite;

pub use artifacts::{LocalArtifactStore, Placement};
pub use fetch::FileFetcher;
pub use sqlite::SqliteStore;
