//! Offline vulnerability matching against a RustSec advisory-db checkout or a folder of OSV JSON files.

pub mod osv;
pub mod rustsec;
pub mod severity;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use certus_beneath::Beneath;
use semver::VersionReq;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, SbomError};
use crate::fsutil;
use crate::model::{Component, Ecosystem, Inventory, Relation};
use crate::purl::pep503_normalize;
use crate::version::{self, semver_req};
use severity::Severity;

/// Largest advisory file read.
const ADVISORY_LIMIT: u64 = 4 * 1024 * 1024;

/// One advisory about one package.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub ecosystem: Ecosystem,
    pub package: String,
    pub title: String,
    /// Markdown body (RustSec) or `details` (OSV).
    pub description: String,
    /// RustSec `date` or OSV `published`, as written.
    pub date: Option<String>,
    /// OSV `modified`, as written (RustSec advisories have none).
    pub modified: Option<String>,
    pub url: Option<String>,
    pub severity: Severity,
    /// Base score of the CVSS vector the severity came from, if any.
    pub cvss_score: Option<f64>,
    /// RustSec's `informational` kind (`unmaintained`, `unsound`, `notice`…); such advisories are `low`.
    pub informational: Option<String>,
    /// Versions (or RustSec requirements) that fix the problem, as written in the source.
    pub fixed_versions: Vec<String>,
    pub(crate) affected: Affected,
}

/// Which versions an advisory covers.
#[derive(Debug, Clone)]
pub(crate) enum Affected {
    /// Affected unless some `patched` or `unaffected` requirement matches.
    RustSec {
        patched: Vec<VersionReq>,
        unaffected: Vec<VersionReq>,
    },
    /// Affected when listed in `versions` or inside one of the `ranges`.
    Osv {
        ranges: Vec<Vec<osv::RangeEvent>>,
        versions: Vec<String>,
    },
}

/// A component version that an advisory covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnFinding {
    pub advisory_id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub version: String,
    pub ecosystem: Ecosystem,
    pub purl: String,
    pub severity: Severity,
    pub cvss_score: Option<f64>,
    pub informational: Option<String>,
    pub title: String,
    /// The advisory's body (RustSec Markdown, OSV `details`); empty when it has none.
    pub description: String,
    pub url: Option<String>,
    pub fixed_versions: Vec<String>,
    pub source_files: Vec<String>,
}

/// Advisories loaded from disk, indexed by ecosystem and package name.
#[derive(Debug, Default)]
pub struct AdvisoryDb {
    advisories: Vec<Advisory>,
    index: HashMap<(Ecosystem, String), Vec<usize>>,
    skipped: usize,
    errors: Vec<SbomError>,
    digest: String,
    files: usize,
}

impl AdvisoryDb {
    /// Loads every `RUSTSEC-*.md` and `*.json` (OSV) file below `dir`. Unparsable files are
    /// skipped and listed in [`AdvisoryDb::errors`]; withdrawn advisories are dropped.
    pub fn load(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(SbomError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let (files, walk_errors) = fsutil::walk(dir, |name, _| name != ".git");
        let mut beneath = Beneath::new(dir);
        let mut db = AdvisoryDb {
            errors: walk_errors,
            ..AdvisoryDb::default()
        };
        let mut listing: Vec<(String, String)> = Vec::new();
        for file in files {
            let name = file.relative.rsplit('/').next().unwrap_or_default();
            let is_rustsec = name.starts_with("RUSTSEC-") && name.ends_with(".md");
            if !is_rustsec && !name.ends_with(".json") {
                continue;
            }
            let format = if is_rustsec {
                "RustSec advisory"
            } else {
                "OSV JSON"
            };
            let parsed = fsutil::read_capped(&mut beneath, &file.relative, ADVISORY_LIMIT)
                .inspect(|bytes| listing.push((file.relative.clone(), hex(&Sha256::digest(bytes)))))
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| SbomError::MalformedAdvisory {
                        path: file.relative.clone(),
                        format,
                        reason: "not UTF-8 text".to_string(),
                    })
                })
                .and_then(|text| {
                    if is_rustsec {
                        rustsec::parse(&text, &file.relative).map(|a| a.into_iter().collect())
                    } else {
                        osv::parse(&text, &file.relative)
                    }
                });
            match parsed {
                Ok(advisories) if advisories.is_empty() => db.skipped += 1,
                Ok(advisories) => advisories.into_iter().for_each(|a| db.insert(a)),
                Err(error) => db.errors.push(error),
            }
        }
        // Like a SHA256SUMS file of every advisory file read, in path order, hashed.
        listing.sort();
        let mut sums = Sha256::new();
        for (path, sum) in &listing {
            sums.update(format!("{sum}  {path}\n").as_bytes());
        }
        db.digest = hex(&sums.finalize());
        db.files = listing.len();
        Ok(db)
    }

    /// A cheap identity of the database directory without reading any advisory: SHA-256 over the path, size,
    /// modification and change times and inode of every file [`AdvisoryDb::load`] would walk (and any problem
    /// met walking), in path order. Equal identities mean files [`AdvisoryDb::load`] would read unchanged.
    pub fn identity(dir: &Path) -> Result<String> {
        if !dir.is_dir() {
            return Err(SbomError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let (files, walk_errors) = fsutil::walk(dir, |name, _| name != ".git");
        let mut sums = Sha256::new();
        for file in &files {
            let stat =
                std::fs::symlink_metadata(&file.absolute).map_err(|source| SbomError::Io {
                    path: file.relative.clone(),
                    source,
                })?;
            sums.update(format!("{}\0{}\n", file.relative, fsutil::stat_line(&stat)).as_bytes());
        }
        for error in &walk_errors {
            sums.update(format!("! {error}\n").as_bytes());
        }
        Ok(hex(&sums.finalize()))
    }

    /// SHA-256 over the list of `<sha256>  <path>` lines of every advisory file read (in path order): equal
    /// digests mean the same advisory files.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Advisory files read (parsed or not).
    pub fn file_count(&self) -> usize {
        self.files
    }

    /// The database's snapshot date: the newest publication or modification date (`YYYY-MM-DD`) of any
    /// advisory in it. `None` when no advisory carries a date.
    pub fn snapshot_date(&self) -> Option<String> {
        self.advisories
            .iter()
            .flat_map(|a| [a.date.as_deref(), a.modified.as_deref()])
            .flatten()
            .filter_map(|date| date.get(..10))
            .filter(|day| is_iso_day(day))
            .max()
            .map(str::to_string)
    }

    fn insert(&mut self, advisory: Advisory) {
        let key = (
            advisory.ecosystem,
            package_key(advisory.ecosystem, &advisory.package),
        );
        self.index
            .entry(key)
            .or_default()
            .push(self.advisories.len());
        self.advisories.push(advisory);
    }

    /// All loaded advisories.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// Number of loaded advisories.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// True when nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// Files skipped because they are withdrawn or name no supported ecosystem.
    pub fn skipped_count(&self) -> usize {
        self.skipped
    }

    /// Files that could not be read or parsed.
    pub fn errors(&self) -> &[SbomError] {
        &self.errors
    }

    /// Every (component, advisory) pair where the component's version is affected, sorted by
    /// purl then advisory id. Components without a version and the projects themselves are not
    /// matched.
    pub fn matches(&self, inventory: &Inventory) -> Vec<VulnFinding> {
        let mut findings = BTreeMap::new();
        for component in &inventory.components {
            let Some(version) = component.version.as_deref() else {
                continue;
            };
            if component.relation == Relation::Project {
                continue;
            }
            let key = (
                component.ecosystem,
                package_key(component.ecosystem, &component.name),
            );
            for &index in self.index.get(&key).into_iter().flatten() {
                let advisory = &self.advisories[index];
                if is_affected(&advisory.affected, component.ecosystem, version) {
                    findings
                        .entry((component.purl.clone(), advisory.id.clone()))
                        .or_insert_with(|| finding(advisory, component, version));
                }
            }
        }
        findings.into_values().collect()
    }
}

fn finding(advisory: &Advisory, component: &Component, version: &str) -> VulnFinding {
    VulnFinding {
        advisory_id: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        package: component.name.clone(),
        version: version.to_string(),
        ecosystem: component.ecosystem,
        purl: component.purl.clone(),
        severity: advisory.severity,
        cvss_score: advisory.cvss_score,
        informational: advisory.informational.clone(),
        title: advisory.title.clone(),
        description: advisory.description.clone(),
        url: advisory.url.clone(),
        fixed_versions: advisory.fixed_versions.clone(),
        source_files: component.source_files.clone(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_iso_day(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn package_key(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => pep503_normalize(name),
        _ => name.to_string(),
    }
}

fn is_affected(affected: &Affected, ecosystem: Ecosystem, version: &str) -> bool {
    match affected {
        Affected::RustSec {
            patched,
            unaffected,
        } => {
            let Some(version) = semver_req::parse_version(version) else {
                return false;
            };
            !patched
                .iter()
                .chain(unaffected)
                .any(|requirement| semver_req::requirement_matches(requirement, &version))
        }
        Affected::Osv { ranges, versions } => {
            versions
                .iter()
                .any(|listed| version::compare(ecosystem, listed, version) == Some(Ordering::Equal))
                || ranges
                    .iter()
                    .any(|events| osv::in_range(events, ecosystem, version))
        }
    }
}
