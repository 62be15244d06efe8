//! The scan and upload pipelines cut into steps that can each run on another machine — one Lambda each under
//! Step Functions (docs/serverless.md) — with the run's workspace kept in a [`RunStore`] between them. Every
//! step uses the same `certus_core::pipeline` code as the one-process runner, so both produce the same record
//! and bundle; every step is idempotent (a retried step returns its recorded output).

pub mod error;
pub mod fargate;
mod scan;
pub mod snapshot;
mod upload;

use std::sync::Arc;

use certus_core::ids::parse_test_id;
use certus_core::pipeline::Services;
use certus_core::ports::RunStore;
use certus_core::trust::Tier;
use certus_core::upload::UploadGate;
use serde::Deserialize;

pub use error::{Result, StageError};
pub use scan::{Failure, StageOutput, ToolRun};

/// Records kept between steps (state, tool records, markers) are small; anything larger is refused.
const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// The steps, by the name of the function that runs each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    PrepareSource,
    FetchManifest,
    VerifyManifest,
    LaunchScanners,
    RunScanner,
    BuildBundle,
    Finalize,
    RequestUpload,
    Promote,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::PrepareSource,
        Stage::FetchManifest,
        Stage::VerifyManifest,
        Stage::LaunchScanners,
        Stage::RunScanner,
        Stage::BuildBundle,
        Stage::Finalize,
        Stage::RequestUpload,
        Stage::Promote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::PrepareSource => "prepare-source",
            Stage::FetchManifest => "fetch-manifest",
            Stage::VerifyManifest => "verify-manifest",
            Stage::LaunchScanners => "launch-scanners",
            Stage::RunScanner => "run-scanner",
            Stage::BuildBundle => "build-bundle",
            Stage::Finalize => "finalize",
            Stage::RequestUpload => "request-upload",
            Stage::Promote => "promote",
        }
    }

    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What a step is invoked with. Unknown fields are ignored: a `Catch` hands over the whole state input.
#[derive(Debug, Clone, Deserialize)]
pub struct StageInput {
    pub test_id: String,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub failure: Option<Failure>,
}

/// Everything the steps talk to: the pipeline's services, the run store, and the upload gate (upload steps).
#[derive(Clone)]
pub struct Stages {
    pub services: Services,
    pub runs: Arc<dyn RunStore>,
    pub uploads: Option<Arc<UploadGate>>,
}

impl Stages {
    /// Runs one step on its input.
    pub async fn run(&self, stage: Stage, input: StageInput) -> Result<StageOutput> {
        let test_id = parse_test_id(&input.test_id)?.to_string();
        let failure = input.failure.as_ref();
        match (stage, failure) {
            (Stage::PrepareSource, None) => self.prepare_source(&test_id).await,
            (Stage::FetchManifest, None) => self.fetch_manifest(&test_id).await,
            (Stage::VerifyManifest, None) => self.verify_manifest(&test_id).await,
            (Stage::LaunchScanners, None) => self.launch_scanners(&test_id).await,
            (Stage::RunScanner, _) => {
                let tool = input
                    .tool
                    .as_deref()
                    .ok_or_else(|| StageError::NonRetryable("run-scanner needs a 'tool'".into()))?;
                match failure {
                    Some(failure) => self.record_tool_failure(&test_id, tool, failure).await,
                    None => self.run_scanner(&test_id, tool).await,
                }
            }
            (Stage::BuildBundle, None) => self.build_bundle(&test_id).await,
            (Stage::Finalize, None) => self.finalize(&test_id).await,
            (Stage::Finalize, Some(failure)) => self.fail(&test_id, failure).await,
            (Stage::RequestUpload, None) => {
                self.request_upload(&test_id, input.tier.unwrap_or(Tier::Basic))
                    .await
            }
            (Stage::Promote, None) => self.promote(&test_id).await,
            (Stage::Promote, Some(failure)) => self.record_upload_failure(&test_id, failure).await,
            (stage, Some(_)) => Err(StageError::NonRetryable(format!(
                "{} does not take a 'failure' (only run-scanner, finalize and promote do)",
                stage.name()
            ))),
        }
    }
}
