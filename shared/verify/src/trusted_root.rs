//! The pinned Sigstore `trusted_root.json`: Fulcio CA chains and Rekor log keys.

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

/// The period (unix seconds, inclusive) in which a CA or log key may be used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValidFor {
    start: Option<i64>,
    end: Option<i64>,
}

impl ValidFor {
    pub fn contains(&self, at: i64) -> bool {
        self.start.is_none_or(|s| at >= s) && self.end.is_none_or(|e| at <= e)
    }
}

/// Trust anchors for offline Sigstore verification.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub(crate) certificate_authorities: Vec<CertificateAuthority>,
    pub(crate) tlogs: Vec<TransparencyLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
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
    /// Logs whose key type is unsupported are skipped; malformed entries are errors.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        check_size("trusted root", bytes.len(), MAX_DOCUMENT_BYTES)?;
        let raw: RawRoot = serde_json::from_slice(bytes)
            .map_err(|e| VerifyError::MalformedTrustedRoot(e.to_string()))?;
        let mut tlogs = Vec::new();
        for log in raw.tlogs {
            let der = decode_base64("trusted root log key", &log.public_key.raw_bytes)?;
            let key = match PublicKey::from_spki_der(&der) {
                Ok(key) => key,
                Err(VerifyError::UnsupportedKey(_)) => continue,
                Err(e) => return Err(VerifyError::MalformedTrustedRoot(format!("log key: {e}"))),
            };
            let log_id = decode_base64("trusted root log id", &log.log_id.key_id)?;
            tlogs.push(TransparencyLog {
                log_id,
                key,
                valid_for: parse_valid_for(log.public_key.valid_for.as_ref())?,
            });
        }
        let mut certificate_authorities = Vec::new();
        for ca in raw.certificate_authorities {
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
            certificate_authorities.push(CertificateAuthority {
                chain,
                valid_for: parse_valid_for(ca.valid_for.as_ref())?,
            });
        }
        Ok(Self {
            certificate_authorities,
            tlogs,
        })
    }

    pub(crate) fn log(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|log| log.log_id == log_id)
    }
}

fn parse_valid_for(raw: Option<&RawValidFor>) -> Result<ValidFor> {
    let parse = |t: &Option<String>| t.as_deref().map(parse_rfc3339_utc).transpose();
    Ok(match raw {
        Some(v) => ValidFor {
            start: parse(&v.start)?,
            end: parse(&v.end)?,
        },
        None => ValidFor {
            start: None,
            end: None,
        },
    })
}
