//! Tree digests: one SHA-256 over every path of a tree with its content digest (files) or link target
//! (symlinks), in sorted order, never following links — the identity of a directory source.

use std::path::Path;

use certus_core::digest::sha256_file;
use certus_core::error::{CoreError, Result};
use sha2::{Digest, Sha256};

/// Digest of the tree under `root`, skipping `.git`.
pub fn tree_digest(root: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git");
    for entry in walker {
        let entry = entry.map_err(|e| CoreError::Source(format!("cannot read the tree: {e}")))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .map_err(|_| CoreError::Source("walked outside the tree".into()))?
            .to_string_lossy()
            .replace('\\', "/");
        let kind = entry.file_type();
        let line = if kind.is_file() {
            format!("f {rel}\0{}\n", sha256_file(entry.path())?.0)
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(entry.path()).map_err(|e| CoreError::io(entry.path(), e))?;
            format!("l {rel}\0{}\n", target.to_string_lossy())
        } else if kind.is_dir() {
            continue;
        } else {
            format!("o {rel}\0\n")
        };
        hasher.update(line.as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_changes_with_content_names_and_links_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.py"), "x").unwrap();
        let first = tree_digest(dir.path()).unwrap();
        assert_eq!(first, tree_digest(dir.path()).unwrap());
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref").unwrap();
        assert_eq!(
            first,
            tree_digest(dir.path()).unwrap(),
            ".git must not count"
        );
        std::fs::write(dir.path().join("src/a.py"), "y").unwrap();
        let second = tree_digest(dir.path()).unwrap();
        assert_ne!(first, second);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        assert_ne!(second, tree_digest(dir.path()).unwrap());
    }
}
