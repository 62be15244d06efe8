//! The evidence bundle (spec §6): its file names, an atomic writer confined to the bundle directory, and
//! the bundle index (path, size, SHA-256 of the final bytes of every file) with its verification.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{CoreError, Result};
use crate::parallel::map_on_every_core;
use crate::record::from_stored_json;
use crate::workspace::lexically_confined;

pub const SCAN_JSON: &str = "scan.json";
pub const MANIFEST_JSON: &str = "manifest.json";
pub const MANIFEST_SIG: &str = "manifest.sig";
pub const MANIFEST_INFO: &str = "manifest-info.json";
pub const SUMMARY: &str = "summary.json";
pub const REPORT_MD: &str = "report.md";
/// The self-contained page for people (`report_html`).
pub const REPORT_HTML: &str = "report.html";
pub const STREAM: &str = "stream.jsonl";
pub const RUNNER_LOG: &str = "logs/runner.log";
pub const SBOM_CYCLONEDX: &str = "reports/sbom/sbom.cyclonedx.json";
pub const SBOM_SPDX: &str = "reports/sbom/sbom.spdx.json";
/// Which advisory database the dependency findings came from (snapshot date, digest), or that matching was off.
pub const ADVISORY_DATABASE: &str = "reports/sbom/advisory-database.json";
pub const MERGED_SARIF: &str = "reports/sast/merged.sarif.json";
pub const ATTESTATION: &str = "reports/signing/attestation.intoto.json";
pub const SIGNING_KEY: &str = "reports/signing/signing-key.pub.pem";
/// The index lists every other file; it is written last.
pub const INDEX: &str = "bundle-index.json";

/// `reports/sast/<tool>.sarif.json`
pub fn sarif_path(tool: &str) -> String {
    format!("reports/sast/{tool}.sarif.json")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub path: String,
    pub size: u64,
    pub sha256: Sha256Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleIndex {
    pub version: u32,
    pub files: Vec<IndexEntry>,
}

impl BundleIndex {
    /// A stored `bundle-index.json`; a field that does not read back is named.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        from_stored_json(INDEX, bytes)
    }

    pub fn get(&self, path: &str) -> Option<&IndexEntry> {
        self.files.iter().find(|e| e.path == path)
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|e| e.size).sum()
    }

    /// `entry` in its place by path, instead of the entry with the same path if there is one.
    pub fn insert(&mut self, entry: IndexEntry) {
        match self.files.binary_search_by(|e| e.path.cmp(&entry.path)) {
            Ok(at) => self.files[at] = entry,
            Err(at) => self.files.insert(at, entry),
        }
    }
}

/// Writes bundle files atomically (temp file + rename) under one directory, refusing paths that leave it. The
/// directory is a run's private workspace: its files are not flushed to the disk, since nothing is published
/// from the workspace of a run that crashed (the job ends FAILED); the copy that outlives the run is the
/// artifact store's to make durable.
#[derive(Debug)]
pub struct BundleWriter {
    root: PathBuf,
}

impl BundleWriter {
    pub fn new(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&root).map_err(|e| CoreError::io(&root, e))?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a bundle-relative name (checked).
    pub fn path_of(&self, rel: &str) -> Result<PathBuf> {
        Ok(self.root.join(lexically_confined(rel)?))
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let target = self.path_of(rel)?;
        let parent = target.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
        let mut tmp = tempfile_in(parent)?;
        tmp.1
            .write_all(bytes)
            .map_err(|e| CoreError::io(&tmp.0, e))?;
        drop(tmp.1);
        std::fs::rename(&tmp.0, &target).map_err(|e| CoreError::io(&target, e))
    }

    pub fn write_json<T: Serialize>(&self, rel: &str, value: &T) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| CoreError::json(rel, e))?;
        bytes.push(b'\n');
        self.write(rel, &bytes)
    }

    /// Hashes every file now in the bundle (except the index) from its final bytes and writes the index.
    pub fn write_index(&self) -> Result<BundleIndex> {
        self.write_index_of(compute_index(&self.root)?)
    }

    /// Writes `index`, computed from the final bytes of every other file (the attestation gives it), as the
    /// bundle's last file.
    pub fn write_index_of(&self, index: BundleIndex) -> Result<BundleIndex> {
        self.write_json(INDEX, &index)?;
        Ok(index)
    }
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File)> {
    for _ in 0..16 {
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix)
            .map_err(|e| CoreError::Storage(format!("no OS randomness: {e}")))?;
        let path = dir.join(format!(".tmp-{}", hex::encode(suffix)));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(CoreError::io(&path, e)),
        }
    }
    Err(CoreError::Storage(format!(
        "could not create a temporary file in {}",
        dir.display()
    )))
}

/// Every regular file under `root` except the index, sorted by path, hashed on every core; links and special
/// files are refused.
pub fn compute_index(root: &Path) -> Result<BundleIndex> {
    let mut files = BTreeMap::new();
    walk(root, root, &mut files)?;
    files.remove(INDEX);
    let files: Vec<(String, PathBuf)> = files.into_iter().collect();
    let digests = map_on_every_core(&files, |(_, path)| Sha256Digest::of_file(path))
        .ok_or_else(|| CoreError::Bundle("a thread hashing the bundle failed".into()))?;
    Ok(BundleIndex {
        version: 1,
        files: files
            .into_iter()
            .zip(digests)
            .map(|((path, _), digest)| {
                digest.map(|(sha256, size)| IndexEntry { path, size, sha256 })
            })
            .collect::<Result<_>>()?,
    })
}

/// Every regular file under `dir` into `out`, by its path relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CoreError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| CoreError::io(&path, e))?;
        let rel = path
            .strip_prefix(root)
            .map_err(|_| CoreError::Bundle(format!("{} is outside the bundle", path.display())))?
            .to_string_lossy()
            .replace('\\', "/");
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            if rel
                .rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with(".tmp-"))
            {
                return Err(CoreError::Bundle(format!(
                    "unfinished write left in the bundle: {rel}"
                )));
            }
            out.insert(rel, path);
        } else {
            return Err(CoreError::Bundle(format!(
                "{rel} is not a regular file (links are not allowed in a bundle)"
            )));
        }
    }
    Ok(())
}

/// One disagreement between a bundle directory and its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum IndexProblem {
    Missing {
        path: String,
    },
    Unlisted {
        path: String,
    },
    DigestMismatch {
        path: String,
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },
}

impl std::fmt::Display for IndexProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { path } => write!(f, "{path}: listed in the index but missing"),
            Self::Unlisted { path } => write!(f, "{path}: present but not listed in the index"),
            Self::DigestMismatch {
                path,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{path}: sha256 {actual} does not match the index ({expected})"
                )
            }
            Self::SizeMismatch {
                path,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{path}: size {actual} does not match the index ({expected})"
                )
            }
        }
    }
}

/// Recomputes every digest under `root` and compares with `index`.
pub fn check_index(root: &Path, index: &BundleIndex) -> Result<Vec<IndexProblem>> {
    let actual = compute_index(root)?;
    let actual: BTreeMap<&str, &IndexEntry> =
        actual.files.iter().map(|e| (e.path.as_str(), e)).collect();
    let listed: BTreeMap<&str, &IndexEntry> =
        index.files.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut problems = Vec::new();
    for (path, want) in &listed {
        match actual.get(path) {
            None => problems.push(IndexProblem::Missing {
                path: path.to_string(),
            }),
            Some(have) if have.size != want.size => problems.push(IndexProblem::SizeMismatch {
                path: path.to_string(),
                expected: want.size,
                actual: have.size,
            }),
            Some(have) if have.sha256 != want.sha256 => {
                problems.push(IndexProblem::DigestMismatch {
                    path: path.to_string(),
                    expected: want.sha256,
                    actual: have.sha256,
                });
            }
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|p| !listed.contains_key(*p)) {
        problems.push(IndexProblem::Unlisted {
            path: path.to_string(),
        });
    }
    Ok(problems)
}

/// Reads and parses `bundle-index.json` from a bundle directory.
pub fn read_index(root: &Path) -> Result<BundleIndex> {
    let path = root.join(INDEX);
    let bytes = std::fs::read(&path).map_err(|e| CoreError::io(&path, e))?;
    BundleIndex::from_json(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Sha256Digest;

    fn bundle() -> (tempfile::TempDir, BundleWriter) {
        let dir = tempfile::tempdir().unwrap();
        let writer = BundleWriter::new(dir.path().join("b")).unwrap();
        writer.write(SCAN_JSON, b"{\"a\":1}").unwrap();
        writer.write(&sarif_path("secrets"), b"{}").unwrap();
        (dir, writer)
    }

    #[test]
    fn an_inserted_entry_takes_its_place_by_path_or_the_place_of_the_same_path() {
        let (_d, w) = bundle();
        let mut index = w.write_index().unwrap();
        let entry = |path: &str, bytes: &[u8]| IndexEntry {
            path: path.to_string(),
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(bytes),
        };
        index.insert(entry(ATTESTATION, b"envelope"));
        index.insert(entry(SCAN_JSON, b"{}"));
        index.insert(entry("a.json", b"[]"));
        let paths: Vec<&str> = index.files.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a.json",
                "reports/sast/secrets.sarif.json",
                ATTESTATION,
                SCAN_JSON
            ]
        );
        assert_eq!(index.get(SCAN_JSON), Some(&entry(SCAN_JSON, b"{}")));
    }

    #[test]
    fn index_digests_final_bytes_of_every_file() {
        let (_d, w) = bundle();
        w.write(SCAN_JSON, b"{\"a\":2}").unwrap(); // rewritten after first write
        let index = w.write_index().unwrap();
        let paths: Vec<_> = index.files.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["reports/sast/secrets.sarif.json", "scan.json"]);
        assert_eq!(
            index.get(SCAN_JSON).unwrap().sha256,
            Sha256Digest::of(b"{\"a\":2}")
        );
        assert_eq!(read_index(w.root()).unwrap(), index);
        assert!(check_index(w.root(), &index).unwrap().is_empty());
    }

    #[test]
    fn tamper_drop_and_add_are_each_named() {
        let (_d, w) = bundle();
        let index = w.write_index().unwrap();
        std::fs::write(w.root().join(SCAN_JSON), b"{\"a\":9}").unwrap();
        std::fs::remove_file(w.root().join(sarif_path("secrets"))).unwrap();
        std::fs::write(w.root().join("extra.txt"), b"x").unwrap();
        let problems = check_index(w.root(), &index).unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.contains(&IndexProblem::Missing {
            path: "reports/sast/secrets.sarif.json".into()
        }));
        assert!(problems.contains(&IndexProblem::Unlisted {
            path: "extra.txt".into()
        }));
        assert!(problems
            .iter()
            .any(|p| matches!(p, IndexProblem::DigestMismatch { path, .. } if path == SCAN_JSON)));
    }

    #[test]
    fn writer_refuses_escaping_names() {
        let (_d, w) = bundle();
        assert!(w.write("../outside", b"x").is_err());
        assert!(w.write("/etc/x", b"x").is_err());
    }

    #[test]
    fn links_in_a_bundle_are_refused() {
        let (_d, w) = bundle();
        std::os::unix::fs::symlink("/etc/hostname", w.root().join("link")).unwrap();
        assert!(compute_index(w.root())
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
    }
}
