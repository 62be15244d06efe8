//! The one error type of the triggers crate: refused deliveries (with the HTTP-like reason), bad registration
//! files (every problem named by its field), and failures of the job store.

use certus_core::{CoreError, FieldError, Retry, Retryability};

use crate::registration::Provider;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("cannot read the registrations file '{path}': {reason}")]
    RegistrationsFile { path: String, reason: String },

    #[error("invalid registrations: {}", join(.0))]
    Registrations(Vec<FieldError>),

    #[error("unauthenticated delivery: {0}")]
    Unauthenticated(String),

    #[error("malformed delivery: {0}")]
    Malformed(String),

    #[error("the delivery is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },

    #[error("repository '{repository}' is not registered for {provider} push triggers")]
    Unregistered {
        provider: Provider,
        repository: String,
    },

    #[error("the push does not make a valid scan submission: {}", join(.0))]
    Submission(Vec<FieldError>),

    #[error(transparent)]
    Core(#[from] CoreError),
}

pub type Result<T, E = TriggerError> = std::result::Result<T, E>;

/// Delivering the same event again may succeed only when the job store hiccupped; everything else is a
/// verdict on the event or the registrations.
impl Retryability for TriggerError {
    fn retry(&self) -> Retry {
        match self {
            Self::Core(e) => e.retry(),
            Self::RegistrationsFile { .. }
            | Self::Registrations(_)
            | Self::Unauthenticated(_)
            | Self::Malformed(_)
            | Self::TooLarge { .. }
            | Self::Unregistered { .. }
            | Self::Submission(_) => Retry::NonRetryable,
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
