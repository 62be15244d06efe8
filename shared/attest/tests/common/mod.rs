//! Test helpers: running openssl in a temporary directory, verifying signatures with RustCrypto, and a
//! sample SLSA provenance statement.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use certus_attest::{
    BuildDefinition, BuildMetadata, Builder, DigestSet, Provenance, ResourceDescriptor, RunDetails,
    Statement, Subject,
};
use p256::pkcs8::DecodePublicKey;
use serde_json::json;

/// Runs `openssl` with `args` in `dir`; returns (success, stdout, stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl binary must be installed to run these tests");
    (
        output.status.success(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `openssl` and panics with its stderr when it fails.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let (ok, stdout, stderr) = openssl(dir, args);
    assert!(ok, "openssl {args:?} failed: {stderr}");
    stdout
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Verifies a DER ECDSA P-256 signature over SHA-256(message) with RustCrypto.
pub fn p256_verifies(public_key_pem: &str, message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(public_key_pem).unwrap();
    let Ok(signature) = p256::ecdsa::DerSignature::try_from(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// Verifies a PureEd25519 signature with ed25519-dalek.
pub fn ed25519_verifies(public_key_pem: &str, message: &[u8], signature: &[u8]) -> bool {
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(public_key_pem).unwrap();
    let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &signature).is_ok()
}

/// A complete, valid statement about two bundle files.
pub fn sample_statement() -> Statement {
    let provenance = Provenance {
        build_definition: BuildDefinition {
            build_type: "https://certus.example/assurance/scan/v1".to_string(),
            external_parameters: json!({"manifest": "manifest.json", "profile": "light"}),
            internal_parameters: Some(json!({"workers": 2})),
            resolved_dependencies: vec![ResourceDescriptor {
                uri: Some("git+https://example.com/repo.git@refs/heads/main".to_string()),
                digest: DigestSet::from([("gitCommit".to_string(), "a".repeat(40))]),
                ..ResourceDescriptor::default()
            }],
        },
        run_details: RunDetails {
            builder: Builder {
                id: "https://certus.example/assurance".to_string(),
                version: [("certus-assurance".to_string(), "0.1.0".to_string())].into(),
            },
            metadata: BuildMetadata {
                invocation_id: Some("scan-123".to_string()),
                started_on: Some("2026-11-28T22:00:00Z".to_string()),
                finished_on: Some("2026-11-28T22:05:00Z".to_string()),
            },
            byproducts: vec![ResourceDescriptor {
                name: Some("logs/runner.log".to_string()),
                digest: DigestSet::from([("sha256".to_string(), "0".repeat(64))]),
                ..ResourceDescriptor::default()
            }],
        },
    };
    Statement::new(
        vec![
            Subject::from_content("scan.json", b"{\"scan_id\":\"scan-123\"}"),
            Subject::from_content("reports/sast/bandit.sarif.json", b"{}"),
        ],
        provenance,
    )
}
