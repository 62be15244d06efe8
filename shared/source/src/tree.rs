//! Tree digests: one SHA-256 over every path of a tree with its content digest (files) or link target
//! (symlinks), in sorted order, never following links — the identity of a directory source. [`tree_table`]
//! computes the same digest on every core and lists the files for incremental scans, reusing the digests of
//! files whose `stat` is unchanged since the previous table.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use certus_core::digest::{sha256_file, sha256_hex};
use certus_core::error::{CoreError, Result};
use certus_core::incremental::{SourceFile, SourceFiles, INDEX_FORMAT};
use serde::{Deserialize, Serialize};
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

/// A directory's file table as the scan cache keeps it, with a digest over the files it lists.
#[derive(Debug, Serialize, Deserialize)]
struct StoredTable {
    format: u32,
    sha256: String,
    files: Vec<SourceFile>,
}

/// The table in the form the scan cache keeps.
pub fn encode_table(files: &[SourceFile]) -> Result<Vec<u8>> {
    let body = serde_json::to_vec(files).map_err(|e| CoreError::Json {
        what: "the file table".into(),
        source: e,
    })?;
    let table = StoredTable {
        format: INDEX_FORMAT,
        sha256: sha256_hex(&body),
        files: files.to_vec(),
    };
    serde_json::to_vec(&table).map_err(|e| CoreError::Json {
        what: "the file table".into(),
        source: e,
    })
}

/// The previous table by path; an unreadable, foreign-format or altered table reuses nothing.
pub fn decode_table(bytes: &[u8]) -> HashMap<String, SourceFile> {
    let Ok(table) = serde_json::from_slice::<StoredTable>(bytes) else {
        return HashMap::new();
    };
    let intact = table.format == INDEX_FORMAT
        && serde_json::to_vec(&table.files).is_ok_and(|body| sha256_hex(&body) == table.sha256);
    if !intact {
        return HashMap::new();
    }
    table
        .files
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect()
}

/// What the walk found, in digest order.
enum Line {
    File(SourceFile),
    Link(String, String),
    Other(String),
}

/// The tree digest (the same as [`tree_digest`]) and the table of its regular files, hashing on every core and
/// reading only files whose `stat` differs from `previous`. The flag says whether the table lists every
/// file a scanner would read: `false` when the walk skipped a `.git` entry.
pub fn tree_table(
    root: &Path,
    previous: &HashMap<String, SourceFile>,
) -> Result<(String, SourceFiles, bool)> {
    let mut lines = Vec::new();
    let mut complete = true;
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let skip = e.file_name() == ".git";
            if skip {
                complete = false;
            }
            !skip
        });
    let mut pending = Vec::new();
    let mut reused = 0u64;
    for entry in walker {
        let entry = entry.map_err(|e| CoreError::Source(format!("cannot read the tree: {e}")))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .map_err(|_| CoreError::Source("walked outside the tree".into()))?
            .to_string_lossy()
            .replace('\\', "/");
        let kind = entry.file_type();
        if kind.is_file() {
            let meta = entry.metadata().map_err(|e| {
                CoreError::Source(format!(
                    "cannot read the tree: {}: {e}",
                    entry.path().display()
                ))
            })?;
            let mut file = stat_of(rel, &meta);
            match previous.get(&file.path) {
                Some(known) if known.same_stat(&file) && !known.sha256.is_empty() => {
                    file.sha256 = known.sha256.clone();
                    reused += 1;
                }
                _ => pending.push(lines.len()),
            }
            lines.push(Line::File(file));
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(entry.path()).map_err(|e| CoreError::io(entry.path(), e))?;
            lines.push(Line::Link(rel, target.to_string_lossy().into_owned()));
        } else if !kind.is_dir() {
            lines.push(Line::Other(rel));
        }
    }
    let bytes_read = hash_pending(root, &mut lines, &pending)?;
    let mut hasher = Sha256::new();
    let mut files = Vec::new();
    for line in lines {
        match line {
            Line::File(file) => {
                hasher.update(format!("f {}\0{}\n", file.path, file.sha256).as_bytes());
                files.push(file);
            }
            Line::Link(rel, target) => hasher.update(format!("l {rel}\0{target}\n").as_bytes()),
            Line::Other(rel) => hasher.update(format!("o {rel}\0\n").as_bytes()),
        }
    }
    let table = SourceFiles {
        lineage: String::new(),
        files,
        digests_reused: reused,
        bytes_read,
    };
    Ok((hex::encode(hasher.finalize()), table, complete))
}

/// A file's place in the walk and its digest and size (or why it could not be read).
type Hashed = (usize, Result<(String, u64)>);

/// Hashes the files at `pending` (indexes into `lines`) on every core; returns the bytes read.
fn hash_pending(root: &Path, lines: &mut [Line], pending: &[usize]) -> Result<u64> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(pending.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Hashed>> = Mutex::new(Vec::new());
    {
        let lines: &[Line] = lines;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&at) = pending.get(n) else { break };
                        if let Line::File(file) = &lines[at] {
                            done.push((at, sha256_file(&root.join(&file.path))));
                        }
                    }
                    if let Ok(mut all) = results.lock() {
                        all.extend(done);
                    }
                });
            }
        });
    }
    let results = results
        .into_inner()
        .map_err(|_| CoreError::Source("a hashing thread failed".into()))?;
    if results.len() != pending.len() {
        return Err(CoreError::Source("a hashing thread failed".into()));
    }
    let mut read = 0u64;
    for (at, digest) in results {
        let (digest, size) = digest?;
        if let Some(Line::File(file)) = lines.get_mut(at) {
            file.sha256 = digest;
            read += size;
        }
    }
    Ok(read)
}

#[cfg(unix)]
fn stat_of(path: String, meta: &std::fs::Metadata) -> SourceFile {
    use std::os::unix::fs::MetadataExt;
    SourceFile {
        path,
        size: meta.len(),
        mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
        ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
        inode: meta.ino(),
        sha256: String::new(),
    }
}

#[cfg(not(unix))]
fn stat_of(path: String, meta: &std::fs::Metadata) -> SourceFile {
    // Without an inode and ctime, an unchanged stat is no evidence: every digest is recomputed.
    SourceFile {
        path,
        size: meta.len(),
        mtime_ns: -1,
        ctime_ns: -1,
        inode: 0,
        sha256: String::new(),
    }
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

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn the_table_digest_is_the_tree_digest_and_unchanged_files_are_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.py"), "x").unwrap();
        std::fs::write(dir.path().join("b.txt"), "hello").unwrap();
        std::os::unix::fs::symlink("b.txt", dir.path().join("link")).unwrap();
        let (digest, table, complete) = tree_table(dir.path(), &HashMap::new()).unwrap();
        assert_eq!(digest, tree_digest(dir.path()).unwrap());
        assert!(complete);
        assert_eq!(
            (table.files.len(), table.digests_reused, table.bytes_read),
            (2, 0, 6)
        );
        let previous = decode_table(&encode_table(&table.files).unwrap());
        assert_eq!(previous.len(), 2);
        // Rewritten through a new inode, as an editor or a checkout does.
        std::fs::write(dir.path().join("src/a.new"), "yy").unwrap();
        std::fs::rename(dir.path().join("src/a.new"), dir.path().join("src/a.py")).unwrap();
        let (digest, table, _) = tree_table(dir.path(), &previous).unwrap();
        assert_eq!(digest, tree_digest(dir.path()).unwrap());
        assert_eq!((table.digests_reused, table.bytes_read), (1, 2));
        // A stored table whose listing was altered is not trusted.
        let mut altered = encode_table(&table.files).unwrap();
        let at = altered.len() - 10;
        altered[at] = if altered[at] == b'a' { b'b' } else { b'a' };
        assert!(decode_table(&altered).is_empty());
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let (_, _, complete) = tree_table(dir.path(), &previous).unwrap();
        assert!(!complete, "a .git directory is not in the table");
    }
}
