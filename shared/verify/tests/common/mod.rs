//! Test helpers: locating `../shared`, running `openssl`, and small byte utilities.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared` (or `$CERTUS_SHARED_DIR`), or `None` after the skip notice when absent.
pub fn shared_dir() -> Option<PathBuf> {
    certus_testkit::shared_dir("data/sigstore/npm_slsa_bundle_v03.json")
}

/// Runs `openssl` with `args` in `dir`, panicking with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A fresh P-256 key in `dir`: returns (private key file name, public PEM).
pub fn p256_key(dir: &Path, name: &str) -> (String, String) {
    let private = format!("{name}.key");
    openssl(
        dir,
        &[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
            &private,
        ],
    );
    let public = format!("{name}.pub");
    openssl(dir, &["ec", "-in", &private, "-pubout", "-out", &public]);
    (private, std::fs::read_to_string(dir.join(&public)).unwrap())
}

/// A fresh Ed25519 key in `dir`: returns (private key file name, public PEM).
pub fn ed25519_key(dir: &Path, name: &str) -> (String, String) {
    let private = format!("{name}.key");
    openssl(dir, &["genpkey", "-algorithm", "ed25519", "-out", &private]);
    let public = format!("{name}.pub");
    openssl(dir, &["pkey", "-in", &private, "-pubout", "-out", &public]);
    (private, std::fs::read_to_string(dir.join(&public)).unwrap())
}

/// DER ECDSA P-256/SHA-256 signature of `message` by `private` (a file in `dir`).
pub fn p256_sign(dir: &Path, private: &str, message: &[u8]) -> Vec<u8> {
    let file = dir.join("to-sign.bin");
    std::fs::write(&file, message).unwrap();
    openssl(dir, &["dgst", "-sha256", "-sign", private, "to-sign.bin"])
}

/// PureEd25519 signature of `message` by `private` (a file in `dir`).
pub fn ed25519_sign(dir: &Path, private: &str, message: &[u8]) -> Vec<u8> {
    let file = dir.join("to-sign.bin");
    std::fs::write(&file, message).unwrap();
    openssl(
        dir,
        &[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            private,
            "-in",
            "to-sign.bin",
        ],
    )
}

/// Standard padded base64.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64.
pub fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// Deterministic pseudo-random bytes (xorshift) for garbage inputs.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
