//! Bounded directory walk: depth-first with an explicit stack (no recursion), listing each directory through
//! the descriptors of those above it ([`Beneath`]) and handing out its files with the directory they were
//! listed in ([`Directory`]), so neither the walk nor the workers that open the files ever follow a link, not
//! even a directory swapped for one while the walk runs, or leave the root; files are read into a bounded,
//! reused buffer.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use certus_beneath::{Beneath, Directory, Kind, Listing};

use crate::error::{Result, SecretsError};
use crate::report::SkipReason;

/// Maximum directory depth below the root (also bounds open directory handles).
pub(crate) const MAX_DEPTH: usize = 64;
/// Bytes inspected for a NUL to call a file binary.
pub const BINARY_SNIFF_LEN: usize = 8 * 1024;

/// One item produced by the walk.
pub(crate) enum Entry {
    /// A regular file to scan: the file `name` of the directory `dir`, reported as `rel`.
    File {
        dir: Directory,
        name: OsString,
        rel: String,
    },
    /// Something not scanned, with the reason.
    Skipped { rel: String, reason: SkipReason },
}

/// Iterator over the files below a root.
pub(crate) struct Walker<F: Fn(&str) -> bool> {
    beneath: Beneath,
    /// The directories being listed: each listing, its path beneath the root and that path as reported,
    /// and the directory held open for its files once one is found.
    stack: Vec<(Listing, OsString, String, Option<Directory>)>,
    prune_dir: F,
}

impl<F: Fn(&str) -> bool> Walker<F> {
    /// Starts a walk at `root`; directories for which `prune_dir(rel)` is true are reported and not entered.
    pub(crate) fn new(root: &Path, prune_dir: F) -> Result<Self> {
        let invalid = |reason: String| SecretsError::InvalidRoot {
            path: root.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(root).map_err(|e| invalid(e.to_string()))?;
        if !meta.is_dir() {
            return Err(invalid("not a directory".to_string()));
        }
        let mut beneath = Beneath::new(root);
        let listing = beneath
            .list(OsStr::new(""))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            beneath,
            stack: vec![(listing, OsString::new(), String::new(), None)],
            prune_dir,
        })
    }
}

impl<F: Fn(&str) -> bool> Iterator for Walker<F> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            let depth = self.stack.len();
            let (listing, dir, rel_dir, files_dir) = self.stack.last_mut()?;
            let Some(item) = listing.next() else {
                self.stack.pop();
                continue;
            };
            let (name, kind) = match item {
                Ok(entry) => entry,
                Err(e) => {
                    return Some(Entry::Skipped {
                        rel: display_dir(rel_dir),
                        reason: SkipReason::Unreadable {
                            error: e.to_string(),
                        },
                    })
                }
            };
            let shown = name.to_string_lossy();
            let rel = if rel_dir.is_empty() {
                shown.into_owned()
            } else {
                format!("{rel_dir}/{shown}")
            };
            let reason = match kind {
                Kind::File => {
                    let held = match files_dir {
                        Some(held) => Ok(held.clone()),
                        None => listing
                            .directory()
                            .map(|held| files_dir.insert(held).clone()),
                    };
                    match held {
                        Ok(dir) => return Some(Entry::File { dir, name, rel }),
                        Err(e) => SkipReason::Unreadable {
                            error: e.to_string(),
                        },
                    }
                }
                Kind::Link => SkipReason::Symlink,
                Kind::Other => SkipReason::NotRegularFile,
                Kind::Directory if (self.prune_dir)(&rel) => SkipReason::AllowlistedPath,
                Kind::Directory if depth > MAX_DEPTH => SkipReason::TooDeep { limit: MAX_DEPTH },
                Kind::Directory => {
                    let mut path = dir.clone();
                    if !path.is_empty() {
                        path.push("/");
                    }
                    path.push(&name);
                    match self.beneath.list(&path) {
                        Ok(listing) => {
                            self.stack.push((listing, path, rel, None));
                            continue;
                        }
                        Err(e) => SkipReason::Unreadable {
                            error: e.to_string(),
                        },
                    }
                }
            };
            return Some(Entry::Skipped { rel, reason });
        }
    }
}

fn display_dir(rel: &str) -> String {
    if rel.is_empty() {
        ".".to_string()
    } else {
        rel.to_string()
    }
}

/// Reads the regular file `opened` (refusing special files; the opener refuses links) into `buf`, at most
/// `limit` bytes; a file that is binary or larger than `limit` is reported as skipped. Also returns what
/// `fstat` said of the open file once the reading was done (`None` when it could not be opened): the file
/// that was read, as it was then.
pub(crate) fn read_file(
    opened: std::io::Result<File>,
    limit: u64,
    buf: &mut Vec<u8>,
) -> (std::result::Result<(), SkipReason>, Option<Metadata>) {
    let unreadable = |e: std::io::Error| SkipReason::Unreadable {
        error: e.to_string(),
    };
    let file = match opened {
        Ok(file) => file,
        Err(e) => return (Err(unreadable(e)), None),
    };
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(e) => return (Err(unreadable(e)), None),
    };
    if !meta.is_file() {
        return (Err(SkipReason::NotRegularFile), Some(meta));
    }
    if let Some(reason) = too_large(meta.len(), limit) {
        return (Err(reason), Some(meta));
    }
    buf.clear();
    buf.reserve(usize::try_from(meta.len()).unwrap_or(0));
    let mut reader = (&file).take(limit.saturating_add(1));
    // The head first: a binary file is known by it, and the rest of it is never read.
    let head = (&mut reader).take(BINARY_SNIFF_LEN as u64).read_to_end(buf);
    let binary = head.is_ok() && memchr::memchr(0, buf).is_some();
    let read = match head {
        Ok(_) if !binary => reader.read_to_end(buf),
        other => other,
    };
    let after = file.metadata().ok();
    if let Err(e) = read {
        return (Err(unreadable(e)), after);
    }
    if binary {
        return (Err(SkipReason::Binary), after);
    }
    match too_large(u64::try_from(buf.len()).unwrap_or(u64::MAX), limit) {
        Some(reason) => (Err(reason), after),
        None => (Ok(()), after),
    }
}

/// Why a file of `size` bytes is not read, when `limit` is exceeded.
pub(crate) fn too_large(size: u64, limit: u64) -> Option<SkipReason> {
    (size > limit).then_some(SkipReason::TooLarge { size, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &[u8], limit: u64) -> (std::result::Result<(), SkipReason>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("file");
        std::fs::write(&path, content).expect("write");
        let mut buf = Vec::new();
        let (outcome, stat) = read_file(File::open(&path), limit, &mut buf);
        assert_eq!(stat.map(|m| m.len()), Some(content.len() as u64));
        (outcome, buf)
    }

    #[test]
    fn a_nul_in_the_head_makes_a_file_binary_and_the_rest_is_not_read() {
        let mut content = vec![b'a'; 3 * BINARY_SNIFF_LEN];
        content[BINARY_SNIFF_LEN - 1] = 0;
        let (outcome, buf) = read(&content, 1 << 20);
        assert_eq!(outcome, Err(SkipReason::Binary));
        assert_eq!(buf.len(), BINARY_SNIFF_LEN);
    }

    #[test]
    fn a_nul_past_the_head_leaves_a_file_text_and_read_whole() {
        let mut content = vec![b'a'; 3 * BINARY_SNIFF_LEN];
        content[BINARY_SNIFF_LEN] = 0;
        let (outcome, buf) = read(&content, 1 << 20);
        assert_eq!(outcome, Ok(()));
        assert_eq!(buf, content);
        let (outcome, buf) = read(b"short text", 1 << 20);
        assert_eq!(outcome, Ok(()));
        assert_eq!(buf, b"short text");
    }

    #[test]
    fn size_limits_hold_for_text_and_binary_alike() {
        let text = vec![b'a'; 2 * BINARY_SNIFF_LEN];
        let limit = BINARY_SNIFF_LEN as u64;
        let (outcome, _) = read(&text, limit);
        assert_eq!(
            outcome,
            Err(SkipReason::TooLarge {
                size: text.len() as u64,
                limit
            })
        );
        let mut binary = text.clone();
        binary[0] = 0;
        let (outcome, buf) = read(&binary, limit);
        assert!(matches!(outcome, Err(SkipReason::TooLarge { .. })));
        assert!(buf.is_empty(), "an oversized file is not read at all");
        let (outcome, _) = read(&text, text.len() as u64);
        assert_eq!(outcome, Ok(()));
    }
}
