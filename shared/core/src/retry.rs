//! Whether trying a failed operation again may help: the one retryability every error of the project
//! declares, chosen by its variant. A Lambda reports it as its `errorType`, which the state machines'
//! `Retry`/`Catch` rules match.

use crate::error::CoreError;

/// What a caller can do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A dependency hiccupped (throttling, a 5xx, a timeout, a broken connection): the same call may succeed.
    Retryable,
    /// A verdict on the input, corrupt stored data or a wrong deployment: every retry fails the same way.
    NonRetryable,
}

impl Retry {
    /// The `errorType` a Lambda answers with, matched by `Retry`/`Catch` in `statemachine/*.asl.json`.
    pub const fn error_type(self) -> &'static str {
        match self {
            Self::Retryable => "Retryable",
            Self::NonRetryable => "NonRetryable",
        }
    }
}

/// An error that knows whether a retry may cure it.
pub trait Retryability {
    fn retry(&self) -> Retry;

    fn is_retryable(&self) -> bool {
        self.retry() == Retry::Retryable
    }
}

impl Retryability for CoreError {
    fn retry(&self) -> Retry {
        match self {
            Self::Storage(_) | Self::Io { .. } => Retry::Retryable,
            Self::Validation(_)
            | Self::Manifest(_)
            | Self::ManifestInvalid(_)
            | Self::Verification(_)
            | Self::Source(_)
            | Self::Scanner { .. }
            | Self::PathEscape { .. }
            | Self::JobNotFound(_)
            | Self::JobExists(_)
            | Self::Conflict(_)
            | Self::Upload(_)
            | Self::InvalidTransition { .. }
            | Self::InvalidUploadTransition { .. }
            | Self::EventSeqTaken { .. }
            | Self::CorruptRecord { .. }
            | Self::Denied(_)
            | Self::Bundle(_)
            | Self::Signing(_)
            | Self::Config(_)
            | Self::Json { .. } => Retry::NonRetryable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_types_are_the_ones_the_state_machines_match() {
        assert_eq!(Retry::Retryable.error_type(), "Retryable");
        assert_eq!(Retry::NonRetryable.error_type(), "NonRetryable");
    }

    #[test]
    fn an_unavailable_store_is_retried_and_a_verdict_is_not() {
        assert_eq!(
            CoreError::Storage("throttled".into()).retry(),
            Retry::Retryable
        );
        assert_eq!(
            CoreError::corrupt("job record", "not JSON").retry(),
            Retry::NonRetryable
        );
        assert_eq!(
            CoreError::Denied("no permission".into()).retry(),
            Retry::NonRetryable
        );
        assert_eq!(
            CoreError::JobNotFound("t-1".into()).retry(),
            Retry::NonRetryable
        );
    }
}
