//! Tree digests: one SHA-256 over every path of a tree with its content digest (files) or link target
//! (symlinks), in walk order, never following links — the identity of a directory source. The same pass
//! lists the tree's regular files with what `stat` says of them ([`SourceFiles`], for incremental scans),
//! stats and hashes on every core, and reuses the digest of a file whose `stat` is unchanged since the
//! previous table instead of reading it. A kept checkout that only git wrote since its last table is not
//! walked: the table is brought to the new commit from git's list of changed paths ([`updated_table`]).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::sync::{Condvar, Mutex, OnceLock};

use certus_beneath::{Beneath, Kind, Listing, Stat};
use certus_core::digest::Sha256Digest;
use certus_core::error::{CoreError, Result};
use certus_core::incremental::{
    delta_fits, walk_order, FileStat, IndexKind, IndexReader, IndexWriter, Keeping, PathReader,
    Paths, SinglePass, SourceFile, SourceFiles, BINARY_HEAD,
};
use certus_core::parallel::map_on_every_core_with;
use rustix::fs::FileType;
use sha2::{Digest, Sha256};

/// Digest of the tree under `root`, skipping `.git`.
pub fn tree_digest(root: &Path) -> Result<String> {
    Ok(tree_table(root, &PreviousTable::default(), None)?.digest)
}

/// The table in the compact form the scan cache keeps, with the commit it is the tree of (a kept checkout;
/// `None` for a directory): a base, which later scans keep their changes to as a delta
/// ([`PreviousTable::keeping`]). A file modified too recently for its `stat` to prove its content
/// ([`SourceFiles::settled`]) is not written: the next scan reads it again.
pub fn encode_table(table: &SourceFiles, commit: Option<&str>) -> Vec<u8> {
    let settled = table.files.iter().filter(|f| table.settled(f));
    let mut out = IndexWriter::new(IndexKind::FileTable, table.files.len() * 80);
    out.str(commit.unwrap_or_default());
    out.u64(settled.clone().count() as u64);
    write_entries(&mut out, settled.map(Entry::of));
    out.finish()
}

/// What the previous table knew of a file's content: its digest and whether it is binary.
type Known = (Sha256Digest, bool);

/// One file as a stored table records it, borrowing its path from the stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry<'a> {
    path: &'a str,
    stat: FileStat,
    known: Known,
}

impl<'a> Entry<'a> {
    fn of(file: &'a SourceFile) -> Self {
        Self {
            path: &file.path,
            stat: file.stat,
            known: (file.sha256, file.binary),
        }
    }
}

/// `entries` (in walk order), their paths front-coded.
fn write_entries<'a>(out: &mut IndexWriter, entries: impl Iterator<Item = Entry<'a>>) {
    let mut previous = "";
    for entry in entries {
        out.path(previous, entry.path);
        out.u64(entry.stat.size);
        out.i64(entry.stat.mtime_ns);
        out.i64(entry.stat.ctime_ns);
        out.u64(entry.stat.inode);
        out.raw(entry.known.0.as_bytes());
        out.flag(entry.known.1);
        previous = entry.path;
    }
}

/// The entries [`write_entries`] wrote after their count, their paths kept in `paths`.
fn read_entries<'a>(input: &mut IndexReader<'_>, paths: &'a Paths) -> Option<Vec<Entry<'a>>> {
    let count = input.count()?;
    let mut read = PathReader::new(input);
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let path = read.next(input)?;
        let stat = FileStat {
            size: input.u64()?,
            mtime_ns: input.i64()?,
            ctime_ns: input.i64()?,
            inode: input.u64()?,
        };
        let digest = Sha256Digest::from(input.digest()?);
        entries.push((path, stat, (digest, input.flag()?)));
    }
    let text = read.keep(paths)?;
    let entries = entries.into_iter().map(|(path, stat, known)| {
        Some(Entry {
            path: text.get(path)?,
            stat,
            known,
        })
    });
    entries.collect()
}

/// A count, then that many paths front-coded, kept in `paths`.
fn read_paths<'a>(input: &mut IndexReader<'_>, paths: &'a Paths) -> Option<Vec<&'a str>> {
    let count = input.count()?;
    let mut read = PathReader::new(input);
    let ranges = (0..count)
        .map(|_| read.next(input))
        .collect::<Option<Vec<_>>>()?;
    let text = read.keep(paths)?;
    ranges.into_iter().map(|at| text.get(at)).collect()
}

/// The stored base a previous table was read from: what the delta written next is bound to (its trailing
/// digest) and measured against (its size), and its entries when a delta changed them.
#[derive(Debug)]
struct Base<'a> {
    digest: [u8; 32],
    len: usize,
    /// `None` when no delta applied: the table's own entries are the base's.
    entries: Option<Vec<Entry<'a>>>,
}

/// The previous table (what `stat` said of each file then, and what was known of its content), in walk
/// order and by path, borrowing its paths from the stored bytes: a base, with the delta bound to it applied.
#[derive(Debug, Default)]
pub struct PreviousTable<'a> {
    commit: Option<&'a str>,
    files: Vec<Entry<'a>>,
    /// Built on the first lookup: an update from git's list of changes never looks a path up.
    by_path: OnceLock<HashMap<&'a str, usize>>,
    base: Option<Base<'a>>,
}

impl<'a> PreviousTable<'a> {
    /// The table kept as `base` and, when it is bound to that very base, `delta`, its paths kept in `paths`;
    /// an unreadable, foreign-format or altered base reuses nothing, and such a delta (or one bound to another
    /// base) is not applied.
    pub fn decode(base: &'a [u8], delta: Option<&'a [u8]>, paths: &'a Paths) -> Self {
        let read = || -> Option<Self> {
            let mut input = IndexReader::open(base, IndexKind::FileTable)?;
            let commit = input.str()?;
            let files = read_entries(&mut input, paths)?;
            input.end().then_some(())?;
            let digest = IndexReader::seal(base)?;
            let mut table = Self {
                commit: Some(commit).filter(|c| !c.is_empty()),
                files,
                by_path: OnceLock::new(),
                base: Some(Base {
                    digest,
                    len: base.len(),
                    entries: None,
                }),
            };
            let delta = delta.and_then(|delta| apply(&table, digest, delta, paths));
            if let Some((commit, files)) = delta {
                let entries = std::mem::replace(&mut table.files, files);
                table.commit = Some(commit).filter(|c| !c.is_empty());
                table.base = Some(Base {
                    digest,
                    len: base.len(),
                    entries: Some(entries),
                });
            }
            Some(table)
        };
        read().unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The commit whose tree the table is, when it is a kept checkout's.
    pub fn commit(&self) -> Option<&str> {
        self.commit
    }

    /// What was recorded of the file at `path` when its `stat` is unchanged.
    fn known(&self, path: &str, stat: &FileStat) -> Option<Known> {
        let entry = self.entry(path)?;
        entry.stat.same(stat).then_some(entry.known)
    }

    /// The entry of the file at `path`, from a map of every path made on the first call: for a walk, which
    /// looks every file up (a binary search in walk order made a rescan of an unchanged 110,000-file
    /// directory about 5 % slower).
    fn entry(&self, path: &str) -> Option<&Entry<'a>> {
        let by_path = self.by_path.get_or_init(|| {
            let paths = self.files.iter().enumerate();
            paths.map(|(at, entry)| (entry.path, at)).collect()
        });
        self.files.get(*by_path.get(path)?)
    }

    /// The entry of the file at `path`, searched for in the table's walk order: for a few lookups, which
    /// would not repay making the map of every path.
    fn entry_searched(&self, path: &str) -> Option<&Entry<'a>> {
        let at = self
            .files
            .binary_search_by(|entry| walk_order(entry.path, path))
            .ok()?;
        self.files.get(at)
    }

    /// Whether each path of `changes` is in the tree under `root` as this table recorded it: a regular file
    /// whose `stat` is unchanged where the table has a file, and no regular file where it has none (a link,
    /// a directory or nothing: what the table does not record). No other path is looked at.
    pub fn holds(&self, root: &Path, changes: &[Change]) -> bool {
        let mut beneath = Beneath::new(root);
        changes.iter().all(|change| {
            let now = beneath.stat(&change.path);
            let is_file = |stat: &Stat| rustix::fs::FileType::from_raw_mode(stat.st_mode).is_file();
            match (self.entry_searched(&change.path), now) {
                (Some(entry), Ok(now)) => {
                    is_file(&now) && entry.stat.same(&FileStat::of_stat(&now))
                }
                (Some(_), Err(_)) => false,
                (None, Ok(now)) => !is_file(&now),
                (None, Err(e)) => matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ),
            }
        })
    }

    /// What to keep of `table` (the tree of `commit`, for a kept checkout) after a scan that read this
    /// table: what differs from the base it was read from, as a delta bound to that base; or the whole
    /// table as a new base when there is none or the delta has outgrown it.
    pub fn keeping(&self, table: &SourceFiles, commit: Option<&str>) -> Keeping {
        if let Some(base) = &self.base {
            let entries = base.entries.as_deref().unwrap_or(&self.files);
            let settled = table.files.iter().filter(|f| table.settled(f));
            let (changed, removed) = differences(entries, settled.map(Entry::of));
            let mut out = IndexWriter::new(IndexKind::FileTableDelta, changed.len() * 80 + 64);
            out.raw(&base.digest);
            out.str(commit.unwrap_or_default());
            out.u64(changed.len() as u64);
            write_entries(&mut out, changed.into_iter());
            out.u64(removed.len() as u64);
            let mut previous = "";
            for path in removed {
                out.path(previous, path);
                previous = path;
            }
            let delta = out.finish();
            if delta_fits(delta.len(), base.len) {
                return Keeping::Delta(delta);
            }
        }
        Keeping::Base(encode_table(table, commit))
    }
}

/// The commit and entries of the table kept as `table`'s base (of trailing digest `digest`) with `delta`
/// applied, when `delta` is whole, bound to that base and lists its changes in walk order.
fn apply<'a>(
    table: &PreviousTable<'a>,
    digest: [u8; 32],
    delta: &'a [u8],
    paths: &'a Paths,
) -> Option<(&'a str, Vec<Entry<'a>>)> {
    let mut input = IndexReader::open(delta, IndexKind::FileTableDelta)?;
    if input.digest()? != digest {
        return None;
    }
    let commit = input.str()?;
    let changed = read_entries(&mut input, paths)?;
    let removed = read_paths(&mut input, paths)?;
    input.end().then_some(())?;
    let ascending = |a: &str, b: &str| walk_order(a, b).is_lt();
    if !changed.windows(2).all(|w| ascending(w[0].path, w[1].path))
        || !removed.windows(2).all(|w| ascending(w[0], w[1]))
    {
        return None;
    }
    let mut files = Vec::with_capacity(table.files.len() + changed.len());
    let mut changed = changed.into_iter().peekable();
    let mut removed = removed.into_iter().peekable();
    for entry in &table.files {
        while let Some(next) = changed.next_if(|c| ascending(c.path, entry.path)) {
            files.push(next);
        }
        while removed.next_if(|r| ascending(r, entry.path)).is_some() {}
        let replaced = changed.peek().is_some_and(|c| c.path == entry.path);
        if !replaced && removed.next_if(|r| *r == entry.path).is_none() {
            files.push(*entry);
        }
    }
    files.extend(changed);
    Some((commit, files))
}

/// The entries of `now` (in walk order) that `base` (in walk order) does not hold as they are, and the
/// paths of `base` that `now` no longer holds.
fn differences<'a, 'b>(
    base: &[Entry<'a>],
    now: impl Iterator<Item = Entry<'b>>,
) -> (Vec<Entry<'b>>, Vec<&'a str>) {
    let (mut changed, mut removed) = (Vec::new(), Vec::new());
    let mut base = base.iter().peekable();
    for entry in now {
        while let Some(gone) = base.next_if(|b| walk_order(b.path, entry.path).is_lt()) {
            removed.push(gone.path);
        }
        let before = base.next_if(|b| b.path == entry.path);
        if before.is_none_or(|b| b.stat != entry.stat || b.known != entry.known) {
            changed.push(entry);
        }
    }
    removed.extend(base.map(|b| b.path));
    (changed, removed)
}

/// A path git's checkout of another commit wrote or removed, and whether it is a regular file now (mode
/// 100644 or 100755; a link, a submodule or a removed path is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub file: bool,
}

/// The table of a tree that was exactly `previous`'s when git checked out another commit in it, which
/// changed exactly `changes`: every other file is as `previous` recorded it (git wrote none of them), and
/// each changed path that is a regular file is read now (and scanned by `single_pass` from that read). No
/// other path of the tree is looked at.
pub fn updated_table(
    root: &Path,
    previous: &PreviousTable<'_>,
    changes: &[Change],
    single_pass: Option<&dyn SinglePass>,
) -> Result<SourceFiles> {
    let changed: std::collections::HashSet<&str> =
        changes.iter().map(|c| c.path.as_str()).collect();
    let files: Vec<&str> = changes
        .iter()
        .filter(|c| c.file)
        .map(|c| c.path.as_str())
        .collect();
    let read = map_on_every_core_with(
        &files,
        || (Beneath::new(root), Reader::new(single_pass)),
        |(beneath, reader), path| read_tracked(beneath, path, reader),
    )
    .ok_or_else(|| CoreError::Source("a thread reading the changed files failed".to_string()))?;
    let mut fresh = Vec::with_capacity(read.len());
    let mut bytes_read = 0;
    for file in read {
        let (file, read) = file?;
        bytes_read += read;
        fresh.push(file);
    }
    fresh.sort_unstable_by(|a, b| walk_order(&a.path, &b.path));
    let kept = previous
        .files
        .iter()
        .filter(|entry| !changed.contains(entry.path))
        .map(|entry| SourceFile {
            path: entry.path.to_string(),
            stat: entry.stat,
            sha256: entry.known.0,
            binary: entry.known.1,
            scanned: None,
        });
    let read_now = fresh.len();
    let files = merged(kept, fresh, |file| &file.path);
    Ok(SourceFiles {
        lineage: String::new(),
        digests_reused: (files.len() - read_now) as u64,
        files,
        bytes_read,
        settled_before_ns: None,
        single_pass: single_pass.map(|pass| pass.scope().to_string()),
    })
}

/// `a` and `b`, each in walk order by `path` and holding no path twice between them, as one list in walk order.
fn merged<T>(
    a: impl IntoIterator<Item = T>,
    b: impl IntoIterator<Item = T>,
    path: impl Fn(&T) -> &str,
) -> Vec<T> {
    let (a, b) = (a.into_iter(), b.into_iter());
    let bound = |(least, most): (usize, Option<usize>)| most.unwrap_or(least);
    let mut all = Vec::with_capacity(bound(a.size_hint()) + bound(b.size_hint()));
    let mut b = b.peekable();
    for x in a {
        while let Some(y) = b.next_if(|y| walk_order(path(y), path(&x)).is_lt()) {
            all.push(y);
        }
        all.push(x);
    }
    all.extend(b);
    all
}

/// The regular file git wrote at `rel`, read and hashed; anything else there (a link, a directory, a path
/// that climbs out or passes through a link) means the tree is not the commit's.
fn read_tracked(
    beneath: &mut Beneath,
    rel: &str,
    reader: &mut Reader<'_>,
) -> Result<(SourceFile, u64)> {
    let path = beneath.root().join(rel);
    let file = beneath.open(rel).map_err(|e| CoreError::io(&path, e))?;
    let meta = file.metadata().map_err(|e| CoreError::io(&path, e))?;
    if !meta.is_file() {
        return Err(CoreError::Source(format!(
            "{rel} is not the regular file the checked-out commit holds"
        )));
    }
    let stat = FileStat::of(&meta);
    let read = reader
        .read(file, rel, stat.size)
        .map_err(|e| CoreError::io(&path, e))?;
    Ok(read.into_file(rel.to_string(), stat))
}

/// What the walk found besides regular files, in digest order.
enum Line {
    Link(String, String),
    Other(String),
}

impl Line {
    fn path(&self) -> &str {
        match self {
            Line::Link(path, _) | Line::Other(path) => path,
        }
    }
}

/// How many entries a tree holds below its root: its directories, and everything else (files, links,
/// sockets, ...). Two trees of the same shape, one holding all of the other's paths, hold the same paths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub directories: u64,
    pub entries: u64,
}

/// What one walk of a tree gives: its digest, the table of its regular files and its shape.
#[derive(Debug)]
pub struct TreeTable {
    pub digest: String,
    pub files: SourceFiles,
    pub shape: Shape,
}

/// The tree digest and the table of its regular files, reading only files whose `stat` differs from
/// `previous`, and scanning those with `single_pass` from that read. The table lists every file a scanner
/// would read, `.git` included; the digest leaves out anything inside a `.git` (the repository's own
/// bookkeeping is not the tree).
pub fn tree_table(
    root: &Path,
    previous: &PreviousTable<'_>,
    single_pass: Option<&dyn SinglePass>,
) -> Result<TreeTable> {
    let walked = walk_tree(root, previous, single_pass)?;
    Ok(TreeTable {
        digest: walked.digest()?,
        files: walked.files,
        shape: walked.shape,
    })
}

/// What one walk of a tree found: the table of its regular files, everything else the tree holds, and its
/// shape. The digest is computed apart ([`Walked::digest`]): the preparer computes it while it encodes the
/// table for the scan cache.
pub struct Walked {
    pub files: SourceFiles,
    /// Links and other entries that are not regular files, in walk order.
    others: Vec<Line>,
    pub shape: Shape,
}

/// The walk [`tree_table`] makes, without the digest.
pub fn walk_tree(
    root: &Path,
    previous: &PreviousTable<'_>,
    single_pass: Option<&dyn SinglePass>,
) -> Result<Walked> {
    let walk = parallel_walk(root, previous, single_pass)?;
    let shape = Shape {
        directories: walk.directories,
        entries: (walk.files.len() + walk.others.len()) as u64,
    };
    Ok(Walked {
        files: SourceFiles {
            lineage: String::new(),
            files: walk.files,
            digests_reused: walk.reused,
            bytes_read: walk.bytes_read,
            settled_before_ns: None,
            single_pass: single_pass.map(|pass| pass.scope().to_string()),
        },
        others: walk.others,
        shape,
    })
}

impl Walked {
    /// The tree digest: one line per entry outside `.git`, in walk order (`f <path>\0<sha256>`,
    /// `l <path>\0<target>`, `o <path>\0`).
    pub fn digest(&self) -> Result<String> {
        let mut hasher = Sha256::new();
        let mut line = Vec::new();
        let mut others = self.others.iter().peekable();
        for file in &self.files.files {
            while let Some(other) = others.next_if(|o| walk_order(o.path(), &file.path).is_lt()) {
                hash_entry(&mut hasher, &mut line, other);
            }
            hash_file(&mut hasher, &mut line, file)?;
        }
        for other in others {
            hash_entry(&mut hasher, &mut line, other);
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

/// Adds the digest line of `file` (none inside `.git`), put together in `line` and hashed at once.
fn hash_file(hasher: &mut Sha256, line: &mut Vec<u8>, file: &SourceFile) -> Result<()> {
    if in_git(&file.path) {
        return Ok(());
    }
    let mut hex_digest = [0u8; 64];
    hex::encode_to_slice(file.sha256.as_bytes(), &mut hex_digest)
        .map_err(|e| CoreError::Source(format!("tree digest: {e}")))?;
    hash_line(
        hasher,
        line,
        &[b"f ", file.path.as_bytes(), b"\0", &hex_digest, b"\n"],
    );
    Ok(())
}

/// Adds the digest line of a link or a special file (none inside `.git`).
fn hash_entry(hasher: &mut Sha256, line: &mut Vec<u8>, entry: &Line) {
    match entry {
        _ if in_git(entry.path()) => {}
        Line::Link(rel, target) => hash_line(
            hasher,
            line,
            &[b"l ", rel.as_bytes(), b"\0", target.as_bytes(), b"\n"],
        ),
        Line::Other(rel) => hash_line(hasher, line, &[b"o ", rel.as_bytes(), b"\0\n"]),
    }
}

fn hash_line(hasher: &mut Sha256, line: &mut Vec<u8>, parts: &[&[u8]]) {
    line.clear();
    for part in parts {
        line.extend_from_slice(part);
    }
    hasher.update(&line);
}

/// Read buffer of each hashing thread, reused from file to file.
const READ_BUFFER: usize = 256 * 1024;

/// Whether `path` lies inside (or is) a `.git` entry, at any depth.
fn in_git(path: &str) -> bool {
    path.contains(".git") && path.split('/').any(|part| part == ".git")
}

/// What one walk found, in walk order.
#[derive(Default)]
struct Walk {
    files: Vec<SourceFile>,
    others: Vec<Line>,
    directories: u64,
    reused: u64,
    bytes_read: u64,
}

/// Directories waiting to be read, and how many are being read.
struct Queue {
    waiting: Vec<String>,
    busy: usize,
    failed: bool,
}

/// Reads the tree on every core: each thread takes a directory, reads its entries (their types come with
/// them), stats its files and hashes those whose `stat` differs from `previous`, and queues its
/// subdirectories; once the tree is read, each thread puts what it found in walk order, and the parts are
/// merged. Never follows a link.
fn parallel_walk(
    root: &Path,
    previous: &PreviousTable<'_>,
    single_pass: Option<&dyn SinglePass>,
) -> Result<Walk> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16);
    let queue = Mutex::new(Queue {
        waiting: vec![String::new()],
        busy: 0,
        failed: false,
    });
    let ready = Condvar::new();
    let results: Mutex<Vec<Result<Walk>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let walked =
                    walk_worker(root, previous, single_pass, &queue, &ready).map(|mut walk| {
                        walk.files
                            .sort_unstable_by(|a, b| walk_order(&a.path, &b.path));
                        walk.others
                            .sort_unstable_by(|a, b| walk_order(a.path(), b.path()));
                        walk
                    });
                if walked.is_err() {
                    if let Ok(mut q) = queue.lock() {
                        q.failed = true;
                    }
                    ready.notify_all();
                }
                if let Ok(mut all) = results.lock() {
                    all.push(walked);
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| CoreError::Source("a thread reading the tree failed".into()))?;
    if results.len() != threads {
        return Err(CoreError::Source("a thread reading the tree failed".into()));
    }
    let mut walk = Walk::default();
    for part in results {
        let part = part?;
        walk.files = merged(std::mem::take(&mut walk.files), part.files, |f| &f.path);
        walk.others = merged(std::mem::take(&mut walk.others), part.others, Line::path);
        walk.directories += part.directories;
        walk.reused += part.reused;
        walk.bytes_read += part.bytes_read;
    }
    Ok(walk)
}

fn walk_worker(
    root: &Path,
    previous: &PreviousTable<'_>,
    single_pass: Option<&dyn SinglePass>,
    queue: &Mutex<Queue>,
    ready: &Condvar,
) -> Result<Walk> {
    let poisoned = || CoreError::Source("a thread reading the tree failed".into());
    let mut walk = Walk::default();
    let mut reader = Reader::new(single_pass);
    let mut beneath = Beneath::new(root);
    loop {
        let dir = {
            let mut q = queue.lock().map_err(|_| poisoned())?;
            loop {
                if q.failed {
                    return Ok(walk);
                }
                if let Some(dir) = q.waiting.pop() {
                    q.busy += 1;
                    break dir;
                }
                if q.busy == 0 {
                    return Ok(walk);
                }
                q = ready.wait(q).map_err(|_| poisoned())?;
            }
        };
        let found = read_directory(&mut beneath, &dir, previous, &mut reader, &mut walk);
        let mut q = queue.lock().map_err(|_| poisoned())?;
        q.busy -= 1;
        match found {
            Ok(subdirectories) => q.waiting.extend(subdirectories),
            Err(e) => {
                q.failed = true;
                ready.notify_all();
                return Err(e);
            }
        }
        ready.notify_all();
    }
}

/// One directory's entries into `walk`; returns its subdirectories. The directory is listed, and its files
/// stated and opened, through the descriptors of the directories above it ([`Beneath`]): a directory swapped
/// for a link while the tree is read is refused, never listed or read through.
fn read_directory(
    beneath: &mut Beneath,
    dir: &str,
    previous: &PreviousTable<'_>,
    reader: &mut Reader<'_>,
    walk: &mut Walk,
) -> Result<Vec<String>> {
    let abs = beneath.root().join(dir);
    let unreadable = |e: std::io::Error| {
        CoreError::Source(format!("cannot read the tree: {}: {e}", abs.display()))
    };
    let mut subdirectories = Vec::new();
    let mut listing = beneath.list(OsStr::new(dir)).map_err(unreadable)?;
    while let Some(entry) = listing.next() {
        let (name, kind) = entry.map_err(unreadable)?;
        let shown = name.to_string_lossy();
        let rel = if dir.is_empty() {
            shown.into_owned()
        } else {
            format!("{dir}/{shown}")
        };
        let path = || abs.join(&name);
        match kind {
            Kind::Directory => {
                walk.directories += 1;
                subdirectories.push(rel);
            }
            Kind::File => {
                // With no table to keep digests from, every file is read: opened first, its `stat` comes
                // from the descriptor, one lookup of its name instead of two.
                let (stat, opened) = if previous.is_empty() {
                    let file = listing
                        .open(&name)
                        .map_err(|e| unreadable_file(path(), e))?;
                    let stat =
                        rustix::fs::fstat(&file).map_err(|e| CoreError::io(path(), e.into()))?;
                    (stat, Some(file))
                } else {
                    let stat = listing.stat(&name).map_err(|e| CoreError::io(path(), e))?;
                    (stat, None)
                };
                if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                    return Err(CoreError::Source(format!(
                        "{rel} changed while the tree was read: no longer a regular file"
                    )));
                }
                let (file, reused, read) = describe(
                    &listing,
                    &name,
                    opened,
                    rel,
                    FileStat::of_stat(&stat),
                    previous,
                    reader,
                )
                .map_err(|e| unreadable_file(path(), e))?;
                walk.reused += u64::from(reused);
                walk.bytes_read += read;
                walk.files.push(file);
            }
            Kind::Link => {
                let target = listing
                    .read_link(&name)
                    .map_err(|e| CoreError::io(path(), e))?;
                walk.others
                    .push(Line::Link(rel, target.to_string_lossy().into_owned()));
            }
            Kind::Other => walk.others.push(Line::Other(rel)),
        }
    }
    Ok(subdirectories)
}

/// What failing to open or read the listed file at `path` means: a link found in its place (opening refuses to
/// follow it) is the tree changing under the walk, and said so.
fn unreadable_file(path: std::path::PathBuf, e: std::io::Error) -> CoreError {
    match rustix::io::Errno::from_io_error(&e) {
        Some(rustix::io::Errno::LOOP) => CoreError::Source(format!(
            "{} changed while the tree was read: a link in place of a file, not followed",
            path.display()
        )),
        _ => CoreError::io(path, e),
    }
}

/// The file `name` (at `rel`) of the directory being listed, with its `stat` and digest: the previous digest
/// when the `stat` matches, else its bytes hashed (and scanned by the reader's single pass) from the file
/// already opened, if it was, else opened now. Returns also whether the digest was reused and the bytes read.
/// A file swapped for a link after it was listed is refused, never followed.
fn describe(
    listing: &Listing,
    name: &OsStr,
    opened: Option<std::fs::File>,
    rel: String,
    stat: FileStat,
    previous: &PreviousTable<'_>,
    reader: &mut Reader<'_>,
) -> std::io::Result<(SourceFile, bool, u64)> {
    if let Some((sha256, binary)) = previous.known(&rel, &stat) {
        let file = SourceFile {
            path: rel,
            stat,
            sha256,
            binary,
            scanned: None,
        };
        return Ok((file, true, 0));
    }
    let file = match opened {
        Some(file) => file,
        None => listing.open(name)?,
    };
    let read = reader.read(file, &rel, stat.size)?;
    let (file, bytes) = read.into_file(rel, stat);
    Ok((file, false, bytes))
}

/// What one read of a file gave.
struct Hashed {
    sha256: Sha256Digest,
    /// A NUL among its first [`BINARY_HEAD`] bytes.
    binary: bool,
    bytes: u64,
    scanned: Option<Vec<u8>>,
}

impl Hashed {
    /// The table's record of the file at `path` whose `stat` is `stat`, and the bytes read.
    fn into_file(self, path: String, stat: FileStat) -> (SourceFile, u64) {
        let file = SourceFile {
            path,
            stat,
            sha256: self.sha256,
            binary: self.binary,
            scanned: self.scanned,
        };
        (file, self.bytes)
    }
}

/// Reads files for their digest with buffers reused from file to file; with a single pass, a text file within
/// its limit is read whole and handed to it once hashed (a binary one streams through as without).
struct Reader<'p> {
    buf: Vec<u8>,
    content: Vec<u8>,
    single_pass: Option<&'p dyn SinglePass>,
}

impl<'p> Reader<'p> {
    fn new(single_pass: Option<&'p dyn SinglePass>) -> Self {
        Self {
            buf: vec![0u8; READ_BUFFER],
            content: Vec::new(),
            single_pass,
        }
    }

    /// The digest of what `file` (at `path`, `size` bytes when listed) holds, and the single pass's results
    /// when it read all of it within the pass's limit and it is not binary.
    fn read(&mut self, file: std::fs::File, path: &str, size: u64) -> std::io::Result<Hashed> {
        match self.single_pass.filter(|pass| size <= pass.limit()) {
            Some(pass) => self.read_whole(&file, path, size, pass),
            None => hash(&file, &mut self.buf, Sha256::new(), 0, size),
        }
    }

    /// Text is read whole (up to one byte past its listed size, at most one past the limit) for the pass;
    /// binary content (a NUL among the first [`BINARY_HEAD`] bytes) is never held whole: the first read takes at
    /// most [`READ_BUFFER`] bytes, and a binary file's rest streams on through the read buffer, as does the rest
    /// of a file that grew since it was listed. A file that fits the first read costs one read ([`fill`]).
    fn read_whole(
        &mut self,
        file: &std::fs::File,
        path: &str,
        size: u64,
        pass: &dyn SinglePass,
    ) -> std::io::Result<Hashed> {
        let whole = pass.limit().saturating_add(1);
        let first = size
            .saturating_add(1)
            .clamp(BINARY_HEAD as u64, READ_BUFFER as u64)
            .min(whole);
        let held = size.saturating_add(1).min(whole).max(first);
        let content = sized(&mut self.content, held);
        let first = usize::try_from(first).unwrap_or(content.len());
        let (mut filled, mut ended) = fill(file, &mut content[..first], 0, size)?;
        let binary = content[..filled.min(BINARY_HEAD)].contains(&0);
        if !binary && !ended {
            let (more, end) = fill(file, &mut content[filled..], filled as u64, size)?;
            filled += more;
            ended = end;
        }
        let mut hasher = Sha256::new();
        hasher.update(&content[..filled]);
        if !ended {
            // Binary, or grown since it was listed: the rest is hashed, the file left to the tool.
            let rest = hash(file, &mut self.buf, hasher, filled as u64, size)?;
            return Ok(Hashed {
                binary: binary || rest.binary,
                ..rest
            });
        }
        Ok(Hashed {
            sha256: Sha256Digest::from(<[u8; 32]>::from(hasher.finalize())),
            binary,
            bytes: filled as u64,
            scanned: if binary {
                None
            } else {
                pass.scan(path, &content[..filled])
            },
        })
    }
}

/// `buffer`'s first `len` bytes (grown with zeroes once, then reused as they are: every byte used is read first).
fn sized(buffer: &mut Vec<u8>, len: u64) -> &mut [u8] {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if buffer.len() < len {
        buffer.resize(len, 0);
    }
    &mut buffer[..len]
}

/// Fills `buf` from `file`, of which `before` bytes were read already and whose listed size is `size`: how many
/// bytes it now holds, and whether the file ended. A read that falls short exactly at the listed size is the
/// end, the read that would see nothing more spared: a regular file's read falls short only at its end. After
/// any other short read, the next read says.
fn fill(
    mut file: &std::fs::File,
    buf: &mut [u8],
    before: u64,
    size: u64,
) -> std::io::Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        if filled < buf.len() && before + filled as u64 == size {
            return Ok((filled, true));
        }
    }
    Ok((filled, false))
}

/// The SHA-256 of what `hasher` has seen (`read` bytes) and then all `file` holds (listed at `size` bytes),
/// read through `buf`, and whether a NUL is among the first [`BINARY_HEAD`] bytes read here.
fn hash(
    file: &std::fs::File,
    buf: &mut [u8],
    mut hasher: Sha256,
    mut read: u64,
    size: u64,
) -> std::io::Result<Hashed> {
    let mut binary = false;
    loop {
        let (n, ended) = fill(file, buf, read, size)?;
        let head = BINARY_HEAD.saturating_sub(usize::try_from(read).unwrap_or(usize::MAX));
        binary = binary || buf[..n.min(head)].contains(&0);
        hasher.update(&buf[..n]);
        read += n as u64;
        if ended {
            break;
        }
    }
    Ok(Hashed {
        sha256: Sha256Digest::from(<[u8; 32]>::from(hasher.finalize())),
        binary,
        bytes: read,
        scanned: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single pass that keeps the whole content it is given, so a test sees what was read.
    struct Keeps;

    impl SinglePass for Keeps {
        fn scope(&self) -> &str {
            "keeps"
        }
        fn limit(&self) -> u64 {
            300_000
        }
        fn scan(&self, _path: &str, content: &[u8]) -> Option<Vec<u8>> {
            Some(content.to_vec())
        }
    }

    #[test]
    fn a_file_is_read_to_its_end_whatever_size_it_was_listed_at() {
        let dir = tempfile::tempdir().unwrap();
        let digest = |bytes: &[u8]| Sha256Digest::from(<[u8; 32]>::from(Sha256::digest(bytes)));
        let pass = Keeps;
        let mut reader = Reader::new(Some(&pass));
        let mut plain = Reader::new(None);
        // Sizes around the first read, the read buffer and the pass's limit.
        let lengths = [
            0,
            1,
            100,
            BINARY_HEAD,
            READ_BUFFER - 1,
            READ_BUFFER,
            READ_BUFFER + 1,
            299_999,
            300_000,
            300_001,
            700_000,
        ];
        for (n, len) in lengths.into_iter().enumerate() {
            let bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let path = dir.path().join(format!("f{n}"));
            std::fs::write(&path, &bytes).unwrap();
            // Listed at its size, smaller (it grew since) and larger (it shrank since).
            for listed in [len as u64, (len as u64).saturating_sub(7), len as u64 + 7] {
                let open = || std::fs::File::open(&path).unwrap();
                let read = reader.read(open(), "f", listed).unwrap();
                assert_eq!(
                    (read.sha256, read.bytes),
                    (digest(&bytes), len as u64),
                    "{len} listed {listed}"
                );
                // The pass sees the whole file when it was read whole within its limit.
                if let Some(content) = &read.scanned {
                    assert_eq!(content, &bytes, "{len} listed {listed}");
                }
                // A file as listed within the limit is always handed to the pass; one past the limit never.
                if listed == len as u64 && listed <= pass.limit() {
                    assert!(read.scanned.is_some(), "{len}");
                }
                if len as u64 > pass.limit() {
                    assert!(read.scanned.is_none(), "{len} listed {listed}");
                }
                let streamed = plain.read(open(), "f", listed).unwrap();
                assert_eq!(
                    (streamed.sha256, streamed.bytes),
                    (digest(&bytes), len as u64)
                );
            }
        }
    }

    /// The digest is SHA-256 over one line per entry outside `.git`, in walk order, whatever the kind: files,
    /// links and other entries interleave by path.
    #[cfg(unix)]
    #[test]
    fn the_digest_is_the_documented_lines_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/.git")).unwrap();
        std::fs::write(root.join("a/.git/HEAD"), "ref").unwrap();
        std::fs::write(root.join("a/b.txt"), "b").unwrap();
        std::os::unix::fs::symlink("b.txt", root.join("a/c")).unwrap();
        std::fs::write(root.join("a/d.txt"), "d").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("a/e"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        std::fs::write(root.join("a-z.txt"), "z").unwrap();
        let sha = |text: &str| hex::encode(Sha256::digest(text));
        let lines = [
            format!("f a/b.txt\0{}\n", sha("b")),
            "l a/c\0b.txt\n".to_string(),
            format!("f a/d.txt\0{}\n", sha("d")),
            "o a/e\0\n".to_string(),
            format!("f a-z.txt\0{}\n", sha("z")),
        ];
        assert_eq!(tree_digest(root).unwrap(), sha(&lines.concat()));
    }

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
    /// While a thread swaps a directory for a link to a directory outside the tree and back, every digest the
    /// walk gives is the tree's with the directory or with the link in its place, never one of a tree that
    /// lists what lies outside (the walk fails instead when it meets the link where it listed a directory).
    #[cfg(unix)]
    #[test]
    fn a_directory_swapped_for_a_link_while_the_tree_is_read_is_never_listed_through() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("tree"), dir.path().join("outside"));
        for n in 0..40 {
            let sub = root.join(format!("app/sub{n:02}"));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::write(sub.join("f.txt"), "inside").unwrap();
        }
        // Files beside `app`, read before the walk takes up the directories it listed: time for a swap.
        for n in 0..200 {
            std::fs::write(root.join(format!("r{n:03}.txt")), "beside").unwrap();
        }
        // Outside: no file to refuse, only what a listing would record as it is, a directory and a link.
        std::fs::create_dir_all(outside.join("empty")).unwrap();
        std::os::unix::fs::symlink("../../elsewhere", outside.join("planted")).unwrap();
        // The swap is atomic (`renameat2` exchanging the two names): the tree always holds one or the other.
        let (app, spare) = (root.join("app"), dir.path().join("spare"));
        std::os::unix::fs::symlink(&outside, &spare).unwrap();
        let swap = || {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &app,
                rustix::fs::CWD,
                &spare,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .unwrap();
        };
        let with_directory = tree_digest(&root).unwrap();
        swap();
        let with_link = tree_digest(&root).unwrap();
        swap();
        let stop = AtomicBool::new(false);
        let mut digests = Vec::new();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    swap();
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            });
            digests.extend((0..300).map(|_| tree_digest(&root).ok()));
            stop.store(true, Ordering::Relaxed);
        });
        let as_directory = digests
            .iter()
            .flatten()
            .filter(|d| **d == with_directory)
            .count();
        let refused = digests.iter().filter(|d| d.is_none()).count();
        for digest in digests.iter().flatten() {
            assert!(
                digest == &with_directory || digest == &with_link,
                "a tree that is neither"
            );
        }
        // The race was run: walks read the directory whole, and walks met it swapped.
        assert!(as_directory > 0 && refused > 0, "{as_directory} {refused}");
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    /// A link where a file was listed is refused when opened, and the error says the tree changed.
    #[test]
    fn a_link_opened_in_place_of_a_listed_file_is_named_as_the_tree_changing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("swapped")).unwrap();
        let mut beneath = Beneath::new(dir.path());
        let listing = beneath.list(OsStr::new("")).unwrap();
        let refused = listing.open(OsStr::new("swapped")).unwrap_err();
        let said = unreadable_file(dir.path().join("swapped"), refused).to_string();
        assert!(said.contains("changed while the tree was read"), "{said}");
        let missing = listing.open(OsStr::new("gone")).unwrap_err();
        let said = unreadable_file(dir.path().join("gone"), missing).to_string();
        assert!(!said.contains("changed while"), "{said}");
    }

    #[test]
    fn a_changed_path_is_read_beneath_the_tree_only_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let (tree, outside) = (dir.path().join("tree"), dir.path().join("outside"));
        std::fs::create_dir_all(tree.join("src")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(tree.join("src/a.py"), "inside").unwrap();
        std::fs::write(outside.join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), tree.join("file-link")).unwrap();
        let mut reader = Reader::new(None);
        let (file, read) = read_tracked(&mut Beneath::new(&tree), "src/a.py", &mut reader).unwrap();
        assert_eq!((file.path.as_str(), read), ("src/a.py", 6));
        for hostile in [
            "../outside/secret",
            "src/../../outside/secret",
            "linked/secret",
            "file-link",
            "/etc/passwd",
            "src//a.py",
            "./src/a.py",
            "src",
            "",
        ] {
            assert!(
                read_tracked(&mut Beneath::new(&tree), hostile, &mut reader).is_err(),
                "{hostile} was read"
            );
        }
    }

    #[test]
    fn files_come_in_walk_order_whatever_thread_read_them() {
        let dir = tempfile::tempdir().unwrap();
        for (n, rel) in [
            "a/b",
            "a-b/c",
            "a.txt",
            "ab",
            "a/b2/deep/x",
            "a/b2/deep.txt",
            "z",
            "0/1",
            "A/B",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, n.to_string()).unwrap();
        }
        for n in 0..300 {
            let path = dir.path().join(format!("wide/d{}/f{n}", n % 17));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, n.to_string()).unwrap();
        }
        // The order of a sequential walk that sorts each directory by name.
        let expected: Vec<String> = walkdir::WalkDir::new(dir.path())
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let table = tree_table(dir.path(), &PreviousTable::default(), None)
            .unwrap()
            .files;
        let listed: Vec<String> = table.files.into_iter().map(|f| f.path).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn a_file_is_binary_when_a_nul_is_among_its_first_bytes_and_a_reused_entry_keeps_what_was_seen()
    {
        let paths = Paths::default();
        let dir = tempfile::tempdir().unwrap();
        let mut late = vec![b'x'; BINARY_HEAD + 100];
        late[BINARY_HEAD - 1] = 0;
        let mut past = vec![b'x'; BINARY_HEAD + 100];
        past[BINARY_HEAD] = 0;
        for (name, bytes) in [
            ("late.bin", &late[..]),
            ("past.txt", &past[..]),
            ("empty", b""),
            ("nul", b"\0"),
            ("text.txt", b"hello"),
        ] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let binary = |table: &SourceFiles| -> Vec<(String, bool)> {
            table
                .files
                .iter()
                .map(|f| (f.path.clone(), f.binary))
                .collect()
        };
        let first = tree_table(dir.path(), &PreviousTable::default(), None)
            .unwrap()
            .files;
        assert_eq!(
            binary(&first),
            [
                ("empty", false),
                ("late.bin", true),
                ("nul", true),
                ("past.txt", false),
                ("text.txt", false)
            ]
            .map(|(path, binary)| (path.to_string(), binary))
        );
        let stored = encode_table(&first, None);
        let again = tree_table(
            dir.path(),
            &PreviousTable::decode(&stored, None, &paths),
            None,
        )
        .unwrap()
        .files;
        assert_eq!((again.digests_reused, again.bytes_read), (5, 0));
        assert_eq!(binary(&again), binary(&first));
    }

    /// What a move checks before it writes: each path it changes is a recorded file with its `stat`, or no
    /// regular file where the table records none.
    #[test]
    fn a_table_holds_a_changed_path_only_as_it_recorded_it() {
        let paths = Paths::default();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        // `src-x.txt` and `src.txt` come after `src/` in walk order, before it in byte order.
        for rel in [
            "a.txt",
            "src/b.py",
            "src/deep/c.rs",
            "gone.txt",
            "src-x.txt",
            "src.txt",
        ] {
            std::fs::write(root.join(rel), rel).unwrap();
        }
        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        let walked = tree_table(root, &PreviousTable::default(), None).unwrap();
        let stored = encode_table(&walked.files, None);
        let table = PreviousTable::decode(&stored, None, &paths);
        std::fs::remove_file(root.join("gone.txt")).unwrap();
        // Rewritten in place, as something other than git would.
        std::fs::write(root.join("src/b.py"), "changed behind git's back").unwrap();
        std::fs::write(root.join("stray.txt"), "written beside git").unwrap();
        let holds = |rel: &str| {
            let change = Change {
                path: rel.to_string(),
                file: true,
            };
            table.holds(root, &[change])
        };
        for (rel, held) in [
            ("a.txt", true),
            ("src/deep/c.rs", true),
            ("src-x.txt", true),
            ("src.txt", true),
            ("new/file.txt", true),
            ("a.txt/under-a-file", true),
            ("link", true),
            ("src/deep", true),
            ("src/b.py", false),
            ("gone.txt", false),
            ("stray.txt", false),
            ("../a.txt", false),
        ] {
            assert_eq!(holds(rel), held, "{rel}");
        }
        let both = ["a.txt", "src/b.py"].map(|rel| Change {
            path: rel.to_string(),
            file: true,
        });
        assert!(!table.holds(root, &both));
    }

    #[test]
    fn the_table_digest_is_the_tree_digest_and_unchanged_files_are_not_reread() {
        let paths = Paths::default();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.py"), "x").unwrap();
        std::fs::write(dir.path().join("b.txt"), "hello").unwrap();
        std::os::unix::fs::symlink("b.txt", dir.path().join("link")).unwrap();
        let TreeTable {
            digest,
            files: table,
            shape,
        } = tree_table(dir.path(), &PreviousTable::default(), None).unwrap();
        assert_eq!(
            shape,
            Shape {
                directories: 1,
                entries: 3
            }
        );
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
        assert_eq!(
            (table.files.len(), table.digests_reused, table.bytes_read),
            (2, 0, 6)
        );
        let stored = encode_table(&table, None);
        let previous = PreviousTable::decode(&stored, None, &paths);
        assert_eq!(previous.len(), 2);
        // Rewritten through a new inode, as an editor or a checkout does.
        std::fs::write(dir.path().join("src/a.new"), "yy").unwrap();
        std::fs::rename(dir.path().join("src/a.new"), dir.path().join("src/a.py")).unwrap();
        let TreeTable {
            digest,
            files: table,
            ..
        } = tree_table(dir.path(), &previous, None).unwrap();
        assert_eq!(digest, tree_digest(dir.path()).unwrap());
        assert_eq!((table.digests_reused, table.bytes_read), (1, 2));
        // A stored table whose listing was altered is not trusted.
        let mut altered = encode_table(&table, None);
        let at = altered.len() - 10;
        altered[at] = if altered[at] == b'a' { b'b' } else { b'a' };
        assert!(PreviousTable::decode(&altered, None, &paths).is_empty());
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/config"), "[remote]").unwrap();
        let TreeTable {
            digest: with_git,
            files: table,
            shape,
        } = tree_table(dir.path(), &previous, None).unwrap();
        assert_eq!(
            shape,
            Shape {
                directories: 2,
                entries: 4
            },
            "the shape counts what the digest leaves out"
        );
        assert_eq!(
            with_git, digest,
            "a .git directory is not part of the tree digest"
        );
        assert!(
            table.files.iter().any(|f| f.path == ".git/config"),
            "but its files are listed for the scanners that read them"
        );
    }

    /// Each file of a table as a stored table records it, to compare tables whatever built them.
    fn entries(table: &PreviousTable<'_>) -> Vec<(String, FileStat, Known)> {
        let files = table.files.iter();
        files
            .map(|e| (e.path.to_string(), e.stat, e.known))
            .collect()
    }

    fn entries_of(table: &SourceFiles) -> Vec<(String, FileStat, Known)> {
        let files = table.files.iter();
        files
            .map(|f| (f.path.clone(), f.stat, (f.sha256, f.binary)))
            .collect()
    }

    fn delta(keeping: Keeping) -> Vec<u8> {
        match keeping {
            Keeping::Delta(bytes) => bytes,
            Keeping::Base(_) => panic!("a new base where a delta was expected"),
        }
    }

    #[test]
    fn a_table_keeps_its_changes_as_a_delta_bound_to_its_base_until_they_outgrow_it() {
        let paths = Paths::default();
        let dir = tempfile::tempdir().unwrap();
        for d in ["a", "b", "b/c"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            for n in 0..40 {
                std::fs::write(dir.path().join(format!("{d}/f{n}.txt")), format!("{d} {n}"))
                    .unwrap();
            }
        }
        let first = tree_table(dir.path(), &PreviousTable::default(), None)
            .unwrap()
            .files;
        let base = encode_table(&first, Some("c0"));
        let previous = PreviousTable::decode(&base, None, &paths);
        // Rewritten (a new inode), removed, added: in several directories.
        for (path, text) in [
            ("a/f3.txt", "new"),
            ("b/c/f39.txt", "new too"),
            ("b/new.txt", "added"),
        ] {
            std::fs::write(dir.path().join("tmp"), text).unwrap();
            std::fs::rename(dir.path().join("tmp"), dir.path().join(path)).unwrap();
        }
        std::fs::remove_file(dir.path().join("a/f0.txt")).unwrap();
        std::fs::remove_file(dir.path().join("b/f7.txt")).unwrap();
        let second = tree_table(dir.path(), &previous, None).unwrap().files;
        let first_delta = delta(previous.keeping(&second, Some("c1")));
        assert!(
            first_delta.len() * 10 < base.len(),
            "five changes of 120 files"
        );
        let read = PreviousTable::decode(&base, Some(&first_delta), &paths);
        assert_eq!(
            (read.commit(), entries(&read)),
            (Some("c1"), entries_of(&second))
        );
        let again = tree_table(dir.path(), &read, None).unwrap().files;
        assert_eq!((again.digests_reused, again.bytes_read), (119, 0));

        // The next delta is still bound to the base and holds every change since it, removals included.
        std::fs::write(dir.path().join("tmp"), "third").unwrap();
        std::fs::rename(dir.path().join("tmp"), dir.path().join("a/f5.txt")).unwrap();
        let third = tree_table(dir.path(), &read, None).unwrap().files;
        let second_delta = delta(read.keeping(&third, Some("c2")));
        let read = PreviousTable::decode(&base, Some(&second_delta), &paths);
        assert_eq!(
            (read.commit(), entries(&read)),
            (Some("c2"), entries_of(&third))
        );
        assert!(!read
            .files
            .iter()
            .any(|e| e.path == "a/f0.txt" || e.path == "b/f7.txt"));

        // A delta bound to another base, damaged, or out of walk order is not applied.
        let other = encode_table(&first, Some("other"));
        let unbound = PreviousTable::decode(&other, Some(&second_delta), &paths);
        assert_eq!(
            (unbound.commit(), entries(&unbound)),
            (Some("other"), entries_of(&first))
        );
        let mut damaged = second_delta.clone();
        let at = damaged.len() / 2;
        damaged[at] ^= 1;
        assert_eq!(
            PreviousTable::decode(&base, Some(&damaged), &paths).commit(),
            Some("c0")
        );
        let mut unordered = IndexWriter::new(IndexKind::FileTableDelta, 0);
        unordered.raw(base[base.len() - 32..].try_into().unwrap());
        unordered.str("c9");
        unordered.u64(2);
        write_entries(
            &mut unordered,
            [&third.files[1], &third.files[0]]
                .into_iter()
                .map(Entry::of),
        );
        unordered.u64(0);
        let unordered = unordered.finish();
        assert_eq!(
            PreviousTable::decode(&base, Some(&unordered), &paths).commit(),
            Some("c0")
        );

        // Once the changes outgrow a quarter of the base (and the floor), the table is kept whole again.
        let many = |stamp: i64| SourceFiles {
            lineage: String::new(),
            files: (0..6_000)
                .map(|n| SourceFile {
                    path: format!("d/{n:05}"),
                    stat: FileStat {
                        size: 1,
                        mtime_ns: stamp,
                        ctime_ns: stamp,
                        inode: n,
                    },
                    sha256: Sha256Digest::from([7; 32]),
                    binary: false,
                    scanned: None,
                })
                .collect(),
            ..SourceFiles::default()
        };
        let big = encode_table(&many(1), None);
        let previous = PreviousTable::decode(&big, None, &paths);
        match previous.keeping(&many(2), None) {
            Keeping::Base(bytes) => {
                assert_eq!(
                    entries(&PreviousTable::decode(&bytes, None, &paths)),
                    entries_of(&many(2))
                );
            }
            Keeping::Delta(_) => panic!("every entry changed: a new base"),
        }
    }
}
