//! DSSE (Dead Simple Signing Envelope): pre-authentication encoding and the JSON envelope, signed
//! in one step with a [`Signer`] or assembled from a signature made elsewhere (e.g. an async KMS call).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{AttestError, Result};
use crate::signer::Signer;

/// Largest envelope JSON accepted by [`Envelope::from_json`].
pub const MAX_ENVELOPE_BYTES: usize = 32 * 1024 * 1024;

/// Most signatures accepted in one envelope by [`Envelope::from_json`].
pub const MAX_SIGNATURES: usize = 16;

/// DSSE pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths as decimal byte counts.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        "DSSEv1".len() + 4 + type_len.len() + payload_type.len() + body_len.len() + payload.len(),
    );
    for part in [
        b"DSSEv1".as_slice(),
        b" ",
        type_len.as_bytes(),
        b" ",
        payload_type.as_bytes(),
        b" ",
        body_len.as_bytes(),
        b" ",
        payload,
    ] {
        out.extend_from_slice(part);
    }
    out
}

/// One signature of an envelope: who signed (`keyid`, unauthenticated hint) and the base64 signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id of the signer; may be empty when the producer did not set one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
    /// Standard base64 of the signature bytes (URL-safe accepted when decoding).
    pub sig: String,
}

impl EnvelopeSignature {
    /// The raw signature bytes.
    pub fn decode_sig(&self) -> Result<Vec<u8>> {
        decode_base64("sig", &self.sig)
    }
}

/// A DSSE envelope as JSON: `{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Standard base64 of the payload bytes (URL-safe accepted when decoding).
    pub payload: String,
    /// Media type of the payload, e.g. `application/vnd.in-toto+json`.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over `pae(payloadType, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// Signs `pae(payload_type, payload)` with `signer` and wraps the result.
    pub fn sign(payload_type: &str, payload: &[u8], signer: &dyn Signer) -> Result<Envelope> {
        let signature = signer.sign(&pae(payload_type, payload))?;
        Ok(Envelope::from_signature(
            payload_type,
            payload,
            signer.key_id(),
            &signature,
        ))
    }

    /// Builds an envelope from a signature over `pae(payload_type, payload)` produced elsewhere.
    pub fn from_signature(
        payload_type: &str,
        payload: &[u8],
        keyid: &str,
        signature: &[u8],
    ) -> Envelope {
        Envelope {
            payload: STANDARD.encode(payload),
            payload_type: payload_type.to_string(),
            signatures: vec![EnvelopeSignature {
                keyid: keyid.to_string(),
                sig: STANDARD.encode(signature),
            }],
        }
    }

    /// Parses envelope JSON, rejecting oversized input and envelopes without (or with too many) signatures.
    pub fn from_json(json: &[u8]) -> Result<Envelope> {
        if json.len() > MAX_ENVELOPE_BYTES {
            return Err(AttestError::TooLarge {
                what: "DSSE envelope",
                size: json.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        let envelope: Envelope =
            serde_json::from_slice(json).map_err(|source| AttestError::Json {
                what: "DSSE envelope",
                source,
            })?;
        match envelope.signatures.len() {
            0 => Err(AttestError::InvalidEnvelope {
                reason: "it has no signatures".to_string(),
            }),
            count if count > MAX_SIGNATURES => Err(AttestError::InvalidEnvelope {
                reason: format!(
                    "it has {count} signatures, more than the limit of {MAX_SIGNATURES}"
                ),
            }),
            _ => Ok(envelope),
        }
    }

    /// Serialises the envelope as compact JSON with a fixed field order.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|source| AttestError::Json {
            what: "DSSE envelope",
            source,
        })
    }

    /// The raw payload bytes.
    pub fn decode_payload(&self) -> Result<Vec<u8>> {
        decode_base64("payload", &self.payload)
    }

    /// The bytes every signature of this envelope must cover: `pae(payloadType, decoded payload)`.
    pub fn pae_bytes(&self) -> Result<Vec<u8>> {
        Ok(pae(&self.payload_type, &self.decode_payload()?))
    }
}

/// Decodes standard or URL-safe base64, padded or not (surrounding whitespace ignored).
fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let engine = if text.contains(['-', '_']) {
        if text.ends_with('=') {
            URL_SAFE
        } else {
            URL_SAFE_NO_PAD
        }
    } else if text.ends_with('=') {
        STANDARD
    } else {
        STANDARD_NO_PAD
    };
    engine
        .decode(text)
        .map_err(|source| AttestError::Base64 { field, source })
}
