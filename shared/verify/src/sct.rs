//! Certificate transparency: the signed certificate timestamps (SCTs) Fulcio embeds in its
//! certificates, checked against the trusted root's CT logs (RFC 6962 §3.2 precertificate entries).
//!
//! The precertificate is reconstructed from the final certificate: the SCT list extension is
//! removed and the TBS re-encoded; the issuer is identified by the SHA-256 of its SPKI DER.

use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Tag, TagNumber};
use x509_cert::ext::Extensions;
use x509_cert::Certificate;

use crate::encoding::{encode_base64, sha256};
use crate::error::{Result, VerifyError};
use crate::trusted_root::TrustedRoot;

/// Embedded SCT list extension (RFC 6962 §3.3).
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Most SCTs read from one certificate.
const MAX_SCTS: usize = 16;
/// TLS `HashAlgorithm.sha256`.
const HASH_SHA256: u8 = 4;
/// TLS `SignatureAlgorithm.ecdsa`.
const SIGNATURE_ECDSA: u8 = 3;
/// TLS `SignatureAlgorithm.ed25519` (RFC 8422).
const SIGNATURE_ED25519: u8 = 7;

/// One parsed SCT (version 1).
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash_algorithm: u8,
    signature_algorithm: u8,
    signature: &'a [u8],
}

/// Requires at least one embedded SCT that a CT log of the trusted root signed while its key was
/// valid, over the precertificate of `cert` issued by `issuer`.
pub(crate) fn verify_embedded(
    cert: &Certificate,
    issuer: &Certificate,
    root: &TrustedRoot,
) -> Result<()> {
    let invalid = |reason: String| VerifyError::InvalidSct(reason);
    let extension = cert
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == SCT_LIST))
        .ok_or_else(|| invalid("the certificate has no embedded SCT list".into()))?;
    let list = OctetString::from_der(extension.extn_value.as_bytes()).map_err(|e| {
        invalid(format!(
            "the SCT list extension is not an OCTET STRING: {e}"
        ))
    })?;
    let scts = parse_list(list.as_bytes()).map_err(invalid)?;
    let tbs = precertificate_tbs(cert)?;
    let issuer_spki = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| VerifyError::MalformedCertificate(format!("issuer public key: {e}")))?;
    let issuer_key_hash = sha256(&issuer_spki);
    let mut reasons = Vec::new();
    for sct in &scts {
        match verify_one(sct, &tbs, &issuer_key_hash, root) {
            Ok(()) => return Ok(()),
            Err(reason) => reasons.push(reason),
        }
    }
    Err(invalid(format!(
        "no embedded SCT verifies against a CT log of the trusted root ({})",
        reasons.join("; ")
    )))
}

fn verify_one(
    sct: &Sct,
    tbs: &[u8],
    issuer_key_hash: &[u8; 32],
    root: &TrustedRoot,
) -> std::result::Result<(), String> {
    let log_id = encode_base64(sct.log_id);
    let log = root
        .ctlogs
        .iter()
        .find(|log| log.log_id == sct.log_id)
        .ok_or_else(|| format!("no usable CT log has id {log_id}"))?;
    let seconds = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
    if !log.valid_for.contains(seconds) {
        return Err(format!(
            "CT log {log_id}'s key is not valid at the SCT's time {seconds}"
        ));
    }
    let algorithms_fit = sct.hash_algorithm == HASH_SHA256
        && matches!(sct.signature_algorithm, SIGNATURE_ECDSA | SIGNATURE_ED25519);
    if !algorithms_fit {
        return Err(format!(
            "unsupported SCT signature algorithm ({}, {})",
            sct.hash_algorithm, sct.signature_algorithm
        ));
    }
    let tbs_len = u32::try_from(tbs.len())
        .ok()
        .filter(|len| *len < 1 << 24)
        .ok_or("the precertificate is too large")?;
    let extensions_len =
        u16::try_from(sct.extensions.len()).map_err(|_| "SCT extensions are too large")?;
    let mut signed = Vec::with_capacity(tbs.len() + 64);
    signed.push(0); // version v1
    signed.push(0); // signature_type certificate_timestamp
    signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    signed.extend_from_slice(issuer_key_hash);
    signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed.extend_from_slice(tbs);
    signed.extend_from_slice(&extensions_len.to_be_bytes());
    signed.extend_from_slice(sct.extensions);
    log.key
        .verify(&signed, sct.signature)
        .map_err(|e| format!("the SCT from CT log {log_id} does not verify ({e})"))
}

/// The DER TBS of `cert` without its SCT list extension: what the CT log signed.
fn precertificate_tbs(cert: &Certificate) -> Result<Vec<u8>> {
    let malformed = |e: der::Error| {
        VerifyError::MalformedCertificate(format!("cannot rebuild the precertificate: {e}"))
    };
    let tbs = cert.tbs_certificate().to_der().map_err(malformed)?;
    let mut fields = Vec::<Any>::from_der(&tbs).map_err(malformed)?;
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    for field in fields
        .iter_mut()
        .filter(|f| f.header().tag() == extensions_tag)
    {
        let mut extensions = Extensions::from_der(field.value()).map_err(malformed)?;
        extensions.retain(|e| e.extn_id != SCT_LIST);
        *field =
            Any::new(extensions_tag, extensions.to_der().map_err(malformed)?).map_err(malformed)?;
    }
    fields.to_der().map_err(malformed)
}

/// Parses a TLS `SignedCertificateTimestampList`.
fn parse_list(bytes: &[u8]) -> std::result::Result<Vec<Sct<'_>>, String> {
    let mut reader = Reader(bytes);
    let mut list = Reader(reader.vector16()?);
    reader.finish("the SCT list")?;
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        if scts.len() == MAX_SCTS {
            return Err(format!("more than {MAX_SCTS} SCTs"));
        }
        let mut sct = Reader(list.vector16()?);
        let version = sct.take(1)?[0];
        if version != 0 {
            return Err(format!("SCT version {version} is not v1"));
        }
        let log_id = sct.take(32)?;
        let timestamp: [u8; 8] = sct.take(8)?.try_into().map_err(|_| "short timestamp")?;
        let extensions = sct.vector16()?;
        let algorithms = sct.take(2)?;
        let signature = sct.vector16()?;
        sct.finish("an SCT")?;
        scts.push(Sct {
            log_id,
            timestamp_ms: u64::from_be_bytes(timestamp),
            extensions,
            hash_algorithm: algorithms[0],
            signature_algorithm: algorithms[1],
            signature,
        });
    }
    if scts.is_empty() {
        return Err("the SCT list is empty".into());
    }
    Ok(scts)
}

/// A cursor over TLS-encoded bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the SCT list is truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// A `opaque<0..2^16-1>` vector: a big-endian u16 length and that many bytes.
    fn vector16(&mut self) -> std::result::Result<&'a [u8], String> {
        let len = self.take(2)?;
        self.take(usize::from(u16::from_be_bytes([len[0], len[1]])))
    }

    fn finish(&self, what: &str) -> std::result::Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} has trailing bytes"))
        }
    }
}
