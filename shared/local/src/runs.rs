//! The run store on one machine: each run's between-steps workspace is a directory `<root>/<test_id>/`, keys
//! are confined paths inside it. Used when the staged pipeline runs without AWS (tests, `certus-step` local).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use certus_core::error::{CoreError, Result};
use certus_core::ids::parse_test_id;
use certus_core::pipeline::read_capped;
use certus_core::ports::RunStore;
use certus_core::workspace::lexically_confined;

pub struct DirRunStore {
    root: PathBuf,
}

impl DirRunStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, test_id: &str, key: &str) -> Result<PathBuf> {
        let run = self.root.join(parse_test_id(test_id)?);
        Ok(run.join(lexically_confined(key)?))
    }

    fn parent_dirs(path: &Path) -> Result<()> {
        match path.parent() {
            Some(parent) => std::fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl RunStore for DirRunStore {
    async fn put(&self, test_id: &str, key: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(test_id, key)?;
        Self::parent_dirs(&path)?;
        let staged = path.with_extension("partial");
        std::fs::write(&staged, bytes).map_err(|e| CoreError::io(&staged, e))?;
        std::fs::rename(&staged, &path).map_err(|e| CoreError::io(&path, e))
    }

    async fn get(&self, test_id: &str, key: &str, max_bytes: usize) -> Result<Option<Vec<u8>>> {
        let path = self.path(test_id, key)?;
        if !path.exists() {
            return Ok(None);
        }
        read_capped(&path, max_bytes).map(Some)
    }

    async fn put_file(&self, test_id: &str, key: &str, source: &Path) -> Result<()> {
        let path = self.path(test_id, key)?;
        Self::parent_dirs(&path)?;
        std::fs::copy(source, &path).map_err(|e| CoreError::io(&path, e))?;
        Ok(())
    }

    async fn get_file(&self, test_id: &str, key: &str, dest: &Path) -> Result<bool> {
        let path = self.path(test_id, key)?;
        if !path.is_file() {
            return Ok(false);
        }
        Self::parent_dirs(dest)?;
        std::fs::copy(&path, dest).map_err(|e| CoreError::io(dest, e))?;
        Ok(true)
    }

    async fn list(&self, test_id: &str, prefix: &str) -> Result<Vec<String>> {
        let run = self.root.join(parse_test_id(test_id)?);
        let mut keys = Vec::new();
        if run.is_dir() {
            collect(&run, &run, &mut keys)?;
        }
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }
}

fn collect(base: &Path, dir: &Path, keys: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))? {
        let entry = entry.map_err(|e| CoreError::io(dir, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| CoreError::io(entry.path(), e))?;
        if kind.is_dir() {
            collect(base, &entry.path(), keys)?;
        } else if kind.is_file() {
            if let Ok(rel) = entry.path().strip_prefix(base) {
                keys.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_round_trip_and_stay_inside_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirRunStore::new(dir.path().to_path_buf());
        let id = "test_0123456789ab";
        store
            .put(id, "bundle/a.json", b"{}".to_vec())
            .await
            .unwrap();
        store.put(id, "state.json", b"1".to_vec()).await.unwrap();
        assert_eq!(
            store.get(id, "bundle/a.json", 10).await.unwrap().unwrap(),
            b"{}"
        );
        assert!(store.get(id, "missing", 10).await.unwrap().is_none());
        assert!(store.get(id, "state.json", 0).await.is_err());
        assert_eq!(store.list(id, "bundle/").await.unwrap(), ["bundle/a.json"]);
        assert!(store.put(id, "../escape", vec![]).await.is_err());
        assert!(store.put("../x", "k", vec![]).await.is_err());
        let out = dir.path().join("out/copy");
        assert!(store.get_file(id, "state.json", &out).await.unwrap());
        assert_eq!(std::fs::read(out).unwrap(), b"1");
    }
}
