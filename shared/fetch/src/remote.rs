//! `RemoteFetcher`: one `ManifestFetcher` that dispatches on the URI scheme and refuses everything else.

use std::sync::Arc;

use async_trait::async_trait;
use certus_core::ports::ManifestFetcher;

use crate::error::FetchError;
use crate::file::FileFetcher;
use crate::https::HttpsFetcher;
use crate::oci::OciFetcher;
use crate::policy::FetchPolicy;
use crate::transport::Transport;

/// `https://` → [`HttpsFetcher`], `oci://` → [`OciFetcher`], `file://` → [`FileFetcher`] (only below
/// `FetchPolicy::file_roots`); every other scheme is refused.
pub struct RemoteFetcher {
    https: HttpsFetcher,
    oci: OciFetcher,
    file: FileFetcher,
}

impl RemoteFetcher {
    /// Builds one shared HTTP client from `policy` and canonicalises its file roots.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let file = FileFetcher::new(&policy.file_roots)?;
        let transport = Arc::new(Transport::new(policy)?);
        Ok(Self {
            https: HttpsFetcher::with_transport(Arc::clone(&transport)),
            oci: OciFetcher::with_transport(transport),
            file,
        })
    }

    /// The bytes `uri` names, at most `max_bytes` long.
    pub async fn fetch_bytes(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let scheme = uri.split_once("://").map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "https" => self.https.fetch_bytes(uri, max_bytes).await,
            "oci" => self.oci.fetch_bytes(uri, max_bytes).await,
            "file" => self.file.fetch_bytes(uri, max_bytes).await,
            "" => Err(FetchError::UnsupportedScheme {
                scheme: "(none)".into(),
            }),
            other => Err(FetchError::UnsupportedScheme {
                scheme: other.chars().take(32).collect(),
            }),
        }
    }
}

#[async_trait]
impl ManifestFetcher for RemoteFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::error::Result<Vec<u8>> {
        Ok(self.fetch_bytes(uri, max_bytes).await?)
    }
}
