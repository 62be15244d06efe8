//! The guarded HTTP engine shared by the fetchers: target checks (scheme, IP literals), manually followed
//! redirects under a rule, an overall deadline, and bodies read with a byte cap.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION};
use reqwest::{Method, Response, StatusCode};
use url::{Host, Url};

use crate::address::blocked_reason;
use crate::error::FetchError;
use crate::policy::FetchPolicy;
use crate::redact::host_label;
use crate::resolver::GuardedResolver;
use crate::tls::client_config;

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 3;

/// Which redirects a request may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// Only to the same scheme, host and port.
    SameOrigin,
    /// To any host that passes the target checks (blob storage); credentials are dropped when the origin
    /// changes.
    AnyHost,
}

/// A reqwest client wired to the policy: guarded resolver, no proxy, no automatic redirects, timeouts.
pub struct Transport {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl Transport {
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let tls = client_config(policy.extra_ca_pem.as_deref())?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(GuardedResolver::new(Arc::clone(&policy)))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.timeouts.connect)
            .timeout(policy.timeouts.total)
            .user_agent(concat!("certus-fetch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| FetchError::Config {
                reason: format!("HTTP client setup: {error}"),
            })?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Refuses a target before any connection: wrong scheme, no host, or a non-public IP literal.
    pub fn check_target(&self, url: &Url) -> Result<(), FetchError> {
        let host = host_label(url);
        let bare_host = url.host_str().ok_or_else(|| FetchError::InvalidUri {
            uri: format!("{}://", url.scheme()),
            reason: "it names no host".into(),
        })?;
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allows_plain_http(bare_host) => {}
            "http" => return Err(FetchError::PlainHttpRefused { host }),
            other => {
                return Err(FetchError::UnsupportedScheme {
                    scheme: other.to_owned(),
                })
            }
        }
        let literal: Option<IpAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(ip) = literal {
            if let Some(reason) = blocked_reason(ip) {
                if !self.policy.allows_host(bare_host) {
                    return Err(FetchError::BlockedAddress {
                        host,
                        address: ip.to_string(),
                        reason: reason.to_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    /// GETs `url`, following at most [`MAX_REDIRECTS`] redirects allowed by `redirects`; returns the final
    /// response whatever its status.
    pub async fn get(
        &self,
        url: Url,
        headers: HeaderMap,
        redirects: Redirects,
    ) -> Result<Response, FetchError> {
        self.request(Method::GET, url, headers, None, redirects)
            .await
    }

    /// Sends one request. Bodiless requests follow at most [`MAX_REDIRECTS`] redirects allowed by
    /// `redirects`; a request with a body is never redirected (its redirect answer is returned as is).
    pub async fn request(
        &self,
        method: Method,
        url: Url,
        mut headers: HeaderMap,
        body: Option<Vec<u8>>,
        redirects: Redirects,
    ) -> Result<Response, FetchError> {
        let origin = url.clone();
        let mut current = url;
        let mut followed = 0;
        loop {
            self.check_target(&current)?;
            let mut request = self
                .client
                .request(method.clone(), current.clone())
                .headers(headers.clone());
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request
                .send()
                .await
                .map_err(|error| describe_reqwest_error(error, &host_label(&current)))?;
            if body.is_some() || !is_redirect(response.status()) {
                return Ok(response);
            }
            if followed == MAX_REDIRECTS {
                return Err(FetchError::Redirect {
                    host: host_label(&origin),
                    reason: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            followed += 1;
            let next = redirect_target(&current, &response)?;
            if redirects == Redirects::SameOrigin && !same_origin(&origin, &next) {
                return Err(FetchError::Redirect {
                    host: host_label(&current),
                    reason: format!(
                        "it points to {}://{}, and only the same host over the same scheme is followed",
                        next.scheme(),
                        host_label(&next)
                    ),
                });
            }
            if !same_origin(&current, &next) {
                headers.remove(AUTHORIZATION);
            }
            current = next;
        }
    }

    /// Runs `work` under the policy's total timeout, reporting `host` when it runs out.
    pub async fn within_deadline<T>(
        &self,
        host: &str,
        work: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        let limit = self.policy.timeouts.total;
        tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(FetchError::Timeout {
                host: host.to_owned(),
            })
        })
    }
}

/// Reads a body of at most `limit` bytes: the declared Content-Length first, then the bytes counted.
pub async fn read_limited(
    mut response: Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, FetchError> {
    let host = host_label(response.url());
    let too_large = || FetchError::TooLarge {
        host: host.clone(),
        what: what.to_owned(),
        limit: limit as u64,
    };
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let capacity = declared.map_or(0, |length| length as usize);
    let mut body = Vec::with_capacity(capacity);
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| describe_reqwest_error(error, &host))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn redirect_target(current: &Url, response: &Response) -> Result<Url, FetchError> {
    let refuse = |reason: &str| FetchError::Redirect {
        host: host_label(current),
        reason: reason.to_owned(),
    };
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| refuse("the redirect has no usable Location header"))?;
    current
        .join(location)
        .map_err(|_| refuse("the Location header is not a valid URL"))
}

/// Whether `a` and `b` share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Turns a reqwest error into a FetchError naming `host`, never the URL (which may carry a token).
pub fn describe_reqwest_error(error: reqwest::Error, host: &str) -> FetchError {
    let error = error.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(fetch_error) = current.downcast_ref::<FetchError>() {
            return fetch_error.clone();
        }
        if let Some(tls_error) = current.downcast_ref::<rustls::Error>() {
            return FetchError::Tls {
                host: host.to_owned(),
                reason: tls_error.to_string(),
            };
        }
        source = next_in_chain(current);
    }
    let reason = error_chain_text(&error);
    if error.is_timeout() {
        FetchError::Timeout {
            host: host.to_owned(),
        }
    } else if error.is_connect() {
        FetchError::Connect {
            host: host.to_owned(),
            reason,
        }
    } else {
        FetchError::Request {
            host: host.to_owned(),
            reason,
        }
    }
}

/// The next error down the chain; for an `io::Error` that wraps another error, that error itself (its
/// `source()` would skip it).
fn next_in_chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => error.source(),
    }
}

fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = next_in_chain(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = next_in_chain(current);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(allow_hosts: &[&str], plain: &[&str]) -> Transport {
        Transport::new(FetchPolicy {
            allow_hosts: allow_hosts.iter().map(|host| host.to_string()).collect(),
            allow_plain_http_for: plain.iter().map(|host| host.to_string()).collect(),
            ..FetchPolicy::default()
        })
        .unwrap()
    }

    fn check(transport: &Transport, url: &str) -> Result<(), FetchError> {
        transport.check_target(&Url::parse(url).unwrap())
    }

    #[test]
    fn refuses_non_public_literals_before_any_connection() {
        let transport = transport(&[], &[]);
        for (url, address, reason) in [
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
                "link-local (cloud metadata)",
            ),
            ("https://10.0.0.1/m", "10.0.0.1", "private"),
            ("https://[::1]:8443/m", "::1", "loopback"),
            ("https://[fe80::1]/m", "fe80::1", "link-local"),
            ("https://100.64.0.1/m", "100.64.0.1", "CGNAT (shared)"),
        ] {
            let error = check(&transport, url).unwrap_err();
            assert!(
                matches!(&error, FetchError::BlockedAddress { address: a, reason: r, .. } if a == address && r == reason),
                "{url}: {error:?}"
            );
        }
    }

    #[test]
    fn allowlisted_literals_and_public_hosts_pass() {
        let transport = transport(&["10.0.0.1", "::1"], &[]);
        assert!(check(&transport, "https://10.0.0.1/m").is_ok());
        assert!(check(&transport, "https://[::1]/m").is_ok());
        assert!(check(&transport, "https://93.184.216.34/m").is_ok());
        assert!(check(&transport, "https://registry.example/v2/").is_ok());
    }

    #[test]
    fn plain_http_only_for_listed_hosts() {
        let transport = transport(&[], &["registry.internal"]);
        assert!(check(&transport, "http://registry.internal:5000/v2/").is_ok());
        assert_eq!(
            check(&transport, "http://other.example/v2/").unwrap_err(),
            FetchError::PlainHttpRefused {
                host: "other.example".into()
            }
        );
        assert_eq!(
            check(&transport, "ftp://registry.internal/x").unwrap_err(),
            FetchError::UnsupportedScheme {
                scheme: "ftp".into()
            }
        );
    }
}
