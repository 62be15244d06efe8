//! Version comparison per ecosystem: semver for cargo, npm and Go; PEP 440 for PyPI.

pub mod pep440;
pub mod semver_req;

use std::cmp::Ordering;

use crate::model::Ecosystem;

/// Compares two versions of one ecosystem; `None` when either cannot be parsed.
pub fn compare(ecosystem: Ecosystem, left: &str, right: &str) -> Option<Ordering> {
    match ecosystem {
        Ecosystem::Pypi => {
            let left = pep440::Pep440Version::parse(left)?;
            let right = pep440::Pep440Version::parse(right)?;
            Some(left.cmp(&right))
        }
        Ecosystem::Cargo | Ecosystem::Npm | Ecosystem::Golang => {
            let left = semver_req::parse_version(left)?;
            let right = semver_req::parse_version(right)?;
            Some(left.cmp_precedence(&right))
        }
    }
}
