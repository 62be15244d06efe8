//! Advisory data on AWS. The `sync-advisories` function fetches an OSV or RustSec snapshot (a `.tar.gz`,
//! `.tgz`, `.tar` or `.zip` archive) from a configured https URL under the outbound policy of `certus-fetch`,
//! unpacks it under the archive safety rules of `certus-source`, refuses it unless it holds dated advisories,
//! and stores it content-addressed (`<prefix>/snapshots/<sha256>.<ext>`) before it replaces the small pointer
//! `<prefix>/current.json` (date and digest): a sync that fails at any point leaves the previous snapshot
//! current. The scanners read the pointer at each scan ([`S3AdvisorySource`]) and unpack a new snapshot once.

mod error;
pub mod function;
pub mod pointer;
pub mod snapshot;
pub mod source;
pub mod sync;

pub use error::{AdvisoriesError, Result};
pub use pointer::{Pointer, POINTER_KEY};
pub use source::S3AdvisorySource;
pub use sync::{sync, SyncConfig};
