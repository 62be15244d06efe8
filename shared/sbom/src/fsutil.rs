//! Bounded, symlink-free file access: capped reads and a confined directory walk.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use certus_beneath::{Beneath, Kind};

use crate::error::{Result, SbomError};

/// Deepest directory level the walk descends to below the root.
pub const MAX_DEPTH: usize = 16;
/// Most directory entries the walk looks at before stopping.
pub const MAX_ENTRIES: usize = 200_000;

/// A regular file found by [`walk`] (read it with [`read_capped`], by `relative`; `absolute` is for `stat`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundFile {
    /// Path relative to the root, `/`-separated.
    pub relative: String,
    pub absolute: PathBuf,
}

/// Reads the regular file at `relative` beneath the root of `beneath`, of at most `limit` bytes: never
/// through a link (in its place or in any directory above it) and never out of the root.
pub fn read_capped(beneath: &mut Beneath, relative: &str, limit: u64) -> Result<Vec<u8>> {
    let io_error = |source| SbomError::Io {
        path: relative.to_string(),
        source,
    };
    let file = beneath.open(relative).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    if metadata.len() > limit {
        return Err(SbomError::TooLarge {
            path: relative.to_string(),
            size: metadata.len(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    (&file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(SbomError::TooLarge {
            path: relative.to_string(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Reads a capped file as UTF-8 text.
pub fn read_text(
    beneath: &mut Beneath,
    relative: &str,
    limit: u64,
    format: &'static str,
) -> Result<String> {
    let bytes = read_capped(beneath, relative, limit)?;
    String::from_utf8(bytes).map_err(|_| SbomError::MalformedLockfile {
        path: relative.to_string(),
        format,
        reason: "not UTF-8 text".to_string(),
    })
}

/// Walks `root` breadth-first, listing each directory through the descriptors of those above it (never
/// following a link, not even a directory swapped for one while it walks), calling `keep_dir` to decide
/// whether to descend into a sub-directory (given its name and whether its parent holds `go.mod`). Returns
/// the regular files found (sorted) and any problems met on the way.
pub fn walk(
    root: &Path,
    keep_dir: impl Fn(&str, bool) -> bool,
) -> (Vec<FoundFile>, Vec<SbomError>) {
    let mut beneath = Beneath::new(root);
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut pending = vec![(String::new(), 0usize)];
    let mut seen_entries = 0usize;
    while let Some((relative_dir, depth)) = pending.pop() {
        let io_error = |source| SbomError::Io {
            path: display_relative(&relative_dir),
            source,
        };
        let entries = match beneath.list(OsStr::new(&relative_dir)) {
            Ok(entries) => entries,
            Err(source) => {
                errors.push(io_error(source));
                continue;
            }
        };
        let mut children = Vec::new();
        for entry in entries {
            seen_entries += 1;
            if seen_entries > MAX_ENTRIES {
                errors.push(SbomError::WalkLimit {
                    path: display_relative(&relative_dir),
                    reason: format!("more than {MAX_ENTRIES} directory entries"),
                });
                files.sort();
                return (files, errors);
            }
            match entry {
                Ok(entry) => children.push(entry),
                Err(source) => errors.push(io_error(source)),
            }
        }
        let has_go_mod = children.iter().any(|(name, _)| name == "go.mod");
        for (name, kind) in children {
            let Some(name) = name.to_str() else {
                continue;
            };
            let relative = if relative_dir.is_empty() {
                name.to_string()
            } else {
                format!("{relative_dir}/{name}")
            };
            match kind {
                Kind::Directory if !keep_dir(name, has_go_mod) => {}
                Kind::Directory if depth + 1 > MAX_DEPTH => errors.push(SbomError::WalkLimit {
                    path: relative,
                    reason: format!("deeper than {MAX_DEPTH} levels"),
                }),
                Kind::Directory => pending.push((relative, depth + 1)),
                Kind::File => files.push(FoundFile {
                    absolute: root.join(&relative),
                    relative,
                }),
                Kind::Link | Kind::Other => {}
            }
        }
    }
    files.sort();
    (files, errors)
}

/// Size, modification and change times (nanoseconds) and inode of a file: what changes when its bytes do.
#[cfg(unix)]
pub fn stat_line(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {}.{} {}.{} {}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino()
    )
}

/// Size and modification time of a file: what changes when its bytes do.
#[cfg(not(unix))]
pub fn stat_line(meta: &fs::Metadata) -> String {
    format!("{} {:?}", meta.len(), meta.modified().ok())
}

fn display_relative(relative: &str) -> String {
    if relative.is_empty() {
        ".".to_string()
    } else {
        relative.to_string()
    }
}
