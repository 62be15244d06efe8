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

/// `$CERTUS_SHARED_DIR`, else `<repo root>/../shared`; `None` (after printing the skip notice)
/// when it is absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CERTUS_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared absent");
        None
    }
}
