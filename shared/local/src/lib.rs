//! Embedded adapters for one machine: job records and events in SQLite, bundles in local directories.

pub mod artifacts;
pub mod runs;
pub mod scan_cache;
pub mod sqlite;

pub use artifacts::{LocalArtifactStore, Placement};
pub use runs::DirRunStore;
pub use scan_cache::LocalScanCache;
pub use sqlite::SqliteStore;
