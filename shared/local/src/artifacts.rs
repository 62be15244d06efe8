//! Bundles kept in a local directory: each job's bundle is copied out of its private workspace into its own
//! directory, staged under a temporary name, flushed to the disk and renamed into place, so a reader never sees
//! half a bundle and a crash never loses one the job record names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use certus_core::bundle::{BundleIndex, INDEX};
use certus_core::error::{CoreError, Result};
use certus_core::parallel::map_on_every_core;
use certus_core::pipeline::read_capped;
use certus_core::ports::ArtifactStore;
use certus_core::workspace::{copy_flushed, lexically_confined};

pub enum Placement {
    /// `<root>/<test_id>/`
    PerJob(PathBuf),
    /// Exactly this directory (the CLI's `--out`), which must not exist yet or be empty.
    Fixed(PathBuf),
}

pub struct LocalArtifactStore {
    placement: Placement,
}

impl LocalArtifactStore {
    pub fn new(placement: Placement) -> Self {
        Self { placement }
    }

    fn target(&self, test_id: &str) -> PathBuf {
        match &self.placement {
            Placement::PerJob(root) => root.join(test_id),
            Placement::Fixed(dir) => dir.clone(),
        }
    }
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    fn location(&self, test_id: &str) -> String {
        self.target(test_id).display().to_string()
    }

    async fn store_bundle(
        &self,
        test_id: &str,
        bundle_dir: &Path,
        index: &BundleIndex,
    ) -> Result<String> {
        // The id names a directory: only the exact `test_` form may, never a path.
        certus_core::ids::parse_test_id(test_id)?;
        let target = self.target(test_id);
        let parent = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&parent).map_err(|e| CoreError::io(&parent, e))?;
        if target.exists()
            && std::fs::read_dir(&target)
                .map_err(|e| CoreError::io(&target, e))?
                .next()
                .is_some()
        {
            return Err(CoreError::Bundle(format!(
                "{} already exists and is not empty; a bundle is never written over another",
                target.display()
            )));
        }
        let staging = parent.join(format!(".staging-{test_id}"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| CoreError::io(&staging, e))?;
        }
        let names = index
            .files
            .iter()
            .map(|e| e.path.as_str())
            .chain([INDEX])
            .map(lexically_confined)
            .collect::<Result<Vec<PathBuf>>>()?;
        let directories = directories_of(&staging, &names);
        for dir in &directories {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        }
        // The copy reaches the disk before it is named, so that a crash never leaves a finished job pointing
        // at a bundle whose bytes were lost; the files are copied and flushed on every core.
        map_on_every_core(&names, |rel| {
            copy_flushed(&bundle_dir.join(rel), &staging.join(rel))
        })
        .ok_or_else(|| CoreError::Bundle("a thread copying the bundle failed".into()))?
        .into_iter()
        .collect::<Result<()>>()?;
        for dir in &directories {
            flush_directory(dir)?;
        }
        if target.exists() {
            std::fs::remove_dir(&target).map_err(|e| CoreError::io(&target, e))?;
        }
        std::fs::rename(&staging, &target).map_err(|e| CoreError::io(&target, e))?;
        flush_directory(&parent)?;
        Ok(target.display().to_string())
    }

    async fn read_file(
        &self,
        location: &str,
        rel: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>> {
        let path = Path::new(location).join(lexically_confined(rel)?);
        if !path.exists() {
            return Ok(None);
        }
        read_capped(&path, max_bytes).map(Some)
    }
}

/// Every directory the files `names` (relative) need under `root`, `root` included: each holds an entry to
/// flush. Parents come before their children.
fn directories_of(root: &Path, names: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut directories = BTreeSet::from([root.to_path_buf()]);
    for name in names {
        let mut dir = root.join(name);
        while dir.pop() && dir.starts_with(root) {
            directories.insert(dir.clone());
        }
    }
    directories
}

/// Flushes a directory's entries to the disk.
#[cfg(unix)]
fn flush_directory(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|file| file.sync_all())
        .map_err(|e| CoreError::io(dir, e))
}

/// Elsewhere a directory cannot be opened to be flushed: its entries reach the disk with the file system's
/// own journal.
#[cfg(not(unix))]
fn flush_directory(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::bundle::{check_index, BundleWriter};

    #[test]
    fn every_directory_a_copy_needs_is_listed_once_parents_first() {
        let root = Path::new("/out/.staging-x");
        let names: Vec<PathBuf> = [
            "scan.json",
            "reports/sast/a.json",
            "reports/sast/b.json",
            "logs/r.log",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        let listed: Vec<PathBuf> = directories_of(root, &names).into_iter().collect();
        let expected: Vec<PathBuf> = ["", "logs", "reports", "reports/sast"]
            .into_iter()
            .map(|d| root.join(d))
            .collect();
        assert_eq!(listed, expected);
    }

    #[tokio::test]
    async fn stores_a_complete_copy_that_verifies_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let writer = BundleWriter::new(dir.path().join("ws/bundle")).unwrap();
        writer.write("scan.json", b"{}").unwrap();
        writer.write("reports/sast/x.sarif.json", b"{}").unwrap();
        let index = writer.write_index().unwrap();

        let store = LocalArtifactStore::new(Placement::PerJob(dir.path().join("bundles")));
        let at = store
            .store_bundle("test_000000000001", writer.root(), &index)
            .await
            .unwrap();
        assert_eq!(at, store.location("test_000000000001"));
        assert!(check_index(Path::new(&at), &index).unwrap().is_empty());
        let again = store
            .store_bundle("test_000000000001", writer.root(), &index)
            .await;
        assert!(again
            .unwrap_err()
            .to_string()
            .contains("never written over"));
    }
}
