//! The manifest verifier used by every deployment: a signature policy (required or not, which key, which
//! Sigstore trust root and identity) applied with `certus-verify` over the exact manifest bytes. A signature
//! counts only as a signature of the manifest itself: a detached signature or a Sigstore message signature
//! over its bytes, or a DSSE envelope whose in-toto statement has the manifest predicate type
//! [`MANIFEST_PREDICATE_TYPE`] — never some other attestation (an SBOM, a provenance) that the owner's key
//! happened to sign over the same bytes (W2).

use async_trait::async_trait;
use certus_verify::{
    IdentityPolicy, PublicKey, Signature, TrustMaterial, TrustedRoot, VerifyError,
};

use crate::error::{CoreError, Result};
use crate::ports::ManifestVerifier;
use crate::record::ManifestVerification;

/// The in-toto `predicateType` a DSSE manifest signature must carry.
pub const MANIFEST_PREDICATE_TYPE: &str =
    "https://certus-assurance.invalid/predicates/scan-manifest/v1";
/// The DSSE payload type of an in-toto statement.
const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Refuses a DSSE bundle that is not a manifest attestation (see the module documentation).
pub fn check_signature_kind(signature: &Signature) -> Result<()> {
    if let Signature::Bundle(bundle) = signature {
        if let Some((payload_type, predicate)) = bundle.dsse_types() {
            if payload_type != IN_TOTO_PAYLOAD_TYPE
                || predicate.as_deref() != Some(MANIFEST_PREDICATE_TYPE)
            {
                return Err(CoreError::Verification(format!(
                    "the signature is a DSSE envelope of payloadType {payload_type:?} and predicateType \
                     {:?}, not a manifest signature: sign the manifest bytes (cosign sign-blob) or attest \
                     them with predicateType {MANIFEST_PREDICATE_TYPE:?}",
                    predicate.as_deref().unwrap_or("none")
                )));
            }
        }
    }
    Ok(())
}

#[derive(Default)]
pub struct SignaturePolicy {
    pub required: bool,
    pub key: Option<PublicKey>,
    pub trusted_root: Option<TrustedRoot>,
    pub identity: Option<IdentityPolicy>,
}

#[async_trait]
impl ManifestVerifier for SignaturePolicy {
    fn required(&self) -> bool {
        self.required
    }

    async fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<ManifestVerification> {
        let signature = Signature::parse(signature).map_err(|e| {
            CoreError::Verification(format!("the manifest signature cannot be read: {e}"))
        })?;
        check_signature_kind(&signature)?;
        let needs_key = match &signature {
            Signature::Raw(_) => true,
            Signature::Bundle(bundle) => !bundle.is_keyless(),
        };
        if needs_key && self.key.is_none() {
            return Err(CoreError::Verification(
                "a keyed signature was given but no verification key is configured \
                 (set CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF or pass --key)"
                    .into(),
            ));
        }
        let trust = TrustMaterial {
            key: self.key.as_ref(),
            trusted_root: self.trusted_root.as_ref(),
            identity: self.identity.as_ref(),
        };
        let verification = certus_verify::verify(&signature, Some(manifest), &trust).map_err(|e| match e {
            VerifyError::BadSignature(_) => CoreError::Verification(format!(
                "bad signature: the signature does not match the manifest bytes with the configured key ({e})"
            )),
            other => CoreError::Verification(other.to_string()),
        })?;
        let mut record =
            serde_json::to_value(&verification).map_err(|e| CoreError::json("verification", e))?;
        record["verified"] = serde_json::Value::Bool(true);
        serde_json::from_value(record)
            .map_err(|e| CoreError::json("manifest verification record", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_attest::{Algorithm, Envelope, SigningKey};
    use serde_json::json;

    /// A keyed Sigstore v0.3 bundle around a DSSE envelope of `statement`, signed the way `cosign attest-blob`
    /// signs (PAE of the payload type and payload).
    fn dsse_bundle(key: &SigningKey, statement: &serde_json::Value) -> Vec<u8> {
        let envelope =
            Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_string().as_bytes(), key).unwrap();
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": ""}},
            "dsseEnvelope": envelope,
        })
        .to_string()
        .into_bytes()
    }

    fn statement(manifest: &[u8], predicate_type: &str) -> serde_json::Value {
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "release-artifact.bin",
                         "digest": {"sha256": crate::digest::sha256_hex(manifest)}}],
            "predicateType": predicate_type,
            "predicate": {"spdxVersion": "SPDX-2.3"},
        })
    }

    /// W2 of the 2026-12 red-team: an SBOM attestation the owner's key signed over the manifest bytes is not
    /// a manifest signature; the same envelope with the manifest predicate type is.
    #[tokio::test]
    async fn only_a_dsse_statement_of_the_manifest_predicate_type_counts_as_a_manifest_signature() {
        let key = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
        let policy = SignaturePolicy {
            required: true,
            key: Some(PublicKey::from_pem(key.public_key_pem()).unwrap()),
            ..SignaturePolicy::default()
        };
        let manifest = br#"{"profiles":[{"name":"lenient","tools":["sbom"],"thresholds":{}}]}"#;
        for predicate in [
            "https://spdx.dev/Document",
            "https://slsa.dev/provenance/v1",
        ] {
            let err = policy
                .verify(
                    manifest,
                    &dsse_bundle(&key, &statement(manifest, predicate)),
                )
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a manifest signature"), "{err}");
            assert!(err.contains(predicate), "{err}");
            assert!(err.contains(MANIFEST_PREDICATE_TYPE), "{err}");
        }
        let record = policy
            .verify(
                manifest,
                &dsse_bundle(&key, &statement(manifest, MANIFEST_PREDICATE_TYPE)),
            )
            .await
            .unwrap();
        assert!(record.verified);
        // The manifest's own detached signature still counts.
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD.encode(key.sign(manifest).unwrap());
        let raw = policy.verify(manifest, raw.as_bytes()).await.unwrap();
        assert!(raw.verified);
        assert_eq!(raw.method, "cosign-keyed-ecdsa-p256");
    }
}
