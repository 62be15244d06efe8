//! The scan cache on one machine (`certus_core::incremental::ScanCache`): one file per (scope, lineage) index
//! under `<data dir>/cache/`, directories 0700 and files 0600, written whole and renamed into place. The
//! directory is bounded: when a write takes the total past the bound, the least recently written indexes go
//! until it fits. The total is counted once when the cache is opened and kept up to date by each write, so a
//! write does not look at every index.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use certus_core::error::{CoreError, Result};
use certus_core::incremental::{index_name, ScanCache};
use certus_core::pipeline::read_capped;

/// Default bound of the whole cache directory.
pub const DEFAULT_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

pub struct LocalScanCache {
    root: PathBuf,
    max_bytes: u64,
    /// Bytes held by the indexes, as this process last counted them (other processes sharing the directory
    /// make it an estimate, corrected at every eviction).
    total: AtomicU64,
}

impl LocalScanCache {
    /// The cache under `root` (created private if missing), holding at most `max_bytes`.
    pub fn open(root: PathBuf, max_bytes: u64) -> Result<Self> {
        private_dir(&root)?;
        let cache = Self {
            root,
            max_bytes,
            total: AtomicU64::new(0),
        };
        cache.bound()?;
        Ok(cache)
    }

    fn path(&self, scope: &str, lineage: &str) -> Result<PathBuf> {
        Ok(self.root.join(index_name(scope, lineage)?))
    }

    /// Drops the oldest indexes until the directory holds at most `max_bytes`, and records what it holds then.
    fn bound(&self) -> Result<()> {
        let mut files = Vec::new();
        let mut total = 0u64;
        for scope in read_dir(&self.root)? {
            if !scope.is_dir() {
                continue;
            }
            for file in read_dir(&scope)? {
                let meta = std::fs::metadata(&file).map_err(|e| CoreError::io(&file, e))?;
                total += meta.len();
                files.push((meta.modified().ok(), meta.len(), file));
            }
        }
        files.sort();
        for (_, len, file) in files {
            if total <= self.max_bytes {
                break;
            }
            std::fs::remove_file(&file).map_err(|e| CoreError::io(&file, e))?;
            total = total.saturating_sub(len);
        }
        self.total.store(total, Ordering::Relaxed);
        Ok(())
    }
}

#[async_trait]
impl ScanCache for LocalScanCache {
    async fn index(&self, scope: &str, lineage: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(scope, lineage)?;
        if !path.is_file() {
            return Ok(None);
        }
        let cap = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        read_capped(&path, cap).map(Some)
    }

    async fn put_index(&self, scope: &str, lineage: &str, bytes: Vec<u8>) -> Result<()> {
        static STAGED: AtomicU64 = AtomicU64::new(0);
        let path = self.path(scope, lineage)?;
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        let staged = path.with_extension(format!(
            "{}-{}.partial",
            std::process::id(),
            STAGED.fetch_add(1, Ordering::Relaxed)
        ));
        write_private(&staged, &bytes)?;
        let replaced = std::fs::metadata(&path).map_or(0, |meta| meta.len());
        std::fs::rename(&staged, &path).map_err(|e| CoreError::io(&path, e))?;
        let added = bytes.len() as u64;
        let total = self
            .total
            .fetch_add(added.saturating_sub(replaced), Ordering::Relaxed)
            .saturating_add(added.saturating_sub(replaced));
        match total > self.max_bytes {
            true => self.bound(),
            false => Ok(()),
        }
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)
        .map_err(|e| CoreError::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| CoreError::io(dir, e)))
        .collect()
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CoreError::io(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| CoreError::io(dir, e))
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CoreError::io(path, e))?;
    file.write_all(bytes).map_err(|e| CoreError::io(path, e))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| CoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    #[tokio::test]
    async fn indexes_round_trip_privately_and_the_directory_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalScanCache::open(dir.path().join("cache"), 250).unwrap();
        assert_eq!(cache.index(&digest(1), &digest(2)).await.unwrap(), None);
        cache
            .put_index(&digest(1), &digest(2), vec![b'a'; 100])
            .await
            .unwrap();
        assert_eq!(
            cache.index(&digest(1), &digest(2)).await.unwrap(),
            Some(vec![b'a'; 100])
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("cache")), 0o700);
            assert_eq!(mode(&dir.path().join("cache").join(digest(1))), 0o700);
            let file = dir
                .path()
                .join("cache")
                .join(digest(1))
                .join(format!("{}.idx", digest(2)));
            assert_eq!(mode(&file), 0o600);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache
            .put_index(&digest(1), &digest(3), vec![b'b'; 100])
            .await
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache
            .put_index(&digest(4), &digest(3), vec![b'c'; 100])
            .await
            .unwrap();
        // 300 bytes over a 250-byte bound: the oldest index went.
        assert_eq!(cache.index(&digest(1), &digest(2)).await.unwrap(), None);
        assert!(cache.index(&digest(1), &digest(3)).await.unwrap().is_some());
        assert!(cache.index(&digest(4), &digest(3)).await.unwrap().is_some());
        assert!(cache.index("../x", &digest(3)).await.is_err());
        // Rewriting an index replaces its bytes in the count: nothing else goes.
        for _ in 0..3 {
            cache
                .put_index(&digest(4), &digest(3), vec![b'd'; 100])
                .await
                .unwrap();
        }
        assert!(cache.index(&digest(1), &digest(3)).await.unwrap().is_some());
        // Opened with a smaller bound, the cache trims what it finds at once.
        let smaller = LocalScanCache::open(dir.path().join("cache"), 150).unwrap();
        assert_eq!(smaller.index(&digest(1), &digest(3)).await.unwrap(), None);
        assert!(smaller
            .index(&digest(4), &digest(3))
            .await
            .unwrap()
            .is_some());
    }
}
