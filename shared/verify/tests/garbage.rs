//! Hostile inputs: random bytes and mutated documents never panic and stay within size caps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_verify::{
    verify, IdentityPolicy, KeyRef, PublicKey, Signature, TrustMaterial, TrustedRoot, VerifyError,
};
use common::{shared_dir, Noise};

#[test]
fn random_bytes_are_rejected_without_panicking() {
    let mut noise = Noise::new(0x5eed);
    for round in 0..2000 {
        let len = (noise.next() % 600) as usize;
        let mut bytes = noise.bytes(len);
        // Some rounds look like the start of what each parser expects.
        match round % 4 {
            1 => bytes
                .splice(0..0, b"{\"mediaType\":".iter().copied())
                .for_each(drop),
            2 => bytes
                .splice(0..0, b"-----BEGIN PUBLIC KEY-----\n".iter().copied())
                .for_each(drop),
            3 => bytes.splice(0..0, [0x30, 0x82, 0x01, 0x00]).for_each(drop),
            _ => {}
        }
        let _ = Signature::parse(&bytes);
        let _ = TrustedRoot::from_json(&bytes);
        let _ = PublicKey::from_spki_der(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = PublicKey::from_pem(&text);
        let _ = text.parse::<KeyRef>();
    }
}

#[test]
fn oversized_inputs_are_refused() {
    let huge = vec![b'A'; certus_verify::MAX_DOCUMENT_BYTES + 1];
    assert!(matches!(
        Signature::parse(&huge),
        Err(VerifyError::TooLarge { .. })
    ));
    assert!(matches!(
        TrustedRoot::from_json(&huge),
        Err(VerifyError::TooLarge { .. })
    ));
    let pem = String::from_utf8(huge).unwrap();
    assert!(matches!(
        PublicKey::from_pem(&pem),
        Err(VerifyError::TooLarge { .. })
    ));
}

#[test]
fn signature_files_of_the_wrong_shape_are_named() {
    assert!(matches!(
        Signature::parse(b"  \n"),
        Err(VerifyError::MalformedSignature(_))
    ));
    assert!(matches!(
        Signature::parse(&[0xff, 0xfe]),
        Err(VerifyError::MalformedSignature(_))
    ));
    assert!(matches!(
        Signature::parse(b"not base64!"),
        Err(VerifyError::Base64 { .. })
    ));
    assert!(matches!(
        Signature::parse(b"{\"foo\":1}"),
        Err(VerifyError::UnsupportedBundle(_))
    ));
    assert!(matches!(
        Signature::parse(b"{\"mediaType\":\"x\""),
        Err(VerifyError::MalformedBundle(_))
    ));
    assert!(matches!(
        Signature::parse(b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.4+json\",\"verificationMaterial\":{}}"),
        Err(VerifyError::UnsupportedBundle(_))
    ));
}

#[test]
fn mutated_real_bundles_never_panic_and_never_verify() {
    let Some(dir) = shared_dir() else { return };
    let bundle = std::fs::read(dir.join("data/sigstore/npm_slsa_bundle_v03.json")).unwrap();
    let root = TrustedRoot::from_json(
        &std::fs::read(dir.join("data/sigstore/sigstore_trusted_root.json")).unwrap(),
    )
    .unwrap();
    let policy = IdentityPolicy {
        identity:
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
                .into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
    };
    let trust = TrustMaterial {
        trusted_root: Some(&root),
        identity: Some(&policy),
        ..TrustMaterial::default()
    };
    let mut noise = Noise::new(42);
    let mut parsed = 0;
    for _ in 0..300 {
        let mut mutated = bundle.clone();
        for _ in 0..1 + noise.next() % 3 {
            let at = (noise.next() as usize) % mutated.len();
            mutated[at] = b"AZaz09+/=\"{}[],:0x"[(noise.next() % 18) as usize];
        }
        if mutated == bundle {
            continue;
        }
        if let Ok(signature) = Signature::parse(&mutated) {
            parsed += 1;
            // A mutation inside JSON syntax that keeps the meaning (e.g. whitespace) may still verify;
            // anything that changes a signed value must not.
            if let Ok(v) = verify(&signature, None, &trust) {
                assert_eq!(v.identity.as_deref(), Some(policy.identity.as_str()));
                let original = Signature::parse(&bundle).unwrap();
                assert_eq!(
                    format!("{original:?}"),
                    format!("{signature:?}"),
                    "a changed bundle verified"
                );
            }
        }
    }
    assert!(parsed > 0, "some mutations should still parse");
}

#[test]
fn absurd_inclusion_proofs_are_refused() {
    let Some(dir) = shared_dir() else { return };
    let mut bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("data/sigstore/npm_slsa_bundle_v03.json")).unwrap(),
    )
    .unwrap();
    let proof = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    proof["hashes"] = serde_json::json!(vec!["nMtYR2zIdOSML15v6vrr1pKEsSpqctsUl0IEs85Gnew="; 65]);
    let result = Signature::parse(&serde_json::to_vec(&bundle).unwrap());
    assert!(
        matches!(result, Err(VerifyError::TooMany { .. })),
        "{result:?}"
    );

    let proof = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    proof["hashes"] = serde_json::json!(["AAAA"]);
    let result = Signature::parse(&serde_json::to_vec(&bundle).unwrap());
    assert!(
        matches!(result, Err(VerifyError::MalformedBundle(_))),
        "{result:?}"
    );

    let proof = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    proof["hashes"] = serde_json::json!([]);
    proof["treeSize"] = serde_json::json!("-1");
    let result = Signature::parse(&serde_json::to_vec(&bundle).unwrap());
    assert!(
        matches!(result, Err(VerifyError::MalformedBundle(_))),
        "{result:?}"
    );
}
