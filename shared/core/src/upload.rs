//! Upload gating: nothing leaves the run's workspace until Certus-Trust answers `permitted: true` to a
//! request that declares every bundle file (with `sha256:` digests and sizes), the resolved commit and the
//! manifest digest, signed by Assurance's key. Then the bundle is staged under raw and promoted to golden.
//! Every exchange is kept with the job; asking twice never publishes twice; a re-run after a failure resumes.
//!
//! The request is in the real service's shape (`docs/trust-contract.md`): `inner_signature.signer` is the
//! configured Assurance identity, the signing key (PEM and fingerprint) travels with it, and a permit's
//! `storage_config` is reconciled with the declared destinations before anything is published.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use crate::bundle::{self, BundleIndex};
use crate::digest::{canonical_json, prefixed, sha256_hex};
use crate::error::{CoreError, Result};
use crate::event::EventBody;
use crate::job::{Job, JobStatus, UploadStatus};
use crate::pipeline::Services;
use crate::ports::Publisher;
use crate::progress::Progress;
use crate::record::{ManifestVerification, UploadStep};
use crate::time;
use crate::trust::{
    DeclaredArtifact, InnerSignature, StorageDestinations, Tier, TrustClient, TrustMetadata,
    TrustRequest, DEFAULT_SIGNER_IDENTITY, SIGNED_CONTENT,
};

const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;

/// How long an upload request holds its job's lease: longer than a Trust exchange with its retries and a
/// publication, so a live request is never overtaken; a crashed one frees the job after it.
pub const UPLOAD_LEASE: Duration = Duration::from_secs(15 * 60);

/// The gate and the publication behind it. Serialises upload requests per job across every process that
/// shares the job store (a lease in the store, [`UPLOAD_LEASE`]).
pub struct UploadGate {
    trust: Arc<dyn TrustClient>,
    publisher: Arc<dyn Publisher>,
    oci_registry: Option<String>,
    signer_identity: String,
}

/// `metadata.branch` of a git source checked out without a named branch (the remote's head, or a bare
/// commit): what git itself calls a detached checkout.
pub const DETACHED_BRANCH: &str = "HEAD";

/// Runs `work` holding the job's upload lease; refuses (`Conflict`) while another request holds it. The
/// lease is given back whatever `work` returns.
async fn leased<T>(
    services: &Services,
    test_id: &str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let holder = lease_holder()?;
    if !services
        .jobs
        .claim_upload(test_id, &holder, UPLOAD_LEASE)
        .await?
    {
        return Err(CoreError::Conflict(format!(
            "an upload request for job '{test_id}' is already in progress"
        )));
    }
    let result = work.await;
    let released = services.jobs.release_upload(test_id, &holder).await;
    let value = result?;
    released.map_err(|e| {
        CoreError::Storage(format!(
            "the upload request for job '{test_id}' finished, but its lease could not be given back ({e}); \
             another request for this job waits until the lease expires ({} min)",
            UPLOAD_LEASE.as_secs() / 60
        ))
    })?;
    Ok(value)
}

/// A holder name no other request shares: 128 random bits.
fn lease_holder() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Storage(format!("no randomness for an upload lease: {e}")))?;
    Ok(hex::encode(bytes))
}

impl UploadGate {
    pub fn new(
        trust: Arc<dyn TrustClient>,
        publisher: Arc<dyn Publisher>,
        oci_registry: Option<String>,
    ) -> Self {
        Self {
            trust,
            publisher,
            oci_registry,
            signer_identity: DEFAULT_SIGNER_IDENTITY.to_string(),
        }
    }

    /// Signs requests as `identity` (`CERTUS_ASSURANCE_SIGNER_IDENTITY`) instead of
    /// [`DEFAULT_SIGNER_IDENTITY`].
    pub fn with_signer_identity(mut self, identity: impl Into<String>) -> Self {
        self.signer_identity = identity.into();
        self
    }

    /// Asks Trust (unless a permission is already recorded), then publishes. Idempotent: an uploaded job is
    /// returned unchanged; a job whose publication failed after a permit resumes without asking again; a
    /// denied job is asked about again (each exchange stays in `upload_audit`). The `verified` tier is refused
    /// before Trust is asked unless the job's manifest was verified.
    pub async fn request_upload(
        &self,
        services: &Services,
        test_id: &str,
        tier: Tier,
    ) -> Result<Job> {
        leased(services, test_id, async {
            let mut upload = Upload::load(services, test_id).await?;
            if upload.is_settled() {
                upload.commit_missing_publication(services).await?;
                return Ok(upload.job);
            }
            self.ask_trust(services, &mut upload, tier).await?;
            if upload.job.upload_status != UploadStatus::Permitted {
                return Ok(upload.job);
            }
            self.publish(services, &mut upload).await?;
            Ok(upload.job)
        })
        .await
    }

    /// The Trust half alone (one state-machine step): the job ends `permitted`, `denied` or `upload_failed`.
    pub async fn request_permission(
        &self,
        services: &Services,
        test_id: &str,
        tier: Tier,
    ) -> Result<Job> {
        leased(services, test_id, async {
            let mut upload = Upload::load(services, test_id).await?;
            if !upload.is_settled() {
                self.ask_trust(services, &mut upload, tier).await?;
            }
            Ok(upload.job)
        })
        .await
    }

    /// The publication half alone (the next step): only for a job whose permission is recorded.
    pub async fn publish_permitted(&self, services: &Services, test_id: &str) -> Result<Job> {
        leased(services, test_id, async {
            let mut upload = Upload::load(services, test_id).await?;
            if upload.is_settled() {
                upload.commit_missing_publication(services).await?;
                return Ok(upload.job);
            }
            upload.resume_permission()?;
            if upload.job.upload_status != UploadStatus::Permitted {
                return Err(CoreError::Conflict(format!(
                    "job '{test_id}' has no upload permission (upload status {})",
                    upload.job.upload_status
                )));
            }
            self.publish(services, &mut upload).await?;
            Ok(upload.job)
        })
        .await
    }

    async fn ask_trust(&self, services: &Services, upload: &mut Upload, tier: Tier) -> Result<()> {
        upload.resume_permission()?;
        if upload.job.upload_status == UploadStatus::Permitted {
            return Ok(());
        }
        let job = &mut upload.job;
        check_tier(job, tier)?;
        let request = self
            .trust_request(services, job, tier, &upload.index, &upload.index_bytes)
            .await?;
        let exchange = self.trust.verify_and_permit(&request).await;
        job.upload_audit.push(UploadStep::Trust {
            at: time::now(),
            exchange: Box::new(exchange.clone()),
        });
        let permit = exchange.answer.clone().filter(|_| exchange.permitted());
        let storage = permit.as_ref().map(|answer| {
            request
                .storage_destinations
                .reconcile(answer.storage_config.as_ref())
        });
        if let Some(storage) = &storage {
            job.upload_audit.push(UploadStep::StorageConfig {
                at: time::now(),
                note: storage.as_ref().ok().cloned(),
                refused: storage.as_ref().err().cloned(),
            });
        }
        if let Some(Err(refusal)) = storage {
            // The permit is not used: no permission is recorded, so a later request asks Trust again.
            if let Some(answer) = &exchange.answer {
                job.verification_proof = answer.verification_proof.clone();
            }
            job.set_upload_status(UploadStatus::UploadFailed)?;
            services.jobs.save(job).await?;
            upload
                .progress
                .emit(EventBody::UploadDenied {
                    upload_status: UploadStatus::UploadFailed,
                    reason: refusal,
                })
                .await?;
            return Ok(());
        }
        let Some(answer) = permit else {
            let (status, reason) = match &exchange.answer {
                Some(answer) if !answer.permitted => (
                    UploadStatus::Denied,
                    answer
                        .reason
                        .clone()
                        .unwrap_or_else(|| "denied without a reason".into()),
                ),
                Some(_) => (
                    UploadStatus::UploadFailed,
                    "Trust answered permitted without a permission id".into(),
                ),
                None => (
                    UploadStatus::UploadFailed,
                    exchange
                        .error
                        .clone()
                        .unwrap_or_else(|| "Trust could not be reached".into()),
                ),
            };
            if let Some(answer) = &exchange.answer {
                job.verification_proof = answer.verification_proof.clone();
            }
            job.set_upload_status(status)?;
            services.jobs.save(job).await?;
            upload
                .progress
                .emit(EventBody::UploadDenied {
                    upload_status: status,
                    reason,
                })
                .await?;
            return Ok(());
        };
        job.upload_permission_id = answer.upload_permission_id.clone();
        job.verification_proof = answer.verification_proof.clone();
        job.set_upload_status(UploadStatus::Permitted)?;
        services.jobs.save(job).await?;
        upload
            .progress
            .emit(EventBody::UploadPermitted {
                upload_permission_id: job.upload_permission_id.clone().unwrap_or_default(),
            })
            .await?;
        Ok(())
    }

    async fn publish(&self, services: &Services, upload: &mut Upload) -> Result<()> {
        let job = &mut upload.job;
        match self
            .publisher
            .publish(job, &upload.location, &upload.index)
            .await
        {
            Ok(remote) => {
                job.upload_audit.push(UploadStep::Publish {
                    at: time::now(),
                    raw: Some(remote.raw.len()),
                    golden: Some(remote.golden.len()),
                    error: None,
                });
                let golden: Vec<String> = remote.golden.values().cloned().collect();
                job.remote_artifacts = remote;
                job.set_upload_status(UploadStatus::Uploaded)?;
                services.jobs.save(job).await?;
                upload
                    .progress
                    .emit(EventBody::Published { golden })
                    .await?;
            }
            Err(e) => {
                let reason = format!("publication failed: {e}");
                job.upload_audit
                    .push(UploadStep::publish_failed(reason.clone()));
                job.set_upload_status(UploadStatus::UploadFailed)?;
                services.jobs.save(job).await?;
                upload
                    .progress
                    .emit(EventBody::UploadDenied {
                        upload_status: UploadStatus::UploadFailed,
                        reason,
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn trust_request(
        &self,
        services: &Services,
        job: &Job,
        tier: Tier,
        index: &BundleIndex,
        index_bytes: &[u8],
    ) -> Result<TrustRequest> {
        let mut artifacts: Vec<DeclaredArtifact> = index
            .files
            .iter()
            .map(|e| DeclaredArtifact {
                name: e.path.clone(),
                hash: e.sha256.prefixed(),
                size: e.size,
            })
            .collect();
        artifacts.push(DeclaredArtifact {
            name: bundle::INDEX.into(),
            hash: prefixed(&sha256_hex(index_bytes)),
            size: index_bytes.len() as u64,
        });
        let signed = canonical_json(
            &serde_json::to_value(&artifacts).map_err(|e| CoreError::json("artifacts", e))?,
        )?;
        let signer = services.signer()?;
        let signature = signer.sign(&signed).await?;
        Ok(TrustRequest {
            scan_id: job.test_id.clone(),
            tier,
            inner_signature: InnerSignature {
                signer: self.signer_identity.clone(),
                timestamp: time::format(&time::now()),
                signature: base64::engine::general_purpose::STANDARD.encode(signature),
                algorithm: signer.algorithm(),
                certificate: Some(signer.public_key_pem()),
                key_fingerprint: prefixed(&signer.key_id()),
                signed_content: SIGNED_CONTENT.to_string(),
            },
            artifacts,
            metadata: trust_metadata(job)?,
            manifest_digest: job.manifest_digest,
            storage_destinations: StorageDestinations {
                raw_s3: true,
                oci_registry: self.oci_registry.is_some(),
                raw_uri: self.publisher.raw_destination(&job.test_id),
                raw_bucket: self.publisher.raw_bucket(),
                oci_repository: self.oci_registry.clone(),
            },
            audit_trail_head: job.audit_head.clone(),
        })
    }
}

/// Refuses the `verified` tier for a job whose manifest was not verified (its record does not say
/// `"verified": true`), before Trust is asked: wherever upload requests are taken.
pub fn check_tier(job: &Job, tier: Tier) -> Result<()> {
    let verification = job.manifest_verification.as_ref();
    let verified = verification.is_some_and(|v| v.verified);
    if tier == Tier::Verified && !verified {
        return Err(CoreError::Conflict(format!(
            "tier 'verified' needs a verified manifest; job '{}' ran with manifest verification '{}'",
            job.test_id,
            verification.map_or(ManifestVerification::UNSIGNED, |v| v.method.as_str())
        )));
    }
    Ok(())
}

/// `metadata` as the service types it, always strings (docs/trust-contract.md): a git source gives its URL,
/// its branch ([`DETACHED_BRANCH`] when none was named) and the resolved SHA; a directory or archive gives an
/// empty `git_url` and `branch` and its content digest as `commit`.
fn trust_metadata(job: &Job) -> Result<TrustMetadata> {
    let missing = |what: &str| {
        CoreError::Conflict(format!(
            "job '{}' ({} source) has no {what} to declare to Trust",
            job.test_id, job.source_type
        ))
    };
    let (git_url, branch, commit) = if job.source_type == "git" {
        (
            job.git_url.clone().ok_or_else(|| missing("git_url"))?,
            job.branch
                .clone()
                .unwrap_or_else(|| DETACHED_BRANCH.to_string()),
            job.commit
                .clone()
                .ok_or_else(|| missing("resolved commit"))?,
        )
    } else {
        (
            String::new(),
            String::new(),
            job.source_digest
                .ok_or_else(|| missing("content digest"))?
                .to_string(),
        )
    };
    Ok(TrustMetadata {
        git_url,
        branch,
        commit,
        requested_by: job.requested_by.clone(),
        source_type: job.source_type.clone(),
    })
}

/// A SUCCEEDED job's upload in progress: its record, its stored bundle's index, and its event stream.
struct Upload {
    job: Job,
    location: String,
    index: BundleIndex,
    index_bytes: Vec<u8>,
    progress: Progress,
}

impl Upload {
    async fn load(services: &Services, test_id: &str) -> Result<Self> {
        let job = services
            .jobs
            .get(test_id)
            .await?
            .ok_or_else(|| CoreError::JobNotFound(test_id.to_string()))?;
        if job.status != JobStatus::Succeeded {
            return Err(CoreError::Conflict(format!(
                "job '{test_id}' is {}; only a SUCCEEDED job can be uploaded",
                job.status
            )));
        }
        let location = job
            .bundle_location
            .clone()
            .ok_or_else(|| CoreError::Conflict(format!("job '{test_id}' has no bundle")))?;
        let index_bytes = services
            .artifacts()?
            .read_file(&location, bundle::INDEX, MAX_INDEX_BYTES)
            .await?
            .ok_or_else(|| CoreError::Bundle(format!("{location} has no {}", bundle::INDEX)))?;
        let index = BundleIndex::from_json(&index_bytes)?;
        let progress =
            Progress::open(test_id, services.events.clone(), services.sinks.clone()).await?;
        Ok(Self {
            job,
            location,
            index,
            index_bytes,
            progress,
        })
    }

    /// Uploaded: nothing more to do. A denied job is asked about again on a new request.
    fn is_settled(&self) -> bool {
        self.job.upload_status.is_final()
    }

    /// An uploaded job whose `published` event was never committed (the store lost the acknowledgement of
    /// the final save, or refused the event) gets it now: the audit trail records every publication.
    async fn commit_missing_publication(&self, services: &Services) -> Result<()> {
        if self.job.upload_status != UploadStatus::Uploaded {
            return Ok(());
        }
        let history = services.events.history(&self.job.test_id, 0).await?;
        if history
            .iter()
            .any(|e| matches!(e.body, EventBody::Published { .. }))
        {
            return Ok(());
        }
        let golden = self.job.remote_artifacts.golden.values().cloned().collect();
        self.progress.emit(EventBody::Published { golden }).await?;
        Ok(())
    }

    /// A permission survives a failed publication: the job goes back to `permitted` without asking again.
    fn resume_permission(&mut self) -> Result<()> {
        if self.job.upload_status == UploadStatus::UploadFailed
            && self.job.upload_permission_id.is_some()
        {
            self.job.set_upload_status(UploadStatus::Permitted)?;
        }
        Ok(())
    }
}
