//! Manifest bytes from an untrusted repository or URI: parsing and profile resolution must refuse bad input
//! with an error, never panic, and never resolve a tool id that carries anything but an id.
#![no_main]

use certus_core::digest::Sha256Digest;
use certus_core::manifest::{manifest_info, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::parse(data) else {
        return;
    };
    for requested in ["light", "LIGHT", "smoke", "sbom-only", "custom"] {
        if let Ok(profile) = manifest.resolve_profile(requested, &|_| true) {
            for tool in &profile.tools {
                assert!(
                    !tool.id.is_empty()
                        && !tool.id.starts_with('-')
                        && !tool.id.chars().any(char::is_whitespace),
                    "resolved tool id {:?} could carry an argument",
                    tool.id
                );
            }
            let info = manifest_info(&manifest, &profile, Sha256Digest::of(data));
            assert!(serde_json::to_value(&info).is_ok_and(|v| v.is_object()));
        }
    }
});
