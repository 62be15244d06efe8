//! The job record (spec §2 "Job status") and the only transitions its status and upload status may take.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::audit_chain::AuditHead;
use crate::digest::Sha256Digest;
use crate::error::{CoreError, Result};
use crate::record::{
    from_stored_json, sorted, FindingsSummary, ManifestMetadata, ManifestVerification, UploadStep,
};
use crate::request::{ScanIds, SourceSpec, ValidatedSubmission};
use crate::time::{self, Timestamp};
use crate::trust::VerificationProof;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl JobStatus {
    /// The statuses a job ends in; a stored job in one of them is never saved with another status (job stores
    /// make that part of the write itself, so a step still in flight cannot save over a cancelled job).
    pub const TERMINAL: [JobStatus; 4] = [
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Cancelled,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::TimedOut | Self::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::TimedOut,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    fn may_become(self, next: Self) -> bool {
        match self {
            Self::Queued => matches!(next, Self::Running | Self::Failed | Self::Cancelled),
            Self::Running => next.is_terminal(),
            _ => false,
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    Pending,
    Permitted,
    Uploaded,
    UploadFailed,
    Denied,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Permitted => "permitted",
            Self::Uploaded => "uploaded",
            Self::UploadFailed => "upload_failed",
            Self::Denied => "denied",
        }
    }

    /// Only `uploaded` is final: `upload_failed` may be retried (a re-run resumes publication) and `denied`
    /// asked again with a new request (the denial stays in the record's `upload_audit` and the trail).
    pub fn is_final(self) -> bool {
        self == Self::Uploaded
    }

    fn may_become(self, next: Self) -> bool {
        match self {
            Self::Pending | Self::UploadFailed | Self::Denied => {
                matches!(next, Self::Permitted | Self::Denied | Self::UploadFailed)
            }
            Self::Permitted => matches!(next, Self::Uploaded | Self::UploadFailed),
            Self::Uploaded => false,
        }
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Object locations after publication: bundle-relative path → URI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteArtifacts {
    pub raw: BTreeMap<String, String>,
    pub golden: BTreeMap<String, String>,
    /// The signed OCI artifact of the bundle, `oci://registry/repo@sha256:<digest>`, when one was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
}

/// The job record kept for clients and auditors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub test_id: String,
    /// The tenant whose credentials submitted the job (or whose push registration started it); the API shows
    /// a job only to that tenant. Records written before tenants were recorded have none and are shown to
    /// no API caller (they stay readable with the CLI on the server's own data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(flatten)]
    pub ids: ScanIds,
    pub status: JobStatus,
    pub source_type: String,
    pub git_url: Option<String>,
    pub branch: Option<String>,
    /// The commit that was actually scanned (resolved SHA), not the one requested.
    pub commit: Option<String>,
    pub requested_commit: Option<String>,
    pub directory_path: Option<String>,
    pub archive_path: Option<String>,
    /// SHA-256 over the scanned tree (directory and archive sources).
    pub source_digest: Option<Sha256Digest>,
    /// SHA-256 of the source snapshot the staged pipeline keeps in its run store; every step that restores
    /// the snapshot checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_digest: Option<Sha256Digest>,
    pub requested_by: Option<String>,
    pub profile: String,
    pub submission: ValidatedSubmission,
    #[serde(with = "time::serde_z")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde_z::option", default)]
    pub started_at: Option<Timestamp>,
    #[serde(with = "time::serde_z::option", default)]
    pub completed_at: Option<Timestamp>,
    pub artifacts: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub remote_artifacts: RemoteArtifacts,
    pub upload_status: UploadStatus,
    pub upload_permission_id: Option<String>,
    /// What Trust said it checked, from its last answer.
    #[serde(serialize_with = "sorted")]
    pub verification_proof: Option<VerificationProof>,
    pub manifest_digest: Option<Sha256Digest>,
    #[serde(serialize_with = "sorted")]
    pub manifest_metadata: Option<ManifestMetadata>,
    /// How the manifest signature was checked (method, key fingerprint or identity, log index), if it was.
    #[serde(serialize_with = "sorted")]
    pub manifest_verification: Option<ManifestVerification>,
    /// Severity counts and threshold verdict, once scanners ran.
    #[serde(serialize_with = "sorted")]
    pub findings_summary: Option<FindingsSummary>,
    /// Where the bundle lives (a directory locally, a URI on AWS).
    pub bundle_location: Option<String>,
    pub stream_url: String,
    /// The runner that took the job (`pid:<n>` locally, the execution ARN on AWS).
    #[serde(default)]
    pub runner: Option<String>,
    /// Every exchange with Certus-Trust (request, answer, attempts) and publication step, in order.
    #[serde(default, serialize_with = "sorted")]
    pub upload_audit: Vec<UploadStep>,
    /// The head of the job's hash-chained audit trail when the record was last saved (kept by
    /// `AuditedJobStore`; absent from records written before the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditHead>,
}

impl Job {
    /// A new QUEUED job for a validated submission.
    pub fn queued(
        test_id: String,
        submission: ValidatedSubmission,
        stream_url: String,
        now: Timestamp,
    ) -> Self {
        let (git_url, branch, requested_commit, directory_path, archive_path) =
            match &submission.source {
                SourceSpec::Git {
                    git_url,
                    branch,
                    commit,
                    ..
                } => (
                    Some(git_url.clone()),
                    branch.clone(),
                    commit.clone(),
                    None,
                    None,
                ),
                SourceSpec::Directory { directory_path } => {
                    (None, None, None, Some(directory_path.clone()), None)
                }
                SourceSpec::Archive { archive_path } => {
                    (None, None, None, None, Some(archive_path.clone()))
                }
            };
        Self {
            test_id,
            tenant: None,
            ids: submission.ids.clone(),
            status: JobStatus::Queued,
            source_type: submission.source.type_name().to_string(),
            git_url,
            branch,
            commit: None,
            requested_commit,
            directory_path,
            archive_path,
            source_digest: None,
            snapshot_digest: None,
            requested_by: submission.requested_by.clone(),
            profile: submission.profile.clone(),
            submission,
            created_at: now,
            started_at: None,
            completed_at: None,
            artifacts: BTreeMap::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            remote_artifacts: RemoteArtifacts::default(),
            upload_status: UploadStatus::Pending,
            upload_permission_id: None,
            verification_proof: None,
            manifest_digest: None,
            manifest_metadata: None,
            manifest_verification: None,
            findings_summary: None,
            bundle_location: None,
            stream_url,
            runner: None,
            upload_audit: Vec::new(),
            audit_head: None,
        }
    }

    /// A stored record, read whole or refused naming the first field that is unknown or malformed (as a
    /// path: `findings_summary.totals.critical`).
    pub fn from_json(text: &str) -> Result<Self> {
        from_stored_json("job record", text.as_bytes())
    }

    pub fn transition(&mut self, next: JobStatus, now: Timestamp) -> Result<()> {
        if !self.status.may_become(next) {
            return Err(CoreError::InvalidTransition {
                from: self.status,
                to: next,
            });
        }
        if next == JobStatus::Running {
            self.started_at = Some(now);
        }
        if next.is_terminal() {
            self.completed_at = Some(now);
        }
        self.status = next;
        Ok(())
    }

    /// The git URL, directory or archive that was asked for, for display.
    pub fn source_location(&self) -> &str {
        self.git_url
            .as_deref()
            .or(self.directory_path.as_deref())
            .or(self.archive_path.as_deref())
            .unwrap_or("-")
    }

    pub fn start(&mut self, now: Timestamp) -> Result<()> {
        self.transition(JobStatus::Running, now)
    }

    /// Ends the job as FAILED, recording the cause in `errors`.
    pub fn fail(&mut self, cause: impl Into<String>, now: Timestamp) -> Result<()> {
        self.transition(JobStatus::Failed, now)?;
        self.errors.push(cause.into());
        Ok(())
    }

    pub fn set_upload_status(&mut self, next: UploadStatus) -> Result<()> {
        if !self.upload_status.may_become(next) {
            return Err(CoreError::InvalidUploadTransition {
                from: self.upload_status,
                to: next,
            });
        }
        self.upload_status = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{ManifestSource, ScanIds};

    fn job() -> Job {
        let submission = ValidatedSubmission {
            ids: ScanIds {
                workspace_id: "w".into(),
                component_id: "c".into(),
                assessment_id: "a".into(),
            },
            source: SourceSpec::Directory {
                directory_path: "/src".into(),
            },
            manifest: ManifestSource::RepoPath("m.json".into()),
            signature: None,
            profile: "light".into(),
            requested_by: Some("ci".into()),
            baseline: None,
            full_scan: false,
        };
        Job::queued(
            "test_0123456789ab".into(),
            submission,
            "ws://x".into(),
            time::now(),
        )
    }

    #[test]
    fn happy_path_sets_times() {
        let mut j = job();
        assert_eq!(j.status, JobStatus::Queued);
        j.start(time::now()).unwrap();
        assert!(j.started_at.is_some());
        j.transition(JobStatus::Succeeded, time::now()).unwrap();
        assert!(j.completed_at.is_some());
        assert!(j.status.is_terminal());
    }

    #[test]
    fn failure_records_cause() {
        let mut j = job();
        j.start(time::now()).unwrap();
        j.fail("clone failed: repository not found", time::now())
            .unwrap();
        assert_eq!(j.status, JobStatus::Failed);
        assert_eq!(
            j.errors,
            vec!["clone failed: repository not found".to_string()]
        );
    }

    #[test]
    fn a_queued_job_may_fail_before_it_starts() {
        let mut j = job();
        j.fail("could not start", time::now()).unwrap();
        assert_eq!(j.status, JobStatus::Failed);
    }

    #[test]
    fn terminal_states_are_final() {
        for terminal in [
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::TimedOut,
            JobStatus::Cancelled,
        ] {
            let mut j = job();
            j.start(time::now()).unwrap();
            j.transition(terminal, time::now()).unwrap();
            for next in [
                JobStatus::Queued,
                JobStatus::Running,
                JobStatus::Succeeded,
                JobStatus::Failed,
            ] {
                let err = j.transition(next, time::now()).unwrap_err();
                assert!(
                    matches!(err, CoreError::InvalidTransition { .. }),
                    "{terminal} -> {next}"
                );
            }
        }
    }

    #[test]
    fn queued_cannot_jump_to_succeeded() {
        let mut j = job();
        assert!(j.transition(JobStatus::Succeeded, time::now()).is_err());
        assert_eq!(j.status, JobStatus::Queued);
    }

    #[test]
    fn upload_status_transitions() {
        let mut j = job();
        assert!(j.set_upload_status(UploadStatus::Uploaded).is_err());
        j.set_upload_status(UploadStatus::UploadFailed).unwrap();
        j.set_upload_status(UploadStatus::Permitted).unwrap();
        j.set_upload_status(UploadStatus::Uploaded).unwrap();
        assert!(j.set_upload_status(UploadStatus::Permitted).is_err());
        let mut d = job();
        d.set_upload_status(UploadStatus::Denied).unwrap();
        assert!(d.set_upload_status(UploadStatus::Uploaded).is_err());
        d.set_upload_status(UploadStatus::Permitted).unwrap();
    }

    #[test]
    fn record_serialises_with_contract_names() {
        let j = job();
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["status"], "QUEUED");
        assert_eq!(v["upload_status"], "pending");
        assert_eq!(v["workspace_id"], "w");
        assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
        let back: Job = serde_json::from_value(v).unwrap();
        assert_eq!(back, j);
    }

    #[test]
    fn status_parses_case_insensitively() {
        assert_eq!(JobStatus::parse("succeeded"), Some(JobStatus::Succeeded));
        assert_eq!(JobStatus::parse("TIMED_OUT"), Some(JobStatus::TimedOut));
        assert_eq!(JobStatus::parse("done"), None);
    }
}
