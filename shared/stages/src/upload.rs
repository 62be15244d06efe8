//! The upload flow as two steps: `request-upload` (the Certus-Trust exchange) and `promote` (raw → golden),
//! both through `UploadGate` so the rules — fail closed, one permission, never published twice — are the ones
//! the API and the CLI use.

use certus_core::event::EventBody;
use certus_core::job::UploadStatus;
use certus_core::record::UploadStep;
use certus_core::trust::Tier;
use certus_core::upload::UploadGate;

use crate::error::{Result, StageError};
use crate::scan::{Failure, StageOutput};
use crate::Stages;

impl Stages {
    fn gate(&self) -> Result<&UploadGate> {
        self.uploads.as_deref().ok_or_else(|| {
            StageError::NonRetryable("upload gating is not configured (no Trust URL)".into())
        })
    }

    pub(crate) async fn request_upload(&self, test_id: &str, tier: Tier) -> Result<StageOutput> {
        let job = self
            .gate()?
            .request_permission(&self.services, test_id, tier)
            .await?;
        Ok(upload_output(test_id, job.upload_status))
    }

    pub(crate) async fn promote(&self, test_id: &str) -> Result<StageOutput> {
        let job = self
            .gate()?
            .publish_permitted(&self.services, test_id)
            .await?;
        Ok(upload_output(test_id, job.upload_status))
    }

    /// `promote` with a caught failure: a permitted upload that could not finish is `upload_failed` with the
    /// cause (a later request resumes it without asking Trust again).
    pub(crate) async fn record_upload_failure(
        &self,
        test_id: &str,
        failure: &Failure,
    ) -> Result<StageOutput> {
        let mut job = self.job(test_id).await?;
        if matches!(
            job.upload_status,
            UploadStatus::Permitted | UploadStatus::Pending
        ) {
            let reason = failure.reason();
            job.upload_audit
                .push(UploadStep::publish_failed(reason.clone()));
            job.set_upload_status(UploadStatus::UploadFailed)?;
            self.services.jobs.save(&job).await?;
            self.progress(test_id)
                .await?
                .emit(EventBody::UploadDenied {
                    upload_status: UploadStatus::UploadFailed,
                    reason,
                })
                .await?;
        }
        Ok(upload_output(test_id, job.upload_status))
    }
}

fn upload_output(test_id: &str, status: UploadStatus) -> StageOutput {
    StageOutput {
        upload_status: Some(status.as_str().to_string()),
        ..StageOutput::of(test_id)
    }
}
