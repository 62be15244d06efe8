//! `certus verify-bundle` on a hostile bundle directory: the fuzz input becomes `bundle-index.json` and
//! the attestation; checking must report failures, never panic, never pass, and never read a file
//! outside the bundle (a canary outside with a matching digest must not be reported as checked).
#![no_main]

use std::path::{Component, Path};

use certus_core::bundle::{self, BundleIndex};
use certus_core::bundle_check::{verify_bundle, Pins};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<BundleIndex>(data);
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (index, attestation) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("canary.txt"), b"outside the bundle").expect("canary");
    let root = dir.path().join("bundle");
    std::fs::create_dir(&root).expect("bundle dir");
    std::fs::write(root.join("scan.json"), b"{}").expect("scan.json");
    std::fs::write(root.join(bundle::INDEX), index).expect("index");
    let attestation_path = root.join(bundle::ATTESTATION);
    std::fs::create_dir_all(attestation_path.parent().expect("parent")).expect("signing dir");
    std::fs::write(attestation_path, attestation).expect("attestation");
    let report = verify_bundle(&root, &Pins::default());
    assert!(!report.passed(), "a fuzzed bundle passed verification");
    if let Ok(index) = bundle::read_index(&root) {
        let escapes = index.files.iter().any(|e| {
            Path::new(&e.path)
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        });
        if let Ok(problems) = bundle::check_index(&root, &index) {
            assert!(
                !escapes || !problems.is_empty(),
                "an index entry outside the bundle was checked as fine: {index:?}"
            );
        }
    }
});
