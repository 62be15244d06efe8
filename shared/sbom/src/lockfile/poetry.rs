//! `poetry.lock` parser; a sibling `pyproject.toml`, when readable, tells direct from transitive.

use std::collections::HashSet;

use serde::Deserialize;

use crate::error::{Result, SbomError};
use crate::model::{Component, Ecosystem, Relation};
use crate::purl::pep503_normalize;

const FORMAT: &str = "poetry.lock";

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
}

/// Parses `poetry.lock`; `pyproject` is the text of the sibling `pyproject.toml`, if any.
pub fn parse(text: &str, path: &str, pyproject: Option<&str>) -> Result<Vec<Component>> {
    let lock: PoetryLock = toml::from_str(text).map_err(|error| SbomError::MalformedLockfile {
        path: path.to_string(),
        format: FORMAT,
        reason: error.message().to_string(),
    })?;
    let declared = pyproject.and_then(declared_dependencies);
    Ok(lock
        .package
        .iter()
        .map(|package| {
            let relation = match &declared {
                None => Relation::Unknown,
                Some(names) if names.contains(&pep503_normalize(&package.name)) => Relation::Direct,
                Some(_) => Relation::Transitive,
            };
            Component::new(Ecosystem::Pypi, &package.name, Some(&package.version), path)
                .with_relation(relation)
        })
        .collect())
}

/// Normalised names declared in `[project]` or `[tool.poetry]` dependency tables.
/// `None` when the file is not valid TOML (the relation then stays unknown).
fn declared_dependencies(pyproject: &str) -> Option<HashSet<String>> {
    let document: toml::Table = toml::from_str(pyproject).ok()?;
    let mut names = HashSet::new();
    if let Some(project) = document.get("project").and_then(toml::Value::as_table) {
        let optional = project
            .get("optional-dependencies")
            .and_then(toml::Value::as_table)
            .into_iter()
            .flat_map(|groups| groups.values());
        for list in project.get("dependencies").into_iter().chain(optional) {
            for requirement in list.as_array().into_iter().flatten() {
                if let Some(requirement) = requirement.as_str() {
                    names.insert(pep503_normalize(pep508_name(requirement)));
                }
            }
        }
    }
    if let Some(poetry) = document
        .get("tool")
        .and_then(|tool| tool.get("poetry"))
        .and_then(toml::Value::as_table)
    {
        let groups = poetry
            .get("group")
            .and_then(toml::Value::as_table)
            .into_iter()
            .flat_map(|groups| groups.values())
            .filter_map(|group| group.get("dependencies"));
        let tables = ["dependencies", "dev-dependencies"]
            .iter()
            .filter_map(|key| poetry.get(*key))
            .chain(groups);
        for table in tables.filter_map(toml::Value::as_table) {
            names.extend(
                table
                    .keys()
                    .filter(|name| name.as_str() != "python")
                    .map(|name| pep503_normalize(name)),
            );
        }
    }
    Some(names)
}

/// The distribution name at the start of a PEP 508 requirement string.
fn pep508_name(requirement: &str) -> &str {
    let requirement = requirement.trim_start();
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(requirement.len());
    &requirement[..end]
}
