//! Signing keys: generation, openssl-made keys (SEC1 and PKCS#8), PKCS#8 export, key ids, and signatures
//! checked independently by the openssl command line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_attest::{Algorithm, AttestError, Signer, SigningKey, MAX_KEY_PEM_BYTES};
use common::{ed25519_verifies, openssl, openssl_ok, p256_verifies, write};
use sha2::{Digest, Sha256};

/// Checks `key` against openssl: its public key, key id and a signature over `message`.
fn assert_openssl_agrees(dir: &std::path::Path, key: &SigningKey, private_pem_file: &str) {
    let openssl_public = openssl_ok(dir, &["pkey", "-in", private_pem_file, "-pubout"]);
    assert_eq!(
        key.public_key_pem(),
        String::from_utf8(openssl_public).unwrap()
    );

    let spki_der = openssl_ok(
        dir,
        &[
            "pkey",
            "-in",
            private_pem_file,
            "-pubout",
            "-outform",
            "DER",
        ],
    );
    assert_eq!(key.key_id(), hex::encode(Sha256::digest(&spki_der)));

    write(dir, "pub.pem", key.public_key_pem().as_bytes());
    let message = b"certus evidence bundle";
    write(dir, "msg.bin", message);
    write(dir, "sig.bin", &key.sign(message).unwrap());
    let (verified, _, stderr) = match key.algorithm() {
        Algorithm::EcdsaP256Sha256 => openssl(
            dir,
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.bin",
                "msg.bin",
            ],
        ),
        Algorithm::Ed25519 => openssl(
            dir,
            &[
                "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg.bin",
                "-sigfile", "sig.bin",
            ],
        ),
    };
    assert!(verified, "openssl rejected our signature: {stderr}");
}

#[test]
fn generated_keys_sign_what_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = SigningKey::generate(algorithm).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN\x20PRIVATE KEY-----\n"));
        write(dir.path(), "key.pem", pem.as_bytes());
        assert_openssl_agrees(dir.path(), &key, "key.pem");

        let reloaded = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(reloaded.key_id(), key.key_id());
        assert_eq!(reloaded.algorithm(), algorithm);
    }
}

#[test]
fn two_generated_keys_differ() {
    let first = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let second = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    assert_ne!(first.key_id(), second.key_id());
    let first = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let second = SigningKey::generate(Algorithm::Ed25519).unwrap();
    assert_ne!(first.key_id(), second.key_id());
}

#[test]
fn algorithm_names_and_default() {
    assert_eq!(Algorithm::default(), Algorithm::EcdsaP256Sha256);
    assert_eq!(Algorithm::EcdsaP256Sha256.to_string(), "ecdsa-p256-sha256");
    assert_eq!(Algorithm::Ed25519.as_str(), "ed25519");
}

#[test]
fn loads_openssl_sec1_key_with_ec_parameters_block() {
    let dir = tempfile::tempdir().unwrap();
    openssl_ok(
        dir.path(),
        &[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-out",
            "sec1.pem",
        ],
    );
    let text = std::fs::read_to_string(dir.path().join("sec1.pem")).unwrap();
    assert!(text.contains("BEGIN EC PARAMETERS") && text.contains("BEGIN EC\x20PRIVATE KEY"));
    let key = SigningKey::from_pem(&text).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EcdsaP256Sha256);
    assert_openssl_agrees(dir.path(), &key, "sec1.pem");
}

#[test]
fn loads_openssl_pkcs8_keys() {
    let dir = tempfile::tempdir().unwrap();
    openssl_ok(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "p256.pem",
        ],
    );
    openssl_ok(
        dir.path(),
        &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"],
    );
    for (file, algorithm) in [
        ("p256.pem", Algorithm::EcdsaP256Sha256),
        ("ed.pem", Algorithm::Ed25519),
    ] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let key = SigningKey::from_pem(&text).unwrap();
        assert_eq!(key.algorithm(), algorithm, "{file}");
        assert_openssl_agrees(dir.path(), &key, file);
    }
}

#[test]
fn exported_pkcs8_is_readable_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    openssl_ok(
        dir.path(),
        &[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-out",
            "sec1.pem",
        ],
    );
    let key = SigningKey::from_pem(&std::fs::read_to_string(dir.path().join("sec1.pem")).unwrap())
        .unwrap();
    write(
        dir.path(),
        "exported.pem",
        key.to_pkcs8_pem().unwrap().as_bytes(),
    );
    let from_exported = openssl_ok(dir.path(), &["pkey", "-in", "exported.pem", "-pubout"]);
    let from_original = openssl_ok(dir.path(), &["pkey", "-in", "sec1.pem", "-pubout"]);
    assert_eq!(from_exported, from_original);
}

#[test]
fn signatures_verify_with_rustcrypto_and_fail_for_other_messages_and_keys() {
    let message = b"payload";
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = SigningKey::generate(algorithm).unwrap();
        let other = SigningKey::generate(algorithm).unwrap();
        let signature = Signer::sign(&key, message).unwrap();
        let verifies = match algorithm {
            Algorithm::EcdsaP256Sha256 => p256_verifies,
            Algorithm::Ed25519 => ed25519_verifies,
        };
        assert!(verifies(key.public_key_pem(), message, &signature));
        assert!(!verifies(key.public_key_pem(), b"payloae", &signature));
        assert!(!verifies(other.public_key_pem(), message, &signature));
    }
}

#[test]
fn signer_trait_matches_inherent_methods() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let signer: &dyn Signer = &key;
    assert_eq!(signer.key_id(), key.key_id());
    assert_eq!(signer.algorithm(), Algorithm::Ed25519);
    assert_eq!(signer.public_key_pem(), key.public_key_pem());
    assert_eq!(signer.sign(b"m").unwrap(), key.sign(b"m").unwrap());
}

#[test]
fn debug_output_does_not_reveal_the_secret() {
    let key = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains(key.key_id()));
    let pem = key.to_pkcs8_pem().unwrap();
    let body: String = pem.lines().nth(1).unwrap().chars().take(20).collect();
    assert!(!debug.contains(&body));
}

fn invalid_key_reason(pem: &str) -> String {
    match SigningKey::from_pem(pem) {
        Err(AttestError::InvalidKey { origin, reason }) => {
            assert_eq!(origin, "PEM text");
            reason
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

#[test]
fn rejects_unsupported_and_malformed_keys() {
    let dir = tempfile::tempdir().unwrap();
    openssl_ok(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "p384.pem",
        ],
    );
    openssl_ok(
        dir.path(),
        &[
            "ecparam",
            "-genkey",
            "-name",
            "secp384r1",
            "-noout",
            "-out",
            "p384-sec1.pem",
        ],
    );
    openssl_ok(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "rsa.pem",
        ],
    );
    openssl_ok(
        dir.path(),
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "p384.pem",
            "-passout",
            "pass:not-a-secret",
            "-out",
            "encrypted.pem",
        ],
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    assert!(invalid_key_reason(&read("p384.pem")).contains("only P-256 is supported"));
    assert!(invalid_key_reason(&read("p384-sec1.pem")).contains("not a SEC1 P-256 private key"));
    assert!(invalid_key_reason(&read("rsa.pem"))
        .contains("unsupported key algorithm OID 1.2.840.113549.1.1.1"));
    assert!(invalid_key_reason(&read("encrypted.pem"))
        .contains("encrypted PKCS#8 keys are not supported"));
    assert!(invalid_key_reason("not a key").contains("no PEM block found"));
    let public_only = SigningKey::generate(Algorithm::Ed25519).unwrap();
    assert!(invalid_key_reason(public_only.public_key_pem()).contains("found: PUBLIC KEY"));
    assert!(invalid_key_reason(
        "-----BEGIN\x20PRIVATE KEY-----\n!!!notbase64!!!\n-----END PRIVATE KEY-----\n"
    )
    .contains("malformed PEM"));
    assert!(invalid_key_reason(
        "-----BEGIN\x20PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n"
    )
    .contains("not a PKCS#8 private key"));
    let huge = "A".repeat(MAX_KEY_PEM_BYTES + 1);
    assert!(invalid_key_reason(&huge).contains("more than the limit"));
}

#[test]
fn loads_pkcs8_v2_ed25519_and_rejects_a_mismatched_public_key() {
    use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes, PublicKeyBytes};
    use p256::pkcs8::LineEnding;

    let seed = [7u8; 32];
    let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
    let v2 = dalek.to_pkcs8_pem(LineEnding::LF).unwrap();
    let key = SigningKey::from_pem(&v2).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Ed25519);
    assert!(ed25519_verifies(
        key.public_key_pem(),
        b"m",
        &key.sign(b"m").unwrap()
    ));
    assert_eq!(
        key.sign(b"m").unwrap(),
        ed25519_dalek::Signer::sign(&dalek, b"m")
            .to_bytes()
            .to_vec()
    );

    let other_public = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]).verifying_key();
    let mismatched = KeypairBytes {
        secret_key: seed,
        public_key: Some(PublicKeyBytes(other_public.to_bytes())),
    }
    .to_pkcs8_pem(LineEnding::LF)
    .unwrap();
    assert!(invalid_key_reason(&mismatched).contains("malformed Ed25519 private key"));
}
