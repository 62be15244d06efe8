//! X.509 handling for Fulcio certificates: parsing, chain to a trusted CA, identity, issuer, validity.

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
use x509_cert::Certificate;

use crate::encoding::{check_size, MAX_CERT_BYTES};
use crate::error::{Result, VerifyError};
use crate::key::PublicKey;

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Fulcio OIDC issuer (v2, DER UTF8String).
const FULCIO_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio OIDC issuer (legacy, raw string bytes).
const FULCIO_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

/// Parses one DER certificate, within the size cap.
pub fn parse_der(der: &[u8]) -> Result<Certificate> {
    check_size("certificate", der.len(), MAX_CERT_BYTES)?;
    Certificate::from_der(der)
        .map_err(|e| VerifyError::MalformedCertificate(format!("not a DER X.509 certificate: {e}")))
}

/// Parses a certificate given as PEM or DER.
pub fn parse_pem_or_der(bytes: &[u8]) -> Result<Certificate> {
    check_size("certificate", bytes.len(), MAX_CERT_BYTES)?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (label, der) = der::pem::decode_vec(bytes.trim_ascii())
            .map_err(|e| VerifyError::MalformedCertificate(format!("bad PEM: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(VerifyError::MalformedCertificate(format!(
                "expected a PEM \"CERTIFICATE\" block, found {label:?}"
            )));
        }
        return parse_der(&der);
    }
    parse_der(bytes)
}

/// DER encoding of a parsed certificate.
pub fn to_der(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der()
        .map_err(|e| VerifyError::MalformedCertificate(format!("cannot encode: {e}")))
}

/// `(not_before, not_after)` in unix seconds.
pub fn validity(cert: &Certificate) -> (i64, i64) {
    let validity = cert.tbs_certificate().validity();
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    (
        secs(validity.not_before.to_unix_duration()),
        secs(validity.not_after.to_unix_duration()),
    )
}

/// True when `at` (unix seconds) lies within the certificate's validity period.
pub fn valid_at(cert: &Certificate, at: i64) -> bool {
    let (not_before, not_after) = validity(cert);
    (not_before..=not_after).contains(&at)
}

/// Fails with [`VerifyError::OutsideValidity`] unless the leaf is valid at `at` (from `source`).
pub fn check_valid_at(cert: &Certificate, at: i64, source: &'static str) -> Result<()> {
    let (not_before, not_after) = validity(cert);
    if !(not_before..=not_after).contains(&at) {
        return Err(VerifyError::OutsideValidity {
            origin: source,
            time: at,
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// The leaf's public key, for checking the artifact signature.
pub fn public_key(cert: &Certificate) -> Result<PublicKey> {
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| VerifyError::MalformedCertificate(format!("bad public key: {e}")))?;
    PublicKey::from_spki_der(&spki)
}

/// Checks that `leaf` was issued by `chain[0]`, each CA by the next, all valid at `at`.
pub fn verify_chain(leaf: &Certificate, chain: &[Certificate], at: i64) -> Result<()> {
    let Some(first) = chain.first() else {
        return Err(VerifyError::UntrustedChain(
            "the CA has no certificates".into(),
        ));
    };
    verify_issued_by(leaf, first).map_err(VerifyError::UntrustedChain)?;
    for pair in chain.windows(2) {
        verify_issued_by(&pair[0], &pair[1]).map_err(VerifyError::UntrustedChain)?;
    }
    for ca in chain {
        if !valid_at(ca, at) {
            return Err(VerifyError::UntrustedChain(format!(
                "CA certificate {} is not valid at {at}",
                ca.tbs_certificate().subject()
            )));
        }
    }
    let has_code_signing = leaf
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .map_err(|e| VerifyError::MalformedCertificate(format!("bad extended key usage: {e}")))?
        .is_some_and(|(_, eku)| eku.0.contains(&CODE_SIGNING));
    if !has_code_signing {
        return Err(VerifyError::UntrustedChain(
            "the signing certificate is not for code signing".into(),
        ));
    }
    Ok(())
}

pub(crate) fn verify_issued_by(
    child: &Certificate,
    issuer: &Certificate,
) -> std::result::Result<(), String> {
    let child_tbs = child.tbs_certificate();
    let issuer_tbs = issuer.tbs_certificate();
    if child_tbs.issuer() != issuer_tbs.subject() {
        return Err(format!(
            "issuer {} of {} is not {}",
            child_tbs.issuer(),
            child_tbs.subject(),
            issuer_tbs.subject()
        ));
    }
    let tbs = child_tbs
        .to_der()
        .map_err(|e| format!("cannot encode certificate body: {e}"))?;
    let hash = match child.signature_algorithm().oid {
        ECDSA_WITH_SHA256 | SHA256_WITH_RSA => HashAlgorithm::Sha256,
        ECDSA_WITH_SHA384 | SHA384_WITH_RSA => HashAlgorithm::Sha384,
        SHA512_WITH_RSA => HashAlgorithm::Sha512,
        other => {
            return Err(format!(
                "unsupported certificate signature algorithm {other}"
            ))
        }
    };
    let digest = hash.digest(&tbs);
    let signature = child
        .signature()
        .as_bytes()
        .ok_or("certificate signature has unused bits")?;
    verify_prehash(
        issuer_tbs.subject_public_key_info(),
        hash,
        &digest,
        signature,
    )
    .map_err(|e| {
        format!(
            "signature on {} does not verify with the CA key ({e})",
            child_tbs.subject()
        )
    })
}

/// A digest algorithm of certificate and timestamp signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// Verifies a signature over a precomputed `hash` digest: DER ECDSA with a P-256 or P-384 key,
/// or RSA PKCS#1 v1.5.
pub(crate) fn verify_prehash(
    spki: &spki::SubjectPublicKeyInfoOwned,
    hash: HashAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> std::result::Result<(), String> {
    if spki.algorithm.oid == RSA_ENCRYPTION {
        let der = spki
            .to_der()
            .map_err(|e| format!("cannot encode RSA key: {e}"))?;
        let key = rsa::PublicKey::try_from(
            spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                .map_err(|e| format!("bad RSA key: {e}"))?,
        )
        .map_err(|e| format!("bad RSA key: {e}"))?;
        let scheme = match hash {
            HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        };
        return key
            .verify(scheme, digest, signature)
            .map_err(|_| "the RSA signature does not verify".to_owned());
    }
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(format!("unsupported key algorithm {}", spki.algorithm.oid));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let point = spki
        .subject_public_key
        .as_bytes()
        .ok_or("public key has unused bits")?;
    let bad = || "the signature does not verify".to_owned();
    match curve {
        Some(SECP256R1) => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad())?;
            let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
            key.verify_prehash(digest, &sig).map_err(|_| bad())
        }
        Some(SECP384R1) => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad())?;
            let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
            key.verify_prehash(digest, &sig).map_err(|_| bad())
        }
        _ => Err("unsupported EC curve".into()),
    }
}

/// URI and email subject alternative names of the certificate.
pub fn identities(cert: &Certificate) -> Result<Vec<String>> {
    let san = cert
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .map_err(|e| VerifyError::MalformedCertificate(format!("bad subject alt name: {e}")))?;
    Ok(san
        .map(|(_, names)| names.0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            GeneralName::Rfc822Name(email) => Some(email.to_string()),
            _ => None,
        })
        .collect())
}

/// The OIDC issuer recorded by Fulcio (extension .1.8, else legacy .1.1).
pub fn oidc_issuer(cert: &Certificate) -> Result<Option<String>> {
    let extensions = cert
        .tbs_certificate()
        .extensions()
        .map_or(&[][..], Vec::as_slice);
    if let Some(ext) = extensions.iter().find(|e| e.extn_id == FULCIO_ISSUER_V2) {
        let value = der::asn1::Utf8StringRef::from_der(ext.extn_value.as_bytes())
            .map_err(|e| VerifyError::MalformedCertificate(format!("bad issuer extension: {e}")))?;
        return Ok(Some(value.as_str().to_owned()));
    }
    extensions
        .iter()
        .find(|e| e.extn_id == FULCIO_ISSUER_V1)
        .map(|ext| {
            String::from_utf8(ext.extn_value.as_bytes().to_vec()).map_err(|_| {
                VerifyError::MalformedCertificate("legacy issuer extension is not UTF-8".into())
            })
        })
        .transpose()
}
