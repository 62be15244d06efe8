//! `current.json`: which stored snapshot is current, its date and digest. Read back as untrusted input: the
//! key must be the content address its digest names.

use serde::{Deserialize, Serialize};

use crate::error::{AdvisoriesError, Result};
use crate::snapshot::Format;

/// The pointer's key under the snapshots prefix.
pub const POINTER_KEY: &str = "current.json";
/// Where the archives live under the snapshots prefix.
pub const SNAPSHOTS_DIR: &str = "snapshots";
/// The largest pointer read.
pub const MAX_POINTER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    /// The archive's key relative to the snapshots prefix: `snapshots/<sha256>.<ext>`.
    pub key: String,
    /// Lower-case hex SHA-256 of the archive's bytes.
    pub sha256: String,
    pub size: u64,
    /// `tar.gz`, `tar` or `zip`.
    pub format: String,
    /// The newest advisory date in the snapshot (`YYYY-MM-DD`).
    pub snapshot_date: String,
    /// Advisories loaded from it when it was synced.
    pub advisories: usize,
    /// Files of the snapshot that could not be parsed (skipped by the scanner too).
    pub unparsable_files: usize,
    /// The URL it was downloaded from (without credentials or query).
    pub source: String,
    /// When the sync stored it (RFC 3339, UTC).
    pub synced_at: String,
}

impl Pointer {
    /// The content address of an archive.
    pub fn key_for(sha256: &str, format: Format) -> String {
        format!("{SNAPSHOTS_DIR}/{sha256}.{}", format.extension())
    }

    /// Parses and checks a stored pointer.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let pointer: Pointer = serde_json::from_slice(bytes).map_err(|e| {
            AdvisoriesError::Refused(format!("{POINTER_KEY} is not a snapshot pointer: {e}"))
        })?;
        pointer.check()?;
        Ok(pointer)
    }

    /// The digest is 64 hex digits, the format known, and the key the digest's content address.
    pub fn check(&self) -> Result<()> {
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(AdvisoriesError::Refused(format!(
                "{POINTER_KEY}: field sha256 is not a lower-case hex SHA-256"
            )));
        }
        let format = Format::from_extension(&self.format).ok_or_else(|| {
            AdvisoriesError::Refused(format!(
                "{POINTER_KEY}: field format '{}' is not tar.gz, tar or zip",
                self.format
            ))
        })?;
        if self.key != Self::key_for(&self.sha256, format) {
            return Err(AdvisoriesError::Refused(format!(
                "{POINTER_KEY}: field key '{}' is not the content address of its sha256",
                self.key
            )));
        }
        Ok(())
    }

    /// The format named by the checked pointer.
    pub fn archive_format(&self) -> Result<Format> {
        Format::from_extension(&self.format).ok_or_else(|| {
            AdvisoriesError::Refused(format!("{POINTER_KEY}: field format '{}'", self.format))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer() -> Pointer {
        let sha256 = "ab".repeat(32);
        Pointer {
            key: Pointer::key_for(&sha256, Format::TarGz),
            sha256,
            size: 10,
            format: "tar.gz".into(),
            snapshot_date: "2026-11-30".into(),
            advisories: 3,
            unparsable_files: 0,
            source: "https://example.invalid/db.tar.gz".into(),
            synced_at: "2026-12-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_pointer_round_trips_and_its_key_must_be_its_content_address() {
        let good = pointer();
        let bytes = serde_json::to_vec(&good).unwrap();
        assert_eq!(Pointer::parse(&bytes).unwrap(), good);

        let moved = Pointer {
            key: "snapshots/../../runs/x.tar.gz".into(),
            ..good.clone()
        };
        let error = Pointer::parse(&serde_json::to_vec(&moved).unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("field key"), "{error}");

        let short = Pointer {
            sha256: "ab".into(),
            ..good.clone()
        };
        let error = Pointer::parse(&serde_json::to_vec(&short).unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("field sha256"), "{error}");

        let error = Pointer::parse(b"{\"key\": 1}").unwrap_err().to_string();
        assert!(error.contains("not a snapshot pointer"), "{error}");
    }
}
