//! Tree digests: one SHA-256 over every path of a tree with its content digest (files) or link target
//! (symlinks), in walk order, never following links — the identity of a directory source. The same pass
//! lists the tree's regular files with what `stat` says of them ([`SourceFiles`], for incremental scans),
//! stats and hashes on every core, and reuses the digest of a file whose `stat` is unchanged since the
//! previous table instead of reading it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use certus_core::error::{CoreError, Result};
use certus_core::incremental::{IndexKind, IndexReader, IndexWriter, SourceFile, SourceFiles};
use sha2::{Digest, Sha256};

/// Digest of the tree under `root`, skipping `.git`.
pub fn tree_digest(root: &Path) -> Result<String> {
    Ok(tree_table(root, &HashMap::new())?.0)
}

/// The table in the compact form the scan cache keeps.
pub fn encode_table(files: &[SourceFile]) -> Vec<u8> {
    let mut out = IndexWriter::new(IndexKind::FileTable, files.len() * 120);
    out.u64(files.len() as u64);
    for file in files {
        out.str(&file.path);
        out.u64(file.size);
        out.i64(file.mtime_ns);
        out.i64(file.ctime_ns);
        out.u64(file.inode);
        out.hex_digest(&file.sha256);
    }
    out.finish()
}

/// The previous table by path; an unreadable, foreign-format or altered table reuses nothing.
pub fn decode_table(bytes: &[u8]) -> HashMap<String, SourceFile> {
    let read = || -> Option<HashMap<String, SourceFile>> {
        let mut input = IndexReader::open(bytes, IndexKind::FileTable)?;
        let count = input.count()?;
        let mut files = HashMap::with_capacity(count);
        for _ in 0..count {
            let path = input.str()?.to_string();
            let file = SourceFile {
                path: path.clone(),
                size: input.u64()?,
                mtime_ns: input.i64()?,
                ctime_ns: input.i64()?,
                inode: input.u64()?,
                sha256: input.hex_digest()?,
            };
            files.insert(path, file);
        }
        input.end().then_some(files)
    };
    read().unwrap_or_default()
}

/// What the walk found, in digest order.
enum Line {
    File(SourceFile),
    Link(String, String),
    Other(String),
}

/// The tree digest and the table of its regular files, reading only files whose `stat` differs from
/// `previous`. The flag says whether the table lists every file a scanner would read: `false` when the walk
/// skipped a `.git` entry.
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
    // The walk reads directories only (their entries carry the file type); the files are stated and hashed
    // afterwards on every core.
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
            lines.push(Line::File(SourceFile {
                path: rel,
                size: 0,
                mtime_ns: 0,
                ctime_ns: 0,
                inode: 0,
                sha256: String::new(),
            }));
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(entry.path()).map_err(|e| CoreError::io(entry.path(), e))?;
            lines.push(Line::Link(rel, target.to_string_lossy().into_owned()));
        } else if !kind.is_dir() {
            lines.push(Line::Other(rel));
        }
    }
    let (reused, bytes_read) = stat_and_hash(root, &mut lines, previous)?;
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

/// Files handed to a thread at a time.
const CHUNK: usize = 256;
/// Read buffer of each hashing thread, reused from file to file.
const READ_BUFFER: usize = 256 * 1024;

/// Stats every file of `lines` on every core and hashes those whose `stat` differs from `previous`;
/// returns how many digests were reused and how many bytes were read.
fn stat_and_hash(
    root: &Path,
    lines: &mut [Line],
    previous: &HashMap<String, SourceFile>,
) -> Result<(u64, u64)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16);
    let chunks: Vec<Mutex<&mut [Line]>> = lines.chunks_mut(CHUNK).map(Mutex::new).collect();
    let next = AtomicUsize::new(0);
    let totals: Mutex<Vec<Result<(u64, u64)>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(chunks.len().max(1)) {
            scope.spawn(|| {
                let mut buf = vec![0u8; READ_BUFFER];
                let mut done = Ok((0u64, 0u64));
                while let Some(chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let Ok(mut chunk) = chunk.lock() else {
                        done = Err(CoreError::Source("a hashing thread failed".into()));
                        break;
                    };
                    for line in chunk.iter_mut() {
                        if let Line::File(file) = line {
                            match describe(root, file, previous, &mut buf) {
                                Ok((reused, read)) => {
                                    if let Ok((r, b)) = &mut done {
                                        *r += u64::from(reused);
                                        *b += read;
                                    }
                                }
                                Err(e) => done = Err(e),
                            }
                        }
                    }
                }
                if let Ok(mut all) = totals.lock() {
                    all.push(done);
                }
            });
        }
    });
    let totals = totals
        .into_inner()
        .map_err(|_| CoreError::Source("a hashing thread failed".into()))?;
    totals.into_iter().try_fold((0, 0), |(r, b), t| {
        let (tr, tb) = t?;
        Ok((r + tr, b + tb))
    })
}

/// Fills in `file`'s `stat` and digest: the previous digest when the `stat` matches, else its bytes hashed.
/// Returns whether the digest was reused and the bytes read.
fn describe(
    root: &Path,
    file: &mut SourceFile,
    previous: &HashMap<String, SourceFile>,
    buf: &mut [u8],
) -> Result<(bool, u64)> {
    let abs = root.join(&file.path);
    let meta = std::fs::symlink_metadata(&abs).map_err(|e| CoreError::io(&abs, e))?;
    if !meta.is_file() {
        return Err(CoreError::Source(format!(
            "{} changed while the tree was read: no longer a regular file",
            file.path
        )));
    }
    let path = std::mem::take(&mut file.path);
    *file = stat_of(path, &meta);
    if let Some(known) = previous.get(&file.path) {
        if known.same_stat(file) && !known.sha256.is_empty() {
            file.sha256.clone_from(&known.sha256);
            return Ok((true, 0));
        }
    }
    let mut reader = std::fs::File::open(&abs).map_err(|e| CoreError::io(&abs, e))?;
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    loop {
        let n = reader.read(buf).map_err(|e| CoreError::io(&abs, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        read += n as u64;
    }
    file.sha256 = hex::encode(hasher.finalize());
    Ok((false, read))
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
        // Walk order, each line as the digest's definition says.
        let expected = certus_core::digest::sha256_hex(
            format!(
                "f b.txt\0{}\nl link\0b.txt\nf src/a.py\0{}\n",
                certus_core::digest::sha256_hex(b"hello"),
                certus_core::digest::sha256_hex(b"x")
            )
            .as_bytes(),
        );
        assert_eq!(digest, expected);
        assert!(complete);
        assert_eq!(
            (table.files.len(), table.digests_reused, table.bytes_read),
            (2, 0, 6)
        );
        let previous = decode_table(&encode_table(&table.files));
        assert_eq!(previous.len(), 2);
        // Rewritten through a new inode, as an editor or a checkout does.
        std::fs::write(dir.path().join("src/a.new"), "yy").unwrap();
        std::fs::rename(dir.path().join("src/a.new"), dir.path().join("src/a.py")).unwrap();
        let (digest, table, _) = tree_table(dir.path(), &previous).unwrap();
        assert_eq!(digest, tree_digest(dir.path()).unwrap());
        assert_eq!((table.digests_reused, table.bytes_read), (1, 2));
        // A stored table whose listing was altered is not trusted.
        let mut altered = encode_table(&table.files);
        let at = altered.len() - 10;
        altered[at] = if altered[at] == b'a' { b'b' } else { b'a' };
        assert!(decode_table(&altered).is_empty());
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let (_, _, complete) = tree_table(dir.path(), &previous).unwrap();
        assert!(!complete, "a .git directory is not in the table");
    }
}
