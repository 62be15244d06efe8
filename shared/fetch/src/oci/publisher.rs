//! `OciPublisher`: a `Publisher` decorator that, after the inner publication (raw → golden) succeeds,
//! pushes the bundle as one OCI artifact tagged with the job's id and signs it the way cosign does.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use certus_core::bundle::{self, BundleIndex};
use certus_core::error::{CoreError, Result};
use certus_core::job::{Job, RemoteArtifacts};
use certus_core::ports::{ArtifactStore, BundleSigner, Publisher};

use crate::error::FetchError;
use crate::oci::digest::sha256_digest;
use crate::oci::manifest::TITLE_ANNOTATION;
use crate::oci::media::{layer_media_type, BUNDLE_ARTIFACT};
use crate::oci::push::{descriptor, ImageManifest, Pusher};
use crate::oci::reference::OciReference;
use crate::oci::session::RegistrySession;
use crate::oci::signature::{
    signature_tag, simple_signing_payload, SIGNATURE_ANNOTATION, SIMPLE_SIGNING,
};
use crate::policy::FetchPolicy;
use crate::transport::Transport;

/// The largest bundle pushed (its files are read and checked against the index before anything is sent).
const MAX_BUNDLE_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest bundle index read.
const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;

/// Publishes through `inner`, then pushes and signs the bundle as an OCI artifact.
pub struct OciPublisher {
    inner: Arc<dyn Publisher>,
    repository: OciReference,
    transport: Transport,
    store: Arc<dyn ArtifactStore>,
    signer: Arc<dyn BundleSigner>,
}

impl OciPublisher {
    /// `repository` is `oci://registry[:port]/repo/path`; the registry is reached under `policy` (https, or
    /// plain http for hosts in `allow_plain_http_for`; the SSRF guards of fetches).
    pub fn new(
        inner: Arc<dyn Publisher>,
        repository: &str,
        policy: FetchPolicy,
        store: Arc<dyn ArtifactStore>,
        signer: Arc<dyn BundleSigner>,
    ) -> std::result::Result<Self, FetchError> {
        Ok(Self {
            inner,
            repository: OciReference::with_tag(repository, "latest")?,
            transport: Transport::new(policy)?,
            store,
            signer,
        })
    }

    /// Pushes the bundle at `bundle_location` tagged `test_id`, signs it, and returns
    /// `oci://registry/repo@sha256:<digest>`.
    pub async fn push_bundle(
        &self,
        test_id: &str,
        bundle_location: &str,
        index: &BundleIndex,
    ) -> Result<String> {
        let registry = self.repository.registry.as_str();
        let reference = self
            .repository
            .tagged(test_id)
            .map_err(|error| error.into_push_error(registry))?;
        let files = self.read_bundle(bundle_location, index).await?;
        let mut session = RegistrySession::new(&self.transport, &reference);
        let mut pusher = Pusher::new(&mut session);
        let mut layers = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            let layer = descriptor(
                layer_media_type(&path),
                &bytes,
                BTreeMap::from([(TITLE_ANNOTATION.to_owned(), path)]),
            );
            pusher
                .push_blob(&layer.digest, bytes)
                .await
                .map_err(|error| error.into_push_error(registry))?;
            layers.push(layer);
        }
        let manifest = ImageManifest::new(Some(BUNDLE_ARTIFACT), layers);
        let digest = pusher
            .push_manifest(test_id, &manifest)
            .await
            .map_err(|error| error.into_push_error(registry))?;
        let signature = self.signature_manifest(&reference, &digest).await?;
        pusher
            .push_blob(&signature.payload_digest, signature.payload_bytes)
            .await
            .map_err(|error| error.into_push_error(registry))?;
        pusher
            .push_manifest(&signature_tag(&digest), &signature.manifest)
            .await
            .map_err(|error| error.into_push_error(registry))?;
        Ok(format!("oci://{}@{digest}", reference.repository_name()))
    }

    /// Every file of the index and the index itself, by bundle-relative path, each checked against the index.
    async fn read_bundle(
        &self,
        location: &str,
        index: &BundleIndex,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        index
            .files
            .iter()
            .try_fold(0u64, |sum, entry| sum.checked_add(entry.size))
            .filter(|total| *total <= MAX_BUNDLE_BYTES)
            .ok_or_else(|| {
                CoreError::Upload(format!(
                    "the bundle at {location} is larger than the {MAX_BUNDLE_BYTES} bytes an OCI push accepts"
                ))
            })?;
        let mut files = Vec::with_capacity(index.files.len() + 1);
        for entry in &index.files {
            let bytes = self
                .read(location, &entry.path, entry.size as usize)
                .await?;
            let actual = sha256_digest(&bytes);
            if actual.strip_prefix("sha256:") != Some(entry.sha256.to_string().as_str()) {
                return Err(CoreError::Upload(format!(
                    "bundle file '{}' at {location} does not match its index entry (sha256 {actual}, expected {})",
                    entry.path, entry.sha256
                )));
            }
            files.push((entry.path.clone(), bytes));
        }
        let index_bytes = self.read(location, bundle::INDEX, MAX_INDEX_BYTES).await?;
        let stored: BundleIndex = serde_json::from_slice(&index_bytes)
            .map_err(|error| CoreError::json(bundle::INDEX, error))?;
        if &stored != index {
            return Err(CoreError::Upload(format!(
                "{} at {location} differs from the index being published",
                bundle::INDEX
            )));
        }
        files.push((bundle::INDEX.to_owned(), index_bytes));
        Ok(files)
    }

    async fn read(&self, location: &str, path: &str, max_bytes: usize) -> Result<Vec<u8>> {
        self.store
            .read_file(location, path, max_bytes)
            .await?
            .ok_or_else(|| {
                CoreError::Upload(format!("bundle file '{path}' is missing at {location}"))
            })
    }

    async fn signature_manifest(
        &self,
        reference: &OciReference,
        digest: &str,
    ) -> Result<SignatureManifest> {
        let payload_bytes = simple_signing_payload(&reference.repository_name(), digest)
            .map_err(|error| CoreError::json("cosign signature payload", error))?;
        let signature = self.signer.sign(&payload_bytes).await?;
        let payload = descriptor(
            SIMPLE_SIGNING,
            &payload_bytes,
            BTreeMap::from([(
                SIGNATURE_ANNOTATION.to_owned(),
                base64::engine::general_purpose::STANDARD.encode(signature),
            )]),
        );
        Ok(SignatureManifest {
            payload_digest: payload.digest.clone(),
            manifest: ImageManifest::new(None, vec![payload]),
            payload_bytes,
        })
    }
}

/// The cosign signature manifest of an artifact and the payload blob it refers to.
struct SignatureManifest {
    manifest: ImageManifest,
    payload_digest: String,
    payload_bytes: Vec<u8>,
}

#[async_trait]
impl Publisher for OciPublisher {
    fn raw_destination(&self, test_id: &str) -> String {
        self.inner.raw_destination(test_id)
    }

    fn raw_bucket(&self) -> String {
        self.inner.raw_bucket()
    }

    async fn publish(
        &self,
        job: &Job,
        bundle_location: &str,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts> {
        let mut remote = self.inner.publish(job, bundle_location, index).await?;
        let oci = self
            .push_bundle(&job.test_id, bundle_location, index)
            .await?;
        remote.oci = Some(oci);
        Ok(remote)
    }
}
