//! The one error of this crate: a function that cannot be wired (configuration, keys) or a failed step, and
//! whether a retry may cure it (it reaches Step Functions through `certus_runtime::Failure`).

use certus_core::{Retry, Retryability};
use certus_stages::StageError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Stage(#[from] StageError),
}

impl From<certus_core::CoreError> for StepError {
    fn from(e: certus_core::CoreError) -> Self {
        Self::Stage(e.into())
    }
}

impl Retryability for StepError {
    /// A wrong configuration will not fix itself on a retry.
    fn retry(&self) -> Retry {
        match self {
            Self::Config(_) => Retry::NonRetryable,
            Self::Stage(e) => e.retry(),
        }
    }
}

pub type Result<T, E = StepError> = std::result::Result<T, E>;
