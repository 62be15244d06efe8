//! `HttpsFetcher`: GETs an `https://` URI under the fetch policy (verified TLS, SSRF guard, same-host
//! redirects, size cap, timeouts).

use std::sync::Arc;

use async_trait::async_trait;
use certus_core::ports::ManifestFetcher;
use reqwest::header::HeaderMap;
use url::Url;

use crate::error::FetchError;
use crate::policy::FetchPolicy;
use crate::redact::{host_label, redact_uri};
use crate::transport::{read_limited, Redirects, Transport};

/// Fetches `https://` URIs.
pub struct HttpsFetcher {
    transport: Arc<Transport>,
}

impl HttpsFetcher {
    /// A fetcher with its own HTTP client built from `policy`.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        Ok(Self::with_transport(Arc::new(Transport::new(policy)?)))
    }

    pub(crate) fn with_transport(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// The body of `uri`, at most `max_bytes` long.
    pub async fn fetch_bytes(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let url = Url::parse(uri).map_err(|error| FetchError::InvalidUri {
            uri: redact_uri(uri),
            reason: error.to_string(),
        })?;
        match url.scheme() {
            "https" => {}
            "http" => {
                return Err(FetchError::PlainHttpRefused {
                    host: host_label(&url),
                })
            }
            other => {
                return Err(FetchError::UnsupportedScheme {
                    scheme: other.to_owned(),
                })
            }
        }
        let host = host_label(&url);
        let what = format!("resource '{}'", url.path());
        self.transport
            .within_deadline(&host, async {
                let response = self
                    .transport
                    .get(url.clone(), HeaderMap::new(), Redirects::SameOrigin)
                    .await?;
                let status = response.status();
                if status.as_u16() == 404 {
                    return Err(FetchError::NotFound {
                        host: host.clone(),
                        what: what.clone(),
                    });
                }
                if !status.is_success() {
                    return Err(FetchError::Status {
                        host: host.clone(),
                        what: what.clone(),
                        status: status.as_u16(),
                    });
                }
                read_limited(response, max_bytes, &what).await
            })
            .await
    }

    /// POSTs `body` to `uri` (`https://`, or plain `http://` to a host the policy lists) with `headers`, never
    /// following a redirect, and returns the answer's body, at most `max_bytes` long, when its status is a
    /// success. An error names the host and the path, never the answer's body.
    pub async fn post_bytes(
        &self,
        uri: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let url = Url::parse(uri).map_err(|error| FetchError::InvalidUri {
            uri: redact_uri(uri),
            reason: error.to_string(),
        })?;
        let host = host_label(&url);
        let what = format!("resource '{}'", url.path());
        self.transport
            .within_deadline(&host, async {
                let response = self
                    .transport
                    .request(
                        reqwest::Method::POST,
                        url.clone(),
                        headers,
                        Some(body),
                        Redirects::SameOrigin,
                    )
                    .await?;
                let status = response.status();
                if !status.is_success() {
                    return Err(FetchError::Status {
                        host: host.clone(),
                        what: what.clone(),
                        status: status.as_u16(),
                    });
                }
                read_limited(response, max_bytes, &what).await
            })
            .await
    }
}

#[async_trait]
impl ManifestFetcher for HttpsFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::error::Result<Vec<u8>> {
        Ok(self.fetch_bytes(uri, max_bytes).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_post_is_held_to_the_same_address_and_scheme_policy_before_any_connection() {
        let fetcher = HttpsFetcher::new(FetchPolicy::default()).unwrap();
        let post = |uri: &'static str| {
            let fetcher = &fetcher;
            async move {
                fetcher
                    .post_bytes(uri, HeaderMap::new(), b"{}".to_vec(), 1024)
                    .await
                    .unwrap_err()
            }
        };
        assert!(matches!(
            post("http://api.example.invalid/app").await,
            FetchError::PlainHttpRefused { .. }
        ));
        assert!(matches!(
            post("https://169.254.169.254/latest").await,
            FetchError::BlockedAddress { .. }
        ));
        assert!(matches!(
            post("https://127.0.0.1:1/app/installations/1/access_tokens").await,
            FetchError::BlockedAddress { .. }
        ));
    }
}
