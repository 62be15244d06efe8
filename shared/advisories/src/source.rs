//! The scanners' view of the synced snapshot: at each scan the pointer is read (one small GET); a snapshot not
//! yet unpacked here is downloaded, its SHA-256 checked against the pointer, unpacked beside the others under
//! a temporary name and renamed into place; older ones are removed. No snapshot fails the scan, naming why.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use certus_aws::{AwsClients, S3Fetcher, S3Location};
use certus_core::ports::ManifestFetcher;
use certus_scanners::{AdvisorySnapshot, AdvisorySource};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::error::{AdvisoriesError, Result};
use crate::pointer::{Pointer, MAX_POINTER_BYTES, POINTER_KEY};
use crate::snapshot::{fresh_dir, unpack};
use crate::sync::DEFAULT_MAX_DOWNLOAD_BYTES;

/// The current snapshot under `s3://<bucket>/<prefix>`, unpacked below a local cache directory.
#[derive(Debug)]
pub struct S3AdvisorySource {
    s3: S3Fetcher,
    store: S3Location,
    cache: PathBuf,
    /// The snapshot unpacked last: its digest and what the scan gets.
    unpacked: Mutex<Option<(String, AdvisorySnapshot)>>,
}

impl S3AdvisorySource {
    /// `store` is `s3://<bucket>/<prefix>` (the sync function's `CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS`);
    /// snapshots are unpacked below `cache`.
    pub fn new(clients: &AwsClients, store: &str, cache: PathBuf) -> Result<Self> {
        let store = S3Location::prefix(store).map_err(|e| {
            AdvisoriesError::Config(format!("CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS: {e}"))
        })?;
        Ok(Self {
            s3: S3Fetcher::new(clients),
            store,
            cache,
            unpacked: Mutex::new(None),
        })
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.store.bucket, self.store.join(key))
    }

    async fn load(&self) -> Result<AdvisorySnapshot> {
        let pointer_uri = self.uri(POINTER_KEY);
        let bytes = self
            .s3
            .fetch(&pointer_uri, MAX_POINTER_BYTES)
            .await
            .map_err(|e| {
                AdvisoriesError::Storage(format!(
                    "no advisory snapshot could be read from {pointer_uri} ({e}): the sync-advisories function \
                     stores one there (run it, or check its log), or turn matching off for this profile in the \
                     manifest ({{\"id\": \"sbom\", \"config\": {{\"advisories\": \"off\"}}}})"
                ))
            })?;
        let pointer = Pointer::parse(&bytes)?;
        let mut unpacked = self.unpacked.lock().await;
        if let Some((digest, snapshot)) = unpacked.as_ref() {
            if *digest == pointer.sha256 && snapshot.dir.is_dir() {
                return Ok(snapshot.clone());
            }
        }
        let archive_uri = self.uri(&pointer.key);
        let limit = usize::try_from(pointer.size)
            .unwrap_or(usize::MAX)
            .min(DEFAULT_MAX_DOWNLOAD_BYTES);
        let archive = self.s3.fetch(&archive_uri, limit).await.map_err(|e| {
            AdvisoriesError::Storage(format!("advisory snapshot {archive_uri}: {e}"))
        })?;
        let actual = hex::encode(Sha256::digest(&archive));
        if actual != pointer.sha256 {
            return Err(AdvisoriesError::Refused(format!(
                "{archive_uri} has SHA-256 {actual}, not the {} that {POINTER_KEY} names",
                pointer.sha256
            )));
        }
        let dir = self.unpack(&pointer, archive).await?;
        let snapshot = AdvisorySnapshot {
            dir,
            record: json!({
                "uri": archive_uri,
                "digest": format!("sha256:{}", pointer.sha256),
                "snapshot_date": pointer.snapshot_date,
                "synced_at": pointer.synced_at,
                "source": pointer.source,
            }),
        };
        *unpacked = Some((pointer.sha256.clone(), snapshot.clone()));
        Ok(snapshot)
    }

    /// Unpacks into `<cache>/<sha256>` (through a temporary directory renamed into place) and removes the
    /// snapshots unpacked before it.
    async fn unpack(&self, pointer: &Pointer, archive: Vec<u8>) -> Result<PathBuf> {
        let format = pointer.archive_format()?;
        let io = |path: &Path, e: std::io::Error| {
            AdvisoriesError::Storage(format!("{}: {e}", path.display()))
        };
        tokio::fs::create_dir_all(&self.cache)
            .await
            .map_err(|e| io(&self.cache, e))?;
        let target = self.cache.join(&pointer.sha256);
        if !target.is_dir() {
            let work = fresh_dir(&self.cache, "unpack")?;
            let file = work.join(format!("snapshot.{}", format.extension()));
            tokio::fs::write(&file, archive)
                .await
                .map_err(|e| io(&file, e))?;
            let tree = work.join("tree");
            tokio::fs::create_dir(&tree)
                .await
                .map_err(|e| io(&tree, e))?;
            let (archive_file, unpack_dir) = (file.clone(), tree.clone());
            let unpacked =
                tokio::task::spawn_blocking(move || unpack(&archive_file, format, &unpack_dir))
                    .await
                    .map_err(|e| AdvisoriesError::Storage(format!("unpacking task: {e}")))
                    .and_then(|r| r);
            let renamed = match unpacked {
                Ok(_) => tokio::fs::rename(&tree, &target)
                    .await
                    .map_err(|e| io(&target, e)),
                Err(e) => Err(e),
            };
            let _ = tokio::fs::remove_dir_all(&work).await;
            renamed?;
        }
        // Older snapshots only take room in /tmp.
        if let Ok(mut entries) = tokio::fs::read_dir(&self.cache).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                if entry.file_name() != pointer.sha256.as_str() {
                    let _ = tokio::fs::remove_dir_all(entry.path()).await;
                }
            }
        }
        Ok(target)
    }
}

#[async_trait]
impl AdvisorySource for S3AdvisorySource {
    fn describe(&self) -> String {
        self.uri(POINTER_KEY)
    }

    async fn current(&self) -> std::result::Result<AdvisorySnapshot, String> {
        self.load().await.map_err(|e| e.to_string())
    }
}
