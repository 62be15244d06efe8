//! The AWS adapters for the local command (feature `aws`): `s3://` manifests, signatures and key objects,
//! `awskms://` keys for verification and signing, and bundles read back from S3. Clients are built on first
//! use, so commands that touch no AWS resource pay nothing for them.

use std::sync::Arc;

use certus_aws::{
    download_prefix, resolve_key_ref, AwsClients, KmsSigner, S3ArtifactStore, S3Fetcher,
    S3Publisher,
};
use certus_core::ports::{ArtifactStore, BundleSigner, ManifestFetcher, Publisher};
use certus_core::settings::Settings;
use certus_verify::{KeyRef, PublicKey};
use tokio::sync::OnceCell;

use crate::error::Result;

async fn clients(settings: &Settings) -> Result<AwsClients> {
    Ok(AwsClients::from_env(settings.s3_endpoint_url.as_deref()).await?)
}

/// S3 clients made when the first `s3://` URI is fetched.
pub struct LazyAws {
    endpoint: Option<String>,
    fetcher: OnceCell<S3Fetcher>,
}

impl LazyAws {
    pub fn new(settings: &Settings) -> Self {
        Self {
            endpoint: settings.s3_endpoint_url.clone(),
            fetcher: OnceCell::new(),
        }
    }

    pub async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        let fetcher = self
            .fetcher
            .get_or_try_init(|| async {
                AwsClients::from_env(self.endpoint.as_deref())
                    .await
                    .map(|c| S3Fetcher::new(&c))
            })
            .await?;
        fetcher.fetch(uri, max_bytes).await
    }
}

pub async fn resolve_key(key_ref: &KeyRef, settings: &Settings) -> Result<PublicKey> {
    Ok(resolve_key_ref(&clients(settings).await?, key_ref).await?)
}

pub async fn kms_signer(reference: &str, settings: &Settings) -> Result<Arc<dyn BundleSigner>> {
    Ok(Arc::new(
        KmsSigner::new(&clients(settings).await?, reference).await?,
    ))
}

/// Copies every object under an `s3://bucket/prefix` into `dest` (which must be empty).
pub async fn download_bundle(uri: &str, dest: &std::path::Path, settings: &Settings) -> Result<()> {
    download_prefix(&clients(settings).await?, uri, dest).await?;
    Ok(())
}

/// Bundles kept under `CERTUS_ASSURANCE_WORK_BUCKET`.
pub async fn artifact_store(
    work_bucket: &str,
    settings: &Settings,
) -> Result<Arc<dyn ArtifactStore>> {
    Ok(Arc::new(S3ArtifactStore::new(
        &clients(settings).await?,
        work_bucket,
    )?))
}

/// Raw and golden buckets from the settings (defaults `raw`, `golden`, prefixes `security-scans`).
pub async fn publisher(settings: &Settings) -> Result<Arc<dyn Publisher>> {
    let raw = format!("s3://{}/{}", settings.raw_bucket, settings.raw_prefix);
    let golden = format!("s3://{}/{}", settings.golden_bucket, settings.golden_prefix);
    Ok(Arc::new(S3Publisher::new(
        &clients(settings).await?,
        &raw,
        &golden,
    )?))
}
