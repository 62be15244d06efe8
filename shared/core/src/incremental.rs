//! Content-addressed incremental scans (docs/incremental-scans.md).
//!
//! Source preparation lists every regular file of the prepared tree with what `stat` says of it and the
//! SHA-256 of its bytes ([`SourceFiles`]); in a directory kept between scans, a file whose (path, size,
//! mtime, ctime, inode) match the previous table keeps the digest recorded then and is not read. A per-file
//! tool keeps one [`ResultIndex`] per (scope, lineage): the scope digests the tool id, its version, its rule
//! set and the running executable; the lineage names the tree, bound to the tenant ([`Incremental::new`]).
//! Each entry holds one file's results keyed by its path and content digest and carries its own digest; an
//! entry that fails that check is discarded and the file rescanned. The results of unchanged files live in
//! the index itself: a base of every file's entry, and a delta bound to that base holding the entries that
//! differ from it since ([`Previous`], [`Keeping`]). A rescan reads both and writes only the delta, until the
//! delta outgrows a quarter of the base and a new base is written instead; whatever the tree size that is two
//! reads and one write (on an object store: O(1) requests) — the [`ScanCache`] port. Tables and indexes share
//! one compact binary layout ([`IndexWriter`], [`IndexReader`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::digest::{sha256_hex, Sha256Digest};
use crate::error::Result;

/// Bumped when the layout of an index or of its entries changes: older indexes are then never read.
pub const INDEX_FORMAT: u32 = 6;

/// Bytes at the head of a file among which a NUL byte makes its content binary (the secrets engine's test).
pub const BINARY_HEAD: usize = 8 * 1024;

/// What `stat` says of a file that changes when its bytes are rewritten: size, modification and change times
/// (ns since the epoch) and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

impl FileStat {
    /// `meta` from a `stat` that does not follow links, or from an open file's `fstat`.
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
            inode: meta.ino(),
        }
    }

    /// What `stat` said, as the system call gives it (not following a link).
    #[cfg(unix)]
    pub fn of_stat(stat: &rustix::fs::Stat) -> Self {
        let ns = |seconds: i64, nanoseconds| {
            seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::try_from(nanoseconds).unwrap_or(0))
        };
        Self {
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime_ns: ns(stat.st_mtime, stat.st_mtime_nsec),
            ctime_ns: ns(stat.st_ctime, stat.st_ctime_nsec),
            inode: stat.st_ino,
        }
    }

    /// Without an inode and ctime an unchanged `stat` is no evidence: see [`FileStat::same`].
    #[cfg(not(unix))]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: 0,
            ctime_ns: 0,
            inode: 0,
        }
    }

    /// Whether both describe the same file content; never on a system without inodes and ctimes.
    pub fn same(&self, other: &FileStat) -> bool {
        cfg!(unix) && self == other
    }
}

/// One regular file of a prepared tree: its `/`-separated path, what `stat` said, the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub stat: FileStat,
    pub sha256: Sha256Digest,
    /// Whether a NUL byte is among its first [`BINARY_HEAD`] bytes, seen in the read that gave the digest: a
    /// tool that never scans binary content need not open the file again.
    pub binary: bool,
    /// The results the table's single-pass tool ([`SourceFiles::single_pass`]) computed from the read that gave
    /// the digest, as it keeps them in a cache entry; `None` when the file was not read then, or that tool
    /// left it to be scanned on its own (binary content, over its size limit).
    pub scanned: Option<Vec<u8>>,
}

/// A per-file tool that scans each file source preparation reads from the very bytes read to hash it, so that a
/// full scan reads every file once ([`SourceFile::scanned`]).
pub trait SinglePass: Send + Sync {
    /// The scope the tool keeps its results under ([`scope`]): only the tool running under it uses them.
    fn scope(&self) -> &str;
    /// The largest file (bytes) whose content the tool scans: a larger one is hashed without being kept whole.
    fn limit(&self) -> u64;
    /// The results, as the tool keeps them in a cache entry, of the file at `path` whose whole content is
    /// `content`; `None` leaves the file to the tool.
    fn scan(&self, path: &str, content: &[u8]) -> Option<Vec<u8>>;
}

/// What a per-file tool's results for one file were computed from.
#[derive(Debug)]
pub enum Basis {
    /// The file as the tool opened and read it: what `fstat` said of it once it was read.
    Opened(std::fs::Metadata),
    /// The table's record of the file alone (its digest and [`SourceFile::binary`] come from one read).
    Table,
    /// Not known: the path is `stat`-ed when it matters.
    Unknown,
}

/// Every regular file of a prepared tree, in [`walk_order`], and how it was obtained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    /// Names the tree across scans (a digest of the directory's path): whose previous results apply.
    pub lineage: String,
    pub files: Vec<SourceFile>,
    /// Files whose digest came from the previous scan's table (not read).
    pub digests_reused: u64,
    /// Bytes read to compute the other digests.
    pub bytes_read: u64,
    /// For a tree others may write while it is scanned (a directory source): the instant (ns since the epoch)
    /// from which a file's `stat` no longer proves its content, because a second write within one timestamp
    /// tick leaves it unchanged. A file modified at or after it, or whose `stat` changed after the table
    /// listed it, has its results used by this scan but never kept for another ([`SourceFiles::keeps`]).
    /// `None` for a tree this run created (a checkout, an extracted archive), which nothing else writes.
    pub settled_before_ns: Option<i64>,
    /// The scope of the [`SinglePass`] tool whose results the files carry ([`SourceFile::scanned`]).
    pub single_pass: Option<String>,
}

/// Whether the results a tool computed from a file's bytes may be kept under the digest the table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Yes,
    /// Modified too recently for its `stat` to prove that its content is the one hashed.
    Recent,
    /// Its `stat` changed after the table listed it: the bytes the tool read may not be the ones hashed.
    Changed,
}

impl SourceFiles {
    /// Whether `file` (of this table) was last modified before [`SourceFiles::settled_before_ns`].
    pub fn settled(&self, file: &SourceFile) -> bool {
        self.settled_before_ns
            .is_none_or(|before| file.stat.mtime_ns < before && file.stat.ctime_ns < before)
    }

    /// Whether results just computed for `file` (under `root`) from `basis` may be kept under its digest: in a
    /// tree others may write, only when it is settled and the results describe the content the table holds:
    /// computed from the table's record alone, or from a read of the file whose `stat` is still the table's
    /// (without one, the path is `stat`-ed now).
    pub fn keeps(&self, root: &Path, file: &SourceFile, basis: &Basis) -> Keep {
        if self.settled_before_ns.is_none() {
            return Keep::Yes;
        }
        if !self.settled(file) {
            return Keep::Recent;
        }
        let now = match basis {
            Basis::Table => return Keep::Yes,
            Basis::Opened(meta) => Some(FileStat::of(meta)),
            Basis::Unknown => std::fs::symlink_metadata(root.join(&file.path))
                .ok()
                .map(|meta| FileStat::of(&meta)),
        };
        match now {
            Some(now) if now.same(&file.stat) => Keep::Yes,
            _ => Keep::Changed,
        }
    }
}

/// Where indexes live between scans: a private directory locally, the work bucket on AWS.
#[async_trait]
pub trait ScanCache: Send + Sync {
    /// The index the last scan of `lineage` left under `scope`; `None` when there is none.
    async fn index(&self, scope: &str, lineage: &str) -> Result<Option<Vec<u8>>>;
    /// Replaces that index (one object per scan and tool).
    async fn put_index(&self, scope: &str, lineage: &str, bytes: Vec<u8>) -> Result<()>;
}

/// What is kept under (`scope`, `lineage`): the base, and the delta beside it (whether that delta is bound to
/// this very base is the decoder's to check). Each read fails on its own: a delta that cannot be read costs
/// only what it covers.
pub struct Layers {
    pub base: Result<Option<Vec<u8>>>,
    pub delta: Result<Option<Vec<u8>>>,
}

impl Layers {
    /// Both layers, read together (on an object store, two requests in flight at once).
    pub async fn read(cache: &dyn ScanCache, scope: &str, lineage: &str) -> Self {
        let delta = delta_lineage(lineage);
        let (base, delta) = tokio::join!(cache.index(scope, lineage), cache.index(scope, &delta));
        Self { base, delta }
    }
}

impl Keeping {
    /// Writes what this says under (`scope`, `lineage`): a new base in its place, or the delta beside it.
    pub async fn write(self, cache: &dyn ScanCache, scope: &str, lineage: &str) -> Result<()> {
        match self {
            Keeping::Base(bytes) => cache.put_index(scope, lineage, bytes).await,
            Keeping::Delta(bytes) => cache.put_index(scope, &delta_lineage(lineage), bytes).await,
        }
    }
}

/// Where a store keeps the index of (`scope`, `lineage`), relative to its root: `<scope>/<lineage>.idx`. Both
/// must be SHA-256 digests in lowercase hex, so nothing a job submits shapes a path or an object key.
pub fn index_name(scope: &str, lineage: &str) -> Result<String> {
    for (field, value) in [("scope", scope), ("lineage", lineage)] {
        value.parse::<Sha256Digest>().map_err(|why| {
            crate::error::CoreError::Storage(format!("scan cache {field}: {why}"))
        })?;
    }
    Ok(format!("{scope}/{lineage}.idx"))
}

/// What a scan hands a per-file tool so that it can reuse results: the file table, the store, and the
/// lineage its results are kept under.
#[derive(Clone)]
pub struct Incremental {
    pub files: Arc<SourceFiles>,
    pub cache: Arc<dyn ScanCache>,
    /// The tree's lineage bound to the job's tenant and component: one tenant's scans never read or
    /// replace another's results.
    pub lineage: String,
}

impl Incremental {
    pub fn new(
        files: Arc<SourceFiles>,
        cache: Arc<dyn ScanCache>,
        tenant: Option<&str>,
        component: &str,
    ) -> Self {
        let lineage = sha256_hex(
            format!(
                "{}\0{}\0{component}\0{}",
                u8::from(tenant.is_some()),
                tenant.unwrap_or_default(),
                files.lineage
            )
            .as_bytes(),
        );
        Self {
            files,
            cache,
            lineage,
        }
    }
}

/// One file's results as a tool produced them (before fingerprint keying and policy), with its own digest.
/// From the cache, it borrows its results from the stored index and its path from the [`Paths`] it was read
/// into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultEntry<'a> {
    pub path: Cow<'a, str>,
    pub sha256: Sha256Digest,
    /// The tool's own encoding of what it found in the file; empty when it found nothing (most files).
    pub results: Cow<'a, [u8]>,
    /// SHA-256 over path, content digest and results: checked before the entry is used.
    pub digest: [u8; 32],
}

impl ResultEntry<'static> {
    pub fn new(path: &str, sha256: Sha256Digest, results: Vec<u8>) -> Self {
        let digest = entry_digest(path, &sha256, &results);
        Self {
            path: Cow::Owned(path.to_string()),
            sha256,
            results: Cow::Owned(results),
            digest,
        }
    }
}

impl ResultEntry<'_> {
    pub fn is_intact(&self) -> bool {
        entry_digest(&self.path, &self.sha256, &self.results) == self.digest
    }
}

fn entry_digest(path: &str, sha256: &Sha256Digest, results: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(sha256.as_bytes());
    hasher.update(results);
    hasher.finalize().into()
}

/// A tool's results for every file of one scan: the index the next scan of the same tree starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultIndex<'a> {
    pub scope: String,
    pub entries: Vec<ResultEntry<'a>>,
}

impl<'a> ResultIndex<'a> {
    /// The compact binary form the scan cache keeps ([`IndexWriter`]) of `entries` under `scope`.
    pub fn encode<'e, 'b: 'e>(
        scope: &str,
        entries: impl ExactSizeIterator<Item = &'e ResultEntry<'b>>,
    ) -> Vec<u8> {
        encode_entries(IndexKind::Results, scope, None, entries)
    }

    /// The index in `bytes` when it is whole, of this format and of `scope`; its entries are not checked
    /// yet. The entries borrow their results from `bytes` and their paths from `paths`.
    pub fn decode(bytes: &'a [u8], scope: &str, paths: &'a Paths) -> Option<Self> {
        let (_, entries) = decode_entries(bytes, IndexKind::Results, scope, paths)?;
        Some(Self {
            scope: scope.to_string(),
            entries,
        })
    }
}

/// The entries that differ from one base index (its trailing digest), in the same compact form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultDelta<'a> {
    pub base: [u8; 32],
    pub entries: Vec<ResultEntry<'a>>,
}

impl<'a> ResultDelta<'a> {
    pub fn encode<'e, 'b: 'e>(
        scope: &str,
        base: &[u8; 32],
        entries: impl ExactSizeIterator<Item = &'e ResultEntry<'b>>,
    ) -> Vec<u8> {
        encode_entries(IndexKind::ResultsDelta, scope, Some(base), entries)
    }

    /// The delta in `bytes` when it is whole, of this format and of `scope`; its entries are not checked yet.
    pub fn decode(bytes: &'a [u8], scope: &str, paths: &'a Paths) -> Option<Self> {
        match decode_entries(bytes, IndexKind::ResultsDelta, scope, paths)? {
            (Some(base), entries) => Some(Self { base, entries }),
            (None, _) => None,
        }
    }
}

/// Entries of `kind` under `scope`: a delta's (bound to `base`) or an index's (no base).
fn encode_entries<'e, 'b: 'e>(
    kind: IndexKind,
    scope: &str,
    base: Option<&[u8; 32]>,
    entries: impl ExactSizeIterator<Item = &'e ResultEntry<'b>>,
) -> Vec<u8> {
    let mut out = IndexWriter::new(kind, entries.len() * 88 + 32);
    out.str(scope);
    if let Some(base) = base {
        out.raw(base);
    }
    out.u64(entries.len() as u64);
    let mut previous = "";
    for entry in entries {
        out.path(previous, &entry.path);
        out.raw(entry.sha256.as_bytes());
        out.bytes(&entry.results);
        out.raw(&entry.digest);
        previous = &entry.path;
    }
    out.finish()
}

/// What [`encode_entries`] wrote, when whole, of `kind` and of `scope`: the base (a delta's) and the entries.
fn decode_entries<'a>(
    bytes: &'a [u8],
    kind: IndexKind,
    scope: &str,
    paths: &'a Paths,
) -> Option<(Option<[u8; 32]>, Vec<ResultEntry<'a>>)> {
    let mut input = IndexReader::open(bytes, kind)?;
    if input.str()? != scope {
        return None;
    }
    let base = match kind {
        IndexKind::ResultsDelta => Some(input.digest()?),
        IndexKind::Results | IndexKind::FileTable | IndexKind::FileTableDelta => None,
    };
    let count = input.count()?;
    let mut read = PathReader::new(&input);
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let path = read.next(&mut input)?;
        let sha256 = Sha256Digest::from(input.digest()?);
        entries.push((path, sha256, input.bytes()?, input.digest()?));
    }
    input.end().then_some(())?;
    let text = read.keep(paths)?;
    let entries = entries.into_iter().map(|(path, sha256, results, digest)| {
        Some(ResultEntry {
            path: Cow::Borrowed(text.get(path)?),
            sha256,
            results: Cow::Borrowed(results),
            digest,
        })
    });
    Some((base, entries.collect::<Option<_>>()?))
}

/// Where the delta of what is kept under (`scope`, `lineage`) — a tool's results, a tree's file table — is
/// kept: under the same scope, a lineage of its own.
pub fn delta_lineage(lineage: &str) -> String {
    sha256_hex(format!("certus-results-delta\0{lineage}").as_bytes())
}

/// A delta is rewritten whole on every rescan until it outgrows a quarter of its base, or this much.
const DELTA_FLOOR_BYTES: usize = 256 * 1024;

/// Whether a delta of `delta` bytes is still kept as one over a base of `base` bytes, rather than a new base
/// written whole.
pub fn delta_fits(delta: usize, base: usize) -> bool {
    delta <= (base / 4).max(DELTA_FLOOR_BYTES)
}

/// The previous results of a tool, ready for lookups: the base index, and the delta bound to it. Entries
/// borrow from the stored bytes and from the [`Paths`] they were read into.
#[derive(Debug, Default)]
pub struct Previous<'a> {
    base: Ordered<'a>,
    delta: Ordered<'a>,
    /// The base's own trailing digest, and its size: what a delta written next is bound to and measured by.
    base_digest: Option<[u8; 32]>,
    base_len: usize,
    /// Entries dropped because their digest did not check (or an index or delta could not be read at all: 1).
    pub discarded: u64,
}

/// Which part of the previous results an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Base,
    Delta,
}

impl<'a> Previous<'a> {
    /// The parsed results, their paths kept in `paths`; an unreadable or foreign base counts as one discarded
    /// entry and reuses nothing, and a delta counts only when it is bound to this very base.
    pub fn parse(
        base: Option<&'a [u8]>,
        delta: Option<&'a [u8]>,
        scope: &str,
        paths: &'a Paths,
    ) -> Self {
        let Some(bytes) = base else {
            return Self::default();
        };
        let Some(index) = ResultIndex::decode(bytes, scope, paths) else {
            return Self {
                discarded: 1,
                ..Self::default()
            };
        };
        let base_digest = IndexReader::seal(bytes);
        let (base, mut discarded) = Ordered::intact(index.entries);
        let delta = match delta.map(|bytes| ResultDelta::decode(bytes, scope, paths)) {
            Some(Some(delta)) if Some(delta.base) == base_digest => {
                let (delta, dropped) = Ordered::intact(delta.entries);
                discarded += dropped;
                delta
            }
            // Bound to an earlier base (a new one was written since): it says nothing about this one.
            Some(Some(_)) | None => Ordered::default(),
            Some(None) => {
                discarded += 1;
                Ordered::default()
            }
        };
        Self {
            base,
            delta,
            base_digest,
            base_len: bytes.len(),
            discarded,
        }
    }

    /// The intact entry recorded for this very file content at this path, the delta's before the base's, and
    /// which of the two it came from.
    pub fn reuse(&self, file: &SourceFile) -> Option<(&ResultEntry<'a>, Layer)> {
        let same = |entry: &&ResultEntry<'a>| entry.sha256 == file.sha256;
        let in_delta = self.delta.find(&file.path).filter(same);
        match in_delta {
            Some(entry) => Some((entry, Layer::Delta)),
            None => Some((self.base.find(&file.path).filter(same)?, Layer::Base)),
        }
    }

    /// What to keep of this scan's `entries` (each with whether it was reused from the base, in walk order):
    /// those that differ from the base, as a delta bound to it; or all of them as a new base when there is
    /// no base or the delta has outgrown it.
    pub fn keeping<'e, 'b: 'e>(
        &self,
        scope: &str,
        entries: &[(&'e ResultEntry<'b>, bool)],
    ) -> Keeping {
        if let Some(base) = &self.base_digest {
            let changed: Vec<_> = entries.iter().filter(|(_, in_base)| !in_base).collect();
            let delta = ResultDelta::encode(scope, base, changed.iter().map(|(entry, _)| *entry));
            if delta_fits(delta.len(), self.base_len) {
                return Keeping::Delta(delta);
            }
        }
        Keeping::Base(ResultIndex::encode(
            scope,
            entries.iter().map(|(entry, _)| *entry),
        ))
    }
}

/// What a scan writes of a tool's results: a delta bound to the base it read, or a new base (which leaves
/// any earlier delta bound to a base that is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keeping {
    Delta(Vec<u8>),
    Base(Vec<u8>),
}

/// Entries in walk order, looked up in that order: the next lookup usually wants the entry after the last
/// one found, and gets it without a search.
#[derive(Debug, Default)]
struct Ordered<'a> {
    entries: Vec<ResultEntry<'a>>,
    /// Just past the entry the last lookup found.
    cursor: Cell<usize>,
}

impl<'a> Ordered<'a> {
    /// The intact `entries`, and how many were not.
    fn intact(entries: Vec<ResultEntry<'a>>) -> (Self, u64) {
        let read = entries.len();
        let entries: Vec<_> = entries.into_iter().filter(ResultEntry::is_intact).collect();
        let dropped = (read - entries.len()) as u64;
        let ordered = Self {
            entries,
            cursor: Cell::new(0),
        };
        (ordered, dropped)
    }

    /// The entry of `path`: the one after the last found when it is that one, else found by a binary search
    /// in walk order (entries in any other order only find less, never a wrong entry: a found entry is
    /// always this path's).
    fn find(&self, path: &str) -> Option<&ResultEntry<'a>> {
        let next = self.cursor.get();
        let at = match self.entries.get(next) {
            Some(entry) if entry.path == path => next,
            _ => {
                let found = self
                    .entries
                    .binary_search_by(|entry| walk_order(&entry.path, path));
                self.cursor.set(found.unwrap_or_else(|insert| insert));
                found.ok()?
            }
        };
        self.cursor.set(at + 1);
        self.entries.get(at)
    }
}

/// The order of every file table (and so of every index written from one): directory by directory, each
/// directory's entries by name, a directory's contents right after its own name. Comparing paths with `/`
/// below every other byte gives exactly that.
pub fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match first_difference(a, b) {
        Some(at) => key(a[at]).cmp(&key(b[at])),
        None => a.len().cmp(&b.len()),
    }
}

/// Where `a` and `b` first differ within their common length. Paths in a table share long prefixes, so they are
/// compared eight bytes at a time.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let common = a.len().min(b.len());
    let mut at = 0;
    while let (Some(x), Some(y)) = (a.get(at..at + 8), b.get(at..at + 8)) {
        let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
            break;
        };
        let differ = u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
        if differ != 0 {
            return Some(at + (differ.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    (at..common).find(|&i| a[i] != b[i])
}

/// What an index holds: a directory's file table or a tool's results, whole (a base) or as the delta to one.
/// Part of the header, so one is never read as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    FileTable = 1,
    Results = 2,
    ResultsDelta = 3,
    FileTableDelta = 4,
}

const INDEX_MAGIC: &[u8; 8] = b"CERTUSIX";
/// The magic, the format (4 bytes) and the kind (1 byte).
const INDEX_HEADER: usize = INDEX_MAGIC.len() + 5;

/// Writes the compact layout of file tables and result indexes: a magic, [`INDEX_FORMAT`] and the kind, the
/// body (LEB128 unsigned integers, little-endian signed ones, length-prefixed strings, front-coded paths, raw
/// 32-byte digests), then the SHA-256 of all of that. Binary rather than JSON: a 110,000-file table is read
/// and written in milliseconds, and it takes about half the bytes of its paths written whole.
pub struct IndexWriter {
    out: Vec<u8>,
}

impl IndexWriter {
    pub fn new(kind: IndexKind, capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity + 64);
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&INDEX_FORMAT.to_le_bytes());
        out.push(kind as u8);
        Self { out }
    }

    /// LEB128: seven bits a byte, the lowest first, the high bit set on every byte but the last.
    pub fn u64(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    pub fn i64(&mut self, value: i64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub fn bytes(&mut self, value: &[u8]) {
        self.u64(value.len() as u64);
        self.out.extend_from_slice(value);
    }

    pub fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    /// `path`, the next of a list in walk order whose last path written was `previous` ("" for the first):
    /// how many bytes it shares with `previous`, then the rest of its bytes. A table's paths share most of
    /// their bytes with the one before (their directory's).
    pub fn path(&mut self, previous: &str, path: &str) {
        let (previous, path) = (previous.as_bytes(), path.as_bytes());
        let shared =
            first_difference(previous, path).unwrap_or_else(|| previous.len().min(path.len()));
        self.u64(shared as u64);
        self.bytes(&path[shared..]);
    }

    pub fn raw(&mut self, value: &[u8; 32]) {
        self.out.extend_from_slice(value);
    }

    pub fn flag(&mut self, value: bool) {
        self.out.push(u8::from(value));
    }

    pub fn finish(mut self) -> Vec<u8> {
        let digest: [u8; 32] = Sha256::digest(&self.out).into();
        self.out.extend_from_slice(&digest);
        self.out
    }
}

/// Reads what [`IndexWriter`] wrote; every read is bounds-checked and `None` on anything unexpected.
pub struct IndexReader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> IndexReader<'a> {
    /// The trailing digest that seals `bytes` (what a delta names its base by); check it with [`Self::open`].
    pub fn seal(bytes: &[u8]) -> Option<[u8; 32]> {
        bytes.get(bytes.len().checked_sub(32)?..)?.try_into().ok()
    }

    /// The body of `bytes` when the trailing digest, magic, format and kind all check.
    pub fn open(bytes: &'a [u8], kind: IndexKind) -> Option<Self> {
        let split = bytes.len().checked_sub(32)?;
        let (body, digest) = bytes.split_at(split);
        if Sha256::digest(body).as_slice() != digest {
            return None;
        }
        let (head, _) = body.split_at_checked(INDEX_HEADER)?;
        let (magic, rest) = head.split_at(INDEX_MAGIC.len());
        let (format, stated_kind) = rest.split_at(4);
        let format = u32::from_le_bytes(format.try_into().ok()?);
        (magic == INDEX_MAGIC && format == INDEX_FORMAT && stated_kind == [kind as u8]).then_some(
            Self {
                body,
                at: INDEX_HEADER,
            },
        )
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.body.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    /// What [`IndexWriter::u64`] wrote; `None` past 64 bits.
    pub fn u64(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let [byte] = self.take(1)? else {
                return None;
            };
            let bits = u64::from(byte & 0x7f);
            if bits << shift >> shift != bits {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A count of entries, refused when the rest of the body could not hold that many.
    pub fn count(&mut self) -> Option<usize> {
        let count = usize::try_from(self.u64()?).ok()?;
        (count <= self.body.len() - self.at).then_some(count)
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        self.take(len)
    }

    pub fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    pub fn digest(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }

    /// A flag: one byte, 0 or 1.
    pub fn flag(&mut self) -> Option<bool> {
        match self.take(1)? {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }

    /// Whether everything was read.
    pub fn end(&self) -> bool {
        self.at == self.body.len()
    }
}

/// Where the paths of decoded indexes live, whole, for their entries to borrow: an index stores them
/// front-coded ([`IndexWriter::path`]). Append-only: each list of paths read is kept once, and stays.
#[derive(Debug, Default)]
pub struct Paths {
    text: OnceLock<String>,
    more: OnceLock<Box<Paths>>,
}

impl Paths {
    fn keep(&self, text: String) -> &str {
        let mut text = Some(text);
        let kept = self.text.get_or_init(|| text.take().unwrap_or_default());
        match text {
            None => kept,
            Some(text) => self.more.get_or_init(Box::default).keep(text),
        }
    }
}

/// Reads a list of paths [`IndexWriter::path`] wrote, each whole, one after another in one buffer: at most
/// [`PATH_EXPANSION`] times the bytes of the index, whatever its prefixes claim.
pub struct PathReader {
    text: Vec<u8>,
    last: Range<usize>,
    limit: usize,
}

/// How many times the bytes of an index its paths may take whole. A real table's take about as many (its
/// paths are most of it, and a fifth of their bytes is stored); a path of 4,096 bytes differing from the one
/// before by its last byte, with its entry, takes some 60 times fewer.
pub const PATH_EXPANSION: usize = 64;

impl PathReader {
    pub fn new(input: &IndexReader<'_>) -> Self {
        Self {
            text: Vec::new(),
            last: 0..0,
            limit: input.body.len().saturating_mul(PATH_EXPANSION),
        }
    }

    /// Where the next path lies among those read.
    pub fn next(&mut self, input: &mut IndexReader<'_>) -> Option<Range<usize>> {
        let shared = usize::try_from(input.u64()?).ok()?;
        let rest = input.bytes()?;
        let start = self.text.len();
        let len = shared.checked_add(rest.len())?;
        if shared > self.last.len() || start.checked_add(len)? > self.limit {
            return None;
        }
        self.text
            .extend_from_within(self.last.start..self.last.start + shared);
        self.text.extend_from_slice(rest);
        self.last = start..self.text.len();
        Some(self.last.clone())
    }

    /// The paths read, kept in `paths`, when they are text.
    pub fn keep(self, paths: &Paths) -> Option<&str> {
        Some(paths.keep(String::from_utf8(self.text).ok()?))
    }
}

/// What a tool's record says about the cache: the attestation covers it with the rest of the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheUse {
    /// Digest of tool id, version, rule set and executable under which results were reused.
    pub scope: String,
    /// Files the tool covered.
    pub files: u64,
    /// Files whose results came from the cache.
    pub from_cache: u64,
    /// Files read and scanned in this run.
    pub scanned: u64,
    /// Cache entries discarded because their own digest did not check.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discarded: u64,
    /// SHA-256 over the digests of the entries used, in path order (of the empty string when none).
    pub entries_sha256: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Accumulates the digests of the entries a scan used.
#[derive(Default)]
pub struct UsedEntries {
    hasher: Sha256,
    pub count: u64,
}

impl UsedEntries {
    pub fn add(&mut self, entry: &ResultEntry<'_>) {
        self.hasher.update(entry.digest);
        self.count += 1;
    }

    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

/// The scope of a tool's results: its id, version, rule set digest and the identity of the running executable
/// (a rebuilt engine never reuses results of an older one).
pub fn scope(tool: &str, version: &str, rules_sha256: &str) -> String {
    sha256_hex(
        format!(
            "certus-results\0{INDEX_FORMAT}\0{tool}\0{version}\0{rules_sha256}\0{}",
            executable_identity()
        )
        .as_bytes(),
    )
}

/// Path and `stat` ([`FileStat`]) of the running executable, digested once per process.
pub fn executable_identity() -> &'static str {
    static IDENTITY: OnceLock<String> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let described = std::env::current_exe()
            .and_then(|exe| {
                let meta = std::fs::metadata(&exe)?;
                let stat = FileStat::of(&meta);
                Ok(format!(
                    "{}\0{}\0{}\0{}\0{}",
                    exe.display(),
                    stat.size,
                    stat.mtime_ns,
                    stat.ctime_ns,
                    stat.inode
                ))
            })
            // Unknown executable: a fresh identity, so nothing is reused rather than something wrong.
            .unwrap_or_else(|_| format!("unknown\0{}", std::process::id()));
        sha256_hex(described.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's `stat` (from the walk's `statat`) and a scanner's (from the opened file's `fstat`) must
    /// agree on an unchanged file, or every file would look changed while the scan read it.
    #[cfg(unix)]
    #[test]
    fn a_files_stat_reads_the_same_from_the_system_call_and_from_std() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "some text").unwrap();
        let stat = rustix::fs::statat(
            rustix::fs::CWD,
            &path,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let opened = std::fs::File::open(&path).unwrap().metadata().unwrap();
        assert_eq!(FileStat::of_stat(&stat), FileStat::of(&opened));
        assert_eq!(FileStat::of_stat(&stat).size, 9);
        assert!(FileStat::of_stat(&stat).mtime_ns > 0);
    }

    /// A store in memory that refuses to read the names in `unreadable`.
    #[derive(Default)]
    struct MemoryCache {
        kept: std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
        unreadable: Vec<String>,
    }

    #[async_trait]
    impl ScanCache for MemoryCache {
        async fn index(&self, scope: &str, lineage: &str) -> Result<Option<Vec<u8>>> {
            if self.unreadable.iter().any(|name| name == lineage) {
                return Err(crate::error::CoreError::Storage(format!(
                    "{lineage}: refused"
                )));
            }
            Ok(self
                .kept
                .lock()
                .unwrap()
                .get(&format!("{scope}/{lineage}"))
                .cloned())
        }

        async fn put_index(&self, scope: &str, lineage: &str, bytes: Vec<u8>) -> Result<()> {
            self.kept
                .lock()
                .unwrap()
                .insert(format!("{scope}/{lineage}"), bytes);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_base_and_its_delta_are_kept_side_by_side_and_read_together_each_failing_on_its_own()
    {
        let cache = MemoryCache::default();
        let read = |cache| async move {
            let layers = Layers::read(cache, "scope", "tree").await;
            (layers.base.ok().flatten(), layers.delta.ok().flatten())
        };
        assert_eq!(read(&cache).await, (None, None));
        Keeping::Base(b"base".to_vec())
            .write(&cache, "scope", "tree")
            .await
            .unwrap();
        assert_eq!(read(&cache).await, (Some(b"base".to_vec()), None));
        Keeping::Delta(b"delta".to_vec())
            .write(&cache, "scope", "tree")
            .await
            .unwrap();
        let both = (Some(b"base".to_vec()), Some(b"delta".to_vec()));
        assert_eq!(read(&cache).await, both);
        // The delta lives under a lineage of its own; another tree's layers are not this one's.
        let names: Vec<String> = cache.kept.lock().unwrap().keys().cloned().collect();
        assert_eq!(
            names,
            [
                format!("scope/{}", delta_lineage("tree")),
                "scope/tree".into()
            ]
        );
        assert_eq!(read(&cache).await, both);
        assert_eq!(
            Layers::read(&cache, "scope", "other").await.base.unwrap(),
            None
        );
        // A delta that cannot be read leaves the base readable.
        let refusing = MemoryCache {
            kept: std::sync::Mutex::new(cache.kept.lock().unwrap().clone()),
            unreadable: vec![delta_lineage("tree")],
        };
        let layers = Layers::read(&refusing, "scope", "tree").await;
        assert_eq!(layers.base.unwrap(), Some(b"base".to_vec()));
        assert!(layers.delta.is_err());
    }

    fn file(path: &str, sha: Sha256Digest) -> SourceFile {
        SourceFile {
            path: path.into(),
            stat: FileStat {
                size: 1,
                mtime_ns: 2,
                ctime_ns: 3,
                inode: 4,
            },
            sha256: sha,
            binary: false,
            scanned: None,
        }
    }

    #[test]
    fn results_from_the_table_alone_are_kept_once_settled_whatever_the_file_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let gone = file("gone.bin", Sha256Digest::of(b"\0"));
        let table = |settled_before_ns| SourceFiles {
            files: vec![gone.clone()],
            settled_before_ns: Some(settled_before_ns),
            ..SourceFiles::default()
        };
        // The file no longer exists: results from a read of it now are not the table's content's.
        let settled = table(10);
        assert_eq!(settled.keeps(dir.path(), &gone, &Basis::Table), Keep::Yes);
        assert_eq!(
            settled.keeps(dir.path(), &gone, &Basis::Unknown),
            Keep::Changed
        );
        // Too recent for its `stat` to prove its content: never kept, whatever the results came from.
        let recent = table(3);
        assert_eq!(recent.keeps(dir.path(), &gone, &Basis::Table), Keep::Recent);
    }

    #[test]
    fn an_index_is_named_only_by_two_digests() {
        let (scope, lineage) = (sha256_hex(b"scope"), sha256_hex(b"lineage"));
        assert_eq!(
            index_name(&scope, &lineage).unwrap(),
            format!("{scope}/{lineage}.idx")
        );
        for (bad_scope, bad_lineage, field) in [
            ("../x".to_string(), lineage.clone(), "scope"),
            (scope.clone(), format!("{}/..", &lineage[..61]), "lineage"),
            (scope.to_uppercase(), lineage.clone(), "scope"),
        ] {
            let err = index_name(&bad_scope, &bad_lineage)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("scan cache {field}: ")), "{err}");
        }
    }

    #[test]
    fn entries_are_found_in_walk_order_whatever_was_added_removed_or_asked_out_of_turn() {
        let paths = Paths::default();
        let scope = scope("secrets", "1", "rules");
        let digest = |path: &str| Sha256Digest::of(path.as_bytes());
        let mut stored = vec![
            "a", "a.b", "a/x", "a/y/z", "a-b", "b", "b/c", "c.txt", "d/e/f", "d/e/g", "é",
        ];
        stored.sort_by(|a, b| walk_order(a, b));
        assert_eq!(
            stored,
            ["a", "a/x", "a/y/z", "a-b", "a.b", "b", "b/c", "c.txt", "d/e/f", "d/e/g", "é"],
            "a directory's contents come right after its name"
        );
        let entries: Vec<_> = stored
            .iter()
            .map(|path| ResultEntry::new(path, digest(path), path.as_bytes().to_vec()))
            .collect();
        let bytes = ResultIndex::encode(&scope, entries.iter());
        let previous = Previous::parse(Some(&bytes), None, &scope, &paths);
        // The next table: "a/x" and "d/e/f" removed, "a/w", "b.new" and "z" added, asked in walk order.
        let next = [
            "a", "a/w", "a/y/z", "a-b", "a.b", "b", "b/c", "b.new", "c.txt", "d/e/g", "z", "é",
        ];
        for path in next {
            let found = previous.reuse(&file(path, digest(path)));
            assert_eq!(
                found.map(|(e, _)| e.path.as_ref()),
                stored.contains(&path).then_some(path),
                "{path}"
            );
        }
        // Out of turn: found all the same.
        for path in ["é", "a", "d/e/f", "a.b"] {
            let found = previous.reuse(&file(path, digest(path)));
            assert_eq!(found.map(|(e, _)| e.path.as_ref()), Some(path));
        }
    }

    #[test]
    fn entries_are_reused_only_intact_for_the_same_path_and_content() {
        let paths = Paths::default();
        let scope = scope("secrets", "1", "rules");
        let (aa, bb) = (Sha256Digest::of(b"a"), Sha256Digest::of(b"b"));
        let good = ResultEntry::new("a.txt", aa, br#"[{"line":1}]"#.to_vec());
        let mut tampered = ResultEntry::new("b.txt", bb, Vec::new());
        tampered.results = Cow::Owned(br#"[{"line":9}]"#.to_vec());
        let bytes = ResultIndex::encode(&scope, [&good, &tampered].into_iter());
        let previous = Previous::parse(Some(&bytes), None, &scope, &paths);
        assert_eq!(previous.discarded, 1);
        assert_eq!(
            previous.reuse(&file("a.txt", aa)),
            Some((&good, Layer::Base))
        );
        assert_eq!(previous.reuse(&file("a.txt", bb)), None);
        assert_eq!(previous.reuse(&file("b.txt", bb)), None);
        assert_eq!(previous.reuse(&file("c.txt", aa)), None);
        let other = Previous::parse(Some(&bytes), None, "another scope", &paths);
        assert_eq!(
            (other.discarded, other.reuse(&file("a.txt", aa))),
            (1, None)
        );
        let unreadable = Previous::parse(Some(b"not an index"), None, &scope, &paths);
        assert_eq!(unreadable.discarded, 1);
        // Any flipped byte fails the index's own digest: nothing of it is used.
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(
            Previous::parse(Some(&flipped), None, &scope, &paths).discarded,
            1
        );
        let mut truncated = bytes;
        truncated.truncate(40);
        assert_eq!(
            Previous::parse(Some(&truncated), None, &scope, &paths).discarded,
            1
        );
    }

    /// Walk order is `/` below every other byte at the first byte two paths differ in, else the shorter first,
    /// wherever in a word that byte falls, and whatever the lengths.
    #[test]
    fn walk_order_puts_the_slash_lowest_at_the_first_difference_wherever_it_falls() {
        let by_byte = |a: &str, b: &str| {
            let key = |c: u8| if c == b'/' { 0 } else { c };
            let (a, b) = (a.as_bytes(), b.as_bytes());
            match a.iter().zip(b).position(|(x, y)| x != y) {
                Some(at) => key(a[at]).cmp(&key(b[at])),
                None => a.len().cmp(&b.len()),
            }
        };
        let base = "crates/registry-0123/src/lib/";
        let mut paths = vec![String::new()];
        for at in 0..base.len() {
            for c in ['/', '-', '.', '0', 'a', 'z', '~'] {
                let mut path = base[..at].to_string();
                path.push(c);
                paths.push(path.clone());
                path.push_str(&base[at + 1..]);
                paths.push(path);
            }
        }
        for a in &paths {
            for b in &paths {
                assert_eq!(walk_order(a, b), by_byte(a, b), "{a:?} against {b:?}");
            }
        }
        assert_eq!(
            walk_order("src/a/b.rs", "src/a-b.rs"),
            std::cmp::Ordering::Less,
            "a directory's contents come right after its name"
        );
    }

    /// The entries of `paths`, each with results naming `version`, in walk order.
    fn entries_of(paths: &[&str], version: &str) -> Vec<ResultEntry<'static>> {
        let mut paths = paths.to_vec();
        paths.sort_by(|a, b| walk_order(a, b));
        paths
            .iter()
            .map(|path| {
                let results = format!("{path} {version}").into_bytes();
                ResultEntry::new(path, Sha256Digest::of(version.as_bytes()), results)
            })
            .collect()
    }

    #[test]
    fn a_rescan_keeps_what_differs_from_the_base_as_a_delta_bound_to_it_until_it_outgrows_it() {
        let kept = Paths::default();
        let scope = scope("secrets", "1", "rules");
        let paths: Vec<String> = (0..4000)
            .map(|n| format!("src/m{}/f{n}.py", n % 9))
            .collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let v1 = entries_of(&paths, "v1");
        let base = ResultIndex::encode(&scope, v1.iter());
        let previous = Previous::parse(Some(&base), None, &scope, &kept);
        // Ten files change: only their entries are kept, bound to the base.
        let v2 = entries_of(&paths[..10], "v2");
        let next: Vec<(&ResultEntry<'_>, bool)> = v1
            .iter()
            .map(|entry| match v2.iter().find(|e| e.path == entry.path) {
                Some(changed) => (changed, false),
                None => (entry, true),
            })
            .collect();
        let Keeping::Delta(delta) = previous.keeping(&scope, &next) else {
            panic!("a new base for ten changed files of 4,000");
        };
        assert!(delta.len() < base.len() / 100, "{} bytes", delta.len());
        let decoded = ResultDelta::decode(&delta, &scope, &kept).unwrap();
        assert_eq!(decoded.entries.len(), 10);
        // Read back: the delta's entries win over the base's, the rest come from the base.
        let previous = Previous::parse(Some(&base), Some(&delta), &scope, &kept);
        for (entry, in_base) in &next {
            let layer = if *in_base { Layer::Base } else { Layer::Delta };
            assert_eq!(
                previous.reuse(&file(&entry.path, entry.sha256)),
                Some((*entry, layer))
            );
        }
        // A file changed back to what the base recorded: the base's entry, since nothing else holds it.
        let reverted = &v1[0];
        assert_eq!(
            previous.reuse(&file(&reverted.path, reverted.sha256)),
            Some((reverted, Layer::Base))
        );
        // A delta bound to another base, or of another scope, says nothing; a damaged one is discarded.
        let other_base = ResultIndex::encode(&scope, v1[1..].iter());
        let stale = Previous::parse(Some(&other_base), Some(&delta), &scope, &kept);
        let changed = &v2[0];
        assert_eq!(stale.reuse(&file(&changed.path, changed.sha256)), None);
        assert_eq!(stale.discarded, 0);
        let mut damaged = delta.clone();
        damaged[30] ^= 1;
        let damaged = Previous::parse(Some(&base), Some(&damaged), &scope, &kept);
        assert_eq!(damaged.reuse(&file(&changed.path, changed.sha256)), None);
        assert_eq!(damaged.discarded, 1);
        let foreign = Previous::parse(Some(&base), Some(&delta), "another scope", &kept);
        assert_eq!(foreign.discarded, 1, "the base is of another scope");
        // Most files changed: the delta would outgrow a quarter of the base, so a new base is kept.
        let v3 = entries_of(&paths, "v3");
        let most: Vec<(&ResultEntry<'_>, bool)> = v3.iter().map(|e| (e, false)).collect();
        let previous = Previous::parse(Some(&base), Some(&delta), &scope, &kept);
        let Keeping::Base(new_base) = previous.keeping(&scope, &most) else {
            panic!("a delta of every file");
        };
        assert_eq!(
            ResultIndex::decode(&new_base, &scope, &kept)
                .unwrap()
                .entries,
            v3
        );
        // Without a base there is nothing to bind a delta to.
        let Keeping::Base(_) = Previous::default().keeping(&scope, &next[..1]) else {
            panic!("a delta without a base");
        };
    }

    #[test]
    fn paths_are_stored_front_coded_and_read_back_whole_whatever_they_share() {
        let scope = scope("secrets", "1", "rules");
        let dir = "vendor/registry/src/index.crates.io/some-crate-1.0.0/src/";
        let mut stored: Vec<String> = (0..500).map(|n| format!("{dir}m{n:03}.rs")).collect();
        // Neighbours sharing part of a character ("é" is C3 A9, "è" C3 A8), a path under the one before, one
        // shorter than the one before, and a path sharing nothing.
        stored.extend(
            [
                "x/é",
                "x/è",
                "x/è/y",
                "x/èz",
                "y",
                "z/\u{1F600}a",
                "z/\u{1F601}",
            ]
            .map(String::from),
        );
        let entries: Vec<_> = stored
            .iter()
            .map(|path| ResultEntry::new(path, Sha256Digest::of(path.as_bytes()), Vec::new()))
            .collect();
        let bytes = ResultIndex::encode(&scope, entries.iter());
        let paths = Paths::default();
        let decoded = ResultIndex::decode(&bytes, &scope, &paths).unwrap();
        assert_eq!(decoded.entries, entries);
        // Each entry: its two digests, three lengths and a few bytes of its path (over 60): the directory
        // is not repeated.
        assert!(bytes.len() < stored.len() * (67 + 12), "{}", bytes.len());
        // Another index kept in the same place leaves the first one's paths where they were.
        let other = ResultIndex::encode(&scope, entries[..3].iter());
        let again = ResultIndex::decode(&other, &scope, &paths).unwrap();
        assert_eq!(
            (decoded.entries, again.entries),
            (entries.clone(), entries[..3].to_vec())
        );
    }

    /// An index of `scope` whose single entry's path is written as `shared` bytes of the one before (none)
    /// and `rest`, with `padding` bytes of results.
    fn crafted(scope: &str, paths: &[(u64, &[u8])], padding: usize) -> Vec<u8> {
        let mut out = IndexWriter::new(IndexKind::Results, 0);
        out.str(scope);
        out.u64(paths.len() as u64);
        for (shared, rest) in paths {
            out.u64(*shared);
            out.bytes(rest);
            out.raw(&[0; 32]);
            out.bytes(&vec![0; padding]);
            out.raw(&[0; 32]);
        }
        out.finish()
    }

    #[test]
    fn a_path_claiming_more_than_the_one_before_or_not_text_or_swelling_past_the_index_is_refused()
    {
        let paths = Paths::default();
        let decode = |bytes: &[u8]| ResultIndex::decode(bytes, "s", &paths).is_some();
        assert!(decode(&crafted("s", &[(0, b"abc"), (3, b"d")], 0)));
        assert!(!decode(&crafted("s", &[(0, b"abc"), (4, b"d")], 0)));
        assert!(!decode(&crafted("s", &[(1, b"a")], 0)));
        assert!(!decode(&crafted("s", &[(0, b"\xff")], 0)));
        // Whole text, but the second path would start inside the first one's last character.
        assert!(!decode(&crafted("s", &[(0, "é".as_bytes()), (1, b"")], 0)));
        assert!(!decode(&crafted("s", &[(0, b"x\xc3"), (0, b"\xa9")], 0)));
        // Each path repeating all of the one before: the text read grows past what the index may expand to.
        let long = vec![b'a'; 4096];
        let swelling: Vec<(u64, &[u8])> = (0..200).map(|n| (4096 * n, &long[..])).collect();
        assert!(!decode(&crafted("s", &swelling, 0)));
    }

    #[test]
    fn integers_are_leb128_and_one_past_64_bits_is_refused() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = IndexWriter::new(IndexKind::Results, 0);
            out.u64(value);
            let bytes = out.finish();
            let mut input = IndexReader::open(&bytes, IndexKind::Results).unwrap();
            assert_eq!((input.u64(), input.end()), (Some(value), true), "{value}");
        }
        let mut small = IndexWriter::new(IndexKind::Results, 0);
        small.u64(300);
        assert_eq!(small.finish().len(), INDEX_HEADER + 2 + 32);
        // Bits past the 64th in the tenth byte, and an eleventh byte.
        let past = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        for too_long in [past.as_slice(), &[0x80; 11]] {
            let mut body = too_long.to_vec();
            body.push(1);
            let bytes = sealed(IndexKind::Results, &body);
            let mut input = IndexReader::open(&bytes, IndexKind::Results).unwrap();
            assert_eq!(input.u64(), None, "{too_long:?}");
        }
        let well_formed = sealed(IndexKind::Results, &[0xac, 0x02]);
        let mut input = IndexReader::open(&well_formed, IndexKind::Results).unwrap();
        assert_eq!(input.u64(), Some(300));
    }

    /// `body` as a writer of `kind` would seal it: after the header, before the digest of both.
    fn sealed(kind: IndexKind, body: &[u8]) -> Vec<u8> {
        let empty = IndexWriter::new(kind, 0).finish();
        let mut bytes = empty[..INDEX_HEADER].to_vec();
        bytes.extend_from_slice(body);
        let seal: [u8; 32] = Sha256::digest(&bytes).into();
        bytes.extend_from_slice(&seal);
        bytes
    }

    #[test]
    fn an_index_claiming_more_entries_than_it_holds_is_refused_before_allocating() {
        let paths = Paths::default();
        let mut out = IndexWriter::new(IndexKind::Results, 0);
        out.str("s");
        out.u64(u64::MAX);
        let bytes = out.finish();
        assert_eq!(ResultIndex::decode(&bytes, "s", &paths), None);
        let table = IndexWriter::new(IndexKind::FileTable, 0).finish();
        assert!(IndexReader::open(&table, IndexKind::Results).is_none());
        assert!(IndexReader::open(&table, IndexKind::FileTable).is_some());
    }

    #[test]
    fn the_scope_changes_with_tool_version_and_rules() {
        let base = scope("secrets", "1", "r");
        assert_eq!(base, scope("secrets", "1", "r"));
        assert_ne!(base, scope("secrets", "2", "r"));
        assert_ne!(base, scope("secrets", "1", "r2"));
        assert_ne!(base, scope("sbom", "1", "r"));
    }
}
