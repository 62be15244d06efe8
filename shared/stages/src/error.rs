//! The one error of a step, typed for the state machine: `Retryable` (a dependency hiccup: try again with
//! backoff) or `NonRetryable` (a verdict on the input, or a step called out of order: go to `Catch`).

use certus_core::error::CoreError;
use certus_core::{Retry, Retryability};

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    Retryable(String),
    #[error("{0}")]
    NonRetryable(String),
}

impl Retryability for StageError {
    fn retry(&self) -> Retry {
        match self {
            Self::Retryable(_) => Retry::Retryable,
            Self::NonRetryable(_) => Retry::NonRetryable,
        }
    }
}

impl StageError {
    /// The `errorType` the state machines match in `Retry`/`Catch`.
    pub fn error_type(&self) -> &'static str {
        self.retry().error_type()
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Retryable(m) | Self::NonRetryable(m) => m,
        }
    }
}

impl From<CoreError> for StageError {
    fn from(e: CoreError) -> Self {
        match e.retry() {
            Retry::Retryable => Self::Retryable(e.to_string()),
            Retry::NonRetryable => Self::NonRetryable(e.to_string()),
        }
    }
}

pub type Result<T, E = StageError> = std::result::Result<T, E>;
