//! The one error type of this crate: which AWS call failed and why, and whether trying again may help (its
//! [`Retryability`], which `certus_runtime::Failure` turns into the `errorType` a Lambda answers with).

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use certus_core::{CoreError, Retry, Retryability};

#[derive(Debug, thiserror::Error)]
pub enum ApigwError {
    #[error("DynamoDB {operation} on table '{table}' failed: {reason}")]
    Dynamo {
        operation: &'static str,
        table: String,
        reason: String,
        retry: Retry,
    },

    #[error("Step Functions {operation} failed: {reason}")]
    StepFunctions {
        operation: &'static str,
        reason: String,
        retry: Retry,
    },

    #[error(
        "API Gateway management {operation} for connection '{connection_id}' failed: {reason}"
    )]
    Management {
        operation: &'static str,
        connection_id: String,
        reason: String,
        retry: Retry,
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

/// A failed AWS call retries as the service's answer said (throttling, 5xx, timeouts); bad events, unusable
/// records and configuration never do; a domain error retries as it says.
impl Retryability for ApigwError {
    fn retry(&self) -> Retry {
        match self {
            Self::Dynamo { retry, .. }
            | Self::StepFunctions { retry, .. }
            | Self::Management { retry, .. } => *retry,
            Self::Core(e) => e.retry(),
            Self::BadEvent { .. } | Self::BadRecord { .. } | Self::Config(_) => Retry::NonRetryable,
        }
    }
}

/// What an SDK failure says (`Code: message`, or the whole error chain) and whether it is transient.
pub(crate) fn sdk_failure<E>(error: &SdkError<E, HttpResponse>) -> (String, Retry)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transient = match error {
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
    let retry = if transient {
        Retry::Retryable
    } else {
        Retry::NonRetryable
    };
    (reason, retry)
}
