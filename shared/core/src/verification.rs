//! The manifest verifier used by every deployment: a signature policy (required or not, which key, which
//! Sigstore trust root and identity) applied with `certus-verify` over the exact manifest bytes.

use async_trait::async_trait;
use certus_verify::{
    IdentityPolicy, PublicKey, Signature, TrustMaterial, TrustedRoot, VerifyError,
};

use crate::error::{CoreError, Result};
use crate::ports::ManifestVerifier;

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

    async fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<serde_json::Value> {
        let signature = Signature::parse(signature).map_err(|e| {
            CoreError::Verification(format!("the manifest signature cannot be read: {e}"))
        })?;
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
        Ok(record)
    }
}
