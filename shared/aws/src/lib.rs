//! AWS adapters for Certus-Assurance: the S3 manifest fetcher, remote key references (S3 PEM objects and
//! KMS keys), the KMS bundle signer, the S3 artifact store, the raw → golden publisher (with multipart copies
//! for large objects), the run store of the staged pipeline (a per-run prefix of the work bucket), the scan cache of incremental scans (`scan-cache/` in the work bucket), git credentials from Secrets Manager and the S3 bundle download used by `certus verify-bundle s3://…`. Every failure is mapped into `certus_core::CoreError`.

mod clients;
mod download;
mod failure;
mod fetcher;
mod git_secrets;
mod keyref;
mod kms;
mod location;
mod multipart;
mod publish;
mod runs;
mod scan_cache;
mod store;
mod uploads;

pub use clients::{https_client, sdk_config, AwsClients};
pub use download::{download_prefix, download_prefix_with, DownloadLimits, DownloadSummary};
pub use fetcher::S3Fetcher;
pub use git_secrets::SecretsManagerStore;
pub use keyref::{kms_key_id, resolve_key_ref, MAX_KEY_OBJECT_BYTES};
pub use kms::{KmsSigner, KMS_SIGNING_ALGORITHM};
pub use location::S3Location;
pub use multipart::{DEFAULT_PART_BYTES, MAX_MULTIPART_OBJECT_BYTES, MIN_PART_BYTES};
pub use publish::S3Publisher;
pub use runs::S3RunStore;
pub use scan_cache::{S3ScanCache, MAX_SCAN_INDEX_BYTES, SCAN_CACHE_PREFIX};
pub use store::{S3ArtifactStore, DEFAULT_UPLOAD_CONCURRENCY, MAX_OBJECT_BYTES};
pub use uploads::{S3Uploads, UPLOADS_PREFIX};
