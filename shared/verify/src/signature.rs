//! Recognising what a signature file holds: a raw base64 signature or a bundle.

use crate::bundle::Bundle;
use crate::encoding::{check_size, decode_base64, MAX_DOCUMENT_BYTES};
use crate::error::{Result, VerifyError};
use crate::{cosign_json, sigstore_json};

/// The content of a signature file.
#[derive(Debug, Clone)]
pub enum Signature {
    /// A detached signature (cosign `.sig`: base64 of DER ECDSA or raw Ed25519).
    Raw(Vec<u8>),
    /// A Sigstore bundle (v0.1–v0.3) or a legacy cosign bundle.
    Bundle(Box<Bundle>),
}

impl Signature {
    /// Detects and parses the signature file format (at most 1 MiB).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        check_size("signature file", bytes.len(), MAX_DOCUMENT_BYTES)?;
        let text = std::str::from_utf8(bytes).map_err(|_| {
            VerifyError::MalformedSignature("signature file is not UTF-8 text".into())
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(VerifyError::MalformedSignature(
                "signature file is empty".into(),
            ));
        }
        if !text.starts_with('{') {
            return Ok(Self::Raw(decode_base64("signature file", text)?));
        }
        let probe: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| VerifyError::MalformedBundle(format!("not a JSON object: {e}")))?;
        let bundle = if probe.contains_key("mediaType") {
            sigstore_json::parse(text.as_bytes())?
        } else if probe.contains_key("base64Signature") {
            cosign_json::parse(text.as_bytes())?
        } else {
            return Err(VerifyError::UnsupportedBundle(
                "JSON has neither mediaType (Sigstore bundle) nor base64Signature (cosign bundle)"
                    .into(),
            ));
        };
        Ok(Self::Bundle(Box::new(bundle)))
    }
}
