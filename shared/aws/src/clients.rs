//! The S3 and KMS clients, built once per process (a Lambda builds them in `main`) from the environment's
//! credential chain, with an optional endpoint override for local servers.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use certus_core::{CoreError, FieldError, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTPS client every AWS client here uses: rustls with the ring provider, no OpenSSL, no aws-lc.
/// Pass it to your own `SdkConfig` when building one by hand.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The AWS clients the adapters share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
}

impl AwsClients {
    /// Loads region and credentials from the environment (env vars, profile, container or instance role).
    /// With an endpoint override (`http://127.0.0.1:5099` for a local server) S3 uses path-style addressing.
    pub async fn from_env(endpoint_override: Option<&str>) -> Result<Self> {
        Ok(Self::from_sdk_config(&sdk_config(endpoint_override).await?))
    }

    /// Builds the clients from a ready configuration; S3 uses path-style addressing when the configuration
    /// names an endpoint.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kms: aws_sdk_kms::Client::new(config),
        }
    }

    /// Wraps clients built by hand (with interceptors, retry or timeout settings of the caller's choosing).
    pub fn new(s3: aws_sdk_s3::Client, kms: aws_sdk_kms::Client) -> Self {
        Self { s3, kms }
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    pub fn kms(&self) -> &aws_sdk_kms::Client {
        &self.kms
    }
}

/// The shared SDK configuration: region and credentials from the environment (env vars, profile, container
/// or instance role), bounded timeouts, rustls with ring, and an optional endpoint override
/// (`http://127.0.0.1:5099` for a local server). Other service clients of a process are built from it too.
pub async fn sdk_config(endpoint_override: Option<&str>) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
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
    Ok(loader.load().await)
}

fn check_endpoint(endpoint: &str) -> Result<()> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(()),
        _ => Err(CoreError::Validation(vec![FieldError::new(
            "endpoint",
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
        assert!(check_endpoint("http://127.0.0.1:5099").is_ok());
        assert!(check_endpoint("https://s3.example.invalid").is_ok());
        for bad in ["127.0.0.1:5099", "ftp://x", "http://", "http://a b"] {
            let err = check_endpoint(bad).unwrap_err().to_string();
            assert!(
                err.contains("not an http:// or https:// endpoint"),
                "{bad}: {err}"
            );
        }
    }
}
