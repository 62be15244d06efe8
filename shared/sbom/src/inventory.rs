//! Walks a source tree, parses every lockfile it finds and merges the results into one [`Inventory`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Result, SbomError};
use crate::fsutil::{self, FoundFile};
use crate::lockfile::{cargo, golang, npm, poetry, requirements, LockfileKind, MANIFEST_LIMIT};
use crate::model::{Component, Inventory};

/// Deepest chain of `-r` includes followed from one requirements file.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Scans `root` (never following symlinks, never leaving it, skipping `.git`, `node_modules`
/// and Go `vendor` folders) and parses every lockfile found, nested projects included.
///
/// Fails only when `root` itself is unusable; per-file problems land in [`Inventory::errors`].
pub fn inventory(root: &Path) -> Result<Inventory> {
    let root = root
        .canonicalize()
        .ok()
        .filter(|path| path.is_dir())
        .ok_or_else(|| SbomError::NotADirectory {
            path: root.to_path_buf(),
        })?;
    let (files, walk_errors) = fsutil::walk(&root, |name, parent_has_go_mod| {
        !(name == ".git" || name == "node_modules" || (name == "vendor" && parent_has_go_mod))
    });
    let mut scan = Scan {
        root,
        components: BTreeMap::new(),
        lockfiles: BTreeSet::new(),
        errors: walk_errors,
        parsed: HashSet::new(),
    };
    let directories_with_go_mod: HashSet<&str> = files
        .iter()
        .filter(|file| file_name(&file.relative) == "go.mod")
        .map(|file| parent_of(&file.relative))
        .collect();
    for file in &files {
        let parent = parent_of(&file.relative);
        let parent_name = file_name(parent);
        let Some(kind) = LockfileKind::detect(file_name(&file.relative), parent_name) else {
            continue;
        };
        if kind == LockfileKind::GoSum && directories_with_go_mod.contains(parent) {
            continue; // read together with its go.mod
        }
        scan.read_lockfile(file, kind);
    }
    Ok(Inventory {
        components: scan.components.into_values().collect(),
        lockfiles: scan.lockfiles.into_iter().collect(),
        errors: scan.errors,
    })
}

struct Scan {
    root: PathBuf,
    /// Keyed by purl, so the final list is deduplicated and sorted.
    components: BTreeMap<String, Component>,
    lockfiles: BTreeSet<String>,
    errors: Vec<SbomError>,
    parsed: HashSet<String>,
}

impl Scan {
    fn read_lockfile(&mut self, file: &FoundFile, kind: LockfileKind) {
        if !self.parsed.insert(file.relative.clone()) {
            return;
        }
        let path = file.relative.as_str();
        let text =
            match fsutil::read_text(&file.absolute, path, kind.size_limit(), kind.format_name()) {
                Ok(text) => text,
                Err(error) => return self.errors.push(error),
            };
        let parsed = match kind {
            LockfileKind::CargoLock => cargo::parse(&text, path),
            LockfileKind::NpmLock => npm::parse(&text, path),
            LockfileKind::PoetryLock => {
                let pyproject = self.read_sibling(path, "pyproject.toml");
                poetry::parse(&text, path, pyproject.as_deref())
            }
            LockfileKind::GoMod => {
                let sums = self.read_go_sum(path);
                Ok(golang::parse_go_mod(
                    &text,
                    path,
                    sums.as_ref(),
                    &mut self.errors,
                ))
            }
            LockfileKind::GoSum => {
                let sums = golang::parse_go_sum(&text, path, &mut self.errors);
                Ok(golang::go_sum_components(&sums, path))
            }
            LockfileKind::Requirements => match requirements::parse(&text, path) {
                Ok(parsed) => {
                    self.errors.extend(parsed.skipped);
                    for include in &parsed.includes {
                        self.follow_include(path, include, 1);
                    }
                    Ok(parsed.components)
                }
                Err(error) => Err(error),
            },
        };
        self.record(path, parsed);
    }

    fn record(&mut self, path: &str, parsed: Result<Vec<Component>>) {
        match parsed {
            Ok(components) => {
                self.lockfiles.insert(path.to_string());
                for component in components {
                    match self.components.get_mut(&component.purl) {
                        Some(existing) => existing.merge(component),
                        None => {
                            self.components.insert(component.purl.clone(), component);
                        }
                    }
                }
            }
            Err(error) => self.errors.push(error),
        }
    }

    /// Reads `go.sum` beside a `go.mod`; an unreadable one is reported and the go.mod read without it.
    fn read_go_sum(&mut self, go_mod: &str) -> Option<golang::GoSum> {
        let relative = join_relative(parent_of(go_mod), "go.sum")?;
        let absolute = self.root.join(&relative);
        if !absolute.is_file() {
            return None;
        }
        let parsed = fsutil::read_text(
            &absolute,
            &relative,
            LockfileKind::GoSum.size_limit(),
            "go.sum",
        )
        .map(|text| golang::parse_go_sum(&text, &relative, &mut self.errors));
        match parsed {
            Ok(sums) => {
                self.lockfiles.insert(relative);
                Some(sums)
            }
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    /// Reads an optional helper file beside a lockfile; absence or any problem yields `None`.
    fn read_sibling(&self, lockfile: &str, name: &'static str) -> Option<String> {
        let relative = join_relative(parent_of(lockfile), name)?;
        fsutil::read_text(&self.root.join(&relative), &relative, MANIFEST_LIMIT, name).ok()
    }

    fn follow_include(&mut self, from: &str, target: &str, depth: usize) {
        let outside = |reason: &str| SbomError::MalformedLockfile {
            path: from.to_string(),
            format: "requirements file",
            reason: format!("`-r {target}` {reason}"),
        };
        if depth > MAX_INCLUDE_DEPTH {
            return self.errors.push(outside(&format!(
                "nests includes deeper than {MAX_INCLUDE_DEPTH} levels"
            )));
        }
        let Some(relative) = join_relative(parent_of(from), target) else {
            return self.errors.push(outside("points outside the scan root"));
        };
        if self.parsed.contains(&relative) {
            return;
        }
        let absolute = self.root.join(&relative);
        let confined = absolute
            .canonicalize()
            .map(|real| real.starts_with(&self.root))
            .unwrap_or(false);
        if !confined {
            return self
                .errors
                .push(outside("names no file inside the scan root"));
        }
        self.parsed.insert(relative.clone());
        let text = match fsutil::read_text(
            &absolute,
            &relative,
            LockfileKind::Requirements.size_limit(),
            "requirements file",
        ) {
            Ok(text) => text,
            Err(error) => return self.errors.push(error),
        };
        let parsed = requirements::parse(&text, &relative).map(|parsed| {
            self.errors.extend(parsed.skipped);
            for include in &parsed.includes {
                self.follow_include(&relative, include, depth + 1);
            }
            parsed.components
        });
        self.record(&relative, parsed);
    }
}

/// Joins a relative directory and a relative path lexically; `None` if it climbs above the root
/// or is absolute.
fn join_relative(directory: &str, target: &str) -> Option<String> {
    if target.starts_with('/') || target.contains('\\') {
        return None;
    }
    let mut parts: Vec<&str> = directory.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn parent_of(relative: &str) -> &str {
    relative.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn file_name(relative: &str) -> &str {
    relative.rsplit_once('/').map_or(relative, |(_, name)| name)
}
