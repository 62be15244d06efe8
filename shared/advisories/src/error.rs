//! The one error type of the advisory sync and reader.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AdvisoriesError {
    /// A setting is missing or malformed; the message names the variable.
    #[error("configuration: {0}")]
    Config(String),
    /// The snapshot could not be downloaded (policy, TLS, size, time, status).
    #[error("advisory snapshot download: {0}")]
    Fetch(#[from] certus_fetch::FetchError),
    /// The download is not a usable snapshot: the current one stays.
    #[error("advisory snapshot refused: {0}")]
    Refused(String),
    /// An S3 request or a local file operation failed.
    #[error("{0}")]
    Storage(String),
}

pub type Result<T, E = AdvisoriesError> = std::result::Result<T, E>;
