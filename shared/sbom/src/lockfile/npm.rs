//! `package-lock.json` / `npm-shrinkwrap.json` parser (lockfileVersion 1, 2 and 3).

use std::collections::HashSet;

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{Result, SbomError};
use crate::model::{Checksum, Component, Ecosystem, HashAlgorithm, Relation};

const FORMAT: &str = "package-lock.json";
const NEWEST_VERSION: i64 = 3;
const NODE_MODULES: &str = "node_modules/";

/// Parses an npm lockfile. Version 2 and 3 files are read from `packages`; version 1 from the
/// nested `dependencies` tree, whose nested entries are `Transitive` (top-level ones `Unknown`,
/// since version 1 does not record what the root declared).
pub fn parse(text: &str, path: &str) -> Result<Vec<Component>> {
    let malformed = |reason: String| SbomError::MalformedLockfile {
        path: path.to_string(),
        format: FORMAT,
        reason,
    };
    let document: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let Some(document) = document.as_object() else {
        return Err(malformed("top level is not a JSON object".to_string()));
    };
    let version = match document.get("lockfileVersion") {
        None => 1,
        Some(value) => value
            .as_i64()
            .ok_or_else(|| malformed("lockfileVersion is not an integer".to_string()))?,
    };
    if !(1..=NEWEST_VERSION).contains(&version) {
        return Err(SbomError::UnsupportedLockfileVersion {
            path: path.to_string(),
            format: FORMAT,
            version,
        });
    }
    match document.get("packages") {
        Some(Value::Object(packages)) if version >= 2 => Ok(from_packages(packages, path)),
        Some(_) if version >= 2 => Err(malformed("`packages` is not an object".to_string())),
        _ => match document.get("dependencies") {
            Some(Value::Object(dependencies)) => Ok(from_v1_tree(dependencies, path)),
            None => Ok(Vec::new()),
            Some(_) => Err(malformed("`dependencies` is not an object".to_string())),
        },
    }
}

fn from_packages(packages: &Map<String, Value>, path: &str) -> Vec<Component> {
    let root = packages.get("").and_then(Value::as_object);
    let root_dependencies: Option<HashSet<&str>> = root.map(|root| {
        [
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
        ]
        .iter()
        .filter_map(|key| root.get(*key).and_then(Value::as_object))
        .flat_map(|deps| deps.keys().map(String::as_str))
        .collect()
    });
    let mut components = Vec::new();
    if let Some(root) = root {
        if let Some(name) = root.get("name").and_then(Value::as_str) {
            let version = root.get("version").and_then(Value::as_str);
            components.push(
                Component::new(Ecosystem::Npm, name, version, path)
                    .with_relation(Relation::Project),
            );
        }
    }
    for (key, entry) in packages {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        if key.is_empty() || entry.get("link").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let (installed_name, relation) = match key.rfind(NODE_MODULES) {
            Some(index) => {
                let installed = &key[index + NODE_MODULES.len()..];
                let relation = match &root_dependencies {
                    None => Relation::Unknown,
                    Some(_) if index > 0 => Relation::Transitive,
                    Some(direct) if direct.contains(installed) => Relation::Direct,
                    Some(_) => Relation::Transitive,
                };
                (installed, relation)
            }
            // A workspace member stored by its folder.
            None => (
                key.rsplit('/').next().unwrap_or(key.as_str()),
                Relation::Project,
            ),
        };
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(installed_name);
        if name.is_empty() {
            continue;
        }
        let version = entry
            .get("version")
            .and_then(Value::as_str)
            .filter(|v| is_registry_version(v));
        let checksum = entry
            .get("integrity")
            .and_then(Value::as_str)
            .and_then(integrity_checksum);
        components.push(
            Component::new(Ecosystem::Npm, name, version, path)
                .with_relation(relation)
                .with_checksum(checksum),
        );
    }
    components
}

/// Walks the version-1 tree with an explicit stack (serde_json already caps nesting at 128).
fn from_v1_tree(top: &Map<String, Value>, path: &str) -> Vec<Component> {
    let mut components = Vec::new();
    let mut pending: Vec<(&Map<String, Value>, usize)> = vec![(top, 0)];
    while let Some((dependencies, depth)) = pending.pop() {
        for (name, entry) in dependencies {
            let Some(entry) = entry.as_object() else {
                continue;
            };
            let raw_version = entry.get("version").and_then(Value::as_str);
            let (name, version) = match raw_version.and_then(|v| v.strip_prefix("npm:")) {
                Some(alias) => split_alias(alias).unwrap_or((name.as_str(), None)),
                None => (
                    name.as_str(),
                    raw_version.filter(|v| is_registry_version(v)),
                ),
            };
            let relation = if depth == 0 {
                Relation::Unknown
            } else {
                Relation::Transitive
            };
            let checksum = entry
                .get("integrity")
                .and_then(Value::as_str)
                .and_then(integrity_checksum);
            components.push(
                Component::new(Ecosystem::Npm, name, version, path)
                    .with_relation(relation)
                    .with_checksum(checksum),
            );
            if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                pending.push((nested, depth + 1));
            }
        }
    }
    components
}

/// `@scope/name@1.2.3` or `name@1.2.3` (an `npm:` alias target).
fn split_alias(alias: &str) -> Option<(&str, Option<&str>)> {
    let at = alias.get(1..)?.rfind('@')? + 1;
    let version = &alias[at + 1..];
    Some((
        &alias[..at],
        Some(version).filter(|v| is_registry_version(v)),
    ))
}

/// Registry versions are plain semver; `file:`, `git+…`, URLs and paths are not versions.
fn is_registry_version(version: &str) -> bool {
    !version.is_empty() && !version.contains(':') && !version.contains('/')
}

/// The strongest digest of a Subresource Integrity string such as `sha512-BASE64`.
pub fn integrity_checksum(integrity: &str) -> Option<Checksum> {
    integrity
        .split_whitespace()
        .filter_map(|item| {
            let (algorithm, digest) = item.split_once('-')?;
            let (algorithm, length) = match algorithm {
                "sha1" => (HashAlgorithm::Sha1, 20),
                "sha256" => (HashAlgorithm::Sha256, 32),
                "sha384" => (HashAlgorithm::Sha384, 48),
                "sha512" => (HashAlgorithm::Sha512, 64),
                _ => return None,
            };
            let digest = digest.split('?').next().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(digest)
                .ok()?;
            (bytes.len() == length).then(|| Checksum {
                algorithm,
                value: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            })
        })
        .max_by_key(|checksum| checksum.algorithm)
}
