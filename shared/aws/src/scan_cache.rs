//! The scan cache on AWS (`certus_core::incremental::ScanCache`): one object per (scope, lineage) index in the
//! work bucket, `scan-cache/<scope>/<lineage>.idx`. Both names must be SHA-256 digests (64 hex digits), so
//! nothing a job submits shapes a key. A read is one GetObject (a missing object is no index), capped; a write
//! is one PutObject replacing the index whole. Old indexes go with the bucket's lifecycle rules.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use certus_core::incremental::{index_name, ScanCache};
use certus_core::Result;

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::fetcher::get_capped_or_failure;
use crate::location::S3Location;

/// Where indexes live in the work bucket.
pub const SCAN_CACHE_PREFIX: &str = "scan-cache/";

/// Indexes larger than this are not read (a scan then rescans every file and writes a fresh index).
pub const MAX_SCAN_INDEX_BYTES: usize = 256 * 1024 * 1024;

/// The scan cache of one work bucket.
#[derive(Debug, Clone)]
pub struct S3ScanCache {
    s3: aws_sdk_s3::Client,
    bucket: String,
    max_bytes: usize,
}

impl S3ScanCache {
    /// The cache in the work bucket that `work_root` (`s3://bucket` or any prefix in it, as
    /// `CERTUS_ASSURANCE_WORK_BUCKET` names it) lies in, reading indexes of at most
    /// [`MAX_SCAN_INDEX_BYTES`].
    pub fn new(clients: &AwsClients, work_root: &str) -> Result<Self> {
        let location = S3Location::prefix(work_root)?;
        Ok(Self {
            s3: clients.s3().clone(),
            bucket: location.bucket,
            max_bytes: MAX_SCAN_INDEX_BYTES,
        })
    }

    /// The same cache reading indexes of at most `max_bytes`.
    pub fn with_max_bytes(self, max_bytes: usize) -> Self {
        Self { max_bytes, ..self }
    }

    fn object(&self, scope: &str, lineage: &str) -> Result<S3Location> {
        Ok(S3Location {
            bucket: self.bucket.clone(),
            key: format!("{SCAN_CACHE_PREFIX}{}", index_name(scope, lineage)?),
        })
    }
}

#[async_trait]
impl ScanCache for S3ScanCache {
    async fn index(&self, scope: &str, lineage: &str) -> Result<Option<Vec<u8>>> {
        let at = self.object(scope, lineage)?;
        match get_capped_or_failure(&self.s3, &at, self.max_bytes).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Failure::NotFound(_)) => Ok(None),
            Err(other) => Err(other.into_store_error()),
        }
    }

    async fn put_index(&self, scope: &str, lineage: &str, bytes: Vec<u8>) -> Result<()> {
        let at = self.object(scope, lineage)?;
        self.s3
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| Failure::from_sdk(&at.to_string(), e).into_store_error())?;
        Ok(())
    }
}
