//! Manifest and signature bytes named by a `file://` URI, for the local runner. Remote schemes are served by
//! the adapters that can reach them; here they are refused with a clear reason.

use async_trait::async_trait;
use certus_core::error::{CoreError, Result};
use certus_core::pipeline::read_capped;
use certus_core::ports::ManifestFetcher;

pub struct FileFetcher;

#[async_trait]
impl ManifestFetcher for FileFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>> {
        match uri.strip_prefix("file://") {
            Some(path) if path.starts_with('/') => {
                read_capped(std::path::Path::new(path), max_bytes)
            }
            Some(_) => Err(CoreError::Manifest(format!(
                "'{uri}' must be an absolute file:// URI"
            ))),
            None => {
                let scheme = uri.split("://").next().unwrap_or(uri);
                Err(CoreError::Manifest(format!(
                    "manifest URIs with scheme '{scheme}' cannot be fetched by the local runner; use file:// or an inline or repository manifest"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_absolute_file_uris_with_a_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, b"{\"profiles\":[]}").unwrap();
        let uri = format!("file://{}", path.display());
        assert_eq!(
            FileFetcher.fetch(&uri, 1024).await.unwrap(),
            b"{\"profiles\":[]}"
        );
        assert!(FileFetcher
            .fetch(&uri, 4)
            .await
            .unwrap_err()
            .to_string()
            .contains("limit"));
        assert!(FileFetcher
            .fetch("file://relative/m.json", 1024)
            .await
            .is_err());
        let s3 = FileFetcher
            .fetch("s3://bucket/m.json", 1024)
            .await
            .unwrap_err();
        assert!(s3.to_string().contains("scheme 's3'"), "{s3}");
    }
}
