//! Local signing keys (ECDSA P-256, the default, and Ed25519): generation from OS randomness, PKCS#8/SEC1
//! PEM loading, PKCS#8 PEM export, SPKI public key, key id and signing.

use std::fmt;

use ed25519_dalek::pkcs8::{KeypairBytes, ALGORITHM_OID as ED25519_OID};
use p256::elliptic_curve::ALGORITHM_OID as EC_PUBLIC_KEY_OID;
use p256::pkcs8::{
    DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding, PrivateKeyInfoRef,
    SecretDocument,
};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{AttestError, Result};
use crate::pem::{find_private_key_block, PrivateKeyLabel};
use crate::signer::{Algorithm, Signer};

/// Largest private-key PEM text accepted (real keys are a few hundred bytes).
pub const MAX_KEY_PEM_BYTES: usize = 64 * 1024;

/// Where key text came from when no file path is involved (used in error messages).
const PEM_TEXT_ORIGIN: &str = "PEM text";

/// The secret half of a key pair.
enum SecretKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key held in memory, with its public key and key id precomputed.
pub struct SigningKey {
    secret: SecretKey,
    public_key_pem: String,
    key_id: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key of `algorithm` from the operating system's random number generator.
    pub fn generate(algorithm: Algorithm) -> Result<Self> {
        let secret = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                use p256::elliptic_curve::Generate;
                let key = p256::ecdsa::SigningKey::try_generate().map_err(|err| {
                    AttestError::Randomness {
                        algorithm: algorithm.as_str(),
                        reason: err.to_string(),
                    }
                })?;
                SecretKey::P256(key)
            }
            Algorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; ed25519_dalek::SECRET_KEY_LENGTH]);
                getrandom::fill(seed.as_mut()).map_err(|err| AttestError::Randomness {
                    algorithm: algorithm.as_str(),
                    reason: err.to_string(),
                })?;
                SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
        };
        Self::from_secret(secret)
    }

    /// Loads a key from PEM text: PKCS#8 `PRIVATE KEY` (P-256 or Ed25519) or SEC1 `EC PRIVATE KEY` (P-256).
    /// Other PEM blocks before the key (such as `EC PARAMETERS`) are skipped.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_pem_with_origin(pem, PEM_TEXT_ORIGIN)
    }

    /// Like [`SigningKey::from_pem`], naming `origin` (e.g. the file path) in errors.
    pub(crate) fn from_pem_with_origin(pem: &str, origin: &str) -> Result<Self> {
        let invalid = |reason: String| AttestError::InvalidKey {
            origin: origin.to_string(),
            reason,
        };
        if pem.len() > MAX_KEY_PEM_BYTES {
            return Err(invalid(format!(
                "{} bytes is more than the limit of {MAX_KEY_PEM_BYTES} bytes for a key",
                pem.len()
            )));
        }
        let block = find_private_key_block(pem).map_err(invalid)?;
        let (_, der) = SecretDocument::from_pem(block.text)
            .map_err(|err| invalid(format!("malformed PEM: {err}")))?;
        let secret = match block.label {
            PrivateKeyLabel::Sec1 => p256::SecretKey::from_sec1_der(der.as_bytes())
                .map(|key| SecretKey::P256(key.into()))
                .map_err(|err| invalid(format!("not a SEC1 P-256 private key: {err}")))?,
            PrivateKeyLabel::Pkcs8 => decode_pkcs8(der.as_bytes()).map_err(invalid)?,
        };
        Self::from_secret(secret)
    }

    fn from_secret(secret: SecretKey) -> Result<Self> {
        let (algorithm, spki) = match &secret {
            SecretKey::P256(key) => (
                Algorithm::EcdsaP256Sha256,
                key.verifying_key().to_public_key_der(),
            ),
            SecretKey::Ed25519(key) => {
                (Algorithm::Ed25519, key.verifying_key().to_public_key_der())
            }
        };
        let spki = spki.map_err(|err| AttestError::KeyEncoding {
            what: "public key (SPKI DER)",
            algorithm: algorithm.as_str(),
            reason: err.to_string(),
        })?;
        let public_key_pem =
            spki.to_pem("PUBLIC KEY", LineEnding::LF)
                .map_err(|err| AttestError::KeyEncoding {
                    what: "public key (SPKI PEM)",
                    algorithm: algorithm.as_str(),
                    reason: err.to_string(),
                })?;
        let key_id = hex::encode(Sha256::digest(spki.as_bytes()));
        Ok(SigningKey {
            secret,
            public_key_pem,
            key_id,
        })
    }

    /// The private key as PKCS#8 PEM (`PRIVATE KEY`); the text is wiped from memory when dropped.
    /// Ed25519 keys are written as PKCS#8 v1 (seed only), the form OpenSSL 3.0 can read.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        let encoded = match &self.secret {
            SecretKey::P256(key) => key.to_pkcs8_pem(LineEnding::LF),
            SecretKey::Ed25519(key) => KeypairBytes {
                secret_key: key.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
        };
        encoded.map_err(|err| AttestError::KeyEncoding {
            what: "private key (PKCS#8 PEM)",
            algorithm: self.algorithm().as_str(),
            reason: err.to_string(),
        })
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            SecretKey::P256(_) => Algorithm::EcdsaP256Sha256,
            SecretKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// The public key as PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// Lowercase hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `message`. ECDSA: ASN.1 DER signature over SHA-256(message) (what `openssl dgst -sha256
    /// -verify` and cosign accept); Ed25519: PureEd25519, 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.secret {
            SecretKey::P256(key) => {
                let signature: p256::ecdsa::DerSignature =
                    p256::ecdsa::signature::Signer::try_sign(key, message).map_err(|err| {
                        AttestError::Signing {
                            key_id: self.key_id.clone(),
                            reason: err.to_string(),
                        }
                    })?;
                Ok(signature.as_bytes().to_vec())
            }
            SecretKey::Ed25519(key) => {
                let signature = ed25519_dalek::Signer::sign(key, message);
                Ok(signature.to_bytes().to_vec())
            }
        }
    }
}

impl Signer for SigningKey {
    fn key_id(&self) -> &str {
        SigningKey::key_id(self)
    }

    fn algorithm(&self) -> Algorithm {
        SigningKey::algorithm(self)
    }

    fn public_key_pem(&self) -> &str {
        SigningKey::public_key_pem(self)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        SigningKey::sign(self, message)
    }
}

/// Decodes an unencrypted PKCS#8 `PrivateKeyInfo`, dispatching on its algorithm OID.
fn decode_pkcs8(der: &[u8]) -> Result<SecretKey, String> {
    let info = PrivateKeyInfoRef::try_from(der)
        .map_err(|err| format!("not a PKCS#8 private key: {err}"))?;
    let oid = info.algorithm.oid;
    if oid == EC_PUBLIC_KEY_OID {
        p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(SecretKey::P256)
            .map_err(|err| format!("not a P-256 EC private key (only P-256 is supported): {err}"))
    } else if oid == ED25519_OID {
        ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(SecretKey::Ed25519)
            .map_err(|err| format!("malformed Ed25519 private key: {err}"))
    } else {
        Err(format!(
            "unsupported key algorithm OID {oid} (supported: EC P-256, Ed25519)"
        ))
    }
}
