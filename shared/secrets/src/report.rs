//! Output types: redacted findings, skip reasons and the scan report.

use std::fmt;

use serde::Serialize;

use crate::rules::RuleError;

/// One detected secret. The secret itself is never stored: only a redacted prefix and an identity digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretFinding {
    /// Id of the rule that matched.
    pub rule_id: String,
    /// The rule's description.
    pub description: String,
    /// File path relative to the scan root, `/`-separated.
    pub path: String,
    /// 1-based line where the secret starts.
    pub line: u64,
    /// 1-based byte column where the secret starts.
    pub column: u64,
    /// 1-based line where the secret ends.
    pub end_line: u64,
    /// At most the first 4 characters then `****` (only `****` for secrets shorter than 12 characters).
    pub redacted: String,
    /// Lowercase hex SHA-256 over rule id, path and secret; stable when the secret moves within the file. An
    /// in-process identity only: unkeyed, it confirms guesses of the secret, so it is never serialised and
    /// must be keyed (Certus: `certus_core::fingerprint`) before anything derived from it is shown.
    #[serde(skip)]
    pub fingerprint: String,
    /// Shannon entropy (bits per byte) of the secret.
    pub entropy: f64,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// The start line around the secret (bounded length), with every copy of the secret redacted.
    pub snippet: String,
    /// For a secret found in decoded content: the encodings decoded to reach it (`base64`, `hex`,
    /// `percent`), the one written in the file first; the location is then that of the encoded text.
    /// Empty for a secret found as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decoded: Vec<String>,
}

/// Why a file was not scanned for content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Larger than the configured cap.
    TooLarge {
        /// Size seen (at least `limit + 1` when the file grew while being read).
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// A symbolic link (never followed).
    Symlink,
    /// Neither a regular file nor a directory (fifo, socket, device).
    NotRegularFile,
    /// Excluded by a global allowlist path.
    AllowlistedPath,
    /// Deeper than the walker's depth limit.
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Could not be opened or read.
    Unreadable {
        /// The I/O error.
        error: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Binary => write!(f, "binary file (NUL byte in the first 8 KiB)"),
            SkipReason::TooLarge { size, limit } => {
                write!(f, "file too large ({size} bytes > {limit} byte limit)")
            }
            SkipReason::Symlink => write!(f, "symbolic link (not followed)"),
            SkipReason::NotRegularFile => write!(f, "not a regular file"),
            SkipReason::AllowlistedPath => write!(f, "path excluded by the global allowlist"),
            SkipReason::TooDeep { limit } => {
                write!(f, "directory deeper than {limit} levels")
            }
            SkipReason::Unreadable { error } => write!(f, "unreadable: {error}"),
        }
    }
}

/// Result of scanning a tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// Findings sorted by path, line, rule id.
    pub findings: Vec<SecretFinding>,
    /// Findings not kept because the per-file or total cap was reached.
    pub findings_omitted: u64,
    /// Files whose content was scanned.
    pub files_scanned: u64,
    /// Bytes of content scanned.
    pub bytes_scanned: u64,
    /// Files not scanned (path relative to the root) with the reason; capped, see `skipped_omitted`.
    pub skipped: Vec<(String, SkipReason)>,
    /// Skipped files not listed because the list cap was reached.
    pub skipped_omitted: u64,
    /// Rules of the rule set that could not be loaded.
    pub rule_errors: Vec<RuleError>,
}
