//! The one error type of this crate: which AWS call failed and why, whether trying again may help, and the
//! `errorType` (`Retryable` / `NonRetryable`) a Lambda answers with.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use certus_core::CoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApigwError {
    #[error("DynamoDB {operation} on table '{table}' failed: {reason}")]
    Dynamo {
        operation: &'static str,
        table: String,
        reason: String,
        retryable: bool,
    },

    #[error("Step Functions {operation} failed: {reason}")]
    StepFunctions {
        operation: &'static str,
        reason: String,
        retryable: bool,
    },

    #[error(
        "API Gateway management {operation} for connection '{connection_id}' failed: {reason}"
    )]
    Management {
        operation: &'static str,
        connection_id: String,
        reason: String,
        retryable: bool,
    },

    #[error("the event's {field} is unusable: {reason}")]
    BadEvent { field: &'static str, reason: String },

    #[error("the connection record '{connection_id}' is unusable: {reason}")]
    BadRecord {
        connection_id: String,
        reason: String,
    },

    #[error("configuration: {0}")]
    Config(String),

    #[error(transparent)]
    Core(#[from] CoreError),
}

pub type Result<T, E = ApigwError> = std::result::Result<T, E>;

/// `errorType` of a failure that a retry may cure (throttling, 5xx, timeouts).
pub const RETRYABLE: &str = "Retryable";
/// `errorType` of a failure no retry cures (bad input, refused verification, missing resources).
pub const NON_RETRYABLE: &str = "NonRetryable";

impl ApigwError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Dynamo { retryable, .. }
            | Self::StepFunctions { retryable, .. }
            | Self::Management { retryable, .. } => *retryable,
            Self::Core(CoreError::Storage(_)) => true,
            _ => false,
        }
    }

    /// The `errorType` a Lambda reports this failure with.
    pub fn error_type(&self) -> &'static str {
        if self.is_retryable() {
            RETRYABLE
        } else {
            NON_RETRYABLE
        }
    }
}

/// What an SDK failure says (`Code: message`, or the whole error chain) and whether it is transient.
pub(crate) fn sdk_failure<E>(error: &SdkError<E, HttpResponse>) -> (String, bool)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let retryable = match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500
                || status == 429
                || matches!(
                    error.code(),
                    Some(
                        "ThrottlingException"
                            | "ProvisionedThroughputExceededException"
                            | "RequestLimitExceeded"
                            | "LimitExceededException"
                    )
                )
        }
        _ => false,
    };
    let reason = match error.code() {
        Some(code) => format!("{code}: {}", error.message().unwrap_or("no message")),
        None => DisplayErrorContext(error).to_string(),
    };
    (reason, retryable)
}
