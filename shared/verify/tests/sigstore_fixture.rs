//! The real npm SLSA bundle verifies offline, and each check rejects its own tampering.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_verify::{
    verify, BundleFormat, IdentityPolicy, Method, Signature, TrustMaterial, TrustedRoot,
    VerifyError,
};
use common::{b64, shared_dir, unb64};
use serde_json::Value;

const IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Fixture {
    bundle: Value,
    root: Value,
}

fn fixture() -> Option<Fixture> {
    let dir = shared_dir()?.join("data/sigstore");
    let read =
        |name: &str| serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
    Some(Fixture {
        bundle: read("npm_slsa_bundle_v03.json"),
        root: read("sigstore_trusted_root.json"),
    })
}

fn policy() -> IdentityPolicy {
    IdentityPolicy {
        identity: IDENTITY.into(),
        issuer: ISSUER.into(),
    }
}

fn run(
    bundle: &Value,
    root: &Value,
    policy: &IdentityPolicy,
    blob: Option<&[u8]>,
) -> Result<certus_verify::Verification, VerifyError> {
    let signature = Signature::parse(&serde_json::to_vec(bundle).unwrap())?;
    let root = TrustedRoot::from_json(&serde_json::to_vec(root).unwrap())?;
    verify(
        &signature,
        blob,
        &TrustMaterial {
            trusted_root: Some(&root),
            identity: Some(policy),
            ..TrustMaterial::default()
        },
    )
}

fn entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

/// Decodes the entry body, lets `edit` change it, and re-encodes it.
fn edit_body(bundle: &mut Value, edit: impl FnOnce(&mut Value)) {
    let body_field = &mut entry(bundle)["canonicalizedBody"];
    let mut body: Value = serde_json::from_slice(&unb64(body_field.as_str().unwrap())).unwrap();
    edit(&mut body);
    *body_field = Value::String(b64(&serde_json::to_vec(&body).unwrap()));
}

fn flip_base64(value: &mut Value, byte: usize) {
    let mut bytes = unb64(value.as_str().unwrap());
    bytes[byte] ^= 0x01;
    *value = Value::String(b64(&bytes));
}

#[test]
fn real_bundle_verifies() {
    let Some(f) = fixture() else { return };
    let verification = run(&f.bundle, &f.root, &policy(), None).unwrap();
    assert_eq!(verification.method, Method::SigstoreKeyless);
    assert_eq!(verification.bundle_format, Some(BundleFormat::SigstoreV03));
    assert_eq!(verification.identity.as_deref(), Some(IDENTITY));
    assert_eq!(verification.issuer.as_deref(), Some(ISSUER));
    assert_eq!(verification.rekor_log_index, Some(1_697_019_812));
    assert_eq!(verification.integrated_time, Some(1_780_347_770));
    let audit = serde_json::to_value(&verification).unwrap();
    assert_eq!(audit["method"], "sigstore-keyless");
    assert_eq!(audit["key_fingerprint"].as_str().unwrap().len(), 64);
}

#[test]
fn a_blob_that_is_not_the_subject_is_rejected() {
    let Some(f) = fixture() else { return };
    let err = run(&f.bundle, &f.root, &policy(), Some(b"not the npm tarball")).unwrap_err();
    assert!(matches!(err, VerifyError::DigestMismatch(_)), "{err}");
}

#[test]
fn chain_to_a_wrong_root_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut root = f.root.clone();
    // Keep only the 2021 CA, which did not issue this certificate.
    root["certificateAuthorities"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    root["certificateAuthorities"][0]["validFor"] =
        serde_json::json!({ "start": "2021-03-07T03:20:29Z" });
    let err = run(&f.bundle, &root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedChain(_)), "{err}");

    // A CA list with no CA valid at the signing time.
    let mut root = f.root.clone();
    root["certificateAuthorities"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    let err = run(&f.bundle, &root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedChain(_)), "{err}");
}

#[test]
fn wrong_identity_is_rejected() {
    let Some(f) = fixture() else { return };
    let policy = IdentityPolicy {
        identity: "https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main"
            .into(),
        ..policy()
    };
    let err = run(&f.bundle, &f.root, &policy, None).unwrap_err();
    match err {
        VerifyError::IdentityMismatch { found, .. } => {
            assert_eq!(found, vec![IDENTITY.to_string()]);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn wrong_issuer_is_rejected() {
    let Some(f) = fixture() else { return };
    let policy = IdentityPolicy {
        issuer: "https://accounts.google.com".into(),
        ..policy()
    };
    let err = run(&f.bundle, &f.root, &policy, None).unwrap_err();
    match err {
        VerifyError::IssuerMismatch { found, .. } => assert_eq!(found.as_deref(), Some(ISSUER)),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn tampered_payload_fails_the_signature() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    let payload = &mut bundle["dsseEnvelope"]["payload"];
    let mut bytes = unb64(payload.as_str().unwrap());
    bytes.extend_from_slice(b" ");
    *payload = Value::String(b64(&bytes));
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature(_)), "{err}");
}

#[test]
fn tampered_rekor_body_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    edit_body(&mut bundle, |body| {
        body["spec"]["payloadHash"]["value"] = Value::String("00".repeat(32));
    });
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::RekorBodyMismatch(_)), "{err}");

    let mut bundle = f.bundle.clone();
    edit_body(&mut bundle, |body| {
        body["spec"]["signatures"][0]["verifier"] = Value::String(b64(
            b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
        ));
    });
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::RekorBodyMismatch(_)), "{err}");
}

#[test]
fn tampered_signed_entry_timestamp_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    flip_base64(
        &mut entry(&mut bundle)["inclusionPromise"]["signedEntryTimestamp"],
        40,
    );
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::InvalidSet(_)), "{err}");

    // Same SET, different log index: the SET no longer covers the entry.
    let mut bundle = f.bundle.clone();
    entry(&mut bundle)["logIndex"] = Value::String("1697019813".into());
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::InvalidSet(_)), "{err}");
}

#[test]
fn tampered_inclusion_proof_hash_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    flip_base64(&mut entry(&mut bundle)["inclusionProof"]["hashes"][3], 0);
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(
        matches!(err, VerifyError::InvalidInclusionProof(_)),
        "{err}"
    );

    let mut bundle = f.bundle.clone();
    entry(&mut bundle)["inclusionProof"]["hashes"]
        .as_array_mut()
        .unwrap()
        .pop();
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(
        matches!(err, VerifyError::InvalidInclusionProof(_)),
        "{err}"
    );
}

#[test]
fn tampered_checkpoint_is_rejected() {
    let Some(f) = fixture() else { return };
    let note = entry(&mut f.bundle.clone())["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_owned();

    let forged_signature = {
        let (body, sig_line) = note.split_once("\n\n").unwrap();
        let (prefix, encoded) = sig_line.trim_end().rsplit_once(' ').unwrap();
        let mut sig = unb64(encoded);
        let last = sig.len() - 1;
        sig[last] ^= 1;
        format!("{body}\n\n{prefix} {}\n", b64(&sig))
    };
    let extra_line = note.replacen("\n\n", "\nextension line\n\n", 1);
    for tampered in [forged_signature, extra_line] {
        let mut bundle = f.bundle.clone();
        entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"] = Value::String(tampered);
        let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidCheckpoint(_)), "{err}");
    }

    // A proof and checkpoint for a different tree size do not agree.
    let mut bundle = f.bundle.clone();
    entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"] =
        Value::String(note.replacen("1575115587", "1575115588", 1));
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::InvalidCheckpoint(_)), "{err}");
}

#[test]
fn integrated_time_outside_certificate_validity_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    entry(&mut bundle)["integratedTime"] = Value::String("1780434170".into());
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::OutsideValidity {
                origin: "integrated time",
                time: 1_780_434_170,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unknown_log_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut root = f.root.clone();
    root["tlogs"].as_array_mut().unwrap().remove(0);
    let err = run(&f.bundle, &root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownLog(_)), "{err}");
}

#[test]
fn keyless_needs_a_transparency_log_entry() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    bundle["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedBundle(_)), "{err}");
}

#[test]
fn v02_bundle_without_inclusion_proof_is_rejected() {
    let Some(f) = fixture() else { return };
    let mut bundle = f.bundle.clone();
    bundle["mediaType"] =
        Value::String("application/vnd.dev.sigstore.bundle+json;version=0.2".into());
    entry(&mut bundle)
        .as_object_mut()
        .unwrap()
        .remove("inclusionProof");
    let err = run(&bundle, &f.root, &policy(), None).unwrap_err();
    assert!(
        matches!(err, VerifyError::InvalidInclusionProof(_)),
        "{err}"
    );

    bundle["mediaType"] =
        Value::String("application/vnd.dev.sigstore.bundle+json;version=0.1".into());
    let verification = run(&bundle, &f.root, &policy(), None).unwrap();
    assert_eq!(verification.bundle_format, Some(BundleFormat::SigstoreV01));
}

#[test]
fn missing_trust_material_is_named() {
    let Some(f) = fixture() else { return };
    let signature = Signature::parse(&serde_json::to_vec(&f.bundle).unwrap()).unwrap();
    let err = verify(&signature, None, &TrustMaterial::default()).unwrap_err();
    assert!(matches!(err, VerifyError::Missing(_)), "{err}");
    assert!(err.to_string().contains("trusted root"), "{err}");
}
