//! The in-process Certus-Trust (the embedded default, and what `certus trust serve` answers with): the real
//! service's contract first — its 422 type checks ([`check_upload_request`]), `verified` only for the
//! Assurance identity (`invalid_signer`), at least one artifact (`no_artifacts`) — then Assurance's own,
//! stricter checks: well-formed names and digests, the declared key matching its fingerprint (optionally
//! pinned), the inner signature valid over the RFC 8785 form of the artifacts, declared digests and sizes
//! matching the stored bundle. It permits with a fresh permission id, a verification proof and a
//! `storage_config` shaped as the service's, or denies with one of the contract's reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use base64::Engine;
use certus_core::bundle::INDEX;
use certus_core::digest::{prefixed, sha256_hex};
use certus_core::ids::parse_test_id;
use certus_core::ports::{ArtifactStore, JobStore};
use certus_core::time;
use certus_core::trust::{
    Attempt, TrustAnswer, TrustClient, TrustExchange, TrustRequest, VerificationProof,
    DEFAULT_SIGNER_IDENTITY,
};
use certus_core::workspace::lexically_confined;
use certus_core::CoreError;
use certus_verify::PublicKey;
use serde_json::{json, Value};

use crate::contract::{check_upload_request, is_sha256_ref, signed_artifact_bytes, WireError};
use crate::error::{Result, TrustError};

/// More declared artifacts than this is a malformed request.
pub const MAX_ARTIFACTS: usize = 100_000;
/// The raw bucket the gate names in `storage_config` unless told otherwise (the service's default).
pub const DEFAULT_RAW_BUCKET: &str = "raw";
const MAX_NAME_BYTES: usize = 1024;
const MAX_SIGNATURE_CHARS: usize = 16 * 1024;
const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;

/// Why the gate refuses an upload; the wire names are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The service's: `verified` asked by another identity, or an unusable or unpinned key.
    InvalidSigner,
    /// The service's: nothing declared.
    NoArtifacts,
    MalformedRequest,
    InvalidSignature,
    DigestMismatch,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSigner => "invalid_signer",
            Self::NoArtifacts => "no_artifacts",
            Self::MalformedRequest => "malformed_request",
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
    key_pinned: bool,
    bundle_checked: bool,
}

/// An HTTP answer as the service gives it: the status and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct WireAnswer {
    /// 202 for a decision (permit or denial), 422 for a request the service's model refuses, 503 when the
    /// gate could not decide.
    pub status: u16,
    pub body: Value,
}

/// The Trust contract applied in this process. Without pins any key that verifies its own signature is
/// accepted; without a bundle store the declared digests are only checked for form.
pub struct LocalTrustGate {
    assurance_identity: String,
    raw_bucket: String,
    pinned_keys: Option<BTreeSet<String>>,
    bundles: Option<Arc<dyn ArtifactStore>>,
    jobs: Option<Arc<dyn JobStore>>,
}

impl Default for LocalTrustGate {
    fn default() -> Self {
        Self {
            assurance_identity: DEFAULT_SIGNER_IDENTITY.to_string(),
            raw_bucket: DEFAULT_RAW_BUCKET.to_string(),
            pinned_keys: None,
            bundles: None,
            jobs: None,
        }
    }
}

impl LocalTrustGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// The identity granted the `verified` tier (default [`DEFAULT_SIGNER_IDENTITY`], as in the service).
    pub fn assurance_identity(mut self, identity: impl Into<String>) -> Self {
        self.assurance_identity = identity.into();
        self
    }

    /// The raw bucket named in `storage_config` (default [`DEFAULT_RAW_BUCKET`]).
    pub fn raw_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.raw_bucket = bucket.into();
        self
    }

    /// Accepts only signing keys whose `sha256:<fingerprint>` is listed.
    pub fn pin_keys<I, S>(mut self, fingerprints: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut pins = BTreeSet::new();
        for fingerprint in fingerprints {
            let fingerprint = fingerprint.into();
            if !is_sha256_ref(&fingerprint) {
                return Err(TrustError::PinnedKey(fingerprint));
            }
            pins.insert(fingerprint);
        }
        self.pinned_keys = Some(pins);
        Ok(self)
    }

    /// Checks declared digests and sizes against the bundle index kept in `store` at
    /// `store.location(scan_id)`, or where the job record says its bundle is (see `locate_bundles_with`).
    pub fn check_bundles(mut self, store: Arc<dyn ArtifactStore>) -> Self {
        self.bundles = Some(store);
        self
    }

    /// The answer to a request body, exactly as the HTTP route gives it: 422 with the service's `detail` when
    /// its model refuses the body, else 202 with a permit or a denial (503 when the gate cannot decide).
    pub async fn answer(&self, body: &[u8]) -> WireAnswer {
        let value = match check_upload_request(body) {
            Ok(value) => value,
            Err(errors) => {
                return WireAnswer {
                    status: 422,
                    body: json!({ "detail": errors }),
                }
            }
        };
        let request: TrustRequest = match serde_json::from_value(value.clone()) {
            Ok(request) => request,
            Err(e) => {
                return WireAnswer {
                    status: 202,
                    body: json!({
                        "upload_permission_id": null,
                        "scan_id": value["scan_id"],
                        "tier": value["tier"],
                        "permitted": false,
                        "reason": DenyReason::MalformedRequest.as_str(),
                        "detail": format!("not an Assurance upload request: {e}"),
                        "verification_proof": null,
                        "storage_config": null,
                    }),
                }
            }
        };
        match self.evaluate(&request).await {
            Ok(answer) => match serde_json::to_value(&answer) {
                Ok(body) => WireAnswer { status: 202, body },
                Err(e) => unavailable(&format!("the answer cannot be encoded: {e}")),
            },
            Err(e) => unavailable(&e.to_string()),
        }
    }

    /// Looks a bundle up where its job record says it was written (`certus scan --out DIR` puts it outside
    /// the store's own place); a job without a recorded location falls back to `store.location(scan_id)`.
    pub fn locate_bundles_with(mut self, jobs: Arc<dyn JobStore>) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// Trust's decision on `request`. `Err` only when the gate could not decide (the bundle store failed):
    /// that is never a permit and never a final denial.
    pub async fn evaluate(&self, request: &TrustRequest) -> Result<TrustAnswer, CoreError> {
        let verdict = match self
            .check_service_rules(request)
            .and_then(|()| self.check_form(request))
            .and_then(|()| self.check_signature(request))
        {
            Ok(key_pinned) => self
                .check_bundle(request)
                .await?
                .map(|bundle_checked| Verified {
                    key_pinned,
                    bundle_checked,
                }),
            Err(denial) => Err(denial),
        };
        Ok(match verdict {
            Ok(verified) => self.permit(request, &verified)?,
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

    /// The service's own decision rules, in its order (no artifacts wins over a wrong signer).
    fn check_service_rules(&self, request: &TrustRequest) -> Result<(), Denial> {
        if request.artifacts.is_empty() {
            return Err(deny(
                DenyReason::NoArtifacts,
                "Upload request contains no artifacts",
            ));
        }
        if request.tier == certus_core::trust::Tier::Verified
            && request.inner_signature.signer != self.assurance_identity
        {
            return Err(deny(
                DenyReason::InvalidSigner,
                format!(
                    "Expected {}, got {}",
                    self.assurance_identity,
                    request
                        .inner_signature
                        .signer
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            ));
        }
        Ok(())
    }

    fn check_form(&self, request: &TrustRequest) -> Result<(), Denial> {
        let malformed = |detail: String| deny(DenyReason::MalformedRequest, detail);
        parse_test_id(&request.scan_id).map_err(|e| malformed(e.to_string()))?;
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

    /// Returns whether the key is pinned.
    fn check_signature(&self, request: &TrustRequest) -> Result<bool, Denial> {
        let inner = &request.inner_signature;
        let pem = inner.certificate.as_deref().ok_or_else(|| {
            deny(
                DenyReason::InvalidSigner,
                "inner_signature.certificate (the signing key, PEM) is missing",
            )
        })?;
        let key = PublicKey::from_pem(pem).map_err(|e| {
            deny(
                DenyReason::InvalidSigner,
                format!("inner_signature.certificate is not a usable public key: {e}"),
            )
        })?;
        let fingerprint = prefixed(&key.fingerprint());
        if inner.key_fingerprint != fingerprint {
            return Err(deny(
                DenyReason::InvalidSigner,
                format!(
                    "inner_signature.key_fingerprint {:?} is not the fingerprint of the declared key ({fingerprint})",
                    inner.key_fingerprint.chars().take(100).collect::<String>()
                ),
            ));
        }
        let key_pinned = match &self.pinned_keys {
            Some(pins) if !pins.contains(&fingerprint) => {
                return Err(deny(
                    DenyReason::InvalidSigner,
                    format!("signing key {fingerprint} is not one of the pinned keys"),
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
        Ok(key_pinned)
    }

    /// `Ok(Ok(true))` when checked against the stored bundle, `Ok(Ok(false))` when no store is configured.
    async fn check_bundle(
        &self,
        request: &TrustRequest,
    ) -> Result<Result<bool, Denial>, CoreError> {
        let Some(store) = &self.bundles else {
            return Ok(Ok(false));
        };
        let recorded = match &self.jobs {
            Some(jobs) => jobs
                .get(&request.scan_id)
                .await?
                .and_then(|job| job.bundle_location),
            None => None,
        };
        let location = recorded.unwrap_or_else(|| store.location(&request.scan_id));
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
            .map(|e| (e.path.as_str(), (e.sha256.prefixed(), e.size)))
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

impl LocalTrustGate {
    fn permit(
        &self,
        request: &TrustRequest,
        verified: &Verified,
    ) -> Result<TrustAnswer, CoreError> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| {
            CoreError::Storage(format!("no OS randomness for a permission id: {e}"))
        })?;
        let now = time::format(&time::now());
        let destinations = &request.storage_destinations;
        // The service's prefix: the git URL with `/` made `-`, then the first 8 characters of the commit.
        let prefix = format!(
            "{}/{}",
            request.metadata.git_url.replace('/', "-"),
            request.metadata.commit.chars().take(8).collect::<String>()
        );
        Ok(TrustAnswer {
            upload_permission_id: Some(format!("perm_{}", hex::encode(id))),
            scan_id: Some(request.scan_id.clone()),
            tier: Some(request.tier),
            permitted: true,
            reason: None,
            detail: None,
            verification_proof: Some(VerificationProof {
                chain_unbroken: verified.bundle_checked,
                chain_verified: verified.key_pinned,
                cosign_signature: None,
                inner_signature_valid: true,
                outer_signature_valid: false,
                rekor_entry_uuid: None,
                signer_inner: request.inner_signature.signer.clone(),
                signer_outer: None,
                sigstore_timestamp: None,
                verification_timestamp: Some(now),
                extra: BTreeMap::from([
                    ("verifier".into(), json!("certus-trust local gate")),
                    (
                        "key_fingerprint".into(),
                        json!(request.inner_signature.key_fingerprint),
                    ),
                    ("key_pinned".into(), json!(verified.key_pinned)),
                    (
                        "artifacts_checked_against_bundle".into(),
                        json!(verified.bundle_checked),
                    ),
                    ("artifact_count".into(), json!(request.artifacts.len())),
                ]),
            }),
            storage_config: Some(json!({
                "raw_s3_bucket": self.raw_bucket,
                "raw_s3_prefix": prefix,
                "oci_registry": null,
                "oci_repository": null,
                "upload_to_s3": destinations.raw_s3,
                "upload_to_oci": destinations.oci_registry,
            })),
        })
    }
}

fn unavailable(reason: &str) -> WireAnswer {
    WireAnswer {
        status: 503,
        body: json!({ "error": format!("the gate could not decide: {reason}") }),
    }
}

/// The 422 `detail` of a refused body, one line per item.
pub(crate) fn describe_detail(body: &Value) -> Option<String> {
    let items = body.get("detail")?.as_array()?;
    let lines: Vec<String> = items
        .iter()
        .map(|item| {
            serde_json::from_value::<WireErrorView>(item.clone()).map_or_else(
                |_| item.to_string(),
                |view| {
                    WireError {
                        kind: "",
                        loc: view.loc,
                        msg: view.msg,
                        input: view.input,
                    }
                    .describe()
                },
            )
        })
        .collect();
    Some(lines.join("; "))
}

#[derive(serde::Deserialize)]
struct WireErrorView {
    loc: Vec<Value>,
    msg: String,
    #[serde(default)]
    input: Value,
}

/// The embedded gate speaks the wire: the request is encoded and answered by [`LocalTrustGate::answer`], so
/// it meets the same checks as over HTTP.
#[async_trait]
impl TrustClient for LocalTrustGate {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        let started_at = time::format(&time::now());
        let clock = Instant::now();
        let (answer, outcome, error) = match serde_json::to_vec(request) {
            Err(e) => {
                let error = format!("the Trust request cannot be encoded: {e}");
                (None, error.clone(), Some(error))
            }
            Ok(body) => {
                let wire = self.answer(&body).await;
                let outcome = format!("local gate: http {}", wire.status);
                match (
                    wire.status,
                    serde_json::from_value::<TrustAnswer>(wire.body.clone()),
                ) {
                    (202, Ok(answer)) => (Some(answer), outcome, None),
                    (422, _) => {
                        let detail = describe_detail(&wire.body).unwrap_or_default();
                        let error = format!(
                            "the local Trust gate refused the request (http 422): {detail}"
                        );
                        (None, outcome, Some(error))
                    }
                    _ => {
                        let error = format!(
                            "the local Trust gate could not decide (http {}): {}",
                            wire.status, wire.body
                        );
                        (None, outcome, Some(error))
                    }
                }
            }
        };
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
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
