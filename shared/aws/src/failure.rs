//! Classifies AWS SDK errors (S3 and KMS alike) into what the caller can do about them: retry later
//! (transport, throttling, 5xx), or a verdict (missing, denied, refused). Messages carry the service's
//! error code and message and the resource, never request headers or credentials.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use certus_core::CoreError;

const MAX_DETAIL_CHARS: usize = 300;

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "KMSInternalException",
    "ServiceUnavailable",
    "DependencyTimeoutException",
];
const NOT_FOUND_CODES: &[&str] = &["NoSuchKey", "NotFound", "NotFoundException"];
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "UnrecognizedClientException",
];

/// Why an AWS call failed, already described for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Trying again later may work.
    Retryable(String),
    /// The object or key does not exist.
    NotFound(String),
    /// The bucket itself does not exist (a deployment problem rather than a missing object).
    NoBucket(String),
    Denied(String),
    /// The service refused the request for another reason.
    Refused(String),
}

impl Failure {
    /// Describes `err` for the resource named `what` (`s3://bucket/key`, `KMS key alias/x`).
    pub(crate) fn from_sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        what: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self {
        match &err {
            SdkError::ServiceError(context) => {
                let status = context.raw().status().as_u16();
                let code = context.err().code().unwrap_or("");
                let detail = service_detail(status, code, context.err().message());
                if status >= 500 || status == 429 || THROTTLING_CODES.contains(&code) {
                    Self::Retryable(format!(
                        "{what}: the service is unavailable or throttling ({detail})"
                    ))
                } else if code == "NoSuchBucket" {
                    Self::NoBucket(format!("{what}: the bucket does not exist ({detail})"))
                } else if status == 404 || NOT_FOUND_CODES.contains(&code) {
                    Self::NotFound(format!("{what} does not exist ({detail})"))
                } else if status == 403 || DENIED_CODES.contains(&code) {
                    Self::Denied(format!(
                        "access to {what} was denied ({detail}); check the credentials and their permissions"
                    ))
                } else {
                    Self::Refused(format!("{what}: the request was refused ({detail})"))
                }
            }
            SdkError::ConstructionFailure(_) => Self::Refused(format!(
                "{what}: the request could not be built: {}",
                short(&DisplayErrorContext(&err).to_string())
            )),
            _ => Self::Retryable(format!(
                "{what}: the service could not be reached: {}",
                short(&DisplayErrorContext(&err).to_string())
            )),
        }
    }

    /// The description alone, whatever the kind of failure.
    pub(crate) fn into_message(self) -> String {
        match self {
            Self::Retryable(message)
            | Self::NotFound(message)
            | Self::NoBucket(message)
            | Self::Denied(message)
            | Self::Refused(message) => message,
        }
    }

    /// Into the error of a store of the deployment's own (runs, uploads): transient trouble is retried
    /// (`Storage`); a refused permission (`Denied`) or a missing bucket (`Config`) is not: every retry would
    /// fail the same way, and the step should fail at once with the reason.
    pub(crate) fn into_store_error(self) -> CoreError {
        match self {
            Self::Denied(message) => CoreError::Denied(message),
            Self::NoBucket(message) => CoreError::Config(message),
            other => other.into_core(CoreError::Storage),
        }
    }

    /// Into the domain error: retryable failures become `Storage`, the rest `verdict(message)`.
    pub(crate) fn into_core(self, verdict: fn(String) -> CoreError) -> CoreError {
        match self {
            Self::Retryable(message) => CoreError::Storage(message),
            Self::NotFound(message)
            | Self::NoBucket(message)
            | Self::Denied(message)
            | Self::Refused(message) => verdict(message),
        }
    }
}

fn service_detail(status: u16, code: &str, message: Option<&str>) -> String {
    let code = if code.is_empty() {
        "no error code"
    } else {
        code
    };
    match message.filter(|m| !m.is_empty()) {
        Some(message) => format!("HTTP {status}, {code}: {}", short(message)),
        None => format!("HTTP {status}, {code}"),
    }
}

fn short(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_DETAIL_CHARS).collect();
    if text.chars().count() > MAX_DETAIL_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_sdk_s3::primitives::SdkBody;
    use aws_sdk_s3::types::error::NoSuchKey;
    use certus_core::Retryability;

    fn service_error(status: u16, code: &str) -> SdkError<GetObjectError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("told by the service")
            .build();
        let err = if code == "NoSuchKey" {
            GetObjectError::NoSuchKey(NoSuchKey::builder().meta(meta).build())
        } else {
            GetObjectError::generic(meta)
        };
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn service_errors_are_classified_by_status_and_code() {
        let what = "s3://b/k";
        assert!(matches!(
            Failure::from_sdk(what, service_error(404, "NoSuchKey")),
            Failure::NotFound(m) if m == "s3://b/k does not exist (HTTP 404, NoSuchKey: told by the service)"
        ));
        assert!(matches!(
            Failure::from_sdk(what, service_error(404, "NoSuchBucket")),
            Failure::NoBucket(m) if m.starts_with("s3://b/k: the bucket does not exist")
        ));
        assert!(matches!(
            Failure::from_sdk(what, service_error(403, "AccessDenied")),
            Failure::Denied(m) if m.starts_with("access to s3://b/k was denied")
        ));
        assert!(matches!(
            Failure::from_sdk(what, service_error(503, "SlowDown")),
            Failure::Retryable(_)
        ));
        assert!(matches!(
            Failure::from_sdk(what, service_error(400, "ThrottlingException")),
            Failure::Retryable(_)
        ));
        assert!(matches!(
            Failure::from_sdk(what, service_error(400, "InvalidRequest")),
            Failure::Refused(m) if m.contains("InvalidRequest")
        ));
    }

    #[test]
    fn only_retryable_failures_become_storage_errors() {
        let storage = Failure::Retryable("x".into()).into_core(CoreError::Manifest);
        assert!(matches!(storage, CoreError::Storage(_)));
        assert!(storage.is_retryable());
        let verdict = Failure::Denied("y".into()).into_core(CoreError::Manifest);
        assert!(matches!(verdict, CoreError::Manifest(m) if m == "y"));
    }
}
