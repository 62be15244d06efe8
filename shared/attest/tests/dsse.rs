//! DSSE: PAE vectors, envelope JSON shape, signing verified by openssl and RustCrypto, tampering, base64
//! variants and hostile envelope input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use certus_attest::{
    pae, Algorithm, AttestError, Envelope, SigningKey, IN_TOTO_PAYLOAD_TYPE, MAX_ENVELOPE_BYTES,
};
use common::{ed25519_verifies, openssl, p256_verifies, write};

#[test]
fn pae_matches_hand_computed_bytes() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    // Lengths are byte counts, not character counts ("é" is two bytes in UTF-8).
    assert_eq!(
        pae("é", b"\x00\xff"),
        b"DSSEv1 2 \xc3\xa9 2 \x00\xff".to_vec()
    );
}

#[test]
fn envelope_json_has_the_dsse_field_names() {
    let envelope = Envelope::from_signature("text/plain", b"hi", "kid", &[1, 2, 3]);
    assert_eq!(
        String::from_utf8(envelope.to_json().unwrap()).unwrap(),
        r#"{"payload":"aGk=","payloadType":"text/plain","signatures":[{"keyid":"kid","sig":"AQID"}]}"#
    );
    let keyless = Envelope::from_signature("text/plain", b"hi", "", &[1]);
    assert!(!String::from_utf8(keyless.to_json().unwrap())
        .unwrap()
        .contains("keyid"));
}

#[test]
fn signed_envelope_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = SigningKey::generate(algorithm).unwrap();
        let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, payload, &key).unwrap();
        assert_eq!(envelope.signatures.len(), 1);
        assert_eq!(envelope.signatures[0].keyid, key.key_id());
        assert_eq!(envelope.decode_payload().unwrap(), payload);
        assert_eq!(
            envelope.pae_bytes().unwrap(),
            pae(IN_TOTO_PAYLOAD_TYPE, payload)
        );

        write(dir.path(), "pub.pem", key.public_key_pem().as_bytes());
        write(dir.path(), "pae.bin", &envelope.pae_bytes().unwrap());
        write(
            dir.path(),
            "sig.der",
            &envelope.signatures[0].decode_sig().unwrap(),
        );
        write(dir.path(), "payload.bin", payload);
        let check = |message_file: &str| match algorithm {
            Algorithm::EcdsaP256Sha256 => openssl(
                dir.path(),
                &[
                    "dgst",
                    "-sha256",
                    "-verify",
                    "pub.pem",
                    "-signature",
                    "sig.der",
                    message_file,
                ],
            ),
            Algorithm::Ed25519 => openssl(
                dir.path(),
                &[
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-inkey",
                    "pub.pem",
                    "-rawin",
                    "-in",
                    message_file,
                    "-sigfile",
                    "sig.der",
                ],
            ),
        };
        let (ok, _, stderr) = check("pae.bin");
        assert!(
            ok,
            "{algorithm}: openssl rejected the DSSE signature: {stderr}"
        );
        // The signature covers the PAE, not the bare payload.
        let (ok, _, _) = check("payload.bin");
        assert!(
            !ok,
            "{algorithm}: signature must not verify over the bare payload"
        );
    }
}

#[test]
fn tampered_payload_or_swapped_key_fails_verification() {
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let verifies = match algorithm {
            Algorithm::EcdsaP256Sha256 => p256_verifies,
            Algorithm::Ed25519 => ed25519_verifies,
        };
        let key = SigningKey::generate(algorithm).unwrap();
        let other = SigningKey::generate(algorithm).unwrap();
        let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"original", &key).unwrap();
        let sig = envelope.signatures[0].decode_sig().unwrap();
        assert!(verifies(
            key.public_key_pem(),
            &envelope.pae_bytes().unwrap(),
            &sig
        ));

        let mut tampered = envelope.clone();
        tampered.payload = STANDARD.encode(b"originaL");
        assert!(!verifies(
            key.public_key_pem(),
            &tampered.pae_bytes().unwrap(),
            &sig
        ));

        let mut retyped = envelope.clone();
        retyped.payload_type = "application/json".to_string();
        assert!(!verifies(
            key.public_key_pem(),
            &retyped.pae_bytes().unwrap(),
            &sig
        ));

        assert!(!verifies(
            other.public_key_pem(),
            &envelope.pae_bytes().unwrap(),
            &sig
        ));
    }
}

#[test]
fn from_signature_matches_one_step_signing() {
    // RFC 6979 ECDSA and Ed25519 are deterministic: the split form must give identical envelopes.
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = SigningKey::generate(algorithm).unwrap();
        let one_step = Envelope::sign("text/plain", b"body", &key).unwrap();
        let signature = key.sign(&pae("text/plain", b"body")).unwrap();
        let split = Envelope::from_signature("text/plain", b"body", key.key_id(), &signature);
        assert_eq!(one_step, split);
        assert_eq!(one_step.to_json().unwrap(), split.to_json().unwrap());
    }
}

#[test]
fn decoding_accepts_standard_and_url_safe_base64() {
    let bytes: Vec<u8> = (0u8..=255).collect();
    let json = format!(
        r#"{{"payload":"{}","payloadType":"t","signatures":[{{"sig":"{}"}}]}}"#,
        URL_SAFE_NO_PAD.encode(&bytes),
        STANDARD.encode(&bytes)
    );
    let envelope = Envelope::from_json(json.as_bytes()).unwrap();
    assert_eq!(envelope.decode_payload().unwrap(), bytes);
    assert_eq!(envelope.signatures[0].decode_sig().unwrap(), bytes);
    assert_eq!(envelope.signatures[0].keyid, "");
}

#[test]
fn rejects_malformed_envelopes() {
    let bad_base64 = Envelope::from_signature("t", b"x", "k", b"y");
    let bad_base64 = Envelope {
        payload: "not base64!".to_string(),
        ..bad_base64
    };
    match bad_base64.decode_payload() {
        Err(AttestError::Base64 {
            field: "payload", ..
        }) => {}
        other => panic!("expected Base64 error for payload, got {other:?}"),
    }
    assert!(matches!(
        bad_base64.pae_bytes(),
        Err(AttestError::Base64 {
            field: "payload",
            ..
        })
    ));

    let no_signatures = br#"{"payload":"","payloadType":"t","signatures":[]}"#;
    match Envelope::from_json(no_signatures) {
        Err(err @ AttestError::InvalidEnvelope { .. }) => {
            assert_eq!(
                err.to_string(),
                "invalid DSSE envelope: it has no signatures"
            );
        }
        other => panic!("expected InvalidEnvelope, got {other:?}"),
    }

    let many = format!(
        r#"{{"payload":"","payloadType":"t","signatures":[{}]}}"#,
        vec![r#"{"sig":"AA=="}"#; 17].join(",")
    );
    assert!(matches!(
        Envelope::from_json(many.as_bytes()),
        Err(AttestError::InvalidEnvelope { reason }) if reason.contains("17 signatures")
    ));

    let missing_type = br#"{"payload":"","signatures":[{"sig":"AA=="}]}"#;
    assert!(matches!(
        Envelope::from_json(missing_type),
        Err(AttestError::Json { what: "DSSE envelope", source }) if source.to_string().contains("payloadType")
    ));

    let huge = vec![b' '; MAX_ENVELOPE_BYTES + 1];
    assert!(matches!(
        Envelope::from_json(&huge),
        Err(AttestError::TooLarge {
            what: "DSSE envelope",
            ..
        })
    ));
}
