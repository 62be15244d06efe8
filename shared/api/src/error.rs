//! The one error type of the API crate, and how each refusal becomes an HTTP answer with a JSON `detail`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use certus_core::{CoreError, FieldError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required: {0}")]
    Unauthenticated(String),

    #[error("workspace '{0}' is not one your credentials may use")]
    Forbidden(String),

    #[error(
        "this key belongs to an auditor and may only read (jobs, findings, trails): {0} is refused"
    )]
    ReadOnly(String),

    #[error("upgrade required: {0}")]
    UpgradeRequired(String),

    #[error("job '{0}' not found")]
    JobNotFound(String),

    #[error("no route for {0}")]
    NoRoute(String),

    #[error("invalid request: {}", join(.0))]
    Validation(Vec<FieldError>),

    #[error("malformed request: {0}")]
    BadRequest(String),

    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },

    #[error("unsupported archive: {0}")]
    UnsupportedArchive(String),

    #[error("job '{test_id}' is {status}: an upload can be requested only for a SUCCEEDED job")]
    NotSucceeded { test_id: String, status: String },

    #[error("job '{test_id}' has already ended ({status}): only a QUEUED or RUNNING job can be cancelled")]
    AlreadyEnded { test_id: String, status: String },

    #[error("upload quota reached: {0}")]
    UploadQuota(String),

    #[error("too many open watchers: {0}; close one and retry")]
    TooManyWatchers(String),

    #[error("too many requests from {whose}: retry after {retry_after} s")]
    RateLimited { whose: String, retry_after: u64 },

    #[error("the request rate limits cannot be used: {0}")]
    InvalidLimits(String),

    #[error("upload gating is not configured on this server")]
    UploadGatingNotConfigured,

    #[error("the keys file '{path}' cannot be used: {reason}")]
    KeysFile { path: String, reason: String },

    #[error("the JWKS file '{path}' cannot be used: {reason}")]
    Jwks { path: String, reason: String },

    #[error("authentication is misconfigured: {0}")]
    AuthConfig(String),

    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("I/O error on '{path}': {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the server failed: {0}")]
    Server(String),

    #[error(transparent)]
    Core(#[from] CoreError),

    #[error("cannot watch {url}: {reason}")]
    WatchConnect { url: String, reason: String },

    #[error("cannot watch {url}: the server refused the credentials (HTTP {status})")]
    WatchUnauthorized { url: String, status: u16 },

    #[error("job '{0}' does not exist or is not visible to these credentials (close code 4404)")]
    WatchUnknownJob(String),

    #[error("the event stream broke: {0}")]
    WatchProtocol(String),
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) | Self::WatchUnauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::ReadOnly(_) => StatusCode::FORBIDDEN,
            Self::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            Self::JobNotFound(_) | Self::NoRoute(_) | Self::WatchUnknownJob(_) => {
                StatusCode::NOT_FOUND
            }
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedArchive(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotSucceeded { .. } | Self::AlreadyEnded { .. } => StatusCode::CONFLICT,
            Self::UploadGatingNotConfigured => StatusCode::NOT_IMPLEMENTED,
            Self::TooManyWatchers(_) | Self::UploadQuota(_) | Self::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Core(CoreError::Validation(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Core(CoreError::JobNotFound(_)) => StatusCode::NOT_FOUND,
            Self::Core(CoreError::Conflict(_)) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::Validation(vec![error])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Validation(errors) | Self::Core(CoreError::Validation(errors)) => {
                json!({ "detail": errors })
            }
            _ if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED => {
                // Internal causes (paths, storage errors) are logged, not shown to callers.
                eprintln!("certus serve: internal error: {self}");
                json!({ "detail": "internal server error" })
            }
            _ => json!({ "detail": self.to_string() }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UPGRADE_REQUIRED {
            response
                .headers_mut()
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        if let Self::RateLimited { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="certus", ApiKey realm="certus""#),
            );
        }
        response
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
