//! `Cargo.lock` parser (format versions 1 to 4).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::error::{Result, SbomError};
use crate::model::{Checksum, Component, Ecosystem, HashAlgorithm, Relation};

const FORMAT: &str = "Cargo.lock";
const NEWEST_VERSION: i64 = 4;

#[derive(Deserialize)]
struct CargoLock {
    version: Option<i64>,
    #[serde(default)]
    package: Vec<Package>,
    /// Version 1 keeps checksums here as `"checksum NAME VERSION (SOURCE)" = "HEX"`.
    #[serde(default)]
    metadata: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// Parses a `Cargo.lock`. Packages without `source` are workspace members (`Project`);
/// what they depend on is `Direct`, everything else `Transitive`.
pub fn parse(text: &str, path: &str) -> Result<Vec<Component>> {
    let lock: CargoLock = toml::from_str(text).map_err(|error| SbomError::MalformedLockfile {
        path: path.to_string(),
        format: FORMAT,
        reason: error.message().to_string(),
    })?;
    if let Some(version) = lock.version {
        if !(1..=NEWEST_VERSION).contains(&version) {
            return Err(SbomError::UnsupportedLockfileVersion {
                path: path.to_string(),
                format: FORMAT,
                version,
            });
        }
    }
    let v1_checksums = v1_checksums(&lock.metadata);
    let members: Vec<&Package> = lock.package.iter().filter(|p| p.source.is_none()).collect();
    let direct: HashSet<(&str, Option<&str>)> = members
        .iter()
        .flat_map(|member| member.dependencies.iter().map(|dep| dependency_key(dep)))
        .collect();
    let any_members = !members.is_empty();

    let components = lock
        .package
        .iter()
        .map(|package| {
            let relation = if package.source.is_none() {
                Relation::Project
            } else if direct.contains(&(package.name.as_str(), None))
                || direct.contains(&(package.name.as_str(), Some(package.version.as_str())))
            {
                Relation::Direct
            } else if any_members {
                Relation::Transitive
            } else {
                Relation::Unknown
            };
            let checksum = package
                .checksum
                .clone()
                .or_else(|| {
                    v1_checksums
                        .get(&(package.name.as_str(), package.version.as_str()))
                        .map(|hex| hex.to_string())
                })
                .filter(|hex| is_sha256_hex(hex))
                .map(|hex| Checksum {
                    algorithm: HashAlgorithm::Sha256,
                    value: hex.to_ascii_lowercase(),
                });
            Component::new(
                Ecosystem::Cargo,
                &package.name,
                Some(&package.version),
                path,
            )
            .with_relation(relation)
            .with_checksum(checksum)
        })
        .collect();
    Ok(components)
}

/// `"name"`, `"name version"` or `"name version (source)"` to (name, version).
fn dependency_key(dependency: &str) -> (&str, Option<&str>) {
    let mut parts = dependency.split_whitespace();
    let name = parts.next().unwrap_or_default();
    (name, parts.next())
}

fn v1_checksums(metadata: &BTreeMap<String, toml::Value>) -> BTreeMap<(&str, &str), &str> {
    metadata
        .iter()
        .filter_map(|(key, value)| {
            let mut parts = key.strip_prefix("checksum ")?.split_whitespace();
            let name = parts.next()?;
            let version = parts.next()?;
            Some(((name, version), value.as_str()?))
        })
        .collect()
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}
