//! SBOM documents (CycloneDX 1.5 and SPDX 2.3 JSON) and the metadata both need.

pub mod cyclonedx;
pub mod spdx;

use sha2::{Digest, Sha256};

use crate::model::Inventory;

/// Describes the scanned source and the run; everything a document holds beyond the components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomMeta {
    /// Name of the scanned source (repository or product).
    pub name: String,
    /// Its version or commit, if known.
    pub version: Option<String>,
    /// Creation time in UTC, `YYYY-MM-DDThh:mm:ssZ` (the form SPDX 2.3 requires; a fraction of a second is
    /// dropped from SPDX documents), supplied by the caller so output is reproducible.
    pub timestamp: String,
    pub tool_name: String,
    pub tool_version: String,
}

impl SbomMeta {
    /// Metadata naming this crate as the tool.
    pub fn new(name: &str, version: Option<&str>, timestamp: &str) -> Self {
        SbomMeta {
            name: name.to_string(),
            version: version.map(str::to_string),
            timestamp: timestamp.to_string(),
            tool_name: env!("CARGO_PKG_NAME").to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// A UUID (RFC 9562 version 8, name-based on SHA-256) derived from the metadata and every
/// component, so the same inputs always give the same document identity.
pub fn document_uuid(inventory: &Inventory, meta: &SbomMeta) -> String {
    let mut hasher = Sha256::new();
    let fields = [
        meta.name.as_str(),
        meta.version.as_deref().unwrap_or(""),
        meta.timestamp.as_str(),
        meta.tool_name.as_str(),
        meta.tool_version.as_str(),
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    // Components serialise deterministically (fixed field order, sorted by purl).
    hasher.update(serde_json::to_vec(&inventory.components).unwrap_or_default());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
