//! The `api` Lambda's wiring: the router of `certus serve` (`certus_api::router`) with the AWS adapters —
//! jobs and events in DynamoDB, the scan and upload state machines started through Step Functions — and the
//! settings it reads from its environment.

use std::sync::Arc;

use async_trait::async_trait;
use certus_api::{
    with_optional_routes, ApiState, ArchiveStore, AuthConfig, Exposure, GatewayClaims, Launcher,
    Limits, LiveHub, UploadRequests,
};
use certus_apigw::edge::{self, load_triggers, Stores};
use certus_apigw::{ApigwError, ConfigSource, SfnLauncher, SfnUploads, ENV_PREFIX};
use certus_aws::{AwsClients, S3Uploads};
use certus_core::ports::ManifestFetcher;
use certus_core::settings::Vars;
use certus_dynamo::TableNames;
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
    /// The work bucket (`s3://bucket/…`): uploaded archives are stored under its `uploads/`.
    pub work_bucket: String,
    /// Push-trigger registrations (`TRIGGERS_URI` in the work bucket, or `TRIGGERS_FILE`); without them the
    /// webhook routes answer 404.
    pub triggers: Option<ConfigSource>,
    /// `GIT_SECRETS_PREFIX`: the Secrets Manager names a `secretsmanager:` git_credentials_ref may use.
    pub git_secrets_prefix: Option<String>,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let vars = Vars::new(var);
        let [scan_machine_arn, upload_machine_arn, jobs_table, events_table, audit_table, work_bucket] =
            vars.required([
                "SCAN_STATE_MACHINE_ARN",
                "UPLOAD_STATE_MACHINE_ARN",
                "JOBS_TABLE",
                "EVENTS_TABLE",
                "AUDIT_TABLE",
                "WORK_BUCKET",
            ])?;
        Ok(Self {
            scan_machine_arn,
            upload_machine_arn,
            jobs_table,
            events_table,
            audit_table,
            stream_base: vars.get("STREAM_BASE").unwrap_or_default(),
            work_bucket,
            triggers: ConfigSource::from_vars(var, "TRIGGERS")?,
            git_secrets_prefix: vars.get("GIT_SECRETS_PREFIX"),
        })
    }

    /// The deployment's tables, for [`certus_apigw::edge::stores`].
    pub fn tables(&self) -> TableNames {
        TableNames {
            jobs: self.jobs_table.clone(),
            events: self.events_table.clone(),
            audit: self.audit_table.clone(),
        }
    }
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

/// Uploaded archives in the work bucket, where prepare-source (another function) reads them.
struct S3Archives(S3Uploads);

#[async_trait]
impl ArchiveStore for S3Archives {
    async fn put(
        &self,
        tenant: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> certus_core::Result<String> {
        self.0.put(tenant, name, body, content_type).await
    }

    async fn holds(&self, tenant: &str, archive_path: &str) -> certus_core::Result<bool> {
        self.0.holds(tenant, archive_path).await
    }
}

/// The archive store of `settings`' work bucket.
pub fn archives(
    aws: &AwsClients,
    settings: &Settings,
) -> Result<Arc<dyn ArchiveStore>, ApigwError> {
    let uploads = S3Uploads::new(aws, &settings.work_bucket)
        .map_err(|e| ApigwError::Config(format!("{ENV_PREFIX}WORK_BUCKET: {e}")))?;
    Ok(Arc::new(S3Archives(uploads)))
}

/// The router with the AWS adapters, the auditors' route and (with registrations) the push webhooks.
pub fn app(
    auth: AuthConfig,
    stores: Stores,
    sfn: &aws_sdk_sfn::Client,
    settings: &Settings,
    triggers: Option<Arc<Triggers>>,
    archives: Arc<dyn ArchiveStore>,
) -> Result<axum::Router, ApigwError> {
    let records = edge::records(stores.jobs, stores.events, &settings.stream_base);
    let launcher: Arc<dyn Launcher> = Arc::new(SfnLauncher::new(
        sfn.clone(),
        &settings.scan_machine_arn,
        records.clone(),
    ));
    let uploads: Arc<dyn UploadRequests> = Arc::new(SfnUploads::new(
        sfn.clone(),
        &settings.upload_machine_arn,
        records.jobs.clone(),
    ));
    let router = certus_api::router(ApiState {
        // No scan runs here; the directory scans would run in is hidden all the same.
        exposure: Arc::new(Exposure::new(&std::env::temp_dir().join("certus-runs"))),
        records,
        // Bundles are stored and signed by the scan state machine, not read or signed here.
        bundles: None,
        attestation_key: None,
        auth,
        launcher,
        hub: LiveHub::new(),
        uploads: Some(uploads),
        limits: Limits {
            max_body: MAX_BODY,
            max_upload: MAX_UPLOAD,
            // Unused: uploads go to the work bucket (`archives`).
            upload_dir: std::env::temp_dir().join("certus-uploads"),
            // No server directory is open to callers on Lambda.
            allowed_roots: Vec::new(),
            upload_quota: certus_api::UploadQuota::default(),
            git_secrets_prefix: settings.git_secrets_prefix.clone(),
        },
        archives: Some(archives),
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
