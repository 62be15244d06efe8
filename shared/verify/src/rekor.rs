//! Transparency log entry checks: body consistency with the bundle, signed entry timestamp (Rekor
//! v1), inclusion proof and signed checkpoint. Rekor v2 entries have no integrated time or SET:
//! their time comes from the bundle's verified RFC 3161 timestamps, and the proof is mandatory.

use serde_json::Value;

use crate::bundle::{Content, TlogEntry};
use crate::checkpoint;
use crate::encoding::{check_size, decode_base64, encode_base64, sha256, MAX_CERT_BYTES};
use crate::error::{Result, VerifyError};
use crate::merkle;
use crate::trusted_root::{TransparencyLog, TrustedRoot};

/// The DER the log entry must name as verifier: the leaf certificate or the SPKI of the key.
#[derive(Clone, Copy)]
pub(crate) enum Signer<'a> {
    Certificate(&'a [u8]),
    PublicKey(&'a [u8]),
}

/// What the entry must agree with.
pub(crate) struct Expected<'a> {
    pub signer: Signer<'a>,
    pub content: &'a Content,
    /// SHA-256 of the signed blob (message signatures).
    pub message_digest: Option<[u8; 32]>,
    pub require_inclusion_proof: bool,
    pub require_checkpoint: bool,
    /// Verified RFC 3161 timestamp times (unix seconds).
    pub timestamps: &'a [i64],
}

/// Runs every check on one entry: body, SET, inclusion proof and checkpoint.
pub(crate) fn verify_entry(
    entry: &TlogEntry,
    root: &TrustedRoot,
    expected: &Expected,
) -> Result<()> {
    check_body(entry, expected)?;
    let log = root
        .log(&entry.log_id)
        .ok_or_else(|| VerifyError::UnknownLog(encode_base64(&entry.log_id)))?;
    let times: Vec<i64> = match entry.integrated_time {
        Some(time) => vec![time],
        None if expected.timestamps.is_empty() => {
            return Err(VerifyError::MalformedBundle(
                "the transparency log entry has no integrated time (Rekor v2): the bundle needs a signed timestamp (RFC 3161) and has none"
                    .into(),
            ))
        }
        None => expected.timestamps.to_vec(),
    };
    for time in times {
        if !log.valid_for.contains(time) {
            return Err(VerifyError::UnknownLog(format!(
                "{} (its key is not valid at {time})",
                encode_base64(&entry.log_id),
            )));
        }
    }
    if let Some(integrated_time) = entry.integrated_time {
        verify_set(entry, integrated_time, log)?;
    }
    let rekor_v2 = entry.integrated_time.is_none();
    match &entry.inclusion_proof {
        Some(proof) => {
            let leaf = merkle::leaf_hash(&entry.body);
            let root_hash = merkle::root_from_inclusion_proof(
                proof.log_index,
                proof.tree_size,
                leaf,
                &proof.hashes,
            )
            .map_err(VerifyError::InvalidInclusionProof)?;
            if root_hash != proof.root_hash {
                return Err(VerifyError::InvalidInclusionProof(
                    "the proof hashes do not lead to the root hash".into(),
                ));
            }
            match &proof.checkpoint {
                Some(note) => checkpoint::verify(note, log, proof),
                None if expected.require_checkpoint || rekor_v2 => Err(VerifyError::InvalidCheckpoint(
                    "this bundle version requires a signed checkpoint and the inclusion proof has none"
                        .into(),
                )),
                None => Ok(()),
            }
        }
        None if expected.require_inclusion_proof || rekor_v2 => {
            Err(VerifyError::InvalidInclusionProof(
                "this bundle version (or a Rekor v2 entry) requires an inclusion proof and the entry has none"
                    .into(),
            ))
        }
        None => Ok(()),
    }
}

fn verify_set(entry: &TlogEntry, integrated_time: i64, log: &TransparencyLog) -> Result<()> {
    let set = entry.signed_entry_timestamp.as_deref().ok_or_else(|| {
        VerifyError::InvalidSet(
            "the entry has no signed entry timestamp (inclusion promise)".into(),
        )
    })?;
    let canonical = format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        encode_base64(&entry.body),
        integrated_time,
        hex::encode(&entry.log_id),
        entry.log_index
    );
    log.key
        .verify(canonical.as_bytes(), set)
        .map_err(|e| VerifyError::InvalidSet(format!("not signed by the log key ({e})")))
}

fn check_body(entry: &TlogEntry, expected: &Expected) -> Result<()> {
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|e| mismatch(&format!("the body is not JSON: {e}")))?;
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or_default();
    let version = text("/apiVersion").unwrap_or_default();
    if let Some((stated_kind, stated_version)) = &entry.kind_version {
        if stated_kind != kind || stated_version != version {
            return Err(mismatch(&format!(
                "the entry says {stated_kind} {stated_version}, the body is {kind} {version}"
            )));
        }
    }
    match (kind, version, expected.content) {
        ("hashedrekord", "0.0.1", Content::Message { signature, .. }) => {
            let digest = expected
                .message_digest
                .ok_or(VerifyError::Missing("the signed blob or its digest"))?;
            expect_hash(
                text("/spec/data/hash/algorithm"),
                text("/spec/data/hash/value"),
                &digest,
                "artifact hash",
            )?;
            expect_bytes(text("/spec/signature/content"), signature, "signature")?;
            expect_signer(text("/spec/signature/publicKey/content"), expected.signer)
        }
        ("dsse", "0.0.1", Content::Dsse(envelope)) => {
            expect_hash(
                text("/spec/payloadHash/algorithm"),
                text("/spec/payloadHash/value"),
                &sha256(&envelope.payload),
                "payload hash",
            )?;
            expect_hash(
                text("/spec/envelopeHash/algorithm"),
                text("/spec/envelopeHash/value"),
                &envelope.rekor_hash()?,
                "envelope hash",
            )?;
            let signatures = body
                .pointer("/spec/signatures")
                .and_then(Value::as_array)
                .ok_or_else(|| mismatch("the dsse body has no signatures"))?;
            let [entry_signature] = signatures.as_slice() else {
                return Err(mismatch("the dsse body must list exactly one signature"));
            };
            let field = |name: &str| entry_signature.get(name).and_then(Value::as_str);
            expect_bytes(field("signature"), &envelope.signature, "signature")?;
            expect_signer(field("verifier"), expected.signer)
        }
        ("hashedrekord", "0.0.2", content) => {
            let spec = |field: &str| text(&format!("/spec/hashedRekordV002/{field}"));
            let (digest, signature) = match content {
                Content::Message { signature, .. } => (
                    expected
                        .message_digest
                        .ok_or(VerifyError::Missing("the signed blob or its digest"))?,
                    signature.as_slice(),
                ),
                // hashedrekord-over-DSSE: the entry records SHA-256(PAE) and the envelope signature.
                Content::Dsse(envelope) => (sha256(&envelope.pae()), envelope.signature.as_slice()),
            };
            if spec("data/algorithm") != Some("SHA2_256") {
                return Err(mismatch("the artifact digest is not SHA2_256"));
            }
            expect_bytes(spec("data/digest"), &digest, "artifact digest")?;
            expect_bytes(spec("signature/content"), signature, "signature")?;
            let (label, verifier) = match (
                spec("signature/verifier/x509Certificate/rawBytes"),
                spec("signature/verifier/publicKey/rawBytes"),
            ) {
                (Some(cert), None) => ("CERTIFICATE", cert),
                (None, Some(key)) => ("PUBLIC KEY", key),
                _ => return Err(mismatch("the body must name one verifier")),
            };
            let der = decode_base64("rekor body verifier", verifier)?;
            check_size("rekor body verifier", der.len(), MAX_CERT_BYTES)?;
            expect_signer_der(label, &der, expected.signer)
        }
        ("intoto", "0.0.2", Content::Dsse(envelope)) => {
            let content = |field: &str| text(&format!("/spec/content/{field}"));
            expect_hash(
                content("payloadHash/algorithm"),
                content("payloadHash/value"),
                &sha256(&envelope.payload),
                "payload hash",
            )?;
            if content("envelope/payloadType") != Some(envelope.payload_type.as_str()) {
                return Err(mismatch("the payload type differs from the bundle"));
            }
            if let Some(payload) = content("envelope/payload") {
                expect_intoto_bytes(payload, &envelope.payload, "payload")?;
            }
            let signatures = body
                .pointer("/spec/content/envelope/signatures")
                .and_then(Value::as_array)
                .ok_or_else(|| mismatch("the intoto body has no signatures"))?;
            let [entry_signature] = signatures.as_slice() else {
                return Err(mismatch("the intoto body must list exactly one signature"));
            };
            let field = |name: &str| entry_signature.get(name).and_then(Value::as_str);
            let sig = field("sig").ok_or_else(|| mismatch("the body has no signature"))?;
            expect_intoto_bytes(sig, &envelope.signature, "signature")?;
            expect_signer(field("publicKey"), expected.signer)
        }
        (kind @ ("hashedrekord" | "dsse" | "intoto"), version @ ("0.0.1" | "0.0.2"), _) => {
            Err(mismatch(&format!(
                "entry kind {kind} {version} does not fit the bundle content"
            )))
        }
        (kind, version, _) => Err(VerifyError::UnsupportedBundle(format!(
            "transparency log entry kind {kind:?} version {version:?}"
        ))),
    }
}

fn mismatch(reason: &str) -> VerifyError {
    VerifyError::RekorBodyMismatch(reason.to_owned())
}

fn expect_hash(
    algorithm: Option<&str>,
    value: Option<&str>,
    expected: &[u8; 32],
    what: &str,
) -> Result<()> {
    if algorithm != Some("sha256") {
        return Err(mismatch(&format!("the {what} is not sha256")));
    }
    match value {
        Some(value) if value.eq_ignore_ascii_case(&hex::encode(expected)) => Ok(()),
        _ => Err(mismatch(&format!("the {what} differs from the bundle"))),
    }
}

fn expect_bytes(encoded: Option<&str>, expected: &[u8], what: &str) -> Result<()> {
    let encoded = encoded.ok_or_else(|| mismatch(&format!("the body has no {what}")))?;
    if decode_base64("rekor body field", encoded)? != expected {
        return Err(mismatch(&format!("the {what} differs from the bundle")));
    }
    Ok(())
}

/// intoto entries store the envelope's base64 text base64-encoded once more (some writers only
/// once): the field matches when either decoding gives `expected`.
fn expect_intoto_bytes(text: &str, expected: &[u8], what: &str) -> Result<()> {
    let once = decode_base64("rekor intoto field", text)?;
    let twice = std::str::from_utf8(&once)
        .ok()
        .and_then(|inner| decode_base64("rekor intoto field", inner).ok());
    if once == expected || twice.as_deref() == Some(expected) {
        return Ok(());
    }
    Err(mismatch(&format!("the {what} differs from the bundle")))
}

fn expect_signer(encoded: Option<&str>, signer: Signer) -> Result<()> {
    let encoded = encoded.ok_or_else(|| mismatch("the body names no verifier"))?;
    let pem = decode_base64("rekor body verifier", encoded)?;
    check_size("rekor body verifier", pem.len(), MAX_CERT_BYTES)?;
    let (label, der) = decode_pem(&pem)?;
    expect_signer_der(&label, &der, signer)
}

/// A PEM block, read leniently: Rekor stores some certificates with unwrapped base64 lines.
fn decode_pem(pem: &[u8]) -> Result<(String, Vec<u8>)> {
    let not_pem = || mismatch("the verifier is not PEM");
    let text = std::str::from_utf8(pem).map_err(|_| not_pem())?.trim();
    let (first, rest) = text.split_once('\n').ok_or_else(not_pem)?;
    let label = first
        .trim_end()
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(not_pem)?;
    let body = rest
        .trim_end()
        .strip_suffix(&format!("-----END {label}-----"))
        .ok_or_else(not_pem)?;
    Ok((
        label.to_owned(),
        decode_base64("rekor body verifier", body)?,
    ))
}

fn expect_signer_der(label: &str, der: &[u8], signer: Signer) -> Result<()> {
    let matches = match signer {
        Signer::Certificate(cert) => label == "CERTIFICATE" && der == cert,
        Signer::PublicKey(spki) => label == "PUBLIC KEY" && der == spki,
    };
    if !matches {
        return Err(mismatch("the verifier differs from the bundle's signer"));
    }
    Ok(())
}
