//! RFC 3161 timestamps (`timestampVerificationData.rfc3161Timestamps`): a minimal parse of the
//! CMS SignedData and its TSTInfo, checked against the trusted root's timestamp authorities.
//!
//! Trust comes only from the trusted root: certificates embedded in the timestamp are ignored,
//! the signer must be the first certificate of a timestamp authority's chain, that chain must
//! hold at the timestamp's time, and the authority's `validFor` window must contain it.

use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Reader, SliceReader, Tag, Tagged};

use x509_cert::ext::pkix::ExtendedKeyUsage;

use crate::certificate::{self, HashAlgorithm};
use crate::error::{Result, VerifyError};
use crate::time::parse_rfc3339_utc;
use crate::trusted_root::TrustedRoot;

const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// The parts of a timestamp token that verification needs.
struct Token {
    gen_time: i64,
    imprint_algorithm: ObjectIdentifier,
    imprint: Vec<u8>,
    signed_attributes: Vec<u8>,
    /// `None` when the signature algorithm is unsupported (no authority can then be matched).
    signature_hash: Option<HashAlgorithm>,
    signature: Vec<u8>,
}

/// Verifies the DER timestamp (a `TimeStampResp` or a bare `TimeStampToken`) over `signature`
/// and returns its time (unix seconds).
pub(crate) fn verify(timestamp: &[u8], signature: &[u8], root: &TrustedRoot) -> Result<i64> {
    let token = parse(timestamp).map_err(VerifyError::InvalidTimestamp)?;
    let invalid = |reason: String| VerifyError::InvalidTimestamp(reason);
    let hash = token.signature_hash.ok_or_else(|| {
        invalid("no timestamp authority of the trusted root signed this timestamp (its signature algorithm is unsupported)".into())
    })?;
    let signed_digest = hash.digest(&token.signed_attributes);
    let authority = root
        .timestamp_authorities
        .iter()
        .find(|tsa| {
            tsa.chain.first().is_some_and(|leaf| {
                certificate::verify_prehash(
                    leaf.tbs_certificate().subject_public_key_info(),
                    hash,
                    &signed_digest,
                    &token.signature,
                )
                .is_ok()
            })
        })
        .ok_or_else(|| {
            invalid("no timestamp authority of the trusted root signed this timestamp".into())
        })?;
    if !authority.valid_for.contains(token.gen_time) {
        return Err(invalid(format!(
            "the timestamp authority's validity window in the trusted root does not include the timestamp's time {}",
            token.gen_time
        )));
    }
    let leaf_is_for_timestamping = authority
        .chain
        .first()
        .map(|leaf| leaf.tbs_certificate().get_extension::<ExtendedKeyUsage>())
        .transpose()
        .map_err(|e| {
            invalid(format!(
                "timestamp authority certificate: bad extended key usage: {e}"
            ))
        })?
        .flatten()
        .is_some_and(|(_, eku)| eku.0.contains(&TIME_STAMPING));
    if !leaf_is_for_timestamping {
        return Err(invalid(
            "the timestamp authority certificate is not for timestamping (extended key usage)"
                .into(),
        ));
    }
    for pair in authority.chain.windows(2) {
        certificate::verify_issued_by(&pair[0], &pair[1])
            .map_err(|e| invalid(format!("timestamp authority chain: {e}")))?;
    }
    for cert in &authority.chain {
        if !certificate::valid_at(cert, token.gen_time) {
            return Err(invalid(format!(
                "timestamp authority certificate {} is not valid at the timestamp's time {}",
                cert.tbs_certificate().subject(),
                token.gen_time
            )));
        }
    }
    if digest(token.imprint_algorithm, signature)? != token.imprint {
        return Err(invalid(
            "the timestamp does not cover the signature (message imprint differs)".into(),
        ));
    }
    Ok(token.gen_time)
}

fn hash_algorithm(algorithm: ObjectIdentifier) -> Parse<HashAlgorithm> {
    match algorithm {
        SHA256 => Ok(HashAlgorithm::Sha256),
        SHA384 => Ok(HashAlgorithm::Sha384),
        SHA512 => Ok(HashAlgorithm::Sha512),
        other => Err(format!("unsupported digest algorithm {other}")),
    }
}

fn digest(algorithm: ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>> {
    hash_algorithm(algorithm)
        .map(|hash| hash.digest(data))
        .map_err(VerifyError::InvalidTimestamp)
}

type Parse<T> = std::result::Result<T, String>;

/// The elements inside a constructed value (SEQUENCE, SET or context tag).
fn children(any: &Any, what: &str) -> Parse<Vec<Any>> {
    let mut reader = SliceReader::new(any.value()).map_err(|e| format!("{what}: {e}"))?;
    let mut elements = Vec::new();
    while !reader.is_finished() {
        elements.push(Any::decode(&mut reader).map_err(|e| format!("{what}: {e}"))?);
    }
    Ok(elements)
}

fn field<'a>(fields: &'a [Any], index: usize, what: &str) -> Parse<&'a Any> {
    fields
        .get(index)
        .ok_or_else(|| format!("{what} is missing"))
}

fn oid(any: &Any, what: &str) -> Parse<ObjectIdentifier> {
    any.decode_as::<ObjectIdentifier>()
        .map_err(|e| format!("{what} is not an OID: {e}"))
}

/// The OID of an `AlgorithmIdentifier`.
fn algorithm(any: &Any, what: &str) -> Parse<ObjectIdentifier> {
    oid(field(&children(any, what)?, 0, what)?, what)
}

/// The single element inside an explicit context tag.
fn explicit(any: &Any, what: &str) -> Parse<Any> {
    Any::from_der(any.value()).map_err(|e| format!("{what}: {e}"))
}

fn parse(der: &[u8]) -> Parse<Token> {
    let outer = Any::from_der(der).map_err(|e| format!("not DER: {e}"))?;
    let outer_fields = children(&outer, "the timestamp")?;
    // A TimeStampResp starts with its PKIStatusInfo; a bare token with the content type OID.
    let content_info = if field(&outer_fields, 0, "the timestamp")?.tag() == Tag::ObjectIdentifier {
        outer
    } else {
        let status = children(field(&outer_fields, 0, "PKIStatusInfo")?, "PKIStatusInfo")?;
        let code = field(&status, 0, "PKIStatus")?
            .decode_as::<u8>()
            .map_err(|e| format!("PKIStatus: {e}"))?;
        if code > 1 {
            return Err(format!(
                "the timestamp response status is {code} (not granted)"
            ));
        }
        field(&outer_fields, 1, "the timeStampToken")?.clone()
    };
    let content_info = children(&content_info, "ContentInfo")?;
    if oid(field(&content_info, 0, "contentType")?, "contentType")? != SIGNED_DATA {
        return Err("the token is not CMS SignedData".into());
    }
    let signed_data = explicit(field(&content_info, 1, "SignedData")?, "SignedData")?;
    let signed_data = children(&signed_data, "SignedData")?;
    let encapsulated = children(
        field(&signed_data, 2, "encapContentInfo")?,
        "encapContentInfo",
    )?;
    if oid(field(&encapsulated, 0, "eContentType")?, "eContentType")? != TST_INFO {
        return Err("the signed content is not a TSTInfo".into());
    }
    let tst_der = explicit(field(&encapsulated, 1, "eContent")?, "eContent")?
        .decode_as::<OctetString>()
        .map_err(|e| format!("eContent: {e}"))?
        .into_bytes()
        .into_vec();
    let tst_info = Any::from_der(&tst_der).map_err(|e| format!("TSTInfo: {e}"))?;
    let tst_info = children(&tst_info, "TSTInfo")?;
    let imprint = children(field(&tst_info, 2, "messageImprint")?, "messageImprint")?;
    let imprint_algorithm = algorithm(field(&imprint, 0, "hashAlgorithm")?, "hashAlgorithm")?;
    let imprint = field(&imprint, 1, "hashedMessage")?
        .decode_as::<OctetString>()
        .map_err(|e| format!("hashedMessage: {e}"))?
        .into_bytes()
        .into_vec();
    let gen_time = generalized_time(field(&tst_info, 4, "genTime")?)?;

    let signer_infos = children(
        signed_data.last().ok_or("signerInfos is missing")?,
        "signerInfos",
    )?;
    let [signer_info] = signer_infos.as_slice() else {
        return Err(format!(
            "the timestamp must have exactly one signer, found {}",
            signer_infos.len()
        ));
    };
    let signer = children(signer_info, "SignerInfo")?;
    let digest_algorithm = algorithm(field(&signer, 2, "digestAlgorithm")?, "digestAlgorithm")?;
    let attributes_field = field(&signer, 3, "signedAttrs")?;
    if !matches!(attributes_field.tag(), Tag::ContextSpecific { number, .. } if number.value() == 0)
    {
        return Err("the signer has no signed attributes".into());
    }
    let mut message_digest = None;
    for attribute in children(attributes_field, "signedAttrs")? {
        let attribute = children(&attribute, "signed attribute")?;
        if oid(field(&attribute, 0, "attribute type")?, "attribute type")? == MESSAGE_DIGEST {
            let values = children(field(&attribute, 1, "messageDigest")?, "messageDigest")?;
            let [value] = values.as_slice() else {
                return Err("messageDigest must have one value".into());
            };
            message_digest = Some(
                value
                    .decode_as::<OctetString>()
                    .map_err(|e| format!("messageDigest: {e}"))?
                    .into_bytes()
                    .into_vec(),
            );
        }
    }
    let message_digest = message_digest.ok_or("the signed attributes lack messageDigest")?;
    let expected = digest(digest_algorithm, &tst_der).map_err(|e| e.to_string())?;
    if message_digest != expected {
        return Err(
            "the signed attributes do not match the TSTInfo (messageDigest differs)".into(),
        );
    }
    let signed_attributes = Any::new(Tag::Set, attributes_field.value())
        .and_then(|set| set.to_der())
        .map_err(|e| format!("signedAttrs: {e}"))?;
    let signature_hash = match algorithm(
        field(&signer, 4, "signatureAlgorithm")?,
        "signatureAlgorithm",
    )? {
        ECDSA_WITH_SHA256 | SHA256_WITH_RSA => Some(HashAlgorithm::Sha256),
        ECDSA_WITH_SHA384 | SHA384_WITH_RSA => Some(HashAlgorithm::Sha384),
        ECDSA_WITH_SHA512 | SHA512_WITH_RSA => Some(HashAlgorithm::Sha512),
        ID_EC_PUBLIC_KEY | RSA_ENCRYPTION => Some(hash_algorithm(digest_algorithm)?),
        _ => None,
    };
    let signature = field(&signer, 5, "signature")?
        .decode_as::<OctetString>()
        .map_err(|e| format!("signature: {e}"))?
        .into_bytes()
        .into_vec();
    Ok(Token {
        gen_time,
        imprint_algorithm,
        imprint,
        signed_attributes,
        signature_hash,
        signature,
    })
}

/// `YYYYMMDDHHMMSS[.fraction]Z` to unix seconds (fraction dropped).
fn generalized_time(any: &Any) -> Parse<i64> {
    if any.tag() != Tag::GeneralizedTime {
        return Err("genTime is not a GeneralizedTime".into());
    }
    let text = std::str::from_utf8(any.value()).map_err(|_| "genTime is not ASCII")?;
    let digits = text
        .get(..14)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let (Some(d), Some(rest)) = (digits, text.get(14..)) else {
        return Err(format!("genTime {text:?} is malformed"));
    };
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}{rest}",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[8..10],
        &d[10..12],
        &d[12..14]
    );
    parse_rfc3339_utc(&rfc3339).map_err(|_| format!("genTime {text:?} is malformed"))
}
