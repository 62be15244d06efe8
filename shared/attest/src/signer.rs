//! The `Signer` seam: anything that can sign bytes under a named key (local key file, cloud KMS, ...).

use std::fmt;

use crate::error::Result;

/// A signature algorithm supported by Certus-Assurance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on NIST P-256 over SHA-256 of the message; signatures are ASN.1 DER. The default.
    #[default]
    EcdsaP256Sha256,
    /// PureEd25519 (RFC 8032) over the message itself; signatures are 64 raw bytes.
    Ed25519,
}

impl Algorithm {
    /// The stable name used in metadata, e.g. `ecdsa-p256-sha256` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signs messages with one key. Implemented by [`crate::SigningKey`]; a KMS-backed signer can implement
/// it too (fetch the public key once at construction, then call the KMS in `sign`).
pub trait Signer {
    /// Lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo DER.
    fn key_id(&self) -> &str;
    /// The algorithm `sign` uses.
    fn algorithm(&self) -> Algorithm;
    /// The public key as PEM `PUBLIC KEY` (SPKI).
    fn public_key_pem(&self) -> &str;
    /// Signs `message` (ECDSA: DER signature over SHA-256(message); Ed25519: PureEd25519).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}
