//! Certus dependency inventory: reads lockfiles (Cargo, npm, pip requirements, Poetry, Go modules)
//! from a source tree without any outside tool, renders CycloneDX 1.5 / SPDX 2.3 SBOMs, and matches
//! the components offline against RustSec or OSV advisories.
//!
//! ```no_run
//! use std::path::Path;
//! use certus_sbom::{cyclonedx, inventory, AdvisoryDb, SbomMeta};
//!
//! let inventory = inventory(Path::new("checkout"))?;
//! for problem in &inventory.errors {
//!     eprintln!("skipped: {problem}");
//! }
//! let meta = SbomMeta::new("acme/shop", Some("abc123"), "2026-01-02T03:04:05Z");
//! let bom = serde_json::to_vec_pretty(&cyclonedx(&inventory, &meta));
//! let findings = AdvisoryDb::load(Path::new("advisory-db"))?.matches(&inventory);
//! # let _ = (bom, findings);
//! # Ok::<(), certus_sbom::SbomError>(())
//! ```

pub mod advisory;
mod error;
mod fsutil;
mod inventory;
pub mod lockfile;
mod model;
pub mod purl;
pub mod sbom;
pub mod version;

pub use advisory::severity::Severity;
pub use advisory::{Advisory, AdvisoryDb, VulnFinding};
pub use error::{Result, SbomError};
pub use inventory::{inventory, select_lockfiles, Selection};
pub use model::{Checksum, Component, Ecosystem, HashAlgorithm, Inventory, Relation};
pub use sbom::cyclonedx::{cyclonedx, CycloneDx};
pub use sbom::spdx::{spdx, Spdx};
pub use sbom::SbomMeta;
