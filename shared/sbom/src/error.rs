//! The crate's single error type: every variant names the input it is about and why it was rejected.

use std::path::PathBuf;

/// Everything that can go wrong while inventorying, rendering or matching.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The scan root or advisory folder is missing or is not a directory.
    #[error("{path} is not a readable directory")]
    NotADirectory { path: PathBuf },

    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A file is larger than the cap for its kind.
    #[error("{path} is {size} bytes, over the {limit}-byte limit for this kind of file")]
    TooLarge { path: String, size: u64, limit: u64 },

    /// A lockfile or manifest could not be parsed.
    #[error("{path} is not a valid {format}: {reason}")]
    MalformedLockfile {
        path: String,
        format: &'static str,
        reason: String,
    },

    /// One line of a line-based lockfile could not be parsed: it was skipped and the rest of the file read.
    #[error(
        "{path} line {line}: {reason} (this line was skipped; the rest of the {format} was read)"
    )]
    SkippedLine {
        path: String,
        format: &'static str,
        line: usize,
        reason: String,
    },

    /// A lockfile declares a format version this crate does not understand.
    #[error("{path} uses {format} version {version}, which is not supported")]
    UnsupportedLockfileVersion {
        path: String,
        format: &'static str,
        version: i64,
    },

    /// The directory walk stopped early because a safety bound was reached.
    #[error("stopped walking {path}: {reason}")]
    WalkLimit { path: String, reason: String },

    /// An advisory file could not be parsed.
    #[error("advisory {path} is not valid {format}: {reason}")]
    MalformedAdvisory {
        path: String,
        format: &'static str,
        reason: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, SbomError>;
