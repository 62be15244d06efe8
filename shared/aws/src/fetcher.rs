//! Fetches manifest and signature bytes from `s3://bucket/key`, never holding more than the caller's cap.

use async_trait::async_trait;
use certus_core::ports::ManifestFetcher;
use certus_core::{CoreError, Result};

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::location::S3Location;

/// The `ManifestFetcher` for `s3://` URIs.
#[derive(Debug, Clone)]
pub struct S3Fetcher {
    s3: aws_sdk_s3::Client,
}

impl S3Fetcher {
    pub fn new(clients: &AwsClients) -> Self {
        Self {
            s3: clients.s3().clone(),
        }
    }
}

#[async_trait]
impl ManifestFetcher for S3Fetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>> {
        let location = S3Location::object(uri)?;
        get_capped(&self.s3, &location, max_bytes, CoreError::Manifest).await
    }
}

/// Reads one object into memory: refuses it by its announced length first, then counts while streaming.
/// Verdicts (missing, denied, too large) become `verdict(message)`; transport trouble becomes `Storage`.
pub(crate) async fn get_capped(
    s3: &aws_sdk_s3::Client,
    location: &S3Location,
    max_bytes: usize,
    verdict: fn(String) -> CoreError,
) -> Result<Vec<u8>> {
    get_capped_or_failure(s3, location, max_bytes)
        .await
        .map_err(|failure| failure.into_core(verdict))
}

/// [`get_capped`] that leaves the failure unmapped, for callers that treat a missing object as an answer.
pub(crate) async fn get_capped_or_failure(
    s3: &aws_sdk_s3::Client,
    location: &S3Location,
    max_bytes: usize,
) -> std::result::Result<Vec<u8>, Failure> {
    let too_large = |size: String| {
        Failure::Refused(format!(
            "{location} is {size} bytes, larger than the limit of {max_bytes} bytes"
        ))
    };
    let response = s3
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map_err(|e| Failure::from_sdk(&location.to_string(), e))?;
    let announced = response.content_length().unwrap_or(0);
    if usize::try_from(announced).map_or(true, |n| n > max_bytes) {
        return Err(too_large(announced.to_string()));
    }
    let mut body = response.body;
    let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| Failure::Retryable(format!("{location}: reading the object failed: {e}")))?
    {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(too_large(format!("more than {max_bytes}")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
