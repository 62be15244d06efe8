//! Parsing the legacy `cosign sign-blob --bundle` JSON into the normalised [`Bundle`].

use serde::Deserialize;

use crate::bundle::{Bundle, BundleFormat, Content, Material, TlogEntry};
use crate::certificate;
use crate::encoding::decode_base64;
use crate::error::{Result, VerifyError};
use crate::sigstore_json::non_negative;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCosignBundle {
    base64_signature: String,
    cert: Option<String>,
    rekor_bundle: Option<RawRekorBundle>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRekorBundle {
    signed_entry_timestamp: String,
    payload: RawPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPayload {
    body: String,
    #[serde(with = "crate::json_int")]
    integrated_time: i64,
    #[serde(with = "crate::json_int")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Parses a cosign bundle document.
pub(crate) fn parse(json: &[u8]) -> Result<Bundle> {
    let raw: RawCosignBundle =
        serde_json::from_slice(json).map_err(|e| VerifyError::MalformedBundle(e.to_string()))?;
    let material = match raw.cert.as_deref().map(str::trim) {
        None | Some("") => Material::PublicKey {
            hint: String::new(),
        },
        Some(cert) => {
            let bytes = if cert.starts_with("-----BEGIN") {
                cert.as_bytes().to_vec()
            } else {
                decode_base64("cosign bundle certificate", cert)?
            };
            let cert = certificate::parse_pem_or_der(&bytes)?;
            Material::Certificate {
                der: certificate::to_der(&cert)?,
                cert: Box::new(cert),
            }
        }
    };
    let tlog_entries = raw
        .rekor_bundle
        .map(|rekor| -> Result<TlogEntry> {
            Ok(TlogEntry {
                log_index: non_negative("rekor bundle logIndex", rekor.payload.log_index)?,
                log_id: hex::decode(&rekor.payload.log_id).map_err(|_| {
                    VerifyError::MalformedBundle("rekor bundle logID is not hex".into())
                })?,
                kind_version: None,
                integrated_time: Some(rekor.payload.integrated_time),
                body: decode_base64("rekor bundle body", &rekor.payload.body)?,
                signed_entry_timestamp: Some(decode_base64(
                    "rekor bundle signed entry timestamp",
                    &rekor.signed_entry_timestamp,
                )?),
                inclusion_proof: None,
            })
        })
        .transpose()?
        .into_iter()
        .collect();
    Ok(Bundle {
        format: BundleFormat::CosignLegacy,
        material,
        content: Content::Message {
            digest: None,
            signature: decode_base64("cosign bundle signature", &raw.base64_signature)?,
        },
        tlog_entries,
        timestamps: Vec::new(),
    })
}
