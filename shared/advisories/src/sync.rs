//! One sync: download the snapshot named by the configured URL, check it, store it under its content address,
//! then point `current.json` at it. Nothing is written before the snapshot has been checked, and the pointer
//! only after the archive is stored, so a failed sync leaves the previous snapshot current.

use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use certus_aws::S3Location;
use certus_fetch::{FetchPolicy, HttpsFetcher};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{AdvisoriesError, Result};
use crate::pointer::{Pointer, POINTER_KEY};
use crate::snapshot::{fresh_dir, unpack, Format};

/// The largest snapshot downloaded by default.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: usize = 256 * 1024 * 1024;

/// What one sync needs.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// The snapshot's https URL.
    pub url: String,
    /// Where snapshots are stored: `s3://<bucket>/<prefix>`.
    pub store: S3Location,
    /// The outbound policy (non-public hosts, extra CA, timeouts).
    pub fetch: FetchPolicy,
    pub max_download_bytes: usize,
    /// Where the download is unpacked for checking (removed afterwards).
    pub scratch: PathBuf,
}

/// Runs one sync and returns the pointer it made current.
pub async fn sync(s3: &aws_sdk_s3::Client, config: &SyncConfig) -> Result<Pointer> {
    let url = Url::parse(&config.url).map_err(|e| {
        AdvisoriesError::Config(format!("CERTUS_ASSURANCE_ADVISORY_SNAPSHOT_URL: {e}"))
    })?;
    if url.scheme() != "https" {
        return Err(AdvisoriesError::Config(format!(
            "CERTUS_ASSURANCE_ADVISORY_SNAPSHOT_URL must be https, not {}",
            url.scheme()
        )));
    }
    let format = Format::from_path(url.path())?;
    let bytes = HttpsFetcher::new(config.fetch.clone())?
        .fetch_bytes(url.as_str(), config.max_download_bytes)
        .await?;
    let sha256 = hex::encode(Sha256::digest(&bytes));

    let dir = fresh_dir(&config.scratch, "sync")?;
    let checked = check(&bytes, format, &dir).await;
    // The scratch copy is only for checking; failing to remove it changes nothing stored.
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let loaded = checked?;

    let mut source = url.clone();
    source.set_query(None);
    source.set_fragment(None);
    let _ = source.set_username("");
    let _ = source.set_password(None);
    let pointer = Pointer {
        key: Pointer::key_for(&sha256, format),
        sha256,
        size: bytes.len() as u64,
        format: format.extension().into(),
        snapshot_date: loaded.snapshot_date,
        advisories: loaded.advisories,
        unparsable_files: loaded.unparsable_files,
        source: source.to_string(),
        synced_at: certus_core::time::format(&certus_core::time::now()),
    };
    put(s3, &config.store, &pointer.key, bytes, archive_type(format)).await?;
    let body = serde_json::to_vec_pretty(&pointer)
        .map_err(|e| AdvisoriesError::Storage(format!("{POINTER_KEY}: {e}")))?;
    put(s3, &config.store, POINTER_KEY, body, "application/json").await?;
    Ok(pointer)
}

/// Writes the download to the scratch directory and unpacks it there.
async fn check(
    bytes: &[u8],
    format: Format,
    dir: &std::path::Path,
) -> Result<crate::snapshot::Loaded> {
    let archive = dir.join(format!("snapshot.{}", format.extension()));
    tokio::fs::write(&archive, bytes)
        .await
        .map_err(|e| AdvisoriesError::Storage(format!("{}: {e}", archive.display())))?;
    let tree = dir.join("tree");
    tokio::fs::create_dir(&tree)
        .await
        .map_err(|e| AdvisoriesError::Storage(format!("{}: {e}", tree.display())))?;
    tokio::task::spawn_blocking(move || unpack(&archive, format, &tree))
        .await
        .map_err(|e| AdvisoriesError::Storage(format!("unpacking task: {e}")))?
}

fn archive_type(format: Format) -> &'static str {
    match format {
        Format::TarGz => "application/gzip",
        Format::Tar => "application/x-tar",
        Format::Zip => "application/zip",
    }
}

async fn put(
    s3: &aws_sdk_s3::Client,
    store: &S3Location,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<()> {
    let key = store.join(key);
    s3.put_object()
        .bucket(&store.bucket)
        .key(&key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| {
            AdvisoriesError::Storage(format!(
                "s3://{}/{key}: PutObject failed: {}",
                store.bucket,
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ))
        })?;
    Ok(())
}
