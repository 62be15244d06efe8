//! `FileFetcher`: reads `file://` URIs, only below configured root directories (after resolving symlinks).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use certus_core::ports::ManifestFetcher;
use tokio::io::AsyncReadExt;
use url::Url;

use crate::error::FetchError;
use crate::redact::redact_uri;

/// Reads local files below allowed roots.
pub struct FileFetcher {
    roots: Vec<PathBuf>,
}

impl FileFetcher {
    /// Canonicalises every root; a root that does not exist is a configuration error.
    pub fn new(roots: &[PathBuf]) -> Result<Self, FetchError> {
        let roots = roots
            .iter()
            .map(|root| {
                std::fs::canonicalize(root).map_err(|error| FetchError::Config {
                    reason: format!("file root '{}' is unusable: {error}", root.display()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { roots })
    }

    /// The contents of the file `uri` names, at most `max_bytes` long.
    pub async fn fetch_bytes(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let path = file_path(uri)?;
        let refuse = |reason: String| FetchError::File {
            path: path.display().to_string(),
            reason,
        };
        if self.roots.is_empty() {
            return Err(refuse("no file roots are configured".into()));
        }
        let canonical = tokio::fs::canonicalize(&path)
            .await
            .map_err(|error| refuse(error.to_string()))?;
        if !self.roots.iter().any(|root| canonical.starts_with(root)) {
            return Err(refuse("it lies outside every allowed file root".into()));
        }
        read_capped(&canonical, max_bytes).await.map_err(refuse)
    }
}

fn file_path(uri: &str) -> Result<PathBuf, FetchError> {
    let invalid = |reason: &str| FetchError::InvalidUri {
        uri: redact_uri(uri),
        reason: reason.to_owned(),
    };
    let url = Url::parse(uri).map_err(|_| invalid("not a valid file:// URI"))?;
    if url.scheme() != "file" {
        return Err(invalid("not a file:// URI"));
    }
    if url.host_str().is_some_and(|host| host != "localhost") {
        return Err(invalid("file:// URIs must not name a remote host"));
    }
    url.to_file_path()
        .map_err(|()| invalid("not an absolute local path"))
}

async fn read_capped(path: &Path, max_bytes: usize) -> Result<Vec<u8>, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|error| error.to_string())?;
    let metadata = file.metadata().await.map_err(|error| error.to_string())?;
    if !metadata.is_file() {
        return Err("it is not a regular file".into());
    }
    let too_large = || format!("it is larger than the limit of {max_bytes} bytes");
    if metadata.len() > max_bytes as u64 {
        return Err(too_large());
    }
    let mut contents = Vec::with_capacity(metadata.len() as usize);
    file.take((max_bytes as u64).saturating_add(1))
        .read_to_end(&mut contents)
        .await
        .map_err(|error| error.to_string())?;
    if contents.len() > max_bytes {
        return Err(too_large());
    }
    Ok(contents)
}

#[async_trait]
impl ManifestFetcher for FileFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::error::Result<Vec<u8>> {
        Ok(self.fetch_bytes(uri, max_bytes).await?)
    }
}
