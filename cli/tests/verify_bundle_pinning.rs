//! W11 of the 2026-12 red-team: a bundle signed by a key of its own (a separate `certus scan` with a fresh
//! data directory) no longer passes `certus verify-bundle` silently. Without `--key` the result is UNPINNED
//! with exit 3; `--trust-embedded-key` accepts the published key explicitly; `--key` pins Assurance's key and
//! refuses the other one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;

mod common;
use common::certus;

/// A passing scan of a small tree with its own data directory (and so its own signing key); the bundle dir.
fn bundle(work: &Path, name: &str) -> std::path::PathBuf {
    let src = work.join(format!("{name}-src"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    let manifest = work.join("m.json");
    std::fs::write(
        &manifest,
        r#"{"profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    let out = work.join(format!("{name}-bundle"));
    let scan = certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &work.join(format!("{name}-data")),
    );
    assert_eq!(scan.status.code(), Some(0), "{scan:?}");
    out
}

#[test]
fn a_bundle_checked_only_with_its_own_published_key_is_unpinned_and_exits_3() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("auditor");
    let ours = bundle(work.path(), "ours");
    let forged = bundle(work.path(), "forged");
    // The auditor's copy of Assurance's key, obtained out of band.
    let pin = work.path().join("assurance.pub.pem");
    std::fs::copy(ours.join("reports/signing/signing-key.pub.pem"), &pin).unwrap();
    let verify = |bundle: &Path, extra: &[&str]| {
        let mut args = vec!["verify-bundle", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = certus(&args, &data);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let (code, text) = verify(&forged, &[]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("UNPINNED"), "{text}");
    assert!(text.contains("NOT VERIFIED"), "{text}");
    assert!(!text.contains("bundle verified"), "{text}");
    let (code, json) = verify(&forged, &["--json"]);
    assert_eq!(code, Some(3), "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["signer"], "unpinned", "{report}");
    assert_eq!(report["passed"], true, "{report}");

    let (code, text) = verify(&forged, &["--trust-embedded-key"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("accepted by --trust-embedded-key"), "{text}");

    let pin = pin.to_str().unwrap();
    let (code, text) = verify(&forged, &["--key", pin]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is not the pinned key"), "{text}");
    let (code, text) = verify(&ours, &["--key", pin]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.trim_end().ends_with("bundle verified"), "{text}");

    // Pinning and accepting the published key at once is a usage error.
    let (code, _) = verify(&ours, &["--key", pin, "--trust-embedded-key"]);
    assert_eq!(code, Some(2));
}
