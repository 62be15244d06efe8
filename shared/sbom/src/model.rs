//! Inventory data model: components found in lockfiles, their ecosystems, checksums and dependency relation.

use serde::{Deserialize, Serialize};

use crate::error::SbomError;
use crate::purl;

/// Package ecosystem a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Cargo,
    Npm,
    Pypi,
    Golang,
}

impl Ecosystem {
    /// The purl type and the lowercase name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Golang => "golang",
        }
    }
}

/// How a component relates to the project whose lockfile listed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// The lockfile gives no way to tell.
    Unknown,
    /// Needed only through another dependency.
    Transitive,
    /// Declared by the project itself.
    Direct,
    /// The project (or a workspace member) that owns the lockfile.
    Project,
}

/// Digest algorithm of a recorded checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HashAlgorithm {
    #[serde(rename = "SHA-1")]
    Sha1,
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-384")]
    Sha384,
    #[serde(rename = "SHA-512")]
    Sha512,
    /// Go's `h1:` directory hash from `go.sum` (base64 SHA-256 over a file list, not an archive digest).
    #[serde(rename = "go-h1")]
    GoH1,
}

impl HashAlgorithm {
    /// What the SBOM formats call this algorithm; `None` for Go's directory hash, which neither names.
    pub fn sbom_names(self) -> Option<SbomNames> {
        let (cyclonedx, spdx) = match self {
            HashAlgorithm::Sha1 => ("SHA-1", "SHA1"),
            HashAlgorithm::Sha256 => ("SHA-256", "SHA256"),
            HashAlgorithm::Sha384 => ("SHA-384", "SHA384"),
            HashAlgorithm::Sha512 => ("SHA-512", "SHA512"),
            HashAlgorithm::GoH1 => return None,
        };
        Some(SbomNames { cyclonedx, spdx })
    }
}

/// A hash algorithm's name in each SBOM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SbomNames {
    pub cyclonedx: &'static str,
    pub spdx: &'static str,
}

/// A checksum recorded by a lockfile: lowercase hex for the SHA family, the original `h1:…` text for Go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: HashAlgorithm,
    pub value: String,
}

/// One dependency found in one or more lockfiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    /// `None` when the lockfile does not pin an exact version.
    pub version: Option<String>,
    pub ecosystem: Ecosystem,
    pub purl: String,
    /// Relative paths (with `/`) of every lockfile that lists this component, sorted.
    pub source_files: Vec<String>,
    pub checksum: Option<Checksum>,
    pub relation: Relation,
}

impl Component {
    /// A component whose purl is computed from ecosystem, name and version.
    pub fn new(ecosystem: Ecosystem, name: &str, version: Option<&str>, source_file: &str) -> Self {
        Component {
            name: name.to_string(),
            version: version.map(str::to_string),
            ecosystem,
            purl: purl::package_url(ecosystem, name, version),
            source_files: vec![source_file.to_string()],
            checksum: None,
            relation: Relation::Unknown,
        }
    }

    /// Sets the relation (builder style).
    pub fn with_relation(mut self, relation: Relation) -> Self {
        self.relation = relation;
        self
    }

    /// Sets the checksum (builder style).
    pub fn with_checksum(mut self, checksum: Option<Checksum>) -> Self {
        self.checksum = checksum;
        self
    }

    /// Folds a duplicate of the same purl into this one: the strongest relation wins, files are merged.
    pub(crate) fn merge(&mut self, other: Component) {
        self.relation = self.relation.max(other.relation);
        if self.checksum.is_none() {
            self.checksum = other.checksum;
        }
        self.source_files.extend(other.source_files);
        self.source_files.sort();
        self.source_files.dedup();
    }
}

/// The result of scanning a source tree.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Deduplicated components, sorted by purl.
    pub components: Vec<Component>,
    /// Relative paths of the lockfiles that were parsed successfully, sorted.
    pub lockfiles: Vec<String>,
    /// Per-file problems; a bad lockfile never stops the others from being read.
    pub errors: Vec<SbomError>,
    /// Relative paths of the files read or looked for besides the lockfiles chosen (a `go.sum` or
    /// `pyproject.toml` beside a lockfile, requirements files included with `-r`), sorted: what the result
    /// depends on beyond those lockfiles.
    pub inputs: Vec<String>,
}
