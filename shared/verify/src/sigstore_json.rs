//! Parsing Sigstore bundle JSON (v0.1, v0.2, v0.3) into the normalised [`Bundle`].

use serde::Deserialize;

use crate::bundle::{Bundle, BundleFormat, Content, InclusionProof, Material, TlogEntry};
use crate::certificate;
use crate::dsse::Envelope;
use crate::encoding::{
    check_count, check_size, decode_base64, decode_hash, MAX_CHAIN_CERTS, MAX_CHECKPOINT_BYTES,
    MAX_PROOF_HASHES,
};
use crate::error::{Result, VerifyError};

/// Most transparency log entries accepted in one bundle.
const MAX_TLOG_ENTRIES: usize = 8;
/// Most RFC 3161 timestamps accepted in one bundle.
const MAX_TIMESTAMPS: usize = 8;
/// Most DSSE signatures accepted in one envelope before rejecting it.
const MAX_DSSE_SIGNATURES: usize = 8;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    message_signature: Option<RawMessageSignature>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    certificate: Option<RawCert>,
    x509_certificate_chain: Option<RawChain>,
    public_key: Option<RawHint>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
    timestamp_verification_data: Option<RawTimestampData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestampData {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawSignedTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSignedTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
struct RawHint {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawDsseSignature>,
}

#[derive(Deserialize)]
struct RawDsseSignature {
    sig: String,
    #[serde(default)]
    keyid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    #[serde(with = "crate::json_int")]
    log_index: i64,
    log_id: RawLogId,
    kind_version: Option<RawKindVersion>,
    /// Absent (or 0) in Rekor v2 entries, which take their time from RFC 3161 timestamps.
    #[serde(default, deserialize_with = "crate::json_int::deserialize_option")]
    integrated_time: Option<i64>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    #[serde(with = "crate::json_int")]
    log_index: i64,
    root_hash: String,
    #[serde(with = "crate::json_int")]
    tree_size: i64,
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

/// Parses a Sigstore bundle document.
pub(crate) fn parse(json: &[u8]) -> Result<Bundle> {
    let raw: RawBundle =
        serde_json::from_slice(json).map_err(|e| VerifyError::MalformedBundle(e.to_string()))?;
    let format = match raw.media_type.as_str() {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => BundleFormat::SigstoreV01,
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => BundleFormat::SigstoreV02,
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => BundleFormat::SigstoreV03,
        other => {
            return Err(VerifyError::UnsupportedBundle(format!(
                "unknown media type {other:?}"
            )))
        }
    };
    let content = match (raw.message_signature, raw.dsse_envelope) {
        (Some(message), None) => parse_message(message)?,
        (None, Some(envelope)) => Content::Dsse(parse_envelope(envelope)?),
        _ => {
            return Err(VerifyError::MalformedBundle(
                "exactly one of messageSignature and dsseEnvelope is required".into(),
            ))
        }
    };
    let material = parse_material(&raw.verification_material)?;
    check_count(
        "bundle transparency log entries",
        raw.verification_material.tlog_entries.len(),
        MAX_TLOG_ENTRIES,
    )?;
    let tlog_entries = raw
        .verification_material
        .tlog_entries
        .into_iter()
        .map(parse_tlog_entry)
        .collect::<Result<Vec<_>>>()?;
    let raw_timestamps = raw
        .verification_material
        .timestamp_verification_data
        .map(|data| data.rfc3161_timestamps)
        .unwrap_or_default();
    check_count(
        "bundle RFC 3161 timestamps",
        raw_timestamps.len(),
        MAX_TIMESTAMPS,
    )?;
    let timestamps = raw_timestamps
        .iter()
        .map(|t| decode_base64("RFC 3161 signed timestamp", &t.signed_timestamp))
        .collect::<Result<Vec<_>>>()?;
    Ok(Bundle {
        format,
        material,
        content,
        tlog_entries,
        timestamps,
    })
}

fn parse_material(raw: &RawMaterial) -> Result<Material> {
    let leaf = match (
        &raw.certificate,
        &raw.x509_certificate_chain,
        &raw.public_key,
    ) {
        (Some(cert), None, None) => cert,
        (None, Some(chain), None) => {
            check_count(
                "bundle certificate chain",
                chain.certificates.len(),
                MAX_CHAIN_CERTS,
            )?;
            reject_root_certificates(&chain.certificates)?;
            chain.certificates.first().ok_or_else(|| {
                VerifyError::MalformedBundle("x509CertificateChain is empty".into())
            })?
        }
        (None, None, Some(key)) => {
            return Ok(Material::PublicKey {
                hint: key.hint.clone(),
            })
        }
        _ => {
            return Err(VerifyError::MalformedBundle(
                "exactly one of certificate, x509CertificateChain and publicKey is required".into(),
            ))
        }
    };
    let der = decode_base64("bundle certificate", &leaf.raw_bytes)?;
    Ok(Material::Certificate {
        cert: Box::new(certificate::parse_der(&der)?),
        der,
    })
}

/// A bundle's chain may carry the leaf and intermediates, never a self-signed root: trust in a
/// root comes from the trusted root alone.
fn reject_root_certificates(chain: &[RawCert]) -> Result<()> {
    for (i, raw) in chain.iter().enumerate().skip(1) {
        let cert = certificate::parse_der(&decode_base64("bundle certificate", &raw.raw_bytes)?)?;
        let tbs = cert.tbs_certificate();
        if tbs.issuer() == tbs.subject() {
            return Err(VerifyError::MalformedBundle(format!(
                "x509CertificateChain certificate {i} ({}) is a self-signed root certificate; roots come only from the trusted root",
                tbs.subject()
            )));
        }
    }
    Ok(())
}

fn parse_message(raw: RawMessageSignature) -> Result<Content> {
    let digest = raw
        .message_digest
        .map(|d| {
            if d.algorithm != "SHA2_256" {
                return Err(VerifyError::UnsupportedBundle(format!(
                    "message digest algorithm {:?} (only SHA2_256)",
                    d.algorithm
                )));
            }
            decode_hash("bundle message digest", &d.digest)
        })
        .transpose()?;
    Ok(Content::Message {
        digest,
        signature: decode_base64("bundle message signature", &raw.signature)?,
    })
}

fn parse_envelope(raw: RawEnvelope) -> Result<Envelope> {
    check_count("DSSE signatures", raw.signatures.len(), MAX_DSSE_SIGNATURES)?;
    let [signature] = raw.signatures.as_slice() else {
        return Err(VerifyError::UnsupportedBundle(format!(
            "a DSSE envelope must carry exactly one signature, found {}",
            raw.signatures.len()
        )));
    };
    Ok(Envelope {
        payload: decode_base64("DSSE payload", &raw.payload)?,
        payload_type: raw.payload_type,
        keyid: signature.keyid.clone(),
        signature: decode_base64("DSSE signature", &signature.sig)?,
    })
}

fn parse_tlog_entry(raw: RawTlogEntry) -> Result<TlogEntry> {
    let inclusion_proof = raw.inclusion_proof.map(parse_proof).transpose()?;
    Ok(TlogEntry {
        log_index: non_negative("tlog entry logIndex", raw.log_index)?,
        log_id: decode_base64("tlog entry log id", &raw.log_id.key_id)?,
        kind_version: raw.kind_version.map(|kv| (kv.kind, kv.version)),
        integrated_time: raw.integrated_time.filter(|t| *t != 0),
        body: decode_base64("tlog entry body", &raw.canonicalized_body)?,
        signed_entry_timestamp: raw
            .inclusion_promise
            .map(|p| decode_base64("signed entry timestamp", &p.signed_entry_timestamp))
            .transpose()?,
        inclusion_proof,
    })
}

fn parse_proof(raw: RawProof) -> Result<InclusionProof> {
    check_count("inclusion proof hashes", raw.hashes.len(), MAX_PROOF_HASHES)?;
    if let Some(checkpoint) = &raw.checkpoint {
        check_size(
            "checkpoint",
            checkpoint.envelope.len(),
            MAX_CHECKPOINT_BYTES,
        )?;
    }
    Ok(InclusionProof {
        log_index: non_negative("inclusion proof logIndex", raw.log_index)?,
        root_hash: decode_hash("inclusion proof root hash", &raw.root_hash)?,
        tree_size: non_negative("inclusion proof treeSize", raw.tree_size)?,
        hashes: raw
            .hashes
            .iter()
            .map(|h| decode_hash("inclusion proof hash", h))
            .collect::<Result<_>>()?,
        checkpoint: raw.checkpoint.map(|c| c.envelope),
    })
}

/// Converts a JSON integer that must not be negative.
pub(crate) fn non_negative(input: &str, value: i64) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| VerifyError::MalformedBundle(format!("{input} is negative: {value}")))
}
