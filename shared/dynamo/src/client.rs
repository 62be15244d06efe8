//! The DynamoDB client, built once per process from the environment's credential chain in the same style
//! as the S3 and KMS clients (rustls with ring, bounded timeouts), with an optional endpoint override for a
//! local server.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use certus_core::{CoreError, FieldError, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads region and credentials from the environment; `endpoint_override` (`http://127.0.0.1:5201`) points
/// the client at a local server.
pub async fn dynamodb_client(endpoint_override: Option<&str>) -> Result<aws_sdk_dynamodb::Client> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(certus_aws::https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .build(),
        );
    if let Some(endpoint) = endpoint_override {
        check_endpoint(endpoint)?;
        loader = loader.endpoint_url(endpoint);
    }
    Ok(aws_sdk_dynamodb::Client::new(&loader.load().await))
}

fn check_endpoint(endpoint: &str) -> Result<()> {
    let host = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(()),
        _ => Err(CoreError::Validation(vec![FieldError::new(
            "dynamodb endpoint",
            format!(
                "'{}' is not an http:// or https:// endpoint URL",
                endpoint.chars().take(200).collect::<String>()
            ),
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn endpoints_must_be_http_urls() {
        assert!(check_endpoint("http://127.0.0.1:5201").is_ok());
        for bad in ["127.0.0.1:5201", "file:///x", "http://", "http://a b"] {
            let err = check_endpoint(bad).unwrap_err().to_string();
            assert!(err.contains("dynamodb endpoint"), "{bad}: {err}");
        }
    }
}
