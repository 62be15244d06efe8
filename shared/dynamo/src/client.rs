//! The DynamoDB client, built once per process from the same SDK configuration as the S3 and KMS clients
//! (`certus_aws::sdk_config`: environment credentials, rustls with ring, bounded timeouts, an optional
//! endpoint override for a local server, checked there).

use certus_core::Result;

/// Loads region and credentials from the environment; `endpoint_override` (`http://127.0.0.1:5201`) points
/// the client at a local server.
pub async fn dynamodb_client(endpoint_override: Option<&str>) -> Result<aws_sdk_dynamodb::Client> {
    let config = certus_aws::sdk_config(endpoint_override).await?;
    Ok(aws_sdk_dynamodb::Client::new(&config))
}

#[cfg(test)]
mod tests {
    use super::dynamodb_client;

    #[tokio::test]
    async fn endpoints_must_be_http_urls() {
        for bad in ["127.0.0.1:5201", "file:///x", "http://", "http://a b"] {
            assert!(dynamodb_client(Some(bad)).await.is_err(), "{bad} accepted");
        }
    }
}
