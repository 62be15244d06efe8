//! Attribute names shared by the adapters, reading typed values out of items, and turning SDK failures
//! into the domain error without losing the service's error code.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use certus_core::error::FieldError;
use certus_core::{CoreError, Result};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";

const MAX_DETAIL_CHARS: usize = 300;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute the stored `what` must have; without it the item is corrupt (not retried).
pub fn get_s<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(CoreError::corrupt(
            what,
            format!("the item has no string attribute '{name}'"),
        )),
    }
}

/// A number attribute the stored `what` must have, as an unsigned integer; without it the item is corrupt.
pub fn get_n(item: &Item, name: &str, what: &str) -> Result<u64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| {
            CoreError::corrupt(
                what,
                format!("attribute '{name}' is not a whole number: {value}"),
            )
        }),
        _ => Err(CoreError::corrupt(
            what,
            format!("the item has no number attribute '{name}'"),
        )),
    }
}

/// Whether a conditional write was refused because its condition did not hold.
pub fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(context)
        if context.err().code() == Some("ConditionalCheckFailedException"))
}

/// Any other failure: the operation, the table and the service's code and message, never credentials. The
/// variant follows the service's error code (the SDK's error metadata, never the message): a request no
/// retry can cure — a missing table, a denied or unrecognised caller ([`CoreError::Config`]), a request the
/// service refuses as invalid, such as an item over the size limit ([`CoreError::Validation`]), a condition
/// that does not hold ([`CoreError::Conflict`]) — is not retried; throttling, service faults and transport
/// failures are [`CoreError::Storage`] (retryable).
pub fn storage<E, R>(operation: &str, table: &str, err: SdkError<E, R>) -> CoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = match &err {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    };
    let detail = match &err {
        SdkError::ServiceError(context) => format!(
            "{}: {}",
            code.unwrap_or("no error code"),
            context.err().message().unwrap_or("no message")
        ),
        _ => DisplayErrorContext(&err).to_string(),
    };
    let message = format!(
        "dynamodb {operation} on table '{table}': {}",
        detail.chars().take(MAX_DETAIL_CHARS).collect::<String>()
    );
    match code {
        Some(
            "ResourceNotFoundException"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationTokenException",
        ) => CoreError::Config(message),
        Some("ValidationException" | "ItemCollectionSizeLimitExceededException") => {
            CoreError::Validation(vec![FieldError::new("item", message)])
        }
        Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
            CoreError::Conflict(message)
        }
        _ => CoreError::Storage(message),
    }
}

/// The partition of everything about one job: its record and its audit trail.
pub fn job_partition(test_id: &str) -> String {
    format!("JOB#{test_id}")
}
