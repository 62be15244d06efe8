//! The pinned Sigstore `trusted_root.json`: Fulcio CA chains, Rekor log keys and CT log keys.
//!
//! Every authority must state when it may be used: a missing `validFor` or `validFor.start` makes
//! the trusted root malformed (it is never read as "valid for ever").

use serde::Deserialize;
use x509_cert::Certificate;

use crate::certificate;
use crate::encoding::{
    check_count, check_size, decode_base64, MAX_CHAIN_CERTS, MAX_DOCUMENT_BYTES,
};
use crate::error::{Result, VerifyError};
use crate::key::PublicKey;
use crate::time::parse_rfc3339_utc;

/// A Fulcio certificate authority: its chain (issuing CA first, root last).
#[derive(Debug, Clone)]
pub(crate) struct CertificateAuthority {
    pub chain: Vec<Certificate>,
    pub valid_for: ValidFor,
}

/// A Rekor transparency log: its key and id.
#[derive(Debug, Clone)]
pub(crate) struct TransparencyLog {
    pub log_id: Vec<u8>,
    pub key: PublicKey,
    pub valid_for: ValidFor,
}

/// A certificate transparency log: its key and id (SHA-256 of the key's SPKI DER).
#[derive(Debug, Clone)]
pub(crate) struct CtLog {
    pub log_id: Vec<u8>,
    pub key: PublicKey,
    pub valid_for: ValidFor,
}

/// An RFC 3161 timestamp authority: its chain (signing certificate first, root last).
#[derive(Debug, Clone)]
pub(crate) struct TimestampAuthority {
    pub chain: Vec<Certificate>,
    pub valid_for: ValidFor,
}

/// The closed period (unix seconds) in which a CA or log key may be used; the end is optional.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValidFor {
    start: i64,
    end: Option<i64>,
}

impl ValidFor {
    pub fn contains(&self, at: i64) -> bool {
        at >= self.start && self.end.is_none_or(|e| at <= e)
    }
}

/// Trust anchors for offline Sigstore verification.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub(crate) certificate_authorities: Vec<CertificateAuthority>,
    pub(crate) tlogs: Vec<TransparencyLog>,
    pub(crate) ctlogs: Vec<CtLog>,
    pub(crate) timestamp_authorities: Vec<TimestampAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
    key_details: Option<String>,
    valid_for: Option<RawValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    cert_chain: RawChain,
    valid_for: Option<RawValidFor>,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawValidFor {
    start: Option<String>,
    end: Option<String>,
}

impl TrustedRoot {
    /// Parses a `trusted_root.json` (media type `application/vnd.dev.sigstore.trustedroot+json`).
    ///
    /// Logs whose key type is unsupported are skipped (after their validity window is checked);
    /// malformed entries are errors.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        check_size("trusted root", bytes.len(), MAX_DOCUMENT_BYTES)?;
        let raw: RawRoot = serde_json::from_slice(bytes)
            .map_err(|e| VerifyError::MalformedTrustedRoot(e.to_string()))?;
        let mut tlogs = Vec::new();
        for (i, log) in raw.tlogs.iter().enumerate() {
            if let Some((log_id, key, valid_for)) = parse_log(log, &format!("tlogs[{i}]"))? {
                tlogs.push(TransparencyLog {
                    log_id,
                    key,
                    valid_for,
                });
            }
        }
        let mut ctlogs = Vec::new();
        for (i, log) in raw.ctlogs.iter().enumerate() {
            if let Some((log_id, key, valid_for)) = parse_log(log, &format!("ctlogs[{i}]"))? {
                ctlogs.push(CtLog {
                    log_id,
                    key,
                    valid_for,
                });
            }
        }
        let mut certificate_authorities = Vec::new();
        for (i, ca) in raw.certificate_authorities.iter().enumerate() {
            let (chain, valid_for) = parse_ca(ca, &format!("certificateAuthorities[{i}]"))?;
            certificate_authorities.push(CertificateAuthority { chain, valid_for });
        }
        let mut timestamp_authorities = Vec::new();
        for (i, tsa) in raw.timestamp_authorities.iter().enumerate() {
            let (chain, valid_for) = parse_ca(tsa, &format!("timestampAuthorities[{i}]"))?;
            timestamp_authorities.push(TimestampAuthority { chain, valid_for });
        }
        Ok(Self {
            certificate_authorities,
            tlogs,
            ctlogs,
            timestamp_authorities,
        })
    }

    pub(crate) fn log(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|log| log.log_id == log_id)
    }
}

/// A CA's (or TSA's) certificate chain and validity window.
fn parse_ca(ca: &RawCa, what: &str) -> Result<(Vec<Certificate>, ValidFor)> {
    check_count(
        "trusted root CA chain",
        ca.cert_chain.certificates.len(),
        MAX_CHAIN_CERTS,
    )?;
    let chain = ca
        .cert_chain
        .certificates
        .iter()
        .map(|c| certificate::parse_der(&decode_base64("trusted root CA", &c.raw_bytes)?))
        .collect::<Result<Vec<_>>>()?;
    Ok((chain, parse_valid_for(ca.valid_for.as_ref(), what)?))
}

/// Key types this verifier checks; any other `keyDetails` marks a log it cannot use.
const SUPPORTED_KEY_DETAILS: [&str; 2] = ["PKIX_ECDSA_P256_SHA_256", "PKIX_ED25519"];

/// A log's id, key and validity; `None` for a log whose key type is unsupported.
fn parse_log(log: &RawLog, what: &str) -> Result<Option<(Vec<u8>, PublicKey, ValidFor)>> {
    let valid_for = parse_valid_for(
        log.public_key.valid_for.as_ref(),
        &format!("{what}.publicKey"),
    )?;
    if log
        .public_key
        .key_details
        .as_deref()
        .is_some_and(|details| !SUPPORTED_KEY_DETAILS.contains(&details))
    {
        return Ok(None);
    }
    let der = decode_base64("trusted root log key", &log.public_key.raw_bytes)?;
    let key = match PublicKey::from_spki_der(&der) {
        Ok(key) => key,
        Err(VerifyError::UnsupportedKey(_)) => return Ok(None),
        Err(e) => {
            return Err(VerifyError::MalformedTrustedRoot(format!(
                "{what}.publicKey: {e}"
            )))
        }
    };
    let log_id = decode_base64("trusted root log id", &log.log_id.key_id)?;
    Ok(Some((log_id, key, valid_for)))
}

fn parse_valid_for(raw: Option<&RawValidFor>, what: &str) -> Result<ValidFor> {
    let raw = raw.ok_or_else(|| {
        VerifyError::MalformedTrustedRoot(format!(
            "{what}.validFor is missing (every authority needs a validity window)"
        ))
    })?;
    let start = raw.start.as_deref().ok_or_else(|| {
        VerifyError::MalformedTrustedRoot(format!(
            "{what}.validFor.start is missing (a validity window must have a start)"
        ))
    })?;
    Ok(ValidFor {
        start: parse_rfc3339_utc(start)?,
        end: raw.end.as_deref().map(parse_rfc3339_utc).transpose()?,
    })
}
