//! The `api` Lambda's wiring: the router of `certus serve` (`certus_api::router`) with the AWS adapters —
//! jobs and events in DynamoDB, the scan and upload state machines started through Step Functions — and the
//! settings it reads from its environment.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_api::{
    with_optional_routes, ApiState, AuthConfig, GatewayClaims, Launcher, Limits, LiveHub,
    UploadRequests,
};
use certus_apigw::{ApigwError, ConfigSource, SfnLauncher, SfnUploads, ENV_PREFIX};
use certus_core::attestation::BuilderInfo;
use certus_core::audit::{AuditLog, AuditedJobStore};
use certus_core::bundle::BundleIndex;
use certus_core::pipeline::{PipelineSettings, ScannerSet, Services};
use certus_core::ports::{
    ArtifactStore, BundleSigner, EventLog, JobStore, ManifestFetcher, ManifestVerifier,
    PreparedSource, SourcePreparer,
};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;
use certus_core::CoreError;
use certus_dynamo::{DynamoAuditLog, DynamoEventLog, DynamoJobStore};
use certus_triggers::Triggers;

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
    pub audit_table: String,
    /// `wss://…/live`: stream URLs in job records are built on it.
    pub stream_base: String,
    /// Push-trigger registrations (`TRIGGERS_URI` in the work bucket, or `TRIGGERS_FILE`); without them the
    /// webhook routes answer 404.
    pub triggers: Option<ConfigSource>,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let var = &var as &dyn Fn(&str) -> Option<String>;
        let get = |name: &str| var(&format!("{ENV_PREFIX}{name}")).filter(|v| !v.is_empty());
        let require = |name: &str| {
            get(name).ok_or_else(|| ApigwError::Config(format!("{ENV_PREFIX}{name} is not set")))
        };
        Ok(Self {
            scan_machine_arn: require("SCAN_STATE_MACHINE_ARN")?,
            upload_machine_arn: require("UPLOAD_STATE_MACHINE_ARN")?,
            jobs_table: require("JOBS_TABLE")?,
            events_table: require("EVENTS_TABLE")?,
            audit_table: require("AUDIT_TABLE")?,
            stream_base: get("STREAM_BASE").unwrap_or_default(),
            triggers: ConfigSource::from_vars(&var, "TRIGGERS")?,
        })
    }
}

/// The deployment's DynamoDB tables: jobs (every change written to the audit trail), events, the trail.
pub struct Stores {
    pub jobs: Arc<dyn JobStore>,
    pub events: Arc<dyn EventLog>,
    pub audit: Arc<dyn AuditLog>,
}

pub fn stores(client: &aws_sdk_dynamodb::Client, settings: &Settings) -> Stores {
    let audit: Arc<dyn AuditLog> =
        Arc::new(DynamoAuditLog::new(client.clone(), &settings.audit_table));
    Stores {
        jobs: Arc::new(AuditedJobStore::new(
            Arc::new(DynamoJobStore::new(client.clone(), &settings.jobs_table)),
            audit.clone(),
        )),
        events: Arc::new(DynamoEventLog::new(client.clone(), &settings.events_table)),
        audit,
    }
}

/// A registrations file larger than this is refused unread.
pub const MAX_REGISTRATIONS_BYTES: usize = 1024 * 1024;

/// The push registrations `source` names (fetched with `fetcher` when it is an `s3://` object), validated.
pub async fn load_triggers(
    source: &ConfigSource,
    fetcher: &dyn ManifestFetcher,
) -> Result<Triggers, ApigwError> {
    let copy = source.local_copy(fetcher, MAX_REGISTRATIONS_BYTES).await?;
    Triggers::load(copy.path())
        .map_err(|e| ApigwError::Config(format!("push registrations {source}: {e}")))
}

/// The registrations the settings name, or none — with the reason logged — when none are configured or they
/// cannot be loaded: the function still starts, and its webhook routes answer 404.
pub async fn triggers_or_none(
    settings: &Settings,
    fetcher: &dyn ManifestFetcher,
) -> Option<Arc<Triggers>> {
    let source = settings.triggers.as_ref()?;
    match load_triggers(source, fetcher).await {
        Ok(triggers) => Some(Arc::new(triggers)),
        Err(e) => {
            tracing::error!(error = %e, "push registrations not loaded: the webhook routes answer 404");
            None
        }
    }
}

/// The router with the AWS adapters, the auditors' route and (with registrations) the push webhooks.
pub fn app(
    auth: AuthConfig,
    stores: Stores,
    sfn: &aws_sdk_sfn::Client,
    settings: &Settings,
    triggers: Option<Arc<Triggers>>,
) -> Result<axum::Router, ApigwError> {
    let services = api_services(stores.jobs, stores.events, &settings.stream_base);
    let launcher: Arc<dyn Launcher> = Arc::new(SfnLauncher::new(
        sfn.clone(),
        &settings.scan_machine_arn,
        services.clone(),
    ));
    let uploads: Arc<dyn UploadRequests> =
        Arc::new(SfnUploads::new(sfn.clone(), &settings.upload_machine_arn));
    let router = certus_api::router(ApiState {
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
    });
    Ok(with_optional_routes(router, Some(stores.audit), triggers)
        .layer(axum::middleware::map_request(authorizer_claims)))
}

/// The claims API Gateway's JWT authorizer verified, handed to authentication as [`GatewayClaims`]. They come
/// from the invocation's request context, which a client cannot write.
async fn authorizer_claims(mut request: axum::extract::Request) -> axum::extract::Request {
    use lambda_http::request::RequestContext;
    let claims = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| jwt.claims.clone()),
        _ => None,
    };
    if let Some(claims) = claims {
        request
            .extensions_mut()
            .insert(GatewayClaims(claims.into_iter().collect()));
    }
    request
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
        // Findings are fingerprinted where scanners run (the run-scanner step), never here.
        fingerprint_key: None,
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
