//! The in-process Certus-Trust (the embedded default): applies the Trust contract to an upload request —
//! well-formed request, signer (optionally pinned) matching the declared key, inner signature valid over the
//! RFC 8785 form of the artifacts, declared digests and sizes matching the stored bundle — then permits with a
//! fresh permission id and a verification proof, or denies with one of the contract's reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use base64::Engine;
use certus_core::bundle::INDEX;
use certus_core::digest::{prefixed, sha256_hex};
use certus_core::ids::parse_test_id;
use certus_core::ports::ArtifactStore;
use certus_core::time;
use certus_core::trust::{Attempt, TrustAnswer, TrustClient, TrustExchange, TrustRequest};
use certus_core::workspace::lexically_confined;
use certus_core::CoreError;
use certus_verify::PublicKey;
use serde_json::json;

use crate::contract::{is_sha256_ref, signed_artifact_bytes};
use crate::error::{Result, TrustError};

/// More declared artifacts than this is a malformed request.
pub const MAX_ARTIFACTS: usize = 100_000;
const MAX_NAME_BYTES: usize = 1024;
const MAX_SIGNATURE_CHARS: usize = 16 * 1024;
const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;

/// Why the gate refuses an upload; the wire names are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    MalformedRequest,
    InvalidSigner,
    InvalidSignature,
    DigestMismatch,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::InvalidSigner => "invalid_signer",
            Self::InvalidSignature => "invalid_signature",
            Self::DigestMismatch => "digest_mismatch",
        }
    }
}

struct Denial {
    reason: DenyReason,
    detail: String,
}

fn deny(reason: DenyReason, detail: impl Into<String>) -> Denial {
    Denial {
        reason,
        detail: detail.into(),
    }
}

/// What the checks established about a permitted request.
struct Verified {
    signer_pinned: bool,
    bundle_checked: bool,
}

/// The Trust contract applied in this process. Without pins any signer whose key verifies its own signature
/// is accepted; without a bundle store the declared digests are only checked for form.
#[derive(Default)]
pub struct LocalTrustGate {
    pinned_signers: Option<BTreeSet<String>>,
    bundles: Option<Arc<dyn ArtifactStore>>,
}

impl LocalTrustGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts only signers whose `sha256:<fingerprint>` is listed.
    pub fn pin_signers<I, S>(mut self, fingerprints: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut pins = BTreeSet::new();
        for fingerprint in fingerprints {
            let fingerprint = fingerprint.into();
            if !is_sha256_ref(&fingerprint) {
                return Err(TrustError::PinnedSigner(fingerprint));
            }
            pins.insert(fingerprint);
        }
        self.pinned_signers = Some(pins);
        Ok(self)
    }

    /// Checks declared digests and sizes against the bundle index kept in `store` at
    /// `store.location(scan_id)`.
    pub fn check_bundles(mut self, store: Arc<dyn ArtifactStore>) -> Self {
        self.bundles = Some(store);
        self
    }

    /// Trust's answer to `request`. `Err` only when the gate could not decide (the bundle store failed):
    /// that is never a permit and never a final denial.
    pub async fn evaluate(&self, request: &TrustRequest) -> Result<TrustAnswer, CoreError> {
        let verdict = match self
            .check_form(request)
            .and_then(|()| self.check_signature(request))
        {
            Ok(signer_pinned) => self
                .check_bundle(request)
                .await?
                .map(|bundle_checked| Verified {
                    signer_pinned,
                    bundle_checked,
                }),
            Err(denial) => Err(denial),
        };
        Ok(match verdict {
            Ok(verified) => permit(request, &verified)?,
            Err(denial) => TrustAnswer {
                upload_permission_id: None,
                scan_id: Some(request.scan_id.clone()),
                tier: Some(request.tier),
                permitted: false,
                reason: Some(denial.reason.as_str().to_string()),
                detail: Some(denial.detail),
                verification_proof: None,
                storage_config: None,
            },
        })
    }

    fn check_form(&self, request: &TrustRequest) -> Result<(), Denial> {
        let malformed = |detail: String| deny(DenyReason::MalformedRequest, detail);
        parse_test_id(&request.scan_id).map_err(|e| malformed(e.to_string()))?;
        if request.artifacts.is_empty() {
            return Err(malformed("no artifacts are declared".into()));
        }
        if request.artifacts.len() > MAX_ARTIFACTS {
            return Err(malformed(format!(
                "{} artifacts declared (limit {MAX_ARTIFACTS})",
                request.artifacts.len()
            )));
        }
        let mut names = BTreeSet::new();
        for artifact in &request.artifacts {
            let shown: String = artifact.name.chars().take(200).collect();
            if artifact.name.len() > MAX_NAME_BYTES {
                return Err(malformed(format!("artifact name {shown:?} is too long")));
            }
            lexically_confined(&artifact.name).map_err(|e| malformed(e.to_string()))?;
            if !names.insert(artifact.name.as_str()) {
                return Err(malformed(format!("artifact {shown:?} is declared twice")));
            }
            if !is_sha256_ref(&artifact.hash) {
                return Err(malformed(format!(
                    "artifact {shown:?} hash is not `sha256:` followed by 64 lowercase hex digits"
                )));
            }
        }
        if request.inner_signature.signature.len() > MAX_SIGNATURE_CHARS {
            return Err(malformed("inner signature is too long".into()));
        }
        Ok(())
    }

    /// Returns whether the signer is pinned.
    fn check_signature(&self, request: &TrustRequest) -> Result<bool, Denial> {
        let inner = &request.inner_signature;
        let key = PublicKey::from_pem(&inner.certificate).map_err(|e| {
            deny(
                DenyReason::InvalidSigner,
                format!("certificate is not a usable public key: {e}"),
            )
        })?;
        let fingerprint = prefixed(&key.fingerprint());
        if inner.signer != fingerprint {
            return Err(deny(
                DenyReason::InvalidSigner,
                format!(
                    "signer {:?} is not the fingerprint of the declared key ({fingerprint})",
                    inner.signer.chars().take(100).collect::<String>()
                ),
            ));
        }
        let signer_pinned = match &self.pinned_signers {
            Some(pins) if !pins.contains(&fingerprint) => {
                return Err(deny(
                    DenyReason::InvalidSigner,
                    format!("signer {fingerprint} is not one of the pinned signers"),
                ))
            }
            Some(_) => true,
            None => false,
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(inner.signature.trim())
            .map_err(|_| {
                deny(
                    DenyReason::InvalidSignature,
                    "inner signature is not standard base64",
                )
            })?;
        let signed = signed_artifact_bytes(&request.artifacts)
            .map_err(|e| deny(DenyReason::MalformedRequest, e.to_string()))?;
        key.verify(&signed, &signature).map_err(|e| {
            deny(
                DenyReason::InvalidSignature,
                format!("inner signature does not cover the declared artifacts: {e}"),
            )
        })?;
        Ok(signer_pinned)
    }

    /// `Ok(Ok(true))` when checked against the stored bundle, `Ok(Ok(false))` when no store is configured.
    async fn check_bundle(
        &self,
        request: &TrustRequest,
    ) -> Result<Result<bool, Denial>, CoreError> {
        let Some(store) = &self.bundles else {
            return Ok(Ok(false));
        };
        let location = store.location(&request.scan_id);
        let Some(index_bytes) = store.read_file(&location, INDEX, MAX_INDEX_BYTES).await? else {
            return Ok(Err(deny(
                DenyReason::DigestMismatch,
                format!("no bundle index is stored for {}", request.scan_id),
            )));
        };
        let index: certus_core::bundle::BundleIndex = match serde_json::from_slice(&index_bytes) {
            Ok(index) => index,
            Err(e) => {
                return Ok(Err(deny(
                    DenyReason::DigestMismatch,
                    format!("the stored bundle index is unreadable: {e}"),
                )))
            }
        };
        let mut stored: BTreeMap<&str, (String, u64)> = index
            .files
            .iter()
            .map(|e| (e.path.as_str(), (prefixed(&e.sha256), e.size)))
            .collect();
        stored.insert(
            INDEX,
            (
                prefixed(&sha256_hex(&index_bytes)),
                index_bytes.len() as u64,
            ),
        );
        for artifact in &request.artifacts {
            match stored.remove(artifact.name.as_str()) {
                None => {
                    return Ok(Err(deny(
                        DenyReason::DigestMismatch,
                        format!("{} is not a file of the stored bundle", artifact.name),
                    )))
                }
                Some((hash, size)) if hash != artifact.hash || size != artifact.size => {
                    return Ok(Err(deny(
                        DenyReason::DigestMismatch,
                        format!(
                            "{}: declared {} ({} bytes), stored {hash} ({size} bytes)",
                            artifact.name, artifact.hash, artifact.size
                        ),
                    )))
                }
                Some(_) => {}
            }
        }
        if let Some(undeclared) = stored.keys().next() {
            return Ok(Err(deny(
                DenyReason::DigestMismatch,
                format!("bundle file {undeclared} is not declared"),
            )));
        }
        Ok(Ok(true))
    }
}

fn permit(request: &TrustRequest, verified: &Verified) -> Result<TrustAnswer, CoreError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| CoreError::Storage(format!("no OS randomness for a permission id: {e}")))?;
    let raw = &request.storage_destinations.raw_s3;
    let (bucket, prefix) = raw
        .strip_prefix("s3://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
        .map_or((None, None), |(b, p)| (Some(b), Some(p)));
    Ok(TrustAnswer {
        upload_permission_id: Some(format!("perm_{}", hex::encode(id))),
        scan_id: Some(request.scan_id.clone()),
        tier: Some(request.tier),
        permitted: true,
        reason: None,
        detail: None,
        verification_proof: Some(json!({
            "chain_verified": verified.signer_pinned,
            "chain_unbroken": verified.bundle_checked,
            "inner_signature_valid": true,
            "outer_signature_valid": false,
            "signer_inner": request.inner_signature.signer,
            "signer_outer": null,
            "sigstore_timestamp": null,
            "verification_timestamp": time::format(&time::now()),
            "rekor_entry_uuid": null,
            "cosign_signature": null,
            "verifier": "certus-trust local gate",
            "signer_pinned": verified.signer_pinned,
            "artifacts_checked_against_bundle": verified.bundle_checked,
            "artifact_count": request.artifacts.len(),
        })),
        storage_config: Some(json!({
            "raw_destination": raw,
            "raw_s3_bucket": bucket,
            "raw_s3_prefix": prefix,
            "upload_to_s3": true,
            "upload_to_oci": request.storage_destinations.oci_registry.is_some(),
        })),
    })
}

#[async_trait]
impl TrustClient for LocalTrustGate {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        let started_at = time::format(&time::now());
        let clock = Instant::now();
        let result = self.evaluate(request).await;
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (answer, outcome, error) = match result {
            Ok(answer) => {
                let outcome = if answer.permitted {
                    "local gate: permitted".to_string()
                } else {
                    format!(
                        "local gate: denied ({})",
                        answer.reason.as_deref().unwrap_or("no reason")
                    )
                };
                (Some(answer), outcome, None)
            }
            Err(e) => {
                let error = format!("the local Trust gate could not decide: {e}");
                (None, error.clone(), Some(error))
            }
        };
        TrustExchange {
            request: request.clone(),
            answer,
            attempts: vec![Attempt {
                started_at,
                duration_ms,
                outcome,
            }],
            error,
        }
    }
}
