//! The source tree between steps: packed once into a gzip'd tar by the step that prepared it, unpacked by each
//! step that needs it with the hostile-archive rules of `certus-source` (the snapshot crossed a bucket).
//! `.git` is left out (the commit is already resolved) and links are not carried.

use std::fs::File;
use std::path::Path;

use certus_core::error::{CoreError, Result};
use certus_source::archive::{self, ArchiveKind, ArchiveLimits};
use flate2::write::GzEncoder;
use flate2::Compression;

/// Packs the regular files and directories under `root` into `dest` (`.tgz`).
pub fn pack(root: &Path, dest: &Path) -> Result<()> {
    let file = File::create(dest).map_err(|e| CoreError::io(dest, e))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::fast()));
    tar.follow_symlinks(false);
    add_dir(&mut tar, root, root)?;
    let gz = tar.into_inner().map_err(|e| CoreError::io(dest, e))?;
    gz.finish().map_err(|e| CoreError::io(dest, e))?;
    Ok(())
}

fn add_dir<W: std::io::Write>(tar: &mut tar::Builder<W>, root: &Path, dir: &Path) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| CoreError::io(dir, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| CoreError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| CoreError::io(&path, e))?;
        let rel = path
            .strip_prefix(root)
            .map_err(|_| CoreError::Source(format!("{} is outside the source", path.display())))?;
        if kind.is_dir() {
            if entry.file_name() == ".git" && dir == root {
                continue;
            }
            tar.append_dir(rel, &path)
                .map_err(|e| CoreError::io(&path, e))?;
            add_dir(tar, root, &path)?;
        } else if kind.is_file() {
            tar.append_path_with_name(&path, rel)
                .map_err(|e| CoreError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Unpacks a snapshot into `dest` (existing and empty).
pub fn unpack(snapshot: &Path, dest: &Path) -> Result<()> {
    archive::extract(
        snapshot,
        ArchiveKind::TarGz,
        dest,
        &ArchiveLimits::default(),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_survives_the_round_trip_without_git_or_links() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::create_dir_all(src.join(".git")).unwrap();
        std::fs::write(src.join("a/b/c.txt"), "hello").unwrap();
        std::fs::write(src.join("top.py"), "print(1)").unwrap();
        std::fs::write(src.join(".git/HEAD"), "ref").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let tgz = dir.path().join("s.tgz");
        pack(&src, &tgz).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        unpack(&tgz, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("a/b/c.txt")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("top.py")).unwrap(),
            "print(1)"
        );
        assert!(!out.join(".git").exists());
        assert!(std::fs::symlink_metadata(out.join("link")).is_err());
    }
}
