//! Where uploaded archives are kept when not in the server's own upload directory (the port; on AWS the
//! work bucket, `certus_aws::S3Uploads` behind the `api` function). Each archive belongs to the tenant that
//! uploaded it: naming another tenant's archive gets the same answer as naming a missing one.

use async_trait::async_trait;
use certus_core::error::Result;

/// A store of uploaded archives shared with the workers that prepare sources.
#[async_trait]
pub trait ArchiveStore: Send + Sync {
    /// Keeps `body`, already checked by name, type and size, for `tenant` as `name` (a safe base name);
    /// returns the `archive_path` a submission names to scan it.
    async fn put(
        &self,
        tenant: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String>;

    /// Whether `archive_path` is an archive this store keeps for `tenant`.
    async fn holds(&self, tenant: &str, archive_path: &str) -> Result<bool>;
}
