//! File-level steps of local publication: placing one object atomically (temporary name, fsync, rename)
//! unless an identical one is already there, clearing temporaries left by an interrupted run, and naming
//! objects as `file://` URIs.

use std::path::{Path, PathBuf};

use certus_core::digest::sha256_file;
use certus_core::workspace::copy_flushed;
use certus_core::CoreError;

use crate::error::TrustError;

/// Temporary names start with this; a bundle never contains such a name (its index refuses them).
const TEMP_PREFIX: &str = ".tmp-";

/// What `place` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    Written,
    AlreadyPresent,
}

/// Puts a copy of `source` at `dest` unless `dest` already holds exactly `sha256`/`size`. `dest` must be a
/// regular file if it exists (never written through a link or over a directory); so must `source`.
pub fn place(source: &Path, dest: &Path, sha256: &str, size: u64) -> Result<Placed, CoreError> {
    if holds(dest, sha256, size)? {
        return Ok(Placed::AlreadyPresent);
    }
    require_file(source)?;
    let parent = dest.parent().ok_or_else(|| CoreError::PathEscape {
        path: dest.display().to_string(),
        reason: "it has no parent directory".into(),
    })?;
    std::fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
    let temp = temp_name(parent)?;
    let written = copy_flushed(source, &temp)
        .and_then(|()| std::fs::rename(&temp, dest).map_err(|e| CoreError::io(dest, e)));
    if written.is_err() {
        // Best effort: a leftover temporary is also cleared by the next run.
        let _ = std::fs::remove_file(&temp);
    }
    written.map(|()| Placed::Written)
}

/// Whether `path` is a regular file with this digest and size; `false` when it does not exist.
pub fn holds(path: &Path, sha256: &str, size: u64) -> Result<bool, CoreError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CoreError::io(path, e)),
        Ok(meta) if !meta.file_type().is_file() => Err(TrustError::NotAFile {
            path: path.display().to_string(),
        }
        .into()),
        Ok(meta) if meta.len() != size => Ok(false),
        Ok(_) => Ok(sha256_file(path)?.0 == sha256),
    }
}

fn require_file(path: &Path) -> Result<(), CoreError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| CoreError::io(path, e))?;
    if meta.file_type().is_file() {
        Ok(())
    } else {
        Err(TrustError::NotAFile {
            path: path.display().to_string(),
        }
        .into())
    }
}

fn temp_name(dir: &Path) -> Result<PathBuf, CoreError> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix)
        .map_err(|e| CoreError::Storage(format!("no OS randomness for a temporary name: {e}")))?;
    Ok(dir.join(format!("{TEMP_PREFIX}{}", hex::encode(suffix))))
}

/// Writes `bytes` to `dest` atomically unless it already holds exactly these bytes.
pub fn write_if_changed(dest: &Path, bytes: &[u8]) -> Result<Placed, CoreError> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(TrustError::NotAFile {
                path: dest.display().to_string(),
            }
            .into())
        }
        Ok(_) if std::fs::read(dest).map_err(|e| CoreError::io(dest, e))? == bytes => {
            return Ok(Placed::AlreadyPresent)
        }
        _ => {}
    }
    let parent = dest.parent().ok_or_else(|| CoreError::PathEscape {
        path: dest.display().to_string(),
        reason: "it has no parent directory".into(),
    })?;
    std::fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
    let temp = temp_name(parent)?;
    let written = std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::File::open(&temp)?.sync_all())
        .map_err(|e| CoreError::io(&temp, e))
        .and_then(|()| std::fs::rename(&temp, dest).map_err(|e| CoreError::io(dest, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map(|()| Placed::Written)
}

/// Removes temporaries an interrupted run left anywhere under `dir` (which may not exist yet).
pub fn clear_temporaries(dir: &Path) -> Result<(), CoreError> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(CoreError::io(&current, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| CoreError::io(&current, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| CoreError::io(&path, e))?;
            if kind.is_dir() {
                pending.push(path);
            } else if entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(TEMP_PREFIX))
            {
                std::fs::remove_file(&path).map_err(|e| CoreError::io(&path, e))?;
            }
        }
    }
    Ok(())
}

/// `file://` URI of an absolute path, percent-encoding every byte outside `A-Z a-z 0-9 - . _ ~ /`.
pub fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::digest::sha256_hex;

    #[test]
    fn places_once_then_leaves_an_identical_object_alone() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src.json");
        std::fs::write(&source, b"{\"a\":1}").unwrap();
        let dest = dir.path().join("out/deep/dest.json");
        let digest = sha256_hex(b"{\"a\":1}");
        assert_eq!(place(&source, &dest, &digest, 7).unwrap(), Placed::Written);
        assert_eq!(std::fs::read(&dest).unwrap(), b"{\"a\":1}");
        assert_eq!(
            place(&source, &dest, &digest, 7).unwrap(),
            Placed::AlreadyPresent
        );
        std::fs::write(&dest, b"tampered").unwrap();
        assert_eq!(place(&source, &dest, &digest, 7).unwrap(), Placed::Written);
        assert_eq!(std::fs::read(&dest).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn never_writes_over_a_directory_or_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        std::fs::write(&source, b"x").unwrap();
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        let err = place(&source, &blocked, &sha256_hex(b"x"), 1).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&source, &link).unwrap();
        let err = place(&source, &link, &sha256_hex(b"x"), 1).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = place(&link, &dir.path().join("new"), &sha256_hex(b"x"), 1).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn temporaries_are_cleared_and_other_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/.tmp-0011"), b"half").unwrap();
        std::fs::write(dir.path().join("a/keep.json"), b"{}").unwrap();
        clear_temporaries(dir.path()).unwrap();
        assert!(!dir.path().join("a/b/.tmp-0011").exists());
        assert!(dir.path().join("a/keep.json").exists());
        clear_temporaries(&dir.path().join("missing")).unwrap();
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(
            file_uri(Path::new("/data/raw/a b/%x.json")),
            "file:///data/raw/a%20b/%25x.json"
        );
    }

    #[test]
    fn sidecar_writes_only_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("s/meta.json");
        assert_eq!(write_if_changed(&dest, b"1").unwrap(), Placed::Written);
        assert_eq!(
            write_if_changed(&dest, b"1").unwrap(),
            Placed::AlreadyPresent
        );
        assert_eq!(write_if_changed(&dest, b"2").unwrap(), Placed::Written);
        assert_eq!(std::fs::read(&dest).unwrap(), b"2");
    }
}
