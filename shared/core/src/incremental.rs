//! Content-addressed incremental scans (docs/incremental-scans.md).
//!
//! Source preparation lists every regular file of a directory tree with what `stat` says of it and the SHA-256
//! of its bytes ([`SourceFiles`]); a file whose (path, size, mtime, ctime, inode) match the previous scan of
//! the same tree keeps the digest recorded then and is not read. A per-file tool keeps one [`ResultIndex`] per
//! (scope, lineage): the scope digests the tool id, its version, its rule set and the running executable; the
//! lineage names the tree. Each entry holds one file's results keyed by its path and content digest and carries
//! its own digest; an entry that fails that check is discarded and the file rescanned. The results of unchanged
//! files live in the index itself, so a rescan costs one index read and one index write whatever the tree
//! size (on an object store: O(1) requests plus the changed files' reads) — the [`ScanCache`] port.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::digest::sha256_hex;
use crate::error::Result;

/// Bumped when the layout of an index or of its entries changes: older indexes are then never read.
pub const INDEX_FORMAT: u32 = 1;

/// One regular file of a prepared tree: its `/`-separated path, what `stat` said, the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "s")]
    pub size: u64,
    #[serde(rename = "m")]
    pub mtime_ns: i64,
    #[serde(rename = "c")]
    pub ctime_ns: i64,
    #[serde(rename = "i")]
    pub inode: u64,
    #[serde(rename = "h")]
    pub sha256: String,
}

impl SourceFile {
    /// Same path and same `stat` identity: the recorded digest still describes the bytes.
    pub fn same_stat(&self, other: &SourceFile) -> bool {
        self.path == other.path
            && self.size == other.size
            && self.mtime_ns == other.mtime_ns
            && self.ctime_ns == other.ctime_ns
            && self.inode == other.inode
    }
}

/// Every regular file of a prepared tree, sorted by path, and how it was obtained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    /// Names the tree across scans (a digest of the directory's path): whose previous results apply.
    pub lineage: String,
    pub files: Vec<SourceFile>,
    /// Files whose digest came from the previous scan's table (not read).
    pub digests_reused: u64,
    /// Bytes read to compute the other digests.
    pub bytes_read: u64,
}

/// Where indexes live between scans: a private directory locally, the work bucket on AWS.
#[async_trait]
pub trait ScanCache: Send + Sync {
    /// The index the last scan of `lineage` left under `scope`; `None` when there is none.
    async fn index(&self, scope: &str, lineage: &str) -> Result<Option<Vec<u8>>>;
    /// Replaces that index (one object per scan and tool).
    async fn put_index(&self, scope: &str, lineage: &str, bytes: Vec<u8>) -> Result<()>;
}

/// What a scan hands a per-file tool so that it can reuse results: the file table and the store.
#[derive(Clone)]
pub struct Incremental {
    pub files: Arc<SourceFiles>,
    pub cache: Arc<dyn ScanCache>,
}

/// One file's results as a tool produced them (before fingerprint keying and policy), with its own digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultEntry {
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "h")]
    pub sha256: String,
    /// The tool's own encoding of what it found in the file (usually a list, empty for most files).
    #[serde(rename = "r")]
    pub results: serde_json::Value,
    /// SHA-256 over path, content digest and results: checked before the entry is used.
    #[serde(rename = "d")]
    pub digest: String,
}

impl ResultEntry {
    pub fn new(path: &str, sha256: &str, results: serde_json::Value) -> Self {
        let digest = entry_digest(path, sha256, &results);
        Self {
            path: path.to_string(),
            sha256: sha256.to_string(),
            results,
            digest,
        }
    }

    pub fn is_intact(&self) -> bool {
        entry_digest(&self.path, &self.sha256, &self.results) == self.digest
    }
}

fn entry_digest(path: &str, sha256: &str, results: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(sha256.as_bytes());
    hasher.update([0]);
    hasher.update(results.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// A tool's results for every file of one scan: the index the next scan of the same tree starts from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultIndex {
    pub format: u32,
    pub scope: String,
    pub entries: Vec<ResultEntry>,
}

/// The previous index of a tool, ready for lookups.
#[derive(Debug, Default)]
pub struct Previous {
    by_path: HashMap<String, ResultEntry>,
    /// Entries dropped because their digest did not check (or the index could not be read at all: 1).
    pub discarded: u64,
}

impl Previous {
    /// The parsed index; an unreadable or foreign one counts as one discarded entry and reuses nothing.
    pub fn parse(bytes: Option<&[u8]>, scope: &str) -> Self {
        let Some(bytes) = bytes else {
            return Self::default();
        };
        let index = match serde_json::from_slice::<ResultIndex>(bytes) {
            Ok(index) if index.format == INDEX_FORMAT && index.scope == scope => index,
            _ => {
                return Self {
                    discarded: 1,
                    ..Self::default()
                }
            }
        };
        let mut previous = Self::default();
        for entry in index.entries {
            if entry.is_intact() {
                previous.by_path.insert(entry.path.clone(), entry);
            } else {
                previous.discarded += 1;
            }
        }
        previous
    }

    /// The intact entry recorded for this very file content at this path.
    pub fn reuse(&self, file: &SourceFile) -> Option<&ResultEntry> {
        self.by_path
            .get(&file.path)
            .filter(|e| !file.sha256.is_empty() && e.sha256 == file.sha256)
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
    pub fn add(&mut self, entry: &ResultEntry) {
        self.hasher.update(entry.digest.as_bytes());
        self.hasher.update(b"\n");
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

/// Path, size, mtime and inode of the running executable, digested once per process.
pub fn executable_identity() -> &'static str {
    static IDENTITY: OnceLock<String> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let described = std::env::current_exe()
            .and_then(|exe| {
                let meta = std::fs::metadata(&exe)?;
                Ok(format!("{}\0{}", exe.display(), stat_line(&meta)))
            })
            // Unknown executable: a fresh identity, so nothing is reused rather than something wrong.
            .unwrap_or_else(|_| format!("unknown\0{}", std::process::id()));
        sha256_hex(described.as_bytes())
    })
}

#[cfg(unix)]
fn stat_line(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}\0{}.{}\0{}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino()
    )
}

#[cfg(not(unix))]
fn stat_line(meta: &std::fs::Metadata) -> String {
    format!("{}\0{:?}", meta.len(), meta.modified().ok())
}

/// The lineage of a directory source: which earlier scans are this tree's parents.
pub fn directory_lineage(root: &Path) -> String {
    sha256_hex(format!("directory\0{}", root.display()).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, sha: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            size: 1,
            mtime_ns: 2,
            ctime_ns: 3,
            inode: 4,
            sha256: sha.into(),
        }
    }

    #[test]
    fn entries_are_reused_only_intact_for_the_same_path_and_content() {
        let scope = scope("secrets", "1", "rules");
        let good = ResultEntry::new("a.txt", "aa", serde_json::json!([{"line": 1}]));
        let mut tampered = ResultEntry::new("b.txt", "bb", serde_json::json!([]));
        tampered.results = serde_json::json!([{"line": 9}]);
        let index = ResultIndex {
            format: INDEX_FORMAT,
            scope: scope.clone(),
            entries: vec![good.clone(), tampered],
        };
        let bytes = serde_json::to_vec(&index).unwrap();
        let previous = Previous::parse(Some(&bytes), &scope);
        assert_eq!(previous.discarded, 1);
        assert_eq!(previous.reuse(&file("a.txt", "aa")), Some(&good));
        assert_eq!(previous.reuse(&file("a.txt", "changed")), None);
        assert_eq!(previous.reuse(&file("b.txt", "bb")), None);
        assert_eq!(previous.reuse(&file("c.txt", "aa")), None);
        let other = Previous::parse(Some(&bytes), "another scope");
        assert_eq!(
            (other.discarded, other.reuse(&file("a.txt", "aa"))),
            (1, None)
        );
        assert_eq!(Previous::parse(Some(b"not json"), &scope).discarded, 1);
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
