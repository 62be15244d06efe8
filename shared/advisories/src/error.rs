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

impl certus_core::Retryability for AdvisoriesError {
    /// A download or storage hiccup may pass on the next try (the schedule's retries); a refused snapshot or a
    /// wrong setting fails the same way every time.
    fn retry(&self) -> certus_core::Retry {
        match self {
            AdvisoriesError::Config(_) | AdvisoriesError::Refused(_) => {
                certus_core::Retry::NonRetryable
            }
            AdvisoriesError::Fetch(e) => certus_core::CoreError::from(e.clone()).retry(),
            AdvisoriesError::Storage(_) => certus_core::Retry::Retryable,
        }
    }
}

pub type Result<T, E = AdvisoriesError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::{Retry, Retryability};

    #[test]
    fn a_refused_snapshot_is_not_retried_and_a_storage_hiccup_is() {
        assert_eq!(
            AdvisoriesError::Refused("truncated".into()).retry(),
            Retry::NonRetryable
        );
        assert_eq!(
            AdvisoriesError::Config("no URL".into()).retry(),
            Retry::NonRetryable
        );
        assert_eq!(
            AdvisoriesError::Storage("503".into()).retry(),
            Retry::Retryable
        );
    }
}
