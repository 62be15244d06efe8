//! Helpers shared by the integration tests: writing sample trees and locating `../shared`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// Writes `text` to `root/relative`, creating parent folders.
pub fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// `../shared` (or `$CERTUS_SHARED_DIR`), or `None` after the skip notice when absent.
pub fn shared_dir() -> Option<PathBuf> {
    certus_testkit::shared_dir("data/rustsec-advisory-db")
}

/// The CycloneDX document of `inventory`, as JSON values to look into.
pub fn cyclonedx_json(
    inventory: &certus_sbom::Inventory,
    meta: &certus_sbom::SbomMeta,
) -> serde_json::Value {
    serde_json::to_value(certus_sbom::cyclonedx(inventory, meta)).unwrap()
}

/// The SPDX document of `inventory`, as JSON values to look into.
pub fn spdx_json(
    inventory: &certus_sbom::Inventory,
    meta: &certus_sbom::SbomMeta,
) -> serde_json::Value {
    serde_json::to_value(certus_sbom::spdx(inventory, meta)).unwrap()
}
