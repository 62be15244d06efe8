//! Semver parsing for cargo, npm and Go versions, and requirement matching by plain version order.
//!
//! `semver::VersionReq::matches` refuses pre-releases unless a comparator names the same
//! `major.minor.patch`; for advisories that would call `0.7.0-rc.1` "not patched" by
//! `>= 0.6.3`. Here every comparator is turned into a version interval and checked by order.

use semver::{Comparator, Op, Prerelease, Version, VersionReq};

/// Parses `1.2.3`, `v1.2.3` (Go), `=1.2.3`, and pads `1.2` / `1` with zeros.
pub fn parse_version(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let text = text.strip_prefix('=').unwrap_or(text).trim();
    if let Ok(version) = Version::parse(text) {
        return Some(version);
    }
    let core_end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, suffix) = text.split_at(core_end);
    let padded = match core.split('.').count() {
        1 => format!("{core}.0.0{suffix}"),
        2 => format!("{core}.0{suffix}"),
        _ => return None,
    };
    Version::parse(&padded).ok()
}

/// True when `version` satisfies every comparator of `requirement` (ordering-based).
pub fn requirement_matches(requirement: &VersionReq, version: &Version) -> bool {
    requirement
        .comparators
        .iter()
        .all(|comparator| comparator_matches(comparator, version))
}

fn comparator_matches(comparator: &Comparator, version: &Version) -> bool {
    let major = comparator.major;
    let floor = Version {
        major,
        minor: comparator.minor.unwrap_or(0),
        patch: comparator.patch.unwrap_or(0),
        pre: comparator.pre.clone(),
        build: semver::BuildMetadata::EMPTY,
    };
    // The smallest version above every version the partial comparator covers.
    let partial_ceiling = match (comparator.minor, comparator.patch) {
        (None, _) => lowest(major + 1, 0, 0),
        (Some(minor), None) => lowest(major, minor + 1, 0),
        (Some(minor), Some(patch)) => lowest(major, minor, patch + 1),
    };
    let version = &Version {
        build: semver::BuildMetadata::EMPTY,
        ..version.clone()
    };
    match comparator.op {
        Op::Exact | Op::Wildcard => {
            if comparator.patch.is_some() {
                version == &floor
            } else {
                version >= &floor && version < &partial_ceiling
            }
        }
        Op::Greater => {
            if comparator.patch.is_some() {
                version > &floor
            } else {
                version >= &partial_ceiling
            }
        }
        Op::GreaterEq => version >= &floor,
        Op::Less => version < &floor,
        Op::LessEq => {
            if comparator.patch.is_some() {
                version <= &floor
            } else {
                version < &partial_ceiling
            }
        }
        Op::Tilde => {
            let ceiling = match comparator.minor {
                Some(minor) => lowest(major, minor + 1, 0),
                None => lowest(major + 1, 0, 0),
            };
            version >= &floor && version < &ceiling
        }
        Op::Caret => {
            let ceiling = match (major, comparator.minor, comparator.patch) {
                (0, Some(0), Some(patch)) => lowest(0, 0, patch + 1),
                (0, Some(minor), _) => lowest(0, minor + 1, 0),
                (_, None, _) => lowest(major + 1, 0, 0),
                (_, Some(_), _) => lowest(major + 1, 0, 0),
            };
            version >= &floor && version < &ceiling
        }
        _ => false,
    }
}

/// The lowest version of `major.minor.patch`, below all of its pre-releases (`-0`).
fn lowest(major: u64, minor: u64, patch: u64) -> Version {
    Version {
        major,
        minor,
        patch,
        pre: Prerelease::new("0").unwrap_or(Prerelease::EMPTY),
        build: semver::BuildMetadata::EMPTY,
    }
}
