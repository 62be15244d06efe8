//! Pushing through the distribution API: blobs (skipped when the registry already has them) and image
//! manifests under a tag, every response checked.

use std::collections::BTreeMap;

use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::Method;
use serde::Serialize;

use crate::error::FetchError;
use crate::oci::digest::sha256_digest;
use crate::oci::manifest::Descriptor;
use crate::oci::media::{EMPTY_CONFIG, EMPTY_CONFIG_BYTES, IMAGE_MANIFEST};
use crate::oci::session::{RegistryRequest, RegistrySession};
use crate::transport::{same_origin, Redirects};

/// An OCI image manifest as pushed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    schema_version: u32,
    media_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<&'static str>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

impl ImageManifest {
    /// A manifest with the empty config and these layers.
    pub fn new(artifact_type: Option<&'static str>, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: IMAGE_MANIFEST,
            artifact_type,
            config: descriptor(EMPTY_CONFIG, EMPTY_CONFIG_BYTES, BTreeMap::new()),
            layers,
        }
    }
}

/// The descriptor of `bytes` with `media_type` and `annotations`.
pub fn descriptor(
    media_type: &str,
    bytes: &[u8],
    annotations: BTreeMap<String, String>,
) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: sha256_digest(bytes),
        size: bytes.len() as u64,
        annotations,
    }
}

/// Pushes a manifest with its blobs through one session.
pub struct Pusher<'s, 'a> {
    session: &'s mut RegistrySession<'a>,
}

impl<'s, 'a> Pusher<'s, 'a> {
    pub fn new(session: &'s mut RegistrySession<'a>) -> Self {
        Self { session }
    }

    /// Uploads `bytes` unless the registry already holds `digest` (a HEAD answering 200).
    pub async fn push_blob(&mut self, digest: &str, bytes: Vec<u8>) -> Result<(), FetchError> {
        let what = format!("blob {digest}");
        let blob_url = self.session.registry_url(&format!("blobs/{digest}"))?;
        let mut probe = RegistryRequest::new(Method::HEAD, blob_url);
        probe.redirects = Redirects::AnyHost;
        let status = self.session.send(probe).await?.status().as_u16();
        match status {
            200..=299 => return Ok(()),
            404 => {}
            status => return Err(self.session.status_error(status, &what)),
        }
        let start_url = self.session.registry_url("blobs/uploads/")?;
        let started = self
            .session
            .send_expecting_success(
                RegistryRequest::new(Method::POST, start_url.clone()),
                &format!("upload of {what}"),
            )
            .await?;
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                self.session
                    .oci_error(format!("the upload of {what} started without a Location"))
            })?;
        let mut upload_url = start_url.join(location).map_err(|_| {
            self.session
                .oci_error(format!("the upload Location for {what} is not a valid URL"))
        })?;
        if !same_origin(&start_url, &upload_url) {
            return Err(self.session.oci_error(format!(
                "the upload Location for {what} points to another host"
            )));
        }
        upload_url.query_pairs_mut().append_pair("digest", digest);
        let mut finish = RegistryRequest::new(Method::PUT, upload_url);
        finish.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        finish.body = Some(bytes);
        self.session
            .send_expecting_success(finish, &format!("upload of {what}"))
            .await?;
        Ok(())
    }

    /// Pushes the empty config and `manifest` under `tag`; returns the manifest digest.
    pub async fn push_manifest(
        &mut self,
        tag: &str,
        manifest: &ImageManifest,
    ) -> Result<String, FetchError> {
        self.push_blob(&manifest.config.digest, EMPTY_CONFIG_BYTES.to_vec())
            .await?;
        let bytes = serde_json::to_vec(manifest).map_err(|error| {
            self.session
                .oci_error(format!("cannot serialise the manifest: {error}"))
        })?;
        let digest = sha256_digest(&bytes);
        let what = format!("manifest '{tag}'");
        let mut request = RegistryRequest::new(
            Method::PUT,
            self.session.registry_url(&format!("manifests/{tag}"))?,
        );
        request
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(IMAGE_MANIFEST));
        request.body = Some(bytes);
        let response = self.session.send_expecting_success(request, &what).await?;
        let answered = response
            .headers()
            .get("docker-content-digest")
            .and_then(|value| value.to_str().ok());
        match answered {
            Some(answered) if answered != digest => Err(FetchError::DigestMismatch {
                what,
                expected: digest,
                actual: answered.to_owned(),
            }),
            _ => Ok(digest),
        }
    }
}
