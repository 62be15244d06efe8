//! Size caps, lenient base64 decoding and digests shared by the parsers.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use crate::error::{Result, VerifyError};

/// Cap for signature files, bundles and trusted roots.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Cap for a PEM public key.
pub const MAX_KEY_BYTES: usize = 64 << 10;
/// Cap for one DER certificate.
pub const MAX_CERT_BYTES: usize = 64 << 10;
/// Cap for a checkpoint note.
pub const MAX_CHECKPOINT_BYTES: usize = 8 << 10;
/// Most hashes an inclusion proof may hold (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_HASHES: usize = 64;
/// Most certificates accepted in one chain.
pub const MAX_CHAIN_CERTS: usize = 10;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Fails with [`VerifyError::TooLarge`] when `size` exceeds `limit`.
pub fn check_size(input: &'static str, size: usize, limit: usize) -> Result<()> {
    if size > limit {
        return Err(VerifyError::TooLarge { input, size, limit });
    }
    Ok(())
}

/// Fails with [`VerifyError::TooMany`] when a list holds more than `limit` items.
pub fn check_count(input: &'static str, count: usize, limit: usize) -> Result<()> {
    if count > limit {
        return Err(VerifyError::TooMany {
            input,
            count,
            limit,
        });
    }
    Ok(())
}

/// Decodes standard or URL-safe base64, padded or not, ignoring ASCII whitespace
/// (so line-wrapped `base64` output is accepted).
pub fn decode_base64(input: &'static str, text: &str) -> Result<Vec<u8>> {
    check_size(input, text.len(), MAX_DOCUMENT_BYTES)?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(&compact)
        .or_else(|_| URL_SAFE.decode(&compact))
        .map_err(|_| VerifyError::Base64 { input })
}

/// Standard padded base64, as Rekor and Sigstore write it.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    Sha512::digest(data).into()
}

/// Decodes a base64 field that must hold exactly a SHA-256 digest.
pub fn decode_hash(input: &'static str, text: &str) -> Result<[u8; 32]> {
    decode_base64(input, text)?
        .try_into()
        .map_err(|_| VerifyError::MalformedBundle(format!("{input} is not 32 bytes long")))
}
