//! The entry point: verify a [`Signature`] over a blob with the caller's trust material.

use serde::Serialize;
use x509_cert::Certificate;

use crate::bundle::{Bundle, BundleFormat, Content, Material};
use crate::certificate;
use crate::encoding::{decode_base64, sha256};
use crate::error::{Result, VerifyError};
use crate::key::{KeyAlgorithm, PublicKey};
use crate::rekor::{self, Expected, Signer};
use crate::sct;
use crate::signature::Signature;
use crate::trusted_root::TrustedRoot;
use crate::tsa;

/// The signer a keyless bundle must name: a SAN (URI or email) and an OIDC issuer, matched exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// Expected subject alternative name (URI or email).
    pub identity: String,
    /// Expected OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8 or legacy .1.1).
    pub issuer: String,
}

/// What the caller trusts; which parts are needed depends on the signature.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustMaterial<'a> {
    /// Key for raw signatures and keyed bundles.
    pub key: Option<&'a PublicKey>,
    /// Pinned trusted root for keyless bundles and for any transparency log entry.
    pub trusted_root: Option<&'a TrustedRoot>,
    /// Expected identity for keyless bundles.
    pub identity: Option<&'a IdentityPolicy>,
}

/// How a signature was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Detached cosign signature, ECDSA P-256 key.
    CosignKeyedEcdsaP256,
    /// Detached signature, Ed25519 key.
    CosignKeyedEd25519,
    /// Sigstore bundle signed with a Fulcio certificate.
    SigstoreKeyless,
    /// Sigstore bundle signed with the caller's key.
    SigstoreKeyed,
    /// Legacy cosign bundle with a Fulcio certificate.
    CosignBundleKeyless,
    /// Legacy cosign bundle signed with the caller's key.
    CosignBundleKeyed,
}

/// The audit record of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// How the signature was verified.
    pub method: Method,
    /// Bundle format, for bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_format: Option<BundleFormat>,
    /// Algorithm of the key that signed (the certificate's key when keyless).
    pub key_algorithm: KeyAlgorithm,
    /// Lowercase hex SHA-256 of that key's SPKI DER.
    pub key_fingerprint: String,
    /// Verified certificate identity (keyless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Verified OIDC issuer (keyless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Rekor log index of the first verified entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rekor_log_index: Option<u64>,
    /// Rekor integrated time (unix seconds) of the first verified entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
}

/// What the caller knows of the signed artifact.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Only the artifact's SHA-256 digest. ECDSA signatures are checked over it as a prehash;
    /// Ed25519 signatures cannot be (they sign the message itself).
    Sha256Digest(&'a [u8; 32]),
}

/// Verifies `signature` over `blob`.
///
/// `blob` may be `None` only for bundles that record what was signed (a DSSE envelope, or a
/// message signature with its digest); when given it must match the bundle.
pub fn verify(
    signature: &Signature,
    blob: Option<&[u8]>,
    trust: &TrustMaterial,
) -> Result<Verification> {
    verify_artifact(signature, blob.map(Artifact::Bytes), trust)
}

/// Verifies `signature` over an artifact given by its bytes or by its SHA-256 digest (see
/// [`verify`] for `None`).
pub fn verify_artifact(
    signature: &Signature,
    artifact: Option<Artifact>,
    trust: &TrustMaterial,
) -> Result<Verification> {
    match signature {
        Signature::Raw(bytes) => verify_raw(bytes, artifact, trust),
        Signature::Bundle(bundle) => match &bundle.material {
            Material::Certificate { cert, der } => {
                verify_keyless(bundle, cert, der, artifact, trust)
            }
            Material::PublicKey { hint } => verify_keyed(bundle, hint, artifact, trust),
        },
    }
}

fn verify_raw(
    signature: &[u8],
    artifact: Option<Artifact>,
    trust: &TrustMaterial,
) -> Result<Verification> {
    let key = trust.key.ok_or(VerifyError::Missing("a public key"))?;
    match artifact.ok_or(VerifyError::Missing("the signed blob"))? {
        Artifact::Bytes(blob) => key.verify(blob, signature)?,
        Artifact::Sha256Digest(digest) => key.verify_sha256_prehash(digest, signature)?,
    }
    let method = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => Method::CosignKeyedEcdsaP256,
        KeyAlgorithm::Ed25519 => Method::CosignKeyedEd25519,
    };
    Ok(Verification {
        method,
        bundle_format: None,
        key_algorithm: key.algorithm(),
        key_fingerprint: key.fingerprint(),
        identity: None,
        issuer: None,
        rekor_log_index: None,
        integrated_time: None,
    })
}

fn verify_keyed(
    bundle: &Bundle,
    hint: &str,
    artifact: Option<Artifact>,
    trust: &TrustMaterial,
) -> Result<Verification> {
    let key = trust.key.ok_or(VerifyError::Missing("a public key"))?;
    if !hint.is_empty()
        && decode_base64("bundle key hint", hint).ok().as_deref()
            != Some(&sha256(key.spki_der())[..])
    {
        return Err(VerifyError::KeyHintMismatch {
            expected: key.hint(),
            found: hint.to_owned(),
        });
    }
    let message_digest = verify_content(&bundle.content, key, artifact)?;
    let timestamps = verify_timestamps(bundle, trust.trusted_root)?;
    if !bundle.tlog_entries.is_empty() {
        let root = trust.trusted_root.ok_or(VerifyError::Missing(
            "a trusted root (the bundle has transparency log entries)",
        ))?;
        let expected = Expected {
            signer: Signer::PublicKey(key.spki_der()),
            content: &bundle.content,
            message_digest,
            require_inclusion_proof: bundle.format.requires_inclusion_proof(),
            require_checkpoint: bundle.format.requires_checkpoint(),
            timestamps: &timestamps,
        };
        for entry in &bundle.tlog_entries {
            rekor::verify_entry(entry, root, &expected)?;
        }
    }
    let method = match bundle.format {
        BundleFormat::CosignLegacy => Method::CosignBundleKeyed,
        _ => Method::SigstoreKeyed,
    };
    Ok(Verification {
        method,
        bundle_format: Some(bundle.format),
        key_algorithm: key.algorithm(),
        key_fingerprint: key.fingerprint(),
        identity: None,
        issuer: None,
        rekor_log_index: bundle.tlog_entries.first().map(|e| e.log_index),
        integrated_time: bundle.tlog_entries.first().and_then(|e| e.integrated_time),
    })
}

fn verify_keyless(
    bundle: &Bundle,
    cert: &Certificate,
    cert_der: &[u8],
    artifact: Option<Artifact>,
    trust: &TrustMaterial,
) -> Result<Verification> {
    let root = trust
        .trusted_root
        .ok_or(VerifyError::Missing("a trusted root"))?;
    let policy = trust.identity.ok_or(VerifyError::Missing(
        "an identity policy (expected identity and issuer)",
    ))?;
    let first = bundle.tlog_entries.first().ok_or_else(|| {
        VerifyError::MalformedBundle("a keyless bundle needs a transparency log entry".into())
    })?;
    let timestamps = verify_timestamps(bundle, Some(root))?;
    let times = signing_times(bundle, &timestamps)?;
    for (source, time) in &times {
        certificate::check_valid_at(cert, *time, source)?;
    }
    let mut issuing_ca = None;
    for (_, time) in &times {
        issuing_ca = Some(verify_chain(cert, root, *time)?);
    }
    let issuing_ca = issuing_ca.ok_or(VerifyError::Missing("a signing time"))?;
    sct::verify_embedded(cert, issuing_ca, root)?;
    let identities = certificate::identities(cert)?;
    if !identities.contains(&policy.identity) {
        return Err(VerifyError::IdentityMismatch {
            expected: policy.identity.clone(),
            found: identities,
        });
    }
    let issuer = certificate::oidc_issuer(cert)?;
    if issuer.as_deref() != Some(policy.issuer.as_str()) {
        return Err(VerifyError::IssuerMismatch {
            expected: policy.issuer.clone(),
            found: issuer,
        });
    }
    let key = certificate::public_key(cert)?;
    let message_digest = verify_content(&bundle.content, &key, artifact)?;
    let expected = Expected {
        signer: Signer::Certificate(cert_der),
        content: &bundle.content,
        message_digest,
        require_inclusion_proof: bundle.format.requires_inclusion_proof(),
        require_checkpoint: bundle.format.requires_checkpoint(),
        timestamps: &timestamps,
    };
    for entry in &bundle.tlog_entries {
        rekor::verify_entry(entry, root, &expected)?;
    }
    let method = match bundle.format {
        BundleFormat::CosignLegacy => Method::CosignBundleKeyless,
        _ => Method::SigstoreKeyless,
    };
    Ok(Verification {
        method,
        bundle_format: Some(bundle.format),
        key_algorithm: key.algorithm(),
        key_fingerprint: key.fingerprint(),
        identity: Some(policy.identity.clone()),
        issuer: Some(policy.issuer.clone()),
        rekor_log_index: Some(first.log_index),
        integrated_time: first.integrated_time,
    })
}

/// Verifies the bundle's RFC 3161 timestamps over its signature; returns their times.
fn verify_timestamps(bundle: &Bundle, root: Option<&TrustedRoot>) -> Result<Vec<i64>> {
    if bundle.timestamps.is_empty() {
        return Ok(Vec::new());
    }
    let root = root.ok_or(VerifyError::Missing(
        "a trusted root (the bundle has RFC 3161 timestamps)",
    ))?;
    bundle
        .timestamps
        .iter()
        .map(|timestamp| tsa::verify(timestamp, bundle.content.signature(), root))
        .collect()
}

/// The times the certificate must be valid at: log integrated times and verified timestamps.
fn signing_times(bundle: &Bundle, timestamps: &[i64]) -> Result<Vec<(&'static str, i64)>> {
    let mut times: Vec<(&'static str, i64)> = bundle
        .tlog_entries
        .iter()
        .filter_map(|entry| entry.integrated_time)
        .map(|time| ("integrated time", time))
        .collect();
    times.extend(timestamps.iter().map(|time| ("RFC 3161 timestamp", *time)));
    if times.is_empty() {
        return Err(VerifyError::MalformedBundle(
            "a keyless bundle needs a signed timestamp (a Rekor v1 integrated time or an RFC 3161 timestamp) and has none"
                .into(),
        ));
    }
    Ok(times)
}

/// Finds a Fulcio CA valid at `at` that issued `cert`; returns the issuing certificate.
fn verify_chain<'r>(cert: &Certificate, root: &'r TrustedRoot, at: i64) -> Result<&'r Certificate> {
    let mut last_error = VerifyError::UntrustedChain(format!(
        "no Fulcio CA in the trusted root is valid at integrated time {at}"
    ));
    for ca in root
        .certificate_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(at))
    {
        match certificate::verify_chain(cert, &ca.chain, at) {
            Ok(()) => {
                if let Some(issuer) = ca.chain.first() {
                    return Ok(issuer);
                }
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Checks the signature over the content; returns the blob digest a hashedrekord entry must hold.
fn verify_content(
    content: &Content,
    key: &PublicKey,
    artifact: Option<Artifact>,
) -> Result<Option<[u8; 32]>> {
    match content {
        Content::Message { digest, signature } => match (artifact, digest) {
            (Some(Artifact::Sha256Digest(given)), recorded) => {
                if recorded.is_some_and(|d| d != *given) {
                    return Err(VerifyError::DigestMismatch(
                        "the bundle's message digest is not the given SHA-256 digest".into(),
                    ));
                }
                key.verify_sha256_prehash(given, signature)?;
                Ok(Some(*given))
            }
            (Some(Artifact::Bytes(blob)), recorded) => {
                let actual = sha256(blob);
                if recorded.is_some_and(|d| d != actual) {
                    return Err(VerifyError::DigestMismatch(
                        "the bundle's message digest is not the blob's SHA-256".into(),
                    ));
                }
                key.verify(blob, signature)?;
                Ok(Some(actual))
            }
            (None, Some(recorded)) => {
                key.verify_sha256_prehash(recorded, signature)?;
                Ok(Some(*recorded))
            }
            (None, None) => Err(VerifyError::Missing("the signed blob")),
        },
        Content::Dsse(envelope) => {
            key.verify(&envelope.pae(), &envelope.signature)?;
            match artifact {
                Some(Artifact::Bytes(blob)) => envelope.check_subject(blob)?,
                Some(Artifact::Sha256Digest(digest)) => envelope.check_subject_sha256(digest)?,
                None => {}
            }
            Ok(None)
        }
    }
}
