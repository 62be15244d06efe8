//! The one error type of the domain core: every refusal names the field or input and why.

use crate::job::{JobStatus, UploadStatus};

/// A single validation problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("invalid request: {}", join_field_errors(.0))]
    Validation(Vec<FieldError>),

    #[error("{0}")]
    Manifest(String),

    /// The manifest breaks its contract (docs/manifest.schema.json); each problem is named by JSON pointer.
    #[error("manifest is invalid{}", list_manifest_issues(.0))]
    ManifestInvalid(Vec<FieldError>),

    #[error("manifest verification failed: {0}")]
    Verification(String),

    #[error("source preparation failed: {0}")]
    Source(String),

    #[error("scanner '{tool}' failed: {reason}")]
    Scanner { tool: String, reason: String },

    #[error("path '{path}' is not allowed: {reason}")]
    PathEscape { path: String, reason: String },

    #[error("job '{0}' not found")]
    JobNotFound(String),

    #[error("job '{0}' already exists")]
    JobExists(String),

    #[error("{0}")]
    Conflict(String),

    #[error("upload refused: {0}")]
    Upload(String),

    #[error("job status cannot change from {from} to {to}")]
    InvalidTransition { from: JobStatus, to: JobStatus },

    #[error("upload status cannot change from {from} to {to}")]
    InvalidUploadTransition {
        from: UploadStatus,
        to: UploadStatus,
    },

    #[error("event seq {seq} for job '{test_id}' is already taken")]
    EventSeqTaken { test_id: String, seq: u64 },

    /// The store could not be reached or answered with trouble (throttling, 5xx, I/O, a lost connection):
    /// trying again may succeed.
    #[error("storage error: {0}")]
    Storage(String),

    /// What the store holds cannot be read back as `what` (a missing or mistyped attribute, unparsable JSON):
    /// every retry reads the same bytes, so none is tried.
    #[error("stored {what} is corrupt: {reason}")]
    CorruptRecord { what: String, reason: String },

    /// Storage refused the caller (a missing permission): retrying cannot help, only a deployment fix.
    #[error("access denied: {0}")]
    Denied(String),

    #[error("bundle error: {0}")]
    Bundle(String),

    #[error("signing error: {0}")]
    Signing(String),

    /// A deployment setting is missing or unusable (a key, a file it names).
    #[error("configuration error: {0}")]
    Config(String),

    #[error("I/O error on '{path}': {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("JSON error in {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

impl CoreError {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    pub fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::CorruptRecord {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Json {
            what: what.into(),
            source,
        }
    }
}

fn join_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn list_manifest_issues(issues: &[FieldError]) -> String {
    match issues {
        [one] => format!(": {one}"),
        many => {
            let lines: Vec<String> = many.iter().map(|i| format!("\n  {i}")).collect();
            format!(" ({} problems):{}", many.len(), lines.concat())
        }
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
