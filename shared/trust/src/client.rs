//! The HTTP Certus-Trust client: `POST {base}/v1/verify-and-permit-upload` over verified TLS, with bounded
//! retries on transport errors, timeouts, 429 and 5xx. Fails closed: whatever goes wrong is recorded in the
//! exchange and never becomes a permit. The bearer token is sent, never logged or recorded.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use certus_core::time;
use certus_core::trust::{Attempt, TrustAnswer, TrustClient, TrustExchange, TrustRequest};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::error::{Result, TrustError};
use crate::retry::RetryPolicy;
use crate::tls;

/// The path of the Trust route under the base URL.
pub const VERIFY_AND_PERMIT_PATH: &str = "/v1/verify-and-permit-upload";
/// Answers longer than this are not read.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
const MAX_SHOWN_BODY_CHARS: usize = 300;

/// How to reach Trust.
#[derive(Clone)]
pub struct HttpTrustConfig {
    /// `https://…`; plain `http://` only to a loopback address (the dev server).
    pub base_url: String,
    pub bearer_token: Option<String>,
    /// PEM certificates trusted in addition to the webpki roots (a private CA).
    pub extra_ca_pem: Option<String>,
    /// The whole of one attempt: connect, send, answer.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

impl HttpTrustConfig {
    /// Defaults: no token, no extra CA, 30 s per attempt, 10 s to connect, 4 attempts.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            bearer_token: None,
            extra_ca_pem: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

impl fmt::Debug for HttpTrustConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTrustConfig")
            .field("base_url", &self.base_url)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("extra_ca_pem", &self.extra_ca_pem.is_some())
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Certus-Trust over HTTPS.
pub struct HttpTrustClient {
    http: reqwest::Client,
    endpoint: Url,
    authorization: Option<HeaderValue>,
    request_timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for HttpTrustClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTrustClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("bearer_token", &self.authorization.is_some())
            .finish()
    }
}

/// What one attempt came to.
enum Step {
    /// A well-formed answer (a permit or a denial): the exchange ends with it.
    Answer(Box<TrustAnswer>),
    /// Nothing usable and no point trying again.
    Final(String),
    /// Worth another try, after `wait` if the server asked for one.
    Retry {
        error: String,
        wait: Option<Duration>,
    },
}

impl HttpTrustClient {
    pub fn new(config: &HttpTrustConfig) -> Result<Self> {
        let endpoint = endpoint(&config.base_url)?;
        let authorization = config
            .bearer_token
            .as_deref()
            .map(|token| {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        TrustError::Client(
                            "the bearer token contains characters not allowed in an HTTP header"
                                .into(),
                        )
                    })?;
                value.set_sensitive(true);
                Ok::<_, TrustError>(value)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls::client_config(config.extra_ca_pem.as_deref())?)
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("certus-assurance/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TrustError::Client(describe(&e)))?;
        Ok(Self {
            http,
            endpoint,
            authorization,
            request_timeout: config.request_timeout,
            retry: config.retry.clone(),
        })
    }

    /// The full URL requests are posted to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    async fn attempt(&self, body: &[u8], request: &TrustRequest) -> (String, Step) {
        let mut post = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_vec());
        if let Some(authorization) = &self.authorization {
            post = post.header(AUTHORIZATION, authorization.clone());
        }
        let response = match post.send().await {
            Ok(response) => response,
            Err(e) => return self.transport_failure(&e),
        };
        let status = response.status();
        let outcome = format!("http {}", status.as_u16());
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match read_capped(response).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return (
                    outcome,
                    Step::Final(format!(
                        "Trust answered http {} with a body over {MAX_ANSWER_BYTES} bytes",
                        status.as_u16()
                    )),
                )
            }
            Err(BodyError::Transport(e)) => {
                let (_, step) = self.transport_failure(&e);
                return (format!("{outcome}, body not received"), step);
            }
        };
        let step = match status {
            StatusCode::OK | StatusCode::ACCEPTED => match parse_answer(&body, request) {
                Ok(answer) => Step::Answer(Box::new(answer)),
                Err(problem) => Step::Final(format!(
                    "Trust answered http {} with an unusable answer: {problem}",
                    status.as_u16()
                )),
            },
            StatusCode::TOO_MANY_REQUESTS => Step::Retry {
                error: format!("Trust is rate limiting (http 429): {}", shown(&body)),
                wait: self.retry.retry_after(retry_after.as_deref()),
            },
            s if s.is_server_error() => Step::Retry {
                error: format!("Trust failed (http {}): {}", s.as_u16(), shown(&body)),
                wait: None,
            },
            s if s.is_client_error() => match parse_answer(&body, request) {
                Ok(answer) if !answer.permitted => Step::Answer(Box::new(answer)),
                _ => Step::Final(format!(
                    "Trust refused the request (http {}): {}",
                    s.as_u16(),
                    refusal(&body)
                )),
            },
            s => Step::Final(format!(
                "Trust answered with unexpected http {}: {}",
                s.as_u16(),
                shown(&body)
            )),
        };
        (outcome, step)
    }

    fn transport_failure(&self, error: &reqwest::Error) -> (String, Step) {
        let detail = describe(error);
        if is_tls_failure(error) {
            (
                format!("tls verification failed: {detail}"),
                Step::Final(format!(
                    "the TLS connection to Trust could not be verified: {detail}"
                )),
            )
        } else if error.is_timeout() {
            (
                format!("timeout: {detail}"),
                Step::Retry {
                    error: format!(
                        "Trust did not answer within {} ms: {detail}",
                        self.request_timeout.as_millis()
                    ),
                    wait: None,
                },
            )
        } else if error.is_builder() {
            (
                format!("request not built: {detail}"),
                Step::Final(format!("the request to Trust could not be built: {detail}")),
            )
        } else {
            (
                format!("transport error: {detail}"),
                Step::Retry {
                    error: format!("Trust could not be reached: {detail}"),
                    wait: None,
                },
            )
        }
    }
}

#[async_trait]
impl TrustClient for HttpTrustClient {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        let mut exchange = TrustExchange {
            request: request.clone(),
            answer: None,
            attempts: Vec::new(),
            error: None,
        };
        let body = match serde_json::to_vec(request) {
            Ok(body) => body,
            Err(e) => {
                exchange.error = Some(format!("the Trust request cannot be encoded: {e}"));
                return exchange;
            }
        };
        let allowed = self.retry.attempts();
        let mut last_error = String::new();
        for retry in 0..allowed {
            let started_at = time::format(&time::now());
            let clock = Instant::now();
            let (outcome, step) = self.attempt(&body, request).await;
            exchange.attempts.push(Attempt {
                started_at,
                duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
                outcome,
            });
            match step {
                Step::Answer(answer) => {
                    exchange.answer = Some(*answer);
                    return exchange;
                }
                Step::Final(error) => {
                    exchange.error = Some(error);
                    return exchange;
                }
                Step::Retry { error, wait } => {
                    last_error = error;
                    if retry + 1 < allowed {
                        tokio::time::sleep(wait.unwrap_or_else(|| self.retry.backoff(retry))).await;
                    }
                }
            }
        }
        exchange.error = Some(format!(
            "no usable answer from Trust after {allowed} attempts; last: {last_error}"
        ));
        exchange
    }
}

/// `{base}/v1/verify-and-permit-upload`, refusing anything but https (or http to a loopback address).
fn endpoint(base_url: &str) -> Result<Url> {
    let refuse = |reason: &str| TrustError::BaseUrl {
        url: base_url.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(base_url).map_err(|e| refuse(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "credentials in the URL are not allowed (give a bearer token instead)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("a query or fragment is not allowed"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(refuse(
                "plain http is only allowed to a loopback address (the dev server); use https",
            ))
        }
        _ => return Err(refuse("the scheme must be https")),
    }
    let path = format!(
        "{}{VERIFY_AND_PERMIT_PATH}",
        url.path().trim_end_matches('/')
    );
    url.set_path(&path);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn parse_answer(body: &[u8], request: &TrustRequest) -> std::result::Result<TrustAnswer, String> {
    let answer: TrustAnswer =
        serde_json::from_slice(body).map_err(|e| format!("not a Trust answer: {e}"))?;
    match answer.scan_id.as_deref() {
        Some(id) if id == request.scan_id => Ok(answer),
        Some(id) => Err(format!(
            "the answer is for scan {:?}, not {}",
            id.chars().take(100).collect::<String>(),
            request.scan_id
        )),
        None => Err("the answer names no scan_id".into()),
    }
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_capped(mut response: reqwest::Response) -> std::result::Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A refusal's body: FastAPI's `detail` list one field per item (`body.metadata.branch: Input should be a
/// valid string (input: null)`), anything else as an excerpt.
fn refusal(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| crate::gate::describe_detail(&value))
        .map_or_else(|| shown(body), |text| text.chars().take(2000).collect())
}

/// A short, printable excerpt of a body for the audit record.
fn shown(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SHOWN_BODY_CHARS)
        .collect();
    if text.trim().is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

/// The error with its chain of causes.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    // `io::Error::source` skips the error it wraps, so wrapped errors are opened explicitly.
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = vec![error];
    let mut visited = 0;
    while let Some(e) = pending.pop() {
        visited += 1;
        if visited > 64 {
            break;
        }
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            pending.push(inner);
        }
        if let Some(source) = e.source() {
            pending.push(source);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_requires_https_except_on_loopback() {
        assert_eq!(
            endpoint("https://trust.example.invalid/base/")
                .unwrap()
                .as_str(),
            "https://trust.example.invalid/base/v1/verify-and-permit-upload"
        );
        for ok in [
            "http://127.0.0.1:8057",
            "http://localhost:1",
            "http://[::1]:2",
            "http://127.9.9.9",
        ] {
            assert!(endpoint(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "http://trust.example.invalid",
            "http://10.0.0.1",
            "http://localhost.example.invalid",
            "ftp://127.0.0.1",
            "https://user:pw@trust.example.invalid",
            "https://trust.example.invalid/?x=1",
            "not a url",
        ] {
            let err = endpoint(bad).unwrap_err();
            assert!(matches!(err, TrustError::BaseUrl { .. }), "{bad}: {err}");
        }
        let err = endpoint("http://trust.example.invalid").unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let mut config = HttpTrustConfig::new("https://trust.example.invalid");
        config.bearer_token = Some("tok-3f9a1c".into());
        assert!(!format!("{config:?}").contains("tok-3f9a1c"));
        let client = HttpTrustClient::new(&config).unwrap();
        assert!(!format!("{client:?}").contains("tok-3f9a1c"));
    }

    #[test]
    fn shown_bodies_are_short_and_printable() {
        let long = vec![b'a'; 5000];
        assert_eq!(shown(&long).len(), MAX_SHOWN_BODY_CHARS);
        assert_eq!(shown(b"a\nb\x1b"), "a b ");
        assert_eq!(shown(b""), "(empty body)");
    }
}
