//! The `api` Lambda's wiring: the router of `certus serve` (`certus_api::router`) with the AWS adapters —
//! jobs and events in DynamoDB, the scan and upload state machines started through Step Functions — and the
//! settings it reads from its environment.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_api::{ApiState, AuthConfig, Launcher, Limits, LiveHub, UploadRequests};
use certus_apigw::{ApigwError, SfnLauncher, SfnUploads, ENV_PREFIX};
use certus_core::attestation::BuilderInfo;
use certus_core::bundle::BundleIndex;
use certus_core::pipeline::{PipelineSettings, ScannerSet, Services};
use certus_core::ports::{
    ArtifactStore, BundleSigner, EventLog, JobStore, ManifestFetcher, ManifestVerifier,
    PreparedSource, SourcePreparer,
};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;
use certus_core::CoreError;
use certus_dynamo::{DynamoEventLog, DynamoJobStore};

/// Lambda's request payload limit is 6 MB; JSON bodies stay far below.
const MAX_BODY: usize = 1024 * 1024;
const MAX_UPLOAD: u64 = 5 * 1024 * 1024;

/// What the function reads from its environment (`CERTUS_ASSURANCE_…`); authentication settings are read by
/// `certus_apigw::auth_from_vars`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub scan_machine_arn: String,
    pub upload_machine_arn: String,
    pub jobs_table: String,
    pub events_table: String,
    /// `wss://…/live`: stream URLs in job records are built on it.
    pub stream_base: String,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let get = |name: &str| var(&format!("{ENV_PREFIX}{name}")).filter(|v| !v.is_empty());
        let require = |name: &str| {
            get(name).ok_or_else(|| ApigwError::Config(format!("{ENV_PREFIX}{name} is not set")))
        };
        Ok(Self {
            scan_machine_arn: require("SCAN_STATE_MACHINE_ARN")?,
            upload_machine_arn: require("UPLOAD_STATE_MACHINE_ARN")?,
            jobs_table: require("JOBS_TABLE")?,
            events_table: require("EVENTS_TABLE")?,
            stream_base: get("STREAM_BASE").unwrap_or_default(),
        })
    }
}

/// The job store and event log of the deployment: the DynamoDB tables.
pub fn stores(
    client: &aws_sdk_dynamodb::Client,
    settings: &Settings,
) -> (Arc<dyn JobStore>, Arc<dyn EventLog>) {
    (
        Arc::new(DynamoJobStore::new(client.clone(), &settings.jobs_table)),
        Arc::new(DynamoEventLog::new(client.clone(), &settings.events_table)),
    )
}

/// The router with the AWS adapters.
pub fn app(
    auth: AuthConfig,
    jobs: Arc<dyn JobStore>,
    events: Arc<dyn EventLog>,
    sfn: &aws_sdk_sfn::Client,
    settings: &Settings,
) -> axum::Router {
    let services = api_services(jobs, events, &settings.stream_base);
    let launcher: Arc<dyn Launcher> = Arc::new(SfnLauncher::new(
        sfn.clone(),
        &settings.scan_machine_arn,
        services.clone(),
    ));
    let uploads: Arc<dyn UploadRequests> =
        Arc::new(SfnUploads::new(sfn.clone(), &settings.upload_machine_arn));
    certus_api::router(ApiState {
        services,
        auth,
        launcher,
        hub: LiveHub::new(),
        uploads: Some(uploads),
        limits: Limits {
            max_body: MAX_BODY,
            max_upload: MAX_UPLOAD,
            upload_dir: std::env::temp_dir().join("certus-uploads"),
            // No server directory is open to callers on Lambda.
            allowed_roots: Vec::new(),
        },
    })
}

/// Services for the API: jobs and events are real; the ports that only the scan runs use (sources,
/// manifests, scanners, signing, bundles) answer that they run in the state machine, not here.
pub fn api_services(
    jobs: Arc<dyn JobStore>,
    events: Arc<dyn EventLog>,
    stream_base: &str,
) -> Services {
    let elsewhere = Arc::new(InStateMachine);
    Services {
        jobs,
        events,
        sinks: Vec::new(),
        artifacts: elsewhere.clone(),
        sources: elsewhere.clone(),
        fetcher: elsewhere.clone(),
        verifier: elsewhere.clone(),
        signer: elsewhere,
        scanners: ScannerSet::default(),
        settings: PipelineSettings {
            workspace_root: std::env::temp_dir().join("certus-runs"),
            keep_workspace: false,
            max_parallel_tools: 1,
            max_log_lines_per_tool: 0,
            max_tool_timeout: Duration::ZERO,
            stream_base: stream_base.to_string(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/lambda-api".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            runner_id: "lambda:api".into(),
        },
    }
}

/// The scan-only ports, which the API function never runs.
struct InStateMachine;

fn elsewhere(what: &str) -> CoreError {
    CoreError::Storage(format!(
        "{what} runs in the scan state machine, not in the api function"
    ))
}

#[async_trait]
impl SourcePreparer for InStateMachine {
    async fn prepare(
        &self,
        _spec: &SourceSpec,
        _workspace: &RunWorkspace,
    ) -> certus_core::Result<PreparedSource> {
        Err(elsewhere("source preparation"))
    }
}

#[async_trait]
impl ManifestFetcher for InStateMachine {
    async fn fetch(&self, _uri: &str, _max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        Err(elsewhere("manifest fetching"))
    }
}

#[async_trait]
impl ManifestVerifier for InStateMachine {
    fn required(&self) -> bool {
        true
    }
    async fn verify(
        &self,
        _manifest: &[u8],
        _signature: &[u8],
    ) -> certus_core::Result<serde_json::Value> {
        Err(elsewhere("manifest verification"))
    }
}

#[async_trait]
impl BundleSigner for InStateMachine {
    fn key_id(&self) -> String {
        String::new()
    }
    fn algorithm(&self) -> String {
        String::new()
    }
    fn public_key_pem(&self) -> String {
        String::new()
    }
    async fn sign(&self, _message: &[u8]) -> certus_core::Result<Vec<u8>> {
        Err(elsewhere("bundle signing"))
    }
}

#[async_trait]
impl ArtifactStore for InStateMachine {
    fn location(&self, _test_id: &str) -> String {
        String::new()
    }
    async fn store_bundle(
        &self,
        _test_id: &str,
        _bundle_dir: &std::path::Path,
        _index: &BundleIndex,
    ) -> certus_core::Result<String> {
        Err(elsewhere("bundle storage"))
    }
    async fn read_file(
        &self,
        _location: &str,
        _rel: &str,
        _max_bytes: usize,
    ) -> certus_core::Result<Option<Vec<u8>>> {
        Err(elsewhere("bundle reading"))
    }
}
