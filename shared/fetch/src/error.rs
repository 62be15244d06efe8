//! The one error type of this crate: every refusal names the host (or path) and why, without credentials or
//! query strings.

use certus_core::error::CoreError;

/// Why a fetch was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URI '{uri}': {reason}")]
    InvalidUri { uri: String, reason: String },

    #[error(
        "URI scheme '{scheme}' is not supported for fetching (allowed: https://, oci://, file://)"
    )]
    UnsupportedScheme { scheme: String },

    #[error("refusing plain http to '{host}': only https is allowed unless the host is in allow_plain_http_for")]
    PlainHttpRefused { host: String },

    #[error("refusing to connect to '{host}': it resolves to {address}, a {reason} address (not in allow_hosts)")]
    BlockedAddress {
        host: String,
        address: String,
        reason: String,
    },

    #[error("cannot resolve '{host}': {reason}")]
    Resolve { host: String, reason: String },

    #[error("cannot connect to '{host}': {reason}")]
    Connect { host: String, reason: String },

    #[error("TLS with '{host}' failed: {reason}")]
    Tls { host: String, reason: String },

    #[error("fetching from '{host}' timed out (connect or total timeout of the fetch policy)")]
    Timeout { host: String },

    #[error("request to '{host}' failed: {reason}")]
    Request { host: String, reason: String },

    #[error("redirect from '{host}' refused: {reason}")]
    Redirect { host: String, reason: String },

    #[error("{what} not found at '{host}' (HTTP 404)")]
    NotFound { host: String, what: String },

    #[error("{what} at '{host}' answered HTTP {status}")]
    Status {
        host: String,
        what: String,
        status: u16,
    },

    #[error("{what} from '{host}' is larger than the limit of {limit} bytes")]
    TooLarge {
        host: String,
        what: String,
        limit: u64,
    },

    #[error("authentication with '{host}' failed: {reason}")]
    Auth { host: String, reason: String },

    #[error("OCI artifact '{reference}': {reason}")]
    Oci { reference: String, reason: String },

    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error("file '{path}' cannot be fetched: {reason}")]
    File { path: String, reason: String },

    #[error("fetch configuration is invalid: {reason}")]
    Config { reason: String },
}

impl From<FetchError> for CoreError {
    fn from(error: FetchError) -> Self {
        CoreError::Manifest(format!("fetch failed: {error}"))
    }
}

impl FetchError {
    /// The error of a failed push to `registry`: transport failures, 429 and 5xx answers are retryable
    /// (`CoreError::Storage`), everything else is a refusal (`CoreError::Upload`).
    pub fn into_push_error(self, registry: &str) -> CoreError {
        let message = format!("OCI push to '{registry}' failed: {self}");
        let retryable = match &self {
            FetchError::Resolve { .. }
            | FetchError::Connect { .. }
            | FetchError::Timeout { .. }
            | FetchError::Request { .. } => true,
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        };
        if retryable {
            CoreError::Storage(message)
        } else {
            CoreError::Upload(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> FetchError {
        FetchError::Status {
            host: "registry.example".into(),
            what: "manifest 'v1'".into(),
            status,
        }
    }

    #[test]
    fn push_errors_are_retryable_only_for_transport_failures_and_server_errors() {
        for retryable in [
            status(503),
            status(429),
            FetchError::Timeout {
                host: "registry.example".into(),
            },
        ] {
            let error = retryable.into_push_error("registry.example");
            assert!(
                matches!(&error, CoreError::Storage(reason) if reason.starts_with("OCI push to 'registry.example' failed: ")),
                "{error:?}"
            );
        }
        for refusal in [
            status(400),
            FetchError::PlainHttpRefused {
                host: "registry.example".into(),
            },
        ] {
            let error = refusal.into_push_error("registry.example");
            assert!(
                matches!(&error, CoreError::Upload(reason) if reason.starts_with("OCI push to 'registry.example' failed: ")),
                "{error:?}"
            );
        }
    }
}
