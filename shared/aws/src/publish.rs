//! The `Publisher` for AWS (spec §8): server-side copies from the stored bundle to
//! `<raw>/<test_id>/incoming/`, a check of every staged object against the index (size and SHA-256 checksum),
//! then server-side copies to `<golden>/<test_id>/golden/`. Data never transits this process. Golden is
//! written only from a complete, verified raw set; a re-run rewrites identical objects, so it is idempotent.
//!
//! Objects above the multipart threshold (5 GiB, S3's single-copy limit, unless set lower) are copied in parts
//! (`multipart`). Such a copy has no full-object SHA-256 checksum, so those objects are verified by size plus
//! the `sha256` metadata instead: before copying, the source must match the index (its S3-checked SHA-256
//! checksum when it has one — `S3ArtifactStore` uploads with the index digest as the checksum, so S3 itself
//! refused any other bytes — else its own `sha256` metadata), every part is pinned to the checked source's
//! ETag, and the copy carries that verified `sha256` metadata forward; the staged check then requires the
//! index's size and that metadata. Objects over S3's 5 TiB limit are refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, MetadataDirective};
use base64::Engine;
use certus_core::bundle::{BundleIndex, IndexEntry, INDEX};
use certus_core::job::{Job, RemoteArtifacts};
use certus_core::ports::Publisher;
use certus_core::{CoreError, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::location::S3Location;
use crate::multipart::{
    MultipartCopy, DEFAULT_PART_BYTES, MAX_MULTIPART_OBJECT_BYTES, MIN_PART_BYTES,
};
use crate::store::{confined_key, DEFAULT_UPLOAD_CONCURRENCY, MAX_OBJECT_BYTES};

/// Publishes stored bundles from S3 to the raw and golden prefixes.
#[derive(Debug, Clone)]
pub struct S3Publisher {
    s3: aws_sdk_s3::Client,
    raw: S3Location,
    golden: S3Location,
    multipart_threshold: u64,
    part_bytes: u64,
}

/// One object to copy: where from, where to, and what the index says it is.
#[derive(Clone)]
struct Copy {
    from: S3Location,
    to: S3Location,
    size: u64,
    sha256_base64: String,
    /// `Some(part size)` when the object is copied in parts.
    multipart: Option<u64>,
}

impl S3Publisher {
    /// `raw_root`, `golden_root`: `s3://bucket[/prefix]` (the spec's defaults are
    /// `s3://raw/security-scans` and `s3://golden/security-scans`).
    pub fn new(clients: &AwsClients, raw_root: &str, golden_root: &str) -> Result<Self> {
        let root = |uri: &str| -> Result<S3Location> {
            let location = S3Location::prefix(uri)?;
            if !location.key.is_empty() {
                confined_key(&location.key)?;
            }
            Ok(location)
        };
        Ok(Self {
            s3: clients.s3().clone(),
            raw: root(raw_root)?,
            golden: root(golden_root)?,
            multipart_threshold: MAX_OBJECT_BYTES,
            part_bytes: DEFAULT_PART_BYTES,
        })
    }

    /// Copies objects larger than `bytes` in parts (kept between 1 byte and 5 GiB, S3's single-copy limit).
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes.clamp(1, MAX_OBJECT_BYTES);
        self
    }

    /// The size of each copied part (kept between S3's 5 MiB minimum and 5 GiB; raised automatically when an
    /// object would need more than 10 000 parts).
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_bytes = bytes.clamp(MIN_PART_BYTES, MAX_OBJECT_BYTES);
        self
    }

    fn raw_key(&self, test_id: &str, rel: &str) -> String {
        self.raw.join(&format!("{test_id}/incoming/{rel}"))
    }

    fn golden_key(&self, test_id: &str, rel: &str) -> String {
        self.golden.join(&format!("{test_id}/golden/{rel}"))
    }

    /// The index's own entry, from the stored object's checksum (the index does not list itself).
    async fn index_entry(&self, bundle: &S3Location) -> Result<IndexEntry> {
        let location = S3Location {
            bucket: bundle.bucket.clone(),
            key: bundle.join(INDEX),
        };
        let head = head(&self.s3, &location).await?;
        let sha256 = head
            .checksum
            .as_deref()
            .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
            .and_then(|bytes| hex::encode(bytes).parse().ok())
            .ok_or_else(|| CoreError::Bundle(format!("{location} carries no SHA-256 checksum")))?;
        Ok(IndexEntry {
            path: INDEX.to_string(),
            size: head.size,
            sha256,
        })
    }
}

#[async_trait]
impl Publisher for S3Publisher {
    fn raw_bucket(&self) -> String {
        self.raw.bucket.clone()
    }

    fn raw_destination(&self, test_id: &str) -> String {
        format!(
            "s3://{}/{}/",
            self.raw.bucket,
            self.raw_key(test_id, "").trim_end_matches('/')
        )
    }

    async fn publish(
        &self,
        job: &Job,
        bundle_location: &str,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts> {
        let test_id = &job.test_id;
        confined_key(test_id)?;
        let bundle = S3Location::prefix(bundle_location).map_err(|e| {
            CoreError::Bundle(format!("only bundles stored in S3 can be published: {e}"))
        })?;
        let metadata = object_metadata(job)?;
        let mut entries = index.files.clone();
        entries.retain(|e| e.path != INDEX);
        entries.push(self.index_entry(&bundle).await?);

        let mut staged = Vec::with_capacity(entries.len());
        let mut promoted = Vec::with_capacity(entries.len());
        for entry in &entries {
            let rel = confined_key(&entry.path)?;
            if entry.size > MAX_MULTIPART_OBJECT_BYTES {
                return Err(CoreError::Bundle(format!(
                    "{rel} is {} bytes, more than S3's 5 TiB object limit",
                    entry.size
                )));
            }
            let digest = entry.sha256.as_bytes();
            let raw = S3Location {
                bucket: self.raw.bucket.clone(),
                key: self.raw_key(test_id, &rel),
            };
            let copy = |from: S3Location, to: S3Location| Copy {
                from,
                to,
                size: entry.size,
                sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
                multipart: (entry.size > self.multipart_threshold).then_some(self.part_bytes),
            };
            staged.push(copy(
                S3Location {
                    bucket: bundle.bucket.clone(),
                    key: bundle.join(&rel),
                },
                raw.clone(),
            ));
            promoted.push(copy(
                raw,
                S3Location {
                    bucket: self.golden.bucket.clone(),
                    key: self.golden_key(test_id, &rel),
                },
            ));
        }

        copy_all(&self.s3, &staged, &metadata).await?;
        // Golden is written only from a complete raw set that matches the index.
        for copy in &staged {
            check_against_index(&self.s3, &copy.to, copy).await?;
        }
        copy_all(&self.s3, &promoted, &metadata).await?;

        let uris = |copies: &[Copy]| -> BTreeMap<String, String> {
            entries
                .iter()
                .zip(copies)
                .map(|(entry, copy)| (entry.path.clone(), copy.to.to_string()))
                .collect()
        };
        Ok(RemoteArtifacts {
            raw: uris(&staged),
            golden: uris(&promoted),
            oci: None,
        })
    }
}

/// The metadata every published object carries; S3 metadata must be printable ASCII.
fn object_metadata(job: &Job) -> Result<Vec<(&'static str, String)>> {
    let mut metadata = vec![
        ("test_id", job.test_id.clone()),
        ("workspace_id", job.ids.workspace_id.clone()),
        ("component_id", job.ids.component_id.clone()),
        ("assessment_id", job.ids.assessment_id.clone()),
    ];
    if let Some(digest) = &job.manifest_digest {
        metadata.push(("manifest_digest", digest.to_string()));
    }
    for (name, value) in &metadata {
        if !value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(CoreError::Bundle(format!(
                "{name} cannot be stored as S3 metadata: only printable ASCII is allowed"
            )));
        }
    }
    Ok(metadata)
}

async fn copy_all(
    s3: &aws_sdk_s3::Client,
    copies: &[Copy],
    metadata: &[(&'static str, String)],
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(DEFAULT_UPLOAD_CONCURRENCY));
    let metadata = Arc::new(metadata.to_vec());
    let mut tasks = JoinSet::new();
    for copy in copies {
        let copy = copy.clone();
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| CoreError::Storage(format!("copy queue closed: {e}")))?;
        let s3 = s3.clone();
        let metadata = metadata.clone();
        tasks.spawn(async move {
            let result = copy_object(&s3, &copy, &metadata).await;
            drop(permit);
            result
        });
        while let Some(done) = tasks.try_join_next() {
            joined(done)?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        joined(done)?;
    }
    Ok(())
}

fn joined(done: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    done.map_err(|e| CoreError::Storage(format!("a copy task stopped: {e}")))?
}

async fn copy_object(
    s3: &aws_sdk_s3::Client,
    copy: &Copy,
    metadata: &[(&'static str, String)],
) -> Result<()> {
    if let Some(part_bytes) = copy.multipart {
        return copy_in_parts(s3, copy, metadata, part_bytes).await;
    }
    let mut request = s3
        .copy_object()
        .copy_source(copy_source(&copy.from))
        .bucket(&copy.to.bucket)
        .key(&copy.to.key)
        .metadata_directive(MetadataDirective::Replace)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .metadata("sha256", hex_of(&copy.sha256_base64));
    for (name, value) in metadata {
        request = request.metadata(*name, value);
    }
    request.send().await.map_err(|e| {
        Failure::from_sdk(&format!("copying {} to {}", copy.from, copy.to), e)
            .into_core(CoreError::Bundle)
    })?;
    Ok(())
}

/// A multipart copy of a source first checked against the index (see the module documentation).
async fn copy_in_parts(
    s3: &aws_sdk_s3::Client,
    copy: &Copy,
    metadata: &[(&'static str, String)],
    part_bytes: u64,
) -> Result<()> {
    let source = head(s3, &copy.from).await?;
    if source.size != copy.size {
        return Err(CoreError::Bundle(format!(
            "{} is {} bytes but the index says {}",
            copy.from, source.size, copy.size
        )));
    }
    let sha256_hex = hex_of(&copy.sha256_base64);
    let checked = match source.checksum.as_deref().filter(|c| is_full_object(c)) {
        Some(checksum) => checksum == copy.sha256_base64,
        None => source.sha256_metadata.as_deref() == Some(sha256_hex.as_str()),
    };
    if !checked {
        return Err(CoreError::Bundle(format!(
            "{} does not match the index digest sha256:{sha256_hex} (checksum {}, sha256 metadata {})",
            copy.from,
            source.checksum.as_deref().unwrap_or("(none)"),
            source.sha256_metadata.as_deref().unwrap_or("(none)")
        )));
    }
    let mut metadata = metadata.to_vec();
    metadata.push(("sha256", sha256_hex));
    MultipartCopy {
        from: &copy.from,
        copy_source: copy_source(&copy.from),
        source_etag: source.etag.as_deref(),
        to: &copy.to,
        size: copy.size,
        part_bytes,
        content_type: source.content_type.as_deref(),
        metadata: &metadata,
    }
    .run(s3)
    .await
}

/// A composite checksum (of a multipart object) ends in `-<part count>`; it is not the object's SHA-256.
fn is_full_object(checksum: &str) -> bool {
    !checksum.contains('-')
}

fn hex_of(base64_digest: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(base64_digest)
        .map(hex::encode)
        .unwrap_or_default()
}

/// `bucket/key` with the key percent-encoded (everything but unreserved characters and `/`).
fn copy_source(location: &S3Location) -> String {
    let mut out = format!("{}/", location.bucket);
    for byte in location.key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

struct Head {
    size: u64,
    checksum: Option<String>,
    sha256_metadata: Option<String>,
    etag: Option<String>,
    content_type: Option<String>,
}

async fn head(s3: &aws_sdk_s3::Client, location: &S3Location) -> Result<Head> {
    let response = s3
        .head_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| Failure::from_sdk(&location.to_string(), e).into_core(CoreError::Bundle))?;
    Ok(Head {
        size: u64::try_from(response.content_length().unwrap_or(-1)).unwrap_or(u64::MAX),
        checksum: response.checksum_sha256().map(str::to_string),
        sha256_metadata: response.metadata().and_then(|m| m.get("sha256")).cloned(),
        etag: response.e_tag().map(str::to_string),
        content_type: response.content_type().map(str::to_string),
    })
}

async fn check_against_index(
    s3: &aws_sdk_s3::Client,
    staged: &S3Location,
    copy: &Copy,
) -> Result<()> {
    let head = head(s3, staged).await?;
    if head.size != copy.size {
        return Err(CoreError::Bundle(format!(
            "staged {staged} is {} bytes but the index says {}",
            head.size, copy.size
        )));
    }
    if copy.multipart.is_some() {
        // No full-object checksum exists for a multipart copy: the verified digest travels as metadata.
        let expected = hex_of(&copy.sha256_base64);
        if head.sha256_metadata.as_deref() != Some(expected.as_str()) {
            return Err(CoreError::Bundle(format!(
                "staged {staged} carries sha256 metadata {} but the index says {expected}",
                head.sha256_metadata.as_deref().unwrap_or("(none)")
            )));
        }
        return Ok(());
    }
    if head.checksum.as_deref() != Some(copy.sha256_base64.as_str()) {
        return Err(CoreError::Bundle(format!(
            "staged {staged} has SHA-256 checksum {} but the index says {}",
            head.checksum.as_deref().unwrap_or("(none)"),
            copy.sha256_base64
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_encode_keys() {
        let location = S3Location {
            bucket: "raw".into(),
            key: "p/t 1/a+b.json".into(),
        };
        assert_eq!(copy_source(&location), "raw/p/t%201/a%2Bb.json");
    }
}
