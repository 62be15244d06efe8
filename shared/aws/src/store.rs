//! The `ArtifactStore` that keeps finished bundles in S3 under `<prefix>/<test_id>/bundle/`, streaming
//! every file from disk with its index SHA-256 as the S3 checksum, so S3 itself refuses bytes that differ
//! from the index. Re-storing the same bundle rewrites identical objects, so a retried step is harmless.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine;
use certus_core::bundle::{BundleIndex, IndexEntry, INDEX};
use certus_core::digest::Sha256Digest;
use certus_core::ports::ArtifactStore;
use certus_core::workspace::{confined_join, lexically_confined};
use certus_core::{CoreError, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::fetcher::get_capped_or_failure;
use crate::location::S3Location;

/// How many files are uploaded at once unless told otherwise.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 4;
/// The largest object a single PUT or server-side copy can write (5 GiB); bundle files beyond it are refused.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Stores bundles in one bucket under one key prefix.
#[derive(Debug, Clone)]
pub struct S3ArtifactStore {
    s3: aws_sdk_s3::Client,
    root: S3Location,
    concurrency: usize,
}

/// One file to upload, already checked.
struct Upload {
    local: PathBuf,
    key: String,
    size: u64,
    sha256_hex: String,
}

impl S3ArtifactStore {
    /// `root`: `s3://bucket` or `s3://bucket/prefix`.
    pub fn new(clients: &AwsClients, root: &str) -> Result<Self> {
        let root = S3Location::prefix(root)?;
        if !root.key.is_empty() {
            confined_key(&root.key)?;
        }
        Ok(Self {
            s3: clients.s3().clone(),
            root,
            concurrency: DEFAULT_UPLOAD_CONCURRENCY,
        })
    }

    /// Uploads at most `n` files at once (at least one).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    fn bundle_prefix(&self, test_id: &str) -> String {
        self.root.join(&format!("{test_id}/bundle"))
    }

    fn plan(&self, test_id: &str, bundle_dir: &Path, entry: &IndexEntry) -> Result<Upload> {
        let rel = confined_key(&entry.path)?;
        // Links may not lead out of the bundle directory.
        let local = confined_join(bundle_dir, &rel)?;
        let meta = std::fs::metadata(&local).map_err(|e| CoreError::io(&local, e))?;
        if !meta.is_file() {
            return Err(CoreError::Bundle(format!(
                "{} is not a regular file; only regular files are stored",
                entry.path
            )));
        }
        if entry.size > MAX_OBJECT_BYTES {
            return Err(CoreError::Bundle(format!(
                "{} is {} bytes; files over 5 GiB would need a multipart upload, which is not supported",
                entry.path, entry.size
            )));
        }
        if meta.len() != entry.size {
            return Err(CoreError::Bundle(format!(
                "{} is {} bytes but the index says {}",
                entry.path,
                meta.len(),
                entry.size
            )));
        }
        // S3 checks the digest too, but an early local check names the file and uploads nothing.
        let (sha256, _) = Sha256Digest::of_file(&local)?;
        if sha256 != entry.sha256 {
            return Err(CoreError::Bundle(format!(
                "{} has sha256 {sha256} but the index says {}",
                entry.path, entry.sha256
            )));
        }
        Ok(Upload {
            local,
            key: format!("{}/{rel}", self.bundle_prefix(test_id)),
            size: entry.size,
            sha256_hex: entry.sha256.to_string(),
        })
    }

    async fn upload_all(&self, test_id: &str, uploads: Vec<Upload>) -> Result<()> {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = JoinSet::new();
        for upload in uploads {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| CoreError::Storage(format!("upload queue closed: {e}")))?;
            let s3 = self.s3.clone();
            let bucket = self.root.bucket.clone();
            let test_id = test_id.to_string();
            tasks.spawn(async move {
                let result = put_file(&s3, &bucket, &test_id, &upload).await;
                drop(permit);
                result
            });
            // Stop early when an upload already failed; dropping the set aborts the rest.
            while let Some(done) = tasks.try_join_next() {
                joined(done)?;
            }
        }
        while let Some(done) = tasks.join_next().await {
            joined(done)?;
        }
        Ok(())
    }
}

fn joined(done: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    done.map_err(|e| CoreError::Storage(format!("an upload task stopped: {e}")))?
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    fn location(&self, test_id: &str) -> String {
        format!("s3://{}/{}", self.root.bucket, self.bundle_prefix(test_id))
    }

    async fn store_bundle(
        &self,
        test_id: &str,
        bundle_dir: &Path,
        index: &BundleIndex,
    ) -> Result<String> {
        if test_id.contains('/') || confined_key(test_id).is_err() {
            return Err(CoreError::Bundle(format!(
                "test id '{}' cannot name a storage location",
                test_id.chars().take(200).collect::<String>()
            )));
        }
        let uploads = index
            .files
            .iter()
            .filter(|entry| entry.path != INDEX)
            .map(|entry| self.plan(test_id, bundle_dir, entry))
            .collect::<Result<Vec<_>>>()?;
        self.upload_all(test_id, uploads).await?;
        // The index goes last: a reader that finds it finds every file it lists.
        let index_path = bundle_dir.join(INDEX);
        let (sha256, size) = Sha256Digest::of_file(&index_path)?;
        let index_entry = IndexEntry {
            path: INDEX.to_string(),
            size,
            sha256,
        };
        let upload = self.plan(test_id, bundle_dir, &index_entry)?;
        put_file(&self.s3, &self.root.bucket, test_id, &upload).await?;
        Ok(self.location(test_id))
    }

    async fn read_file(
        &self,
        location: &str,
        rel: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>> {
        let bundle = S3Location::prefix(location).map_err(|e| CoreError::Bundle(e.to_string()))?;
        let under_root =
            self.root.key.is_empty() || bundle.key.starts_with(&format!("{}/", self.root.key));
        if bundle.bucket != self.root.bucket || !under_root {
            return Err(CoreError::Bundle(format!(
                "{location} is not a bundle location of this store (s3://{}/{})",
                self.root.bucket, self.root.key
            )));
        }
        let object = S3Location {
            key: bundle.join(&confined_key(rel)?),
            bucket: bundle.bucket,
        };
        match get_capped_or_failure(&self.s3, &object, max_bytes).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Failure::NotFound(_)) => Ok(None),
            Err(failure) => Err(failure.into_core(CoreError::Bundle)),
        }
    }
}

async fn put_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    test_id: &str,
    upload: &Upload,
) -> Result<()> {
    let digest = hex::decode(&upload.sha256_hex)
        .ok()
        .filter(|d| d.len() == 32)
        .ok_or_else(|| {
            CoreError::Bundle(format!(
                "the index digest of {} is not a SHA-256 hex string",
                upload.key
            ))
        })?;
    let body = ByteStream::read_from()
        .path(&upload.local)
        .buffer_size(READ_BUFFER_BYTES)
        .length(Length::Exact(upload.size))
        .build()
        .await
        .map_err(|e| CoreError::Storage(format!("cannot read {}: {e}", upload.local.display())))?;
    let what = format!("s3://{bucket}/{}", upload.key);
    s3.put_object()
        .bucket(bucket)
        .key(&upload.key)
        .body(body)
        .content_length(i64::try_from(upload.size).unwrap_or(i64::MAX))
        .content_type(content_type(&upload.key))
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(&digest))
        .metadata("test_id", test_id)
        .metadata("sha256", &upload.sha256_hex)
        .send()
        .await
        .map_err(|e| Failure::from_sdk(&what, e).into_core(CoreError::Bundle))?;
    Ok(())
}

/// A bundle path as an S3 key suffix: confined, `/`-separated, without empty segments.
pub(crate) fn confined_key(path: &str) -> Result<String> {
    if path.split('/').any(str::is_empty) {
        return Err(CoreError::PathEscape {
            path: path.chars().take(200).collect(),
            reason: "has an empty segment (leading, trailing or doubled '/')".into(),
        });
    }
    let rel = lexically_confined(path)?;
    Ok(rel
        .iter()
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

fn content_type(key: &str) -> &'static str {
    let extension = key.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension {
        "json" => "application/json",
        "jsonl" => "application/x-ndjson",
        "md" => "text/markdown; charset=utf-8",
        "pem" => "application/x-pem-file",
        "log" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_stay_inside_the_bundle() {
        assert_eq!(
            confined_key("reports/sast/x.sarif.json").unwrap(),
            "reports/sast/x.sarif.json"
        );
        assert_eq!(confined_key("./scan.json").unwrap(), "scan.json");
        for (bad, reason) in [
            ("../x", "contains '..'"),
            ("a/../../x", "contains '..'"),
            ("/etc/passwd", "empty segment"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
            ("", "empty segment"),
        ] {
            let err = confined_key(bad).unwrap_err();
            assert!(
                matches!(&err, CoreError::PathEscape { reason: r, .. } if r.contains(reason)),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("a/scan.json"), "application/json");
        assert_eq!(content_type("stream.jsonl"), "application/x-ndjson");
        assert_eq!(
            content_type("reports/signing/signing-key.pub.pem"),
            "application/x-pem-file"
        );
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
