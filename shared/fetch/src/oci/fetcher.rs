//! `OciFetcher`: fetches one layer of an OCI artifact through the distribution API (manifest, then blob),
//! verifying digests, with anonymous access or the registry's bearer-token challenge.

use std::sync::Arc;

use async_trait::async_trait;
use certus_core::ports::ManifestFetcher;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;

use crate::error::FetchError;
use crate::oci::digest::verify_digest;
use crate::oci::manifest::{parse_layers, select_layer, ACCEPT_MANIFESTS};
use crate::oci::reference::{OciReference, OciTarget};
use crate::oci::session::{RegistryRequest, RegistrySession};
use crate::policy::FetchPolicy;
use crate::transport::{read_limited, Redirects, Transport};

/// The largest manifest accepted (the limit distribution itself enforces).
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

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
        let mut session = RegistrySession::new(&self.transport, &reference);
        self.transport
            .within_deadline(&reference.registry, fetch_layer(&mut session, max_bytes))
            .await
    }
}

#[async_trait]
impl ManifestFetcher for OciFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::error::Result<Vec<u8>> {
        Ok(self.fetch_bytes(uri, max_bytes).await?)
    }
}

async fn fetch_layer(
    session: &mut RegistrySession<'_>,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let reference = session.reference().clone();
    let what = format!("manifest '{}'", reference.display());
    let mut request = RegistryRequest::new(
        Method::GET,
        session.registry_url(&format!("manifests/{}", reference.manifest_reference()))?,
    );
    request
        .headers
        .insert(ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
    let response = session.send_expecting_success(request, &what).await?;
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
        .map_err(|reason| session.oci_error(reason))?;
    let layer = select_layer(&layers, reference.title.as_deref())
        .map_err(|reason| session.oci_error(reason))?;

    let what = format!("blob {} of '{}'", layer.digest, reference.display());
    if layer.size > max_bytes as u64 {
        return Err(FetchError::TooLarge {
            host: reference.registry.clone(),
            what,
            limit: max_bytes as u64,
        });
    }
    let mut request = RegistryRequest::new(
        Method::GET,
        session.registry_url(&format!("blobs/{}", layer.digest))?,
    );
    request.redirects = Redirects::AnyHost;
    let response = session.send_expecting_success(request, &what).await?;
    let blob = read_limited(response, max_bytes, &what).await?;
    verify_digest(&layer.digest, &blob, &what)?;
    if blob.len() as u64 != layer.size {
        return Err(session.oci_error(format!(
            "{what} is {} bytes long, but its descriptor says {}",
            blob.len(),
            layer.size
        )));
    }
    Ok(blob)
}
