//! Walks a source tree (or takes the list of its files), parses every lockfile it finds and merges the results
//! into one [`Inventory`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use certus_beneath::Beneath;

use crate::error::{Result, SbomError};
use crate::fsutil;
use crate::lockfile::{cargo, golang, npm, poetry, requirements, LockfileKind, MANIFEST_LIMIT};
use crate::model::{Component, Inventory};

/// Deepest chain of `-r` includes followed from one requirements file.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Scans `root` (never following symlinks, never leaving it, skipping `.git`, `node_modules`
/// and Go `vendor` folders) and parses every lockfile found, nested projects included.
///
/// Fails only when `root` itself is unusable; per-file problems land in [`Inventory::errors`].
pub fn inventory(root: &Path) -> Result<Inventory> {
    let root = scan_root(root)?;
    let (files, walk_errors) = fsutil::walk(&root, descend);
    let selected = files
        .into_iter()
        .map(|file| file.relative)
        .filter(|path| is_lockfile(path))
        .collect();
    Ok(Selection {
        root,
        selected,
        positions: Vec::new(),
        errors: walk_errors,
    }
    .read())
}

/// The lockfiles [`inventory`] would read under `root`, chosen from a list of its regular files (paths
/// relative to `root`, `/`-separated, as a prepared file table lists them) instead of walking it: the same
/// names, the same pruning of `.git`, `node_modules` and Go `vendor` folders, the same depth bound (a file
/// below it is left out and its directory reported). Two differences remain, both where the list says less
/// than a walk sees: a directory past the depth bound that holds no file is not reported, and the walk's
/// bound on the number of directory entries does not apply to a list already made.
pub fn select_lockfiles<'a>(
    root: &Path,
    files: impl IntoIterator<Item = &'a str>,
) -> Result<Selection> {
    let root = scan_root(root)?;
    let mut directories: HashMap<String, bool> = HashMap::new();
    let mut too_deep = BTreeSet::new();
    let mut kept: Vec<(usize, String)> = Vec::new();
    for (position, path) in files.into_iter().enumerate() {
        let is_lockfile = is_lockfile(path);
        // A file under a directory past the depth bound: the walk reports that directory.
        let below_bound = slashes(path) > fsutil::MAX_DEPTH;
        if !is_lockfile && !below_bound {
            continue;
        }
        if path.contains(char::REPLACEMENT_CHARACTER) && root.join(path).symlink_metadata().is_err()
        {
            continue; // a name that is not UTF-8, which the walk passes over
        }
        let parent = parent_of(path);
        let walked = walked_directory(&root, parent, &mut directories, &mut too_deep);
        if walked && is_lockfile {
            kept.push((position, path.to_string()));
        }
    }
    kept.sort_by(|a, b| a.1.cmp(&b.1));
    let errors = too_deep
        .into_iter()
        .map(|path| SbomError::WalkLimit {
            path,
            reason: format!("deeper than {} levels", fsutil::MAX_DEPTH),
        })
        .collect();
    let (positions, selected) = kept.into_iter().unzip();
    Ok(Selection {
        root,
        selected,
        positions,
        errors,
    })
}

/// The lockfiles chosen in a tree, not read yet: what [`Selection::read`] parses into an [`Inventory`].
#[derive(Debug)]
pub struct Selection {
    root: PathBuf,
    selected: Vec<String>,
    positions: Vec<usize>,
    errors: Vec<SbomError>,
}

impl Selection {
    /// The chosen files (lockfiles, `go.mod` and `go.sum` files), sorted by path.
    pub fn files(&self) -> &[String] {
        &self.selected
    }

    /// For [`select_lockfiles`], the position in its list of each of [`Selection::files`].
    pub fn positions(&self) -> &[usize] {
        &self.positions
    }

    /// Problems met while choosing (directories past the depth bound): they become [`Inventory::errors`].
    pub fn errors(&self) -> &[SbomError] {
        &self.errors
    }

    /// Parses every chosen lockfile (a `go.sum` beside a `go.mod` together with it) and merges the results.
    pub fn read(self) -> Inventory {
        let mut scan = Scan {
            beneath: Beneath::new(&self.root),
            components: BTreeMap::new(),
            lockfiles: BTreeSet::new(),
            errors: self.errors,
            parsed: HashSet::new(),
            inputs: BTreeSet::new(),
        };
        let directories_with_go_mod: HashSet<&str> = self
            .selected
            .iter()
            .filter(|path| file_name(path) == "go.mod")
            .map(|path| parent_of(path))
            .collect();
        for path in &self.selected {
            let parent = parent_of(path);
            let Some(kind) = LockfileKind::detect(file_name(path), || file_name(parent)) else {
                continue;
            };
            if kind == LockfileKind::GoSum && directories_with_go_mod.contains(parent) {
                continue; // read together with its go.mod
            }
            scan.read_lockfile(path, kind);
        }
        let selected: HashSet<&String> = self.selected.iter().collect();
        Inventory {
            components: scan.components.into_values().collect(),
            lockfiles: scan.lockfiles.into_iter().collect(),
            errors: scan.errors,
            inputs: scan
                .inputs
                .into_iter()
                .filter(|path| !selected.contains(path))
                .collect(),
        }
    }
}

fn scan_root(root: &Path) -> Result<PathBuf> {
    root.canonicalize()
        .ok()
        .filter(|path| path.is_dir())
        .ok_or_else(|| SbomError::NotADirectory {
            path: root.to_path_buf(),
        })
}

/// Whether the walk enters a directory of this name (given whether its parent holds `go.mod`).
fn descend(name: &str, parent_has_go_mod: bool) -> bool {
    !(name == ".git" || name == "node_modules" || (name == "vendor" && parent_has_go_mod))
}

/// Whether the file at this relative path is a lockfile (or a `go.mod` / `go.sum`).
fn is_lockfile(path: &str) -> bool {
    LockfileKind::detect(file_name(path), || file_name(parent_of(path))).is_some()
}

/// Whether the walk of [`inventory`] enters `directory` (relative, `""` for the root), deciding each ancestor
/// as the walk does: pruned by name, or past the depth bound (then recorded in `too_deep`).
fn walked_directory(
    root: &Path,
    directory: &str,
    known: &mut HashMap<String, bool>,
    too_deep: &mut BTreeSet<String>,
) -> bool {
    if directory.is_empty() {
        return true;
    }
    if let Some(&walked) = known.get(directory) {
        return walked;
    }
    let parent = parent_of(directory);
    let walked = walked_directory(root, parent, known, too_deep) && {
        let name = file_name(directory);
        // The walk asks whether the parent lists an entry named go.mod (of any kind) only for `vendor`.
        let parent_has_go_mod =
            name == "vendor" && root.join(parent).join("go.mod").symlink_metadata().is_ok();
        let depth = slashes(directory) + 1;
        if !descend(name, parent_has_go_mod) {
            false
        } else if depth > fsutil::MAX_DEPTH {
            too_deep.insert(directory.to_string());
            false
        } else {
            true
        }
    };
    known.insert(directory.to_string(), walked);
    walked
}

struct Scan {
    /// The scan root; every file read is opened through it: never through a link, never out of the root.
    beneath: Beneath,
    /// Keyed by purl, so the final list is deduplicated and sorted.
    components: BTreeMap<String, Component>,
    lockfiles: BTreeSet<String>,
    errors: Vec<SbomError>,
    parsed: HashSet<String>,
    /// Every file read or looked for besides the chosen lockfiles (siblings, included files).
    inputs: BTreeSet<String>,
}

impl Scan {
    fn read_lockfile(&mut self, path: &str, kind: LockfileKind) {
        if !self.parsed.insert(path.to_string()) {
            return;
        }
        let limit = kind.size_limit();
        let text = match fsutil::read_text(&mut self.beneath, path, limit, kind.format_name()) {
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
        self.inputs.insert(relative.clone());
        let text = fsutil::read_text(
            &mut self.beneath,
            &relative,
            LockfileKind::GoSum.size_limit(),
            "go.sum",
        );
        let parsed = match text {
            // None beside the go.mod: read without one. A link there, or anything else, is reported.
            Err(SbomError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return None
            }
            text => text.map(|text| golang::parse_go_sum(&text, &relative, &mut self.errors)),
        };
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
    fn read_sibling(&mut self, lockfile: &str, name: &'static str) -> Option<String> {
        let relative = join_relative(parent_of(lockfile), name)?;
        self.inputs.insert(relative.clone());
        fsutil::read_text(&mut self.beneath, &relative, MANIFEST_LIMIT, name).ok()
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
        self.inputs.insert(relative.clone());
        self.parsed.insert(relative.clone());
        let text = match fsutil::read_text(
            &mut self.beneath,
            &relative,
            LockfileKind::Requirements.size_limit(),
            "requirements file",
        ) {
            Ok(text) => text,
            // Absent, or reached only through a link (which may point anywhere): not a file of the tree.
            Err(SbomError::Io { source, .. }) => {
                return self.errors.push(outside(&format!(
                    "names no file inside the scan root ({source})"
                )))
            }
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

/// How many `/` a relative path holds (byte by byte: run on every path of a large tree).
fn slashes(relative: &str) -> usize {
    relative.bytes().filter(|&byte| byte == b'/').count()
}

fn parent_of(relative: &str) -> &str {
    relative.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn file_name(relative: &str) -> &str {
    relative.rsplit_once('/').map_or(relative, |(_, name)| name)
}
