//! The bundle signer backed by an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): the AWS twin of the
//! local key-file signer. KMS signs the SHA-256 digest of the message; the result is a DER ECDSA signature.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use certus_core::ports::BundleSigner;
use certus_core::{CoreError, Result};
use certus_verify::PublicKey;
use sha2::{Digest, Sha256};

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::keyref::{kms_key_id, kms_public_key};

/// The algorithm name bundles record for KMS signatures (the same as a local P-256 key's).
pub const KMS_SIGNING_ALGORITHM: &str = "ecdsa-p256-sha256";

/// Signs with a KMS key; the public key is fetched once, when the signer is created.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    kms: aws_sdk_kms::Client,
    /// The key's ARN when KMS gave one, so an alias moved later cannot switch keys under us.
    key_arn: String,
    public_key: PublicKey,
    public_key_pem: String,
}

impl KmsSigner {
    /// `key_id`: a key id, ARN, alias (`alias/x`) or `awskms://` URI. Refuses keys that are not
    /// ECC_NIST_P256 signing keys.
    pub async fn new(clients: &AwsClients, key_id: &str) -> Result<Self> {
        let key_id = if key_id.starts_with("awskms://") {
            kms_key_id(key_id).map_err(|e| CoreError::Signing(e.to_string()))?
        } else {
            key_id.to_string()
        };
        let found = kms_public_key(clients.kms(), &key_id)
            .await
            .map_err(|e| match e {
                CoreError::Verification(message) => CoreError::Signing(message),
                other => other,
            })?;
        if found.spec.as_deref() != Some(KeySpec::EccNistP256.as_str()) {
            return Err(CoreError::Signing(format!(
                "KMS key {key_id} has key spec {}; only ECC_NIST_P256 keys can sign bundles",
                found.spec.as_deref().unwrap_or("(none)")
            )));
        }
        if found.usage != Some(KeyUsageType::SignVerify) {
            return Err(CoreError::Signing(format!(
                "KMS key {key_id} has key usage {}; a SIGN_VERIFY key is needed",
                found.usage.as_ref().map_or("(none)", KeyUsageType::as_str)
            )));
        }
        let public_key = PublicKey::from_spki_der(&found.der)
            .map_err(|e| CoreError::Signing(format!("KMS key {key_id}: {e}")))?;
        Ok(Self {
            kms: clients.kms().clone(),
            key_arn: found.arn.unwrap_or(key_id),
            public_key_pem: pem_public_key(public_key.spki_der()),
            public_key,
        })
    }
}

#[async_trait]
impl BundleSigner for KmsSigner {
    fn key_id(&self) -> String {
        self.public_key.fingerprint()
    }

    fn algorithm(&self) -> String {
        KMS_SIGNING_ALGORITHM.to_string()
    }

    fn public_key_pem(&self) -> String {
        self.public_key_pem.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let what = format!("KMS key {}", self.key_arn);
        let digest = Sha256::digest(message);
        let response = self
            .kms
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| Failure::from_sdk(&what, e).into_core(CoreError::Signing))?;
        let signature = response
            .signature()
            .map(|blob| blob.as_ref().to_vec())
            .ok_or_else(|| CoreError::Signing(format!("{what}: KMS returned no signature")))?;
        // A signature that does not verify with the published key must never reach a bundle.
        self.public_key.verify(message, &signature).map_err(|e| {
            CoreError::Signing(format!(
                "{what}: the signature KMS returned does not verify: {e}"
            ))
        })?;
        Ok(signature)
    }
}

/// A `PUBLIC KEY` PEM block with 64-character lines.
fn pem_public_key(spki_der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(spki_der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::pem_public_key;

    #[test]
    fn pem_round_trips_through_the_verifier() {
        // A P-256 SPKI (the generator point as public key), built here rather than stored.
        let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        der.push(0x04);
        der.extend(
            hex::decode("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
                .unwrap(),
        );
        der.extend(
            hex::decode("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
                .unwrap(),
        );
        let pem = pem_public_key(&der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        let key = certus_verify::PublicKey::from_pem(&pem).unwrap();
        assert_eq!(key.spki_der(), der.as_slice());
    }
}
