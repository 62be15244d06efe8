//! What every Lambda of the project shares with the Lambda runtime: [`Failure`], the one way an error
//! reaches the runtime — `errorType` `Retryable` or `NonRetryable`, as the error's [`Retryability`] says, and
//! its message. The state machines' `Retry`/`Catch` rules match that `errorType`.

use std::fmt::Display;

use certus_core::Retryability;
use lambda_runtime::Diagnostic;

/// A failed invocation as the runtime reports it. Handlers answer `Result<_, Failure<E>>`.
#[derive(Debug)]
pub struct Failure<E>(pub E);

impl<E: Retryability + Display> Failure<E> {
    /// The `errorType` and `errorMessage` the runtime sends (and `certus-step` prints).
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic {
            error_type: self.0.retry().error_type().into(),
            error_message: self.0.to_string(),
        }
    }

    /// The same answer as JSON: `{"errorType": …, "errorMessage": …}`.
    pub fn to_json(&self) -> serde_json::Value {
        let Diagnostic {
            error_type,
            error_message,
        } = self.diagnostic();
        serde_json::json!({"errorType": error_type, "errorMessage": error_message})
    }
}

impl<E: Retryability + Display> From<Failure<E>> for Diagnostic {
    fn from(failure: Failure<E>) -> Self {
        failure.diagnostic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::CoreError;

    #[test]
    fn the_error_type_follows_the_variant_and_the_message_is_the_error() {
        let transient = Diagnostic::from(Failure(CoreError::Storage("throttled".into())));
        assert_eq!(transient.error_type, "Retryable");
        assert_eq!(transient.error_message, "storage error: throttled");
        let verdict = Failure(CoreError::JobNotFound("t-1".into()));
        assert_eq!(
            verdict.to_json(),
            serde_json::json!({"errorType": "NonRetryable", "errorMessage": "job 't-1' not found"})
        );
    }
}
