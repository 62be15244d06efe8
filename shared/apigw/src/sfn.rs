//! Starting the state machines from the API: the scan machine for each submitted job (execution name =
//! `test_id`, so a duplicate submit cannot start twice) and the upload machine for each upload request
//! (execution name `<test_id>-upload-<n>`, so concurrent requests start one execution). Cancelling a job
//! stops its scan execution (`StopExecution`) before the record ends CANCELLED.

use async_trait::async_trait;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::operation::stop_execution::StopExecutionError;
use certus_api::{Launcher, UploadRequests};
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, Records};
use certus_core::ports::JobStore;
use certus_core::trust::Tier;
use certus_core::{CoreError, Retry, Retryability};
use serde_json::json;
use std::sync::Arc;

use crate::error::{sdk_failure, ApigwError, Result};

/// How a start request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new execution (or, for an identical request, the one already running: Step Functions answers both
    /// alike).
    Execution { arn: String },
    /// An execution of that name exists already (`ExecutionAlreadyExists`): nothing new was started.
    AlreadyExists,
}

/// Starts one execution named `name` with `input`.
async fn start_execution(
    client: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    name: &str,
    input: &serde_json::Value,
) -> Result<Started> {
    let sent = client
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(name)
        .input(input.to_string())
        .send()
        .await;
    match sent {
        Ok(output) => Ok(Started::Execution {
            arn: output.execution_arn().to_string(),
        }),
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(StartExecutionError::ExecutionAlreadyExists(_))
            ) =>
        {
            Ok(Started::AlreadyExists)
        }
        Err(error) => {
            let (reason, retry) = sdk_failure(&error);
            Err(ApigwError::StepFunctions {
                operation: "StartExecution",
                reason,
                retry,
            })
        }
    }
}

/// The `Launcher` of the API function: starts the scan state machine for a submitted job.
pub struct SfnLauncher {
    client: aws_sdk_sfn::Client,
    scan_machine_arn: String,
    records: Records,
}

impl SfnLauncher {
    /// `records`: where a job that cannot be started, or is cancelled, is ended.
    pub fn new(client: aws_sdk_sfn::Client, scan_machine_arn: &str, records: Records) -> Self {
        Self {
            client,
            scan_machine_arn: scan_machine_arn.to_string(),
            records,
        }
    }

    /// Starts the scan execution named `test_id` with input `{"test_id": …}`.
    pub async fn start(&self, test_id: &str) -> Result<Started> {
        start_execution(
            &self.client,
            &self.scan_machine_arn,
            test_id,
            &json!({ "test_id": test_id }),
        )
        .await
    }

    /// The ARN of the scan execution of `test_id` (named after it): the state machine's ARN with
    /// `execution` for `stateMachine` and the name appended.
    pub fn execution_arn(&self, test_id: &str) -> Result<String> {
        let (head, machine) = self
            .scan_machine_arn
            .split_once(":stateMachine:")
            .filter(|(head, machine)| head.starts_with("arn:") && !machine.is_empty())
            .ok_or_else(|| ApigwError::StepFunctions {
                operation: "StopExecution",
                reason: format!(
                    "the scan state machine ARN '{}' is not arn:…:stateMachine:<name>",
                    self.scan_machine_arn
                ),
                retry: Retry::NonRetryable,
            })?;
        Ok(format!("{head}:execution:{machine}:{test_id}"))
    }

    /// Stops the scan execution of `test_id`; an execution that does not exist (the job was never
    /// started) is nothing to stop. Returns whether one was stopped.
    pub async fn stop(&self, test_id: &str, reason: &str) -> Result<bool> {
        let sent = self
            .client
            .stop_execution()
            .execution_arn(self.execution_arn(test_id)?)
            .error("Cancelled")
            .cause(reason)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(StopExecutionError::ExecutionDoesNotExist(_))
                ) =>
            {
                Ok(false)
            }
            Err(error) => {
                let (reason, retry) = sdk_failure(&error);
                Err(ApigwError::StepFunctions {
                    operation: "StopExecution",
                    reason,
                    retry,
                })
            }
        }
    }
}

#[async_trait]
impl Launcher for SfnLauncher {
    /// The SDK has already retried transient failures when `start` returns an error, so a failed start is
    /// final: the job is ended FAILED with the reason rather than left QUEUED with nothing to run it.
    async fn launch(&self, test_id: String) {
        match self.start(&test_id).await {
            Ok(started) => tracing::info!(test_id = %test_id, ?started, "scan execution started"),
            Err(error) => {
                tracing::error!(test_id = %test_id, error = %error, "scan execution could not be started");
                let reason = format!("the scan could not be started: {error}");
                if let Err(abandon_error) =
                    pipeline::abandon(&self.records, &test_id, JobStatus::Failed, &reason).await
                {
                    tracing::error!(test_id = %test_id, error = %abandon_error, "the unstartable job could not be ended");
                }
            }
        }
    }

    /// Stops the job's scan execution first (a stopped execution runs no further step and no `Catch`), then
    /// ends the record CANCELLED with one `scan_complete`. When the execution cannot be stopped the record is
    /// left as it is and the error returned: the job is not shown as cancelled while its run goes on.
    async fn cancel(&self, test_id: &str, reason: &str) -> certus_core::Result<Job> {
        let stopped = self.stop(test_id, reason).await.map_err(|error| {
            tracing::error!(test_id = %test_id, error = %error, "the scan execution could not be stopped");
            let message = format!("the scan execution could not be stopped: {error}");
            match error.retry() {
                Retry::Retryable => CoreError::Storage(message),
                Retry::NonRetryable => CoreError::Config(message),
            }
        })?;
        tracing::info!(test_id = %test_id, stopped, "scan cancelled");
        // Bundles are stored by the state machine and not read here (see `pipeline::commit_missing_terminal`).
        pipeline::cancel(&self.records, None, test_id, reason).await
    }
}

/// The `UploadRequests` of the API function: starts the upload state machine, answering with the job's
/// current upload fields (the machine records the outcome).
pub struct SfnUploads {
    client: aws_sdk_sfn::Client,
    upload_machine_arn: String,
    jobs: Arc<dyn JobStore>,
}

impl SfnUploads {
    /// `jobs` are read for the job's current upload fields.
    pub fn new(
        client: aws_sdk_sfn::Client,
        upload_machine_arn: &str,
        jobs: Arc<dyn JobStore>,
    ) -> Self {
        Self {
            client,
            upload_machine_arn: upload_machine_arn.to_string(),
            jobs,
        }
    }
}

/// `<test_id>-upload-<n>`, n = upload exchanges already recorded in the job's audit trail (Trust exchanges
/// and publication attempts). Two requests while one is under way share the name; a request after a
/// finished attempt (Trust unreachable, a publication that failed after a permit) gets a new one.
pub fn upload_execution_name(job: &Job) -> String {
    let recorded = job
        .upload_audit
        .iter()
        .filter(|step| step.is_attempt())
        .count();
    format!("{}-upload-{recorded}", job.test_id)
}

#[async_trait]
impl UploadRequests for SfnUploads {
    async fn request_upload(&self, test_id: &str, tier: Tier) -> certus_core::Result<Job> {
        let job = self
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
        if job.upload_status.is_final() {
            return Ok(job);
        }
        certus_core::upload::check_tier(&job, tier)?;
        let name = upload_execution_name(&job);
        let input = json!({ "test_id": job.test_id, "tier": tier });
        match start_execution(&self.client, &self.upload_machine_arn, &name, &input).await {
            Ok(started) => {
                tracing::info!(test_id = %test_id, execution = %name, ?started, "upload execution started");
                Ok(job)
            }
            Err(error) => {
                let message = format!("the upload state machine could not be started: {error}");
                Err(match error.retry() {
                    Retry::Retryable => CoreError::Storage(message),
                    Retry::NonRetryable => CoreError::Config(message),
                })
            }
        }
    }
}
