//! Signature files (cosign base64, Sigstore bundle JSON v0.1–v0.3, legacy cosign bundles), trusted roots and
//! public keys from untrusted sources: parsing and verification must fail closed, never panic, and never
//! accept a forged signature over the fixed blob.
#![no_main]

use certus_verify::{verify, PublicKey, Signature, TrustMaterial, TrustedRoot};
use libfuzzer_sys::fuzz_target;

/// A throwaway P-256 public key; its private half was discarded, so no input can verify against it.
const KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdIvmW19wgCKDFuBZS3HPEcq1oV3W
mxq1A2R9ct16/TU6S9GKLq/JbL1rxJA1RLeETsKMJemWizqXQMYgdHfMig==
-----END PUBLIC KEY-----
";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            let Ok(signature) = Signature::parse(rest) else {
                return;
            };
            let key = PublicKey::from_pem(KEY_PEM).expect("the embedded key parses");
            let trust = TrustMaterial {
                key: Some(&key),
                ..TrustMaterial::default()
            };
            assert!(
                verify(&signature, Some(b"manifest bytes"), &trust).is_err(),
                "a signature without the private key verified"
            );
            let _ = verify(&signature, None, &trust);
        }
        1 => {
            let _ = TrustedRoot::from_json(rest);
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = PublicKey::from_pem(text);
            }
            let _ = PublicKey::from_spki_der(rest);
        }
    }
});
