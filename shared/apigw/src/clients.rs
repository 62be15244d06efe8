//! The AWS configuration the API functions share, loaded once per process (in a Lambda's `main`), and the
//! check every configured endpoint URL goes through.

use aws_config::SdkConfig;

use crate::error::{ApigwError, Result};

/// The process's AWS configuration: [`certus_aws::sdk_config`] (region and credentials from the environment,
/// bounded connect and read timeouts, the rustls/ring HTTPS client), with an optional endpoint override for a
/// local server (`http://127.0.0.1:5202`). One loader for every function, step and edge alike.
pub async fn load_sdk_config(endpoint_override: Option<&str>) -> Result<SdkConfig> {
    certus_aws::sdk_config(endpoint_override)
        .await
        .map_err(|e| ApigwError::Config(format!("AWS configuration: {e}")))
}

/// Reads configuration objects (`s3://…`, see [`crate::config`]) with the function's own credentials.
pub fn config_fetcher(config: &SdkConfig) -> certus_aws::S3Fetcher {
    certus_aws::S3Fetcher::new(&certus_aws::AwsClients::from_sdk_config(config))
}

/// Refuses anything but an `http://` or `https://` URL with a host.
pub(crate) fn check_endpoint(what: &str, endpoint: &str) -> Result<()> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !host.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(ApigwError::Config(format!(
            "the {what} '{}' is not an http:// or https:// URL",
            endpoint.chars().take(200).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        assert!(
            check_endpoint("x", "https://abc.execute-api.eu-west-1.amazonaws.com/prod").is_ok()
        );
        assert!(check_endpoint("x", "http://127.0.0.1:5202/test").is_ok());
        for bad in [
            "abc.execute-api",
            "ftp://x",
            "http://",
            "https:///path",
            "http://a b",
        ] {
            let err = check_endpoint("management endpoint", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("management endpoint"), "{bad}: {err}");
        }
    }
}
