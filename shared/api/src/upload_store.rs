//! Where uploaded archives live and for how long: each tenant's uploads under its own directory
//! (`<upload_dir>/t-<digest of the tenant>/<random>/<name>`), so a submission may name only its own tenant's
//! uploads; a per-tenant quota of stored uploads (count and bytes); removal of an upload once the scan that
//! used it has ended; and a sweep of uploads no scan used within their time to live.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// How many uploads, and how many bytes of them, one tenant may keep stored, and for how long an upload no
/// scan has used is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    pub max_count: usize,
    pub max_bytes: u64,
    pub ttl: Duration,
}

impl Default for UploadQuota {
    /// 8 uploads and 2 GiB per tenant, kept 24 hours when unused.
    fn default() -> Self {
        Self {
            max_count: 8,
            max_bytes: 2 * 1024 * 1024 * 1024,
            ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

const TENANT_PREFIX: &str = "t-";

/// The directory holding `tenant`'s uploads (named by a digest: tenant names are not path-safe).
pub fn tenant_dir(upload_dir: &Path, tenant: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(tenant.as_bytes()));
    upload_dir.join(format!("{TENANT_PREFIX}{}", &digest[..32]))
}

/// The uploads stored in a tenant's directory, other than `except` (the one being written): how many, and
/// their bytes.
pub fn usage(tenant_dir: &Path, except: &Path) -> (usize, u64) {
    let mut count = 0;
    let mut bytes = 0u64;
    for upload in entries(tenant_dir).filter(|dir| dir != except) {
        count += 1;
        for file in entries(&upload) {
            let size = std::fs::symlink_metadata(&file).map_or(0, |m| m.len());
            bytes = bytes.saturating_add(size);
        }
    }
    (count, bytes)
}

/// Removes the upload `archive_path` names when it is one of this server's uploads (its whole directory);
/// an archive anywhere else (under an allowed root) is left alone. True when something was removed.
pub fn release(upload_dir: &Path, archive_path: &str) -> std::io::Result<bool> {
    let Ok(real) = std::fs::canonicalize(archive_path) else {
        return Ok(false);
    };
    let Ok(relative) = real.strip_prefix(upload_dir) else {
        return Ok(false);
    };
    let parts: Vec<&std::ffi::OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [tenant, upload, _file] if tenant.to_string_lossy().starts_with(TENANT_PREFIX) => {
            std::fs::remove_dir_all(upload_dir.join(tenant).join(upload))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Removes every upload older than `ttl`: in one tenant's directory, or with `upload_dir` itself in every
/// tenant's (and uploads stored before uploads were kept per tenant, directly under it). Returns how many.
pub fn sweep(dir: &Path, ttl: Duration) -> usize {
    let now = SystemTime::now();
    let expired = |path: &Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age >= ttl))
    };
    let mut removed = 0;
    for entry in entries(dir) {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let uploads: Vec<PathBuf> = if name.starts_with(TENANT_PREFIX) {
            entries(&entry).collect()
        } else if is_upload_name(&name) {
            vec![entry]
        } else {
            // Not something this server wrote: never removed.
            Vec::new()
        };
        for upload in uploads.into_iter().filter(|u| expired(u)) {
            match std::fs::remove_dir_all(&upload) {
                Ok(()) => removed += 1,
                Err(e) => eprintln!(
                    "certus serve: cannot remove expired upload {}: {e}",
                    upload.display()
                ),
            }
        }
    }
    removed
}

/// An upload's directory name: 128 random bits in hex.
fn is_upload_name(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The subdirectories and files directly in `dir` (none when it cannot be read).
fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_tenant_uploads_are_released_and_expired_ones_swept() {
        let root = tempfile::tempdir().unwrap();
        let uploads = root.path().canonicalize().unwrap();
        let acme = tenant_dir(&uploads, "acme");
        assert_ne!(acme, tenant_dir(&uploads, "globex"));
        let one = acme.join("0123");
        std::fs::create_dir_all(&one).unwrap();
        std::fs::write(one.join("a.tar"), b"12345").unwrap();
        assert_eq!(usage(&acme, Path::new("")), (1, 5));
        assert_eq!(usage(&acme, &one), (0, 0));

        // Outside the upload directory, or not an upload's file: left alone.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("b.tar"), b"x").unwrap();
        let outside_file = outside.path().join("b.tar");
        assert!(!release(&uploads, outside_file.to_str().unwrap()).unwrap());
        assert!(!release(&uploads, acme.to_str().unwrap()).unwrap());
        assert!(release(&uploads, one.join("a.tar").to_str().unwrap()).unwrap());
        assert!(!one.exists());

        std::fs::create_dir_all(acme.join("4567")).unwrap();
        std::fs::create_dir_all(uploads.join("89ab".repeat(8))).unwrap();
        std::fs::create_dir_all(uploads.join("operator-notes")).unwrap();
        assert_eq!(sweep(&uploads, Duration::from_secs(3600)), 0);
        assert_eq!(sweep(&uploads, Duration::ZERO), 2);
        assert!(acme.exists() && !acme.join("4567").exists());
        assert!(uploads.join("operator-notes").exists());
    }
}
