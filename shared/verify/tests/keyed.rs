//! cosign keyed blob signatures with vectors made at test time by `openssl` (and Ed25519ph in Rust).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_verify::{
    verify, KeyAlgorithm, Method, PublicKey, Signature, TrustMaterial, VerifyError,
};
use common::{b64, ed25519_key, ed25519_sign, p256_key, p256_sign};
use ed25519_dalek::{Digest, Sha512};

const BLOB: &[u8] = b"{\"product\":\"certus\",\"version\":\"1\",\"profiles\":[]}\n";

fn check(
    pem: &str,
    signature_file: &[u8],
    blob: &[u8],
) -> Result<certus_verify::Verification, VerifyError> {
    let key = PublicKey::from_pem(pem)?;
    let signature = Signature::parse(signature_file)?;
    verify(
        &signature,
        Some(blob),
        &TrustMaterial {
            key: Some(&key),
            ..TrustMaterial::default()
        },
    )
}

fn assert_bad_signature(result: Result<certus_verify::Verification, VerifyError>) {
    match result {
        Err(VerifyError::BadSignature(message)) => {
            assert!(message.contains("does not match"), "{message}");
        }
        other => panic!("expected BadSignature, got {other:?}"),
    }
}

fn assert_malformed_signature(result: Result<certus_verify::Verification, VerifyError>) {
    match result {
        Err(err @ VerifyError::MalformedSignature(_)) => {
            assert!(err.to_string().starts_with("signature is malformed"));
        }
        other => panic!("expected MalformedSignature, got {other:?}"),
    }
}

#[test]
fn p256_openssl_signature_verifies_and_reports_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (private, pem) = p256_key(dir.path(), "signer");
    let sig_file = format!("{}\n", b64(&p256_sign(dir.path(), &private, BLOB)));
    let verification = check(&pem, sig_file.as_bytes(), BLOB).unwrap();
    assert_eq!(verification.method, Method::CosignKeyedEcdsaP256);
    assert_eq!(verification.key_algorithm, KeyAlgorithm::EcdsaP256);

    // The fingerprint is the SHA-256 of the SPKI DER, as `openssl pkey -pubin -outform DER | sha256sum` gives.
    let der = common::openssl(
        dir.path(),
        &["pkey", "-pubin", "-in", "signer.pub", "-outform", "DER"],
    );
    let key = PublicKey::from_pem(&pem).unwrap();
    assert_eq!(key.spki_der(), der.as_slice());
    assert_eq!(verification.key_fingerprint, key.fingerprint());
    assert_eq!(
        key.fingerprint(),
        hex::encode(<sha2::Sha256 as Digest>::digest(&der))
    );
    assert_eq!(key.hint(), b64(&<sha2::Sha256 as Digest>::digest(&der)));
}

#[test]
fn p256_failures_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (private, pem) = p256_key(dir.path(), "signer");
    let (_, other_pem) = p256_key(dir.path(), "other");
    let der = p256_sign(dir.path(), &private, BLOB);

    assert_bad_signature(check(&pem, b64(&der).as_bytes(), b"tampered blob"));
    assert_bad_signature(check(&other_pem, b64(&der).as_bytes(), BLOB));
    // Truncated DER; never to 64 bytes, which would read as a raw r‖s signature (and just not verify).
    let cut = if der.len() - 5 == 64 { 6 } else { 5 };
    assert_malformed_signature(check(&pem, b64(&der[..der.len() - cut]).as_bytes(), BLOB));
}

#[test]
fn p256_accepts_url_safe_base64_and_raw_r_s() {
    let dir = tempfile::tempdir().unwrap();
    let (private, pem) = p256_key(dir.path(), "signer");
    let der = p256_sign(dir.path(), &private, BLOB);
    let url_safe = b64(&der)
        .replace('+', "-")
        .replace('/', "_")
        .trim_end_matches('=')
        .to_owned();
    check(&pem, url_safe.as_bytes(), BLOB).unwrap();

    let wrapped: String = b64(&der)
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
        .collect();
    assert!(
        wrapped.trim_end().contains('\n'),
        "the signature must span lines"
    );
    check(&pem, wrapped.as_bytes(), BLOB).unwrap();

    let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
    check(&pem, b64(&raw).as_bytes(), BLOB).unwrap();
}

#[test]
fn p256_high_s_signature_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (private, pem) = p256_key(dir.path(), "signer");
    let der = p256_sign(dir.path(), &private, BLOB);
    let signature = p256::ecdsa::Signature::from_der(&der).unwrap();
    let low = signature.normalize_s();
    let (r, s) = low.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    assert_ne!(high, low, "negating s must change the signature");
    assert_ne!(
        high.normalize_s(),
        high,
        "the test signature must be high-S"
    );
    check(
        &pem,
        format!("{}\n", b64(&high.to_der().to_bytes())).as_bytes(),
        BLOB,
    )
    .unwrap();
    check(&pem, b64(&low.to_der().to_bytes()).as_bytes(), BLOB).unwrap();
}

#[test]
fn ed25519_openssl_signature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (private, pem) = ed25519_key(dir.path(), "signer");
    let sig = ed25519_sign(dir.path(), &private, BLOB);
    let verification = check(&pem, format!("{}\n", b64(&sig)).as_bytes(), BLOB).unwrap();
    assert_eq!(verification.method, Method::CosignKeyedEd25519);
    assert_eq!(verification.key_algorithm, KeyAlgorithm::Ed25519);
}

#[test]
fn ed25519_failures_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (private, pem) = ed25519_key(dir.path(), "signer");
    let (_, other_pem) = ed25519_key(dir.path(), "other");
    let sig = ed25519_sign(dir.path(), &private, BLOB);

    assert_bad_signature(check(&pem, b64(&sig).as_bytes(), b"tampered blob"));
    assert_bad_signature(check(&other_pem, b64(&sig).as_bytes(), BLOB));
    match check(&pem, b64(&sig[..63]).as_bytes(), BLOB) {
        Err(VerifyError::MalformedSignature(message)) => {
            assert!(message.contains("64 bytes, got 63"), "{message}");
        }
        other => panic!("expected MalformedSignature, got {other:?}"),
    }
}

fn random_seed() -> [u8; 32] {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut seed)
        .unwrap();
    seed
}

#[test]
fn ed25519ph_signature_made_in_rust_verifies() {
    let signing = ed25519_dalek::SigningKey::from_bytes(&random_seed());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&[
            &hex::decode("302a300506032b6570032100").unwrap()[..],
            signing.verifying_key().as_bytes()
        ]
        .concat())
    );
    let prehashed = signing
        .sign_prehashed(Sha512::new().chain_update(BLOB), None)
        .unwrap();
    let sig = prehashed.to_bytes();
    let verification = check(&pem, b64(&sig).as_bytes(), BLOB).unwrap();
    assert_eq!(verification.method, Method::CosignKeyedEd25519);

    assert_bad_signature(check(&pem, b64(&sig).as_bytes(), b"tampered blob"));
    let other = ed25519_dalek::SigningKey::from_bytes(&random_seed());
    let other_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&[
            &hex::decode("302a300506032b6570032100").unwrap()[..],
            other.verifying_key().as_bytes()
        ]
        .concat())
    );
    assert_bad_signature(check(&other_pem, b64(&sig).as_bytes(), BLOB));
    assert_malformed_signature(check(&pem, b64(&sig[..40]).as_bytes(), BLOB));
}

#[test]
fn unsupported_and_malformed_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    common::openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.key",
        ],
    );
    let rsa = String::from_utf8(common::openssl(
        dir.path(),
        &["pkey", "-in", "rsa.key", "-pubout"],
    ))
    .unwrap();
    match PublicKey::from_pem(&rsa) {
        Err(VerifyError::UnsupportedKey(kind)) => assert_eq!(kind, "RSA"),
        other => panic!("expected UnsupportedKey, got {other:?}"),
    }
    common::openssl(
        dir.path(),
        &[
            "ecparam",
            "-genkey",
            "-name",
            "secp384r1",
            "-noout",
            "-out",
            "p384.key",
        ],
    );
    let p384 = String::from_utf8(common::openssl(
        dir.path(),
        &["ec", "-in", "p384.key", "-pubout"],
    ))
    .unwrap();
    match PublicKey::from_pem(&p384) {
        Err(err @ VerifyError::UnsupportedKey(_)) => {
            assert!(err.to_string().contains("ECDSA P-384"), "{err}");
        }
        other => panic!("expected UnsupportedKey, got {other:?}"),
    }
    let private = std::fs::read_to_string(dir.path().join("p384.key")).unwrap();
    match PublicKey::from_pem(&private) {
        Err(err @ VerifyError::MalformedKey(_)) => {
            assert!(err.to_string().contains("PUBLIC KEY"), "{err}");
        }
        other => panic!("expected MalformedKey, got {other:?}"),
    }
    let identity_point = [
        &hex::decode("302a300506032b6570032100").unwrap()[..],
        &[1u8],
        &[0u8; 31],
    ]
    .concat();
    match PublicKey::from_spki_der(&identity_point) {
        Err(err @ VerifyError::MalformedKey(_)) => {
            assert!(err.to_string().contains("weak"), "{err}");
        }
        other => panic!("expected MalformedKey, got {other:?}"),
    }
    assert!(matches!(
        PublicKey::from_pem("not pem"),
        Err(VerifyError::MalformedKey(_))
    ));
}

#[test]
fn raw_signature_needs_a_key_and_a_blob() {
    let signature = Signature::parse(b64(&[1u8; 64]).as_bytes()).unwrap();
    let err = verify(&signature, Some(BLOB), &TrustMaterial::default()).unwrap_err();
    assert!(matches!(err, VerifyError::Missing("a public key")), "{err}");
}

#[test]
fn raw_signatures_against_a_sha256_digest() {
    use certus_verify::{verify_artifact, Artifact};
    let dir = tempfile::tempdir().unwrap();
    let digest: [u8; 32] = <sha2::Sha256 as Digest>::digest(BLOB).into();
    let by_digest = |pem: &str, sig: &[u8], digest: &[u8; 32]| {
        let key = PublicKey::from_pem(pem).unwrap();
        verify_artifact(
            &Signature::parse(b64(sig).as_bytes()).unwrap(),
            Some(Artifact::Sha256Digest(digest)),
            &TrustMaterial {
                key: Some(&key),
                ..TrustMaterial::default()
            },
        )
    };
    let (private, pem) = p256_key(dir.path(), "signer");
    let sig = p256_sign(dir.path(), &private, BLOB);
    let verification = by_digest(&pem, &sig, &digest).unwrap();
    assert_eq!(verification.method, Method::CosignKeyedEcdsaP256);
    assert_bad_signature(by_digest(&pem, &sig, &[0u8; 32]));

    // Ed25519 signs the message itself: a digest cannot stand in for it.
    let (private, pem) = ed25519_key(dir.path(), "ed");
    let sig = ed25519_sign(dir.path(), &private, BLOB);
    let err = by_digest(&pem, &sig, &digest).unwrap_err();
    assert!(
        matches!(err, VerifyError::Missing(m) if m.contains("unsupported")),
        "{err}"
    );
}
