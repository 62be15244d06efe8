//! The crate's single error type: every variant names the input at fault and why.

use std::path::PathBuf;

/// Errors returned by rule loading and tree scanning.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The rules file is not valid TOML.
    #[error("rules file is not valid TOML: {0}")]
    InvalidToml(#[from] toml::de::Error),

    /// The rules file is TOML but its top-level layout is not the gitleaks one.
    #[error("rules file has an invalid layout: {0}")]
    InvalidLayout(String),

    /// A global allowlist (`[allowlist]` or `[[allowlists]]`) cannot be used.
    #[error("global allowlist #{index} is invalid: {reason}")]
    InvalidGlobalAllowlist {
        /// Zero-based position of the allowlist in the file.
        index: usize,
        /// Why it was rejected.
        reason: String,
    },

    /// The scan root does not exist or is not a directory.
    #[error("scan root {} is not a readable directory: {reason}", path.display())]
    InvalidRoot {
        /// The root that was given.
        path: PathBuf,
        /// Why it cannot be scanned.
        reason: String,
    },

    /// A worker thread could not be started.
    #[error("cannot start scanner worker thread: {0}")]
    ThreadSpawn(std::io::Error),

    /// A worker thread panicked (a bug): the report would be incomplete.
    #[error("a scanner worker thread stopped unexpectedly; the scan is incomplete")]
    WorkerFailed,
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, SecretsError>;
