//! One conversation with one registry repository: URLs under `/v2/<repository>/`, the bearer-token
//! challenge answered (once per request, for the scope the registry names), and statuses turned into errors
//! that name the registry.

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response};
use serde::Deserialize;
use url::Url;

use crate::error::FetchError;
use crate::oci::auth::parse_challenge;
use crate::oci::reference::OciReference;
use crate::redact::host_label;
use crate::transport::{read_limited, Redirects, Transport};

/// The largest token response accepted.
const TOKEN_LIMIT: usize = 64 * 1024;

/// Requests against one repository, remembering the last bearer token obtained.
pub struct RegistrySession<'a> {
    transport: &'a Transport,
    reference: &'a OciReference,
    token: Option<HeaderValue>,
}

/// One request to send through a [`RegistrySession`].
pub struct RegistryRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    pub redirects: Redirects,
}

impl RegistryRequest {
    /// A bodiless request that follows only same-origin redirects.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            redirects: Redirects::SameOrigin,
        }
    }
}

impl<'a> RegistrySession<'a> {
    pub fn new(transport: &'a Transport, reference: &'a OciReference) -> Self {
        Self {
            transport,
            reference,
            token: None,
        }
    }

    pub fn reference(&self) -> &OciReference {
        self.reference
    }

    pub fn oci_error(&self, reason: String) -> FetchError {
        FetchError::Oci {
            reference: self.reference.display(),
            reason,
        }
    }

    /// `<scheme>://<registry>/v2/<repository>/<tail>`, plain http only for allowed hosts.
    pub fn registry_url(&self, tail: &str) -> Result<Url, FetchError> {
        let reference = self.reference;
        let scheme = if self.transport.policy().allows_plain_http(&reference.host) {
            "http"
        } else {
            "https"
        };
        let text = format!(
            "{scheme}://{}/v2/{}/{tail}",
            reference.registry, reference.repository
        );
        Url::parse(&text)
            .map_err(|error| self.oci_error(format!("cannot form a registry URL: {error}")))
    }

    /// Sends `request`, answering one bearer challenge; returns the response whatever its status.
    pub async fn send(&mut self, request: RegistryRequest) -> Result<Response, FetchError> {
        let response = self.send_once(&request).await?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                self.auth_error("HTTP 401 without a WWW-Authenticate challenge".into())
            })?;
        self.token = Some(self.fetch_token(&challenge).await?);
        self.send_once(&request).await
    }

    /// Sends `request` and refuses any answer but 2xx, naming `what` in the error.
    pub async fn send_expecting_success(
        &mut self,
        request: RegistryRequest,
        what: &str,
    ) -> Result<Response, FetchError> {
        let response = self.send(request).await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(response)
        } else {
            Err(self.status_error(status, what))
        }
    }

    /// The error for a non-success `status` of a request about `what`.
    pub fn status_error(&self, status: u16, what: &str) -> FetchError {
        let host = self.reference.registry.clone();
        match status {
            401 | 403 => self.auth_error(format!(
                "the registry refused access to {what} (HTTP {status})"
            )),
            404 => FetchError::NotFound {
                host,
                what: what.to_owned(),
            },
            status => FetchError::Status {
                host,
                what: what.to_owned(),
                status,
            },
        }
    }

    async fn send_once(&self, request: &RegistryRequest) -> Result<Response, FetchError> {
        let mut headers = request.headers.clone();
        if let Some(token) = &self.token {
            headers.insert(AUTHORIZATION, token.clone());
        }
        self.transport
            .request(
                request.method.clone(),
                request.url.clone(),
                headers,
                request.body.clone(),
                request.redirects,
            )
            .await
    }

    /// Asks the challenge's realm (under the same SSRF policy) for an anonymous token.
    async fn fetch_token(&self, challenge: &str) -> Result<HeaderValue, FetchError> {
        let challenge = parse_challenge(challenge).map_err(|reason| self.auth_error(reason))?;
        let mut realm = Url::parse(&challenge.realm).map_err(|error| {
            self.auth_error(format!("the token realm is not a valid URL: {error}"))
        })?;
        let scope = challenge
            .scope
            .unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
        {
            let mut query = realm.query_pairs_mut();
            if let Some(service) = &challenge.service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &scope);
        }
        let realm_host = host_label(&realm);
        let response = self
            .transport
            .get(realm, HeaderMap::new(), Redirects::SameOrigin)
            .await?;
        if !response.status().is_success() {
            return Err(self.auth_error(format!(
                "the token service at '{realm_host}' answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let body = read_limited(response, TOKEN_LIMIT, "token response").await?;
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|error| {
            self.auth_error(format!("the token response is not valid JSON: {error}"))
        })?;
        let token = token
            .token
            .or(token.access_token)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| self.auth_error("the token response holds no token".into()))?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            self.auth_error("the token holds characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn auth_error(&self, reason: String) -> FetchError {
        FetchError::Auth {
            host: self.reference.registry.clone(),
            reason,
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
}
