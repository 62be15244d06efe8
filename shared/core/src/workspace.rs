//! The run's private workspace and path confinement: every path a client or a manifest names is resolved
//! inside a base directory, refusing absolute paths, `..` and symlinks that lead out; and the one durable copy
//! of a file out of it.

use std::path::{Component, Path, PathBuf};

use crate::error::{CoreError, Result};

/// A per-run directory: `source/` (clone or extraction), `bundle/` (the evidence bundle), `scratch/` (tool output).
#[derive(Debug, Clone)]
pub struct RunWorkspace {
    root: PathBuf,
}

impl RunWorkspace {
    /// Creates (or reopens) the workspace directories under `root`, private to this user.
    pub fn create(root: PathBuf) -> Result<Self> {
        for dir in [
            root.clone(),
            root.join("source"),
            root.join("bundle"),
            root.join("scratch"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        }
        restrict_to_owner(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn source_dir(&self) -> PathBuf {
        self.root.join("source")
    }

    pub fn bundle_dir(&self) -> PathBuf {
        self.root.join("bundle")
    }

    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join("scratch")
    }
}

#[cfg(unix)]
fn restrict_to_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| CoreError::io(dir, e))
}

#[cfg(not(unix))]
fn restrict_to_owner(_dir: &Path) -> Result<()> {
    Ok(())
}

/// `from` copied to `to`, a file created here (never one already there, nor through a link), and flushed to
/// the disk before this returns: what is published from a workspace, or promoted, outlives a crash.
pub fn copy_flushed(from: &Path, to: &Path) -> Result<()> {
    use std::io::Write;
    let mut source = std::fs::File::open(from).map_err(|e| CoreError::io(from, e))?;
    let mut copy = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| CoreError::io(to, e))?;
    std::io::copy(&mut source, &mut copy).map_err(|e| CoreError::io(to, e))?;
    copy.flush().map_err(|e| CoreError::io(to, e))?;
    copy.sync_all().map_err(|e| CoreError::io(to, e))
}

/// Checks a relative path lexically: no root, no prefix, no `..`; returns it normalised (`.` parts dropped).
pub fn lexically_confined(rel: &str) -> Result<PathBuf> {
    let escape = |reason: &str| CoreError::PathEscape {
        path: rel.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    if rel.is_empty() {
        return Err(escape("empty path"));
    }
    if rel.contains('\0') {
        return Err(escape("contains a NUL byte"));
    }
    let mut out = PathBuf::new();
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(escape("contains '..'")),
            Component::RootDir | Component::Prefix(_) => return Err(escape("is absolute")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(escape("names no file"));
    }
    Ok(out)
}

/// Resolves `rel` inside `base`, following symlinks only as far as they stay inside `base`.
pub fn confined_join(base: &Path, rel: &str) -> Result<PathBuf> {
    let normalised = lexically_confined(rel)?;
    let base_real = base.canonicalize().map_err(|e| CoreError::io(base, e))?;
    let joined = base_real.join(&normalised);
    let resolved = match joined.canonicalize() {
        Ok(real) => real,
        // The target does not exist yet: its parent must still resolve inside the base.
        Err(_) => {
            let parent = joined.parent().unwrap_or(&base_real);
            let parent_real = parent
                .canonicalize()
                .map_err(|e| CoreError::io(parent, e))?;
            match joined.file_name() {
                Some(name) => parent_real.join(name),
                None => parent_real,
            }
        }
    };
    if resolved.starts_with(&base_real) {
        Ok(resolved)
    } else {
        Err(CoreError::PathEscape {
            path: rel.chars().take(200).collect(),
            reason: "resolves outside the workspace (symlink)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_a_new_file_with_the_same_bytes_never_one_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::write(&from, b"evidence").unwrap();
        let to = dir.path().join("to");
        copy_flushed(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"evidence");
        // Already there: refused, left as it was.
        std::fs::write(&from, b"other").unwrap();
        assert!(copy_flushed(&from, &to).is_err());
        assert_eq!(std::fs::read(&to).unwrap(), b"evidence");
        #[cfg(unix)]
        {
            let aside = dir.path().join("aside");
            std::os::unix::fs::symlink(&aside, dir.path().join("link")).unwrap();
            assert!(copy_flushed(&from, &dir.path().join("link")).is_err());
            assert!(!aside.exists(), "nothing written through the link");
        }
    }

    #[test]
    fn lexical_checks() {
        assert_eq!(
            lexically_confined("./a/b.json").unwrap(),
            PathBuf::from("a/b.json")
        );
        for bad in ["", "../x", "a/../../x", "/etc/passwd", ".", "a\0b"] {
            assert!(lexically_confined(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn symlinks_out_of_the_base_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::fs::write(dir.path().join("ok.json"), "{}").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("ok.json", dir.path().join("alias.json")).unwrap();

        assert!(confined_join(dir.path(), "ok.json").is_ok());
        assert!(confined_join(dir.path(), "alias.json").is_ok());
        assert!(confined_join(dir.path(), "not-yet.json").is_ok());
        let err = confined_join(dir.path(), "link/secret").unwrap_err();
        assert!(err.to_string().contains("outside the workspace"), "{err}");
        assert!(confined_join(dir.path(), "link/new-file").is_err());
    }

    #[test]
    fn workspace_layout_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ws = RunWorkspace::create(dir.path().join("run")).unwrap();
        assert!(ws.source_dir().is_dir() && ws.bundle_dir().is_dir() && ws.scratch_dir().is_dir());
        let mode = std::fs::metadata(ws.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
