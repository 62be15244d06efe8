//! The one error of this crate: a function that cannot be wired (configuration, keys) or a failed step, and
//! how either reaches Step Functions — an `errorType` of `Retryable` or `NonRetryable`.

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

impl StepError {
    /// A wrong configuration will not fix itself on a retry.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "NonRetryable",
            Self::Stage(e) => e.error_type(),
        }
    }

    /// The JSON a failed step answers (and `certus-step` prints).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"errorType": self.error_type(), "errorMessage": self.to_string()})
    }
}

impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(e: StepError) -> Self {
        Self {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }
    }
}

pub type Result<T, E = StepError> = std::result::Result<T, E>;
