//! `OciFetcher`: fetches one layer of an OCI artifact through the distribution API (manifest, then blob),
//! verifying digests, with anonymous access or the registry's bearer-token challenge.

use std::sync::Arc;

use async_trait::async_trait;
use certus_core::ports::ManifestFetcher;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use reqwest::Response;
use serde::Deserialize;
use url::Url;

use crate::error::FetchError;
use crate::oci::auth::parse_challenge;
use crate::oci::digest::verify_digest;
use crate::oci::manifest::{parse_layers, select_layer, ACCEPT_MANIFESTS};
use crate::oci::reference::{OciReference, OciTarget};
use crate::policy::FetchPolicy;
use crate::redact::host_label;
use crate::transport::{read_limited, Redirects, Transport};

/// The largest manifest accepted (the limit distribution itself enforces).
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;
/// The largest token response accepted.
const TOKEN_LIMIT: usize = 64 * 1024;

/// Fetches `oci://` URIs.
pub struct OciFetcher {
    transport: Arc<Transport>,
}

impl OciFetcher {
    /// A fetcher with its own HTTP client built from `policy`.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        Ok(Self::with_transport(Arc::new(Transport::new(policy)?)))
    }

    pub(crate) fn with_transport(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// The bytes of the selected layer of the artifact `uri` names, at most `max_bytes` long, digest-checked.
    pub async fn fetch_bytes(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let reference = OciReference::parse(uri)?;
        let mut session = RegistrySession {
            transport: &self.transport,
            reference: &reference,
            token: None,
        };
        self.transport
            .within_deadline(&reference.registry, session.fetch_layer(max_bytes))
            .await
    }
}

#[async_trait]
impl ManifestFetcher for OciFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::error::Result<Vec<u8>> {
        Ok(self.fetch_bytes(uri, max_bytes).await?)
    }
}

/// One artifact fetch against one registry, remembering a bearer token once obtained.
struct RegistrySession<'a> {
    transport: &'a Transport,
    reference: &'a OciReference,
    token: Option<HeaderValue>,
}

impl RegistrySession<'_> {
    async fn fetch_layer(&mut self, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let reference = self.reference;
        let what = format!("manifest '{}'", reference.display());
        let url = self.registry_url(&format!("manifests/{}", reference.manifest_reference()))?;
        let response = self
            .get(url, Some(ACCEPT_MANIFESTS), Redirects::SameOrigin, &what)
            .await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let manifest = read_limited(response, MANIFEST_LIMIT, &what).await?;
        if let OciTarget::Digest(digest) = &reference.target {
            verify_digest(digest, &manifest, &what)?;
        }
        let layers = parse_layers(&manifest, content_type.as_deref())
            .map_err(|reason| self.oci_error(reason))?;
        let layer = select_layer(&layers, reference.title.as_deref())
            .map_err(|reason| self.oci_error(reason))?;

        let what = format!("blob {} of '{}'", layer.digest, reference.display());
        if layer.size > max_bytes as u64 {
            return Err(FetchError::TooLarge {
                host: reference.registry.clone(),
                what,
                limit: max_bytes as u64,
            });
        }
        let url = self.registry_url(&format!("blobs/{}", layer.digest))?;
        let response = self.get(url, None, Redirects::AnyHost, &what).await?;
        let blob = read_limited(response, max_bytes, &what).await?;
        verify_digest(&layer.digest, &blob, &what)?;
        if blob.len() as u64 != layer.size {
            return Err(self.oci_error(format!(
                "{what} is {} bytes long, but its descriptor says {}",
                blob.len(),
                layer.size
            )));
        }
        Ok(blob)
    }

    fn oci_error(&self, reason: String) -> FetchError {
        FetchError::Oci {
            reference: self.reference.display(),
            reason,
        }
    }

    fn registry_url(&self, tail: &str) -> Result<Url, FetchError> {
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

    /// GETs a registry URL, answering one bearer challenge; refuses non-success statuses.
    async fn get(
        &mut self,
        url: Url,
        accept: Option<&'static str>,
        redirects: Redirects,
        what: &str,
    ) -> Result<Response, FetchError> {
        let mut response = self.send(url.clone(), accept, redirects).await?;
        if response.status().as_u16() == 401 && self.token.is_none() {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| {
                    self.auth_error("HTTP 401 without a WWW-Authenticate challenge".into())
                })?;
            self.token = Some(self.fetch_token(&challenge).await?);
            response = self.send(url, accept, redirects).await?;
        }
        let host = self.reference.registry.clone();
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(self.auth_error(format!(
                "the registry refused access to {what} (HTTP {})",
                response.status().as_u16()
            ))),
            404 => Err(FetchError::NotFound {
                host,
                what: what.to_owned(),
            }),
            status => Err(FetchError::Status {
                host,
                what: what.to_owned(),
                status,
            }),
        }
    }

    async fn send(
        &self,
        url: Url,
        accept: Option<&'static str>,
        redirects: Redirects,
    ) -> Result<Response, FetchError> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(ACCEPT, HeaderValue::from_static(accept));
        }
        if let Some(token) = &self.token {
            headers.insert(AUTHORIZATION, token.clone());
        }
        self.transport.get(url, headers, redirects).await
    }

    /// Asks the challenge's realm (under the same SSRF policy) for an anonymous pull token.
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
