//! Public keys (ECDSA P-256 or Ed25519) parsed from PEM `PUBLIC KEY` / SPKI DER, and signature checks.

use std::fmt;

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use ed25519_dalek::{Digest as _, Sha512};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::Verifier;
use serde::Serialize;
use spki::SubjectPublicKeyInfoOwned;

use crate::encoding::{check_size, encode_base64, sha256, MAX_KEY_BYTES};
use crate::error::{Result, VerifyError};

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The signature algorithm of a [`PublicKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// Ed25519 (PureEd25519 or Ed25519ph).
    Ed25519,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::Ed25519 => "ed25519",
        })
    }
}

#[derive(Clone)]
enum Verifying {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A verification key with the SPKI DER it was parsed from.
#[derive(Clone)]
pub struct PublicKey {
    spki_der: Vec<u8>,
    verifying: Verifying,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm())
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo).
    pub fn from_pem(pem: &str) -> Result<Self> {
        check_size("public key PEM", pem.len(), MAX_KEY_BYTES)?;
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| VerifyError::MalformedKey(format!("not a PEM block: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(VerifyError::MalformedKey(format!(
                "expected a PEM \"PUBLIC KEY\" block, found {label:?}"
            )));
        }
        Self::from_spki_der(&der)
    }

    /// Parses DER SubjectPublicKeyInfo, detecting the algorithm from it.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        check_size("public key DER", der.len(), MAX_KEY_BYTES)?;
        let spki = SubjectPublicKeyInfoOwned::from_der(der).map_err(|e| {
            VerifyError::MalformedKey(format!("not a DER SubjectPublicKeyInfo: {e}"))
        })?;
        let key_bytes = spki.subject_public_key.as_bytes().ok_or_else(|| {
            VerifyError::MalformedKey("public key bit string has unused bits".into())
        })?;
        let verifying = match spki.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                    .ok_or_else(|| {
                        VerifyError::MalformedKey("EC key without a named curve".into())
                    })?;
                match curve {
                    SECP256R1 => Verifying::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(|_| {
                            VerifyError::MalformedKey("invalid P-256 curve point".into())
                        })?,
                    ),
                    SECP384R1 => return Err(VerifyError::UnsupportedKey("ECDSA P-384".into())),
                    SECP521R1 => return Err(VerifyError::UnsupportedKey("ECDSA P-521".into())),
                    other => return Err(VerifyError::UnsupportedKey(format!("EC curve {other}"))),
                }
            }
            ID_ED25519 => {
                let bytes: &[u8; 32] = key_bytes
                    .try_into()
                    .map_err(|_| VerifyError::MalformedKey("Ed25519 key is not 32 bytes".into()))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
                    .map_err(|_| VerifyError::MalformedKey("invalid Ed25519 point".into()))?;
                if key.is_weak() {
                    return Err(VerifyError::MalformedKey(
                        "Ed25519 key is a small-order (weak) point".into(),
                    ));
                }
                Verifying::Ed25519(key)
            }
            RSA_ENCRYPTION => return Err(VerifyError::UnsupportedKey("RSA".into())),
            other => {
                return Err(VerifyError::UnsupportedKey(format!(
                    "key algorithm {other}"
                )))
            }
        };
        let spki_der = spki
            .to_der()
            .map_err(|e| VerifyError::MalformedKey(format!("cannot re-encode key: {e}")))?;
        Ok(Self {
            spki_der,
            verifying,
        })
    }

    /// The key's signature algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.verifying {
            Verifying::P256(_) => KeyAlgorithm::EcdsaP256,
            Verifying::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The SubjectPublicKeyInfo DER of the key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Lowercase hex SHA-256 of the SPKI DER.
    pub fn fingerprint(&self) -> String {
        hex::encode(sha256(&self.spki_der))
    }

    /// Base64 SHA-256 of the SPKI DER: the `publicKey.hint` of cosign keyed bundles.
    pub fn hint(&self) -> String {
        encode_base64(&sha256(&self.spki_der))
    }

    /// Verifies `signature` over `message`.
    ///
    /// P-256: DER or raw 64-byte `r‖s`, SHA-256, high-S accepted. Ed25519: 64 bytes,
    /// PureEd25519 or Ed25519ph (SHA-512 prehash, empty context).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        match &self.verifying {
            Verifying::P256(key) => key
                .verify(message, &parse_p256_signature(signature)?)
                .map_err(|_| bad_signature(self.algorithm())),
            Verifying::Ed25519(key) => {
                let sig = parse_ed25519_signature(signature)?;
                if key.verify(message, &sig).is_ok() {
                    return Ok(());
                }
                key.verify_prehashed(Sha512::new().chain_update(message), None, &sig)
                    .map_err(|_| bad_signature(self.algorithm()))
            }
        }
    }

    /// Verifies an ECDSA P-256 signature over a precomputed SHA-256 digest.
    pub(crate) fn verify_sha256_prehash(&self, digest: &[u8; 32], signature: &[u8]) -> Result<()> {
        match &self.verifying {
            Verifying::P256(key) => key
                .verify_prehash(digest, &parse_p256_signature(signature)?)
                .map_err(|_| bad_signature(self.algorithm())),
            Verifying::Ed25519(_) => Err(VerifyError::Missing(
                "the signed artifact's bytes (verifying an Ed25519 signature against a digest is unsupported)",
            )),
        }
    }
}

fn bad_signature(algorithm: KeyAlgorithm) -> VerifyError {
    VerifyError::BadSignature(format!(
        "the {algorithm} signature does not match the message and key"
    ))
}

fn parse_p256_signature(bytes: &[u8]) -> Result<p256::ecdsa::Signature> {
    p256::ecdsa::Signature::from_der(bytes)
        .or_else(|der_err| {
            if bytes.len() == 64 {
                p256::ecdsa::Signature::from_slice(bytes)
            } else {
                Err(der_err)
            }
        })
        .map_err(|_| {
            VerifyError::MalformedSignature(format!(
                "{} bytes are neither a DER nor a raw 64-byte ECDSA P-256 signature",
                bytes.len()
            ))
        })
}

fn parse_ed25519_signature(bytes: &[u8]) -> Result<ed25519_dalek::Signature> {
    let bytes: &[u8; 64] = bytes.try_into().map_err(|_| {
        VerifyError::MalformedSignature(format!(
            "an Ed25519 signature is 64 bytes, got {}",
            bytes.len()
        ))
    })?;
    Ok(ed25519_dalek::Signature::from_bytes(bytes))
}
