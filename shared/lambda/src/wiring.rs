//! The staged pipeline wired to AWS: jobs, audit trail and events in DynamoDB, the run store and bundles in
//! the work bucket, KMS signing, Certus-Trust over HTTPS, S3 publication. Clients are built once per process
//! (cheap, no network); what only some steps use — the signing key, the verification key, the Trust token —
//! is resolved on the first invocation of a step that needs it, so the other functions never pay for it.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use certus_advisories::S3AdvisorySource;
use certus_aws::{
    resolve_key_ref, AwsClients, KmsSigner, S3ArtifactStore, S3Fetcher, S3Publisher, S3RunStore,
    S3ScanCache, S3Uploads, SecretsManagerStore,
};
use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::audit::AuditedJobStore;
use certus_core::fingerprint::FingerprintKey;
use certus_core::incremental::SinglePass;
use certus_core::pipeline::{PipelineSettings, ScannerSet, Services};
use certus_core::ports::{
    ArtifactStore, BundleSigner, ManifestFetcher, ManifestVerifier, PreparedSource, Reuse,
    SourcePreparer,
};
use certus_core::request::SourceSpec;
use certus_core::trust::{TrustClient, TrustExchange, TrustRequest};
use certus_core::upload::UploadGate;
use certus_core::verification::SignaturePolicy;
use certus_core::workspace::RunWorkspace;
use certus_core::CoreError;
use certus_dynamo::{DynamoAuditLog, DynamoEventLog, DynamoJobStore};
use certus_fetch::{FetchPolicy, RemoteFetcher};
use certus_scanners::{AdvisorySource, ScannerConfig};
use certus_source::codecommit::CredentialSource;
use certus_source::{
    ArchiveLimits, AwsCredentials, CodeCommitCredentials, GitPolicy, LocalSourcePreparer,
    NamedSecrets, SourcePolicy,
};
use certus_stages::{Stage, Stages};
use certus_trust::{HttpTrustClient, HttpTrustConfig};
use certus_verify::{IdentityPolicy, KeyRef, TrustedRoot};

use crate::env::StepEnv;
use crate::error::{Result, StepError};

pub const LAMBDA_BUILDER_ID: &str = "https://certus-assurance.invalid/builders/aws-lambda";

/// The AWS clients of one process.
#[derive(Clone)]
pub struct Clients {
    pub aws: AwsClients,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The process's own credentials (the function's role), for CodeCommit's git-over-HTTPS.
    pub credentials: Option<SharedCredentialsProvider>,
}

impl Clients {
    /// From the environment's region and credential chain (`AWS_ENDPOINT_URL` points them at a local server).
    pub async fn from_env(env: &StepEnv) -> Result<Self> {
        let config = certus_aws::sdk_config(env.settings.s3_endpoint_url.as_deref()).await?;
        Ok(Self {
            aws: AwsClients::from_sdk_config(&config),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            credentials: config.credentials_provider(),
        })
    }
}

/// CodeCommit git credentials from the function's own role, asked for at each clone.
#[derive(Debug)]
struct RoleCredentials(SharedCredentialsProvider);

#[async_trait]
impl CodeCommitCredentials for RoleCredentials {
    async fn credentials(&self) -> certus_core::error::Result<AwsCredentials> {
        let credentials = self.0.provide_credentials().await.map_err(|e| {
            CoreError::Source(format!("no AWS credentials for a CodeCommit remote: {e}"))
        })?;
        Ok(AwsCredentials {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().map(str::to_string),
        })
    }
}

/// Sources as the step functions prepare them: an archive uploaded through the API is downloaded from the
/// work bucket's `uploads/` (the api function stored it there), everything else as the local preparer does.
struct StepSources {
    uploads: S3Uploads,
    archive: ArchiveLimits,
    local: LocalSourcePreparer,
}

#[async_trait]
impl SourcePreparer for StepSources {
    async fn prepare(
        &self,
        spec: &SourceSpec,
        workspace: &RunWorkspace,
        reuse: Reuse<'_>,
        single_pass: Option<Arc<dyn SinglePass>>,
    ) -> certus_core::error::Result<PreparedSource> {
        if let SourceSpec::Archive { archive_path } = spec {
            if let Some(name) = self.uploads.file_name(archive_path) {
                let dir = workspace.scratch_dir().join("uploaded-archive");
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| CoreError::io(&dir, e))?;
                let file = dir.join(name);
                self.uploads
                    .download(archive_path, &file, self.archive.max_total_bytes)
                    .await?;
                return certus_source::prepare_archive(file, name, workspace, self.archive).await;
            }
        }
        self.local
            .prepare(spec, workspace, reuse, single_pass)
            .await
    }
}

/// The ports of the pipeline a step may use, beyond the job records and the run store every step has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Artifacts,
    Sources,
    Fetcher,
    Verifier,
    Signer,
    Scanners,
    FingerprintKey,
    Uploads,
}

/// The ports `stage` uses: its function builds these and no other, so it cannot reach a store, key or client
/// its role has no permission for (infra/template.yaml grants each function's role the same).
pub fn ports(stage: Stage) -> &'static [Port] {
    use Port::*;
    match stage {
        Stage::PrepareSource => &[Sources],
        Stage::FetchManifest => &[Fetcher],
        Stage::VerifyManifest => &[Verifier],
        // A baseline given as an earlier job is read from that job's stored bundle.
        Stage::LaunchScanners => &[Scanners, Artifacts],
        Stage::RunScanner => &[Scanners, FingerprintKey],
        Stage::BuildBundle => &[Artifacts, Signer],
        // A caught failure still builds (and signs) a bundle of what the run produced.
        Stage::Finalize => &[Artifacts, Signer],
        Stage::RequestUpload => &[Artifacts, Signer, Uploads],
        Stage::Promote => &[Artifacts, Uploads],
    }
}

/// Everything `stage` needs, nothing more ([`ports`]).
pub async fn stages_for(stage: Stage, env: &StepEnv, clients: &Clients) -> Result<Stages> {
    let settings = &env.settings;
    let uses = |port: Port| ports(stage).contains(&port);
    let jobs = Arc::new(DynamoJobStore::new(
        clients.dynamodb.clone(),
        &env.jobs_table,
    ));
    let audit = Arc::new(DynamoAuditLog::new(
        clients.dynamodb.clone(),
        &env.audit_table,
    ));
    let artifacts: Option<Arc<dyn ArtifactStore>> = match uses(Port::Artifacts) {
        true => Some(Arc::new(S3ArtifactStore::new(
            &clients.aws,
            &env.work_bucket,
        )?)),
        false => None,
    };
    let sources: Option<Arc<dyn SourcePreparer>> = match uses(Port::Sources) {
        true => Some(Arc::new(step_sources(env, clients)?)),
        false => None,
    };
    let fetcher: Option<Arc<dyn ManifestFetcher>> = match uses(Port::Fetcher) {
        true => Some(Arc::new(fetchers(env, clients)?)),
        false => None,
    };
    let verifier: Option<Arc<dyn ManifestVerifier>> = match uses(Port::Verifier) {
        true => Some(Arc::new(signature_policy(env, clients).await?)),
        false => None,
    };
    let signer = match uses(Port::Signer) {
        true => Some(signer(env, clients).await?),
        false => None,
    };
    let scanners = match uses(Port::Scanners) {
        true => Some(scanners(stage, env, clients)?),
        false => None,
    };
    let fingerprint_key = match uses(Port::FingerprintKey) {
        true => Some(fingerprint_key(env, clients).await?),
        false => None,
    };
    let uploads = match uses(Port::Uploads) {
        true => Some(Arc::new(upload_gate(env, clients).await?)),
        false => None,
    };
    let services = Services {
        jobs: Arc::new(AuditedJobStore::new(jobs, audit)),
        events: Arc::new(DynamoEventLog::new(
            clients.dynamodb.clone(),
            &env.events_table,
        )),
        // Live delivery comes from the events table's stream (the `ws` function), not from the steps.
        sinks: Vec::new(),
        artifacts,
        sources,
        fetcher,
        verifier,
        signer,
        scanners,
        fingerprint_key,
        settings: PipelineSettings {
            workspace_root: env.workspace_root.clone(),
            keep_workspace: false,
            max_parallel_tools: settings.max_workers.unwrap_or(4),
            max_log_lines_per_tool: 2000,
            max_tool_timeout: certus_core::manifest::DEFAULT_TOOL_TIMEOUT * 4,
            stream_base: String::new(),
            runner_id: format!("lambda:{}", env.function_name),
            builder: BuilderInfo {
                id: LAMBDA_BUILDER_ID.into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        },
    };
    Ok(Stages {
        services,
        runs: Arc::new(S3RunStore::new(&clients.aws, &env.runs_root)?),
        uploads,
    })
}

/// The synced advisory snapshot, where scanners run and the template names its place: read at each sbom scan.
fn advisory_source(
    stage: Stage,
    env: &StepEnv,
    clients: &Clients,
) -> Result<Option<Arc<dyn AdvisorySource>>> {
    match (&env.advisory_snapshots, stage) {
        (Some(store), Stage::RunScanner) => {
            // Beside the run workspaces, not in them: a snapshot outlives the runs of a warm process.
            let cache = env.workspace_root.with_file_name("certus-advisories");
            let source = S3AdvisorySource::new(&clients.aws, store, cache)
                .map_err(|e| StepError::Config(e.to_string()))?;
            Ok(Some(Arc::new(source)))
        }
        _ => Ok(None),
    }
}

/// The scanners of this deployment (the sample scanner alone in sample mode).
fn scanners(stage: Stage, env: &StepEnv, clients: &Clients) -> Result<ScannerSet> {
    let settings = &env.settings;
    if settings.sample_mode {
        return Ok(ScannerSet::sample_only(Arc::new(
            certus_scanners::SampleScanner,
        )));
    }
    let here = certus_scanners::available(&ScannerConfig {
        advisory_db: settings.advisory_db.clone(),
        advisory_db_max_age_days: settings.advisory_db_max_age_days,
        tools_bin_dir: settings.tools_bin_dir.clone(),
        secrets_rules: settings.secrets_rules.clone(),
        advisory_source: advisory_source(stage, env, clients)?,
    });
    Ok(match stage {
        // The planner counts the scanner image's tools as available: they run in Fargate tasks.
        Stage::LaunchScanners => {
            certus_stages::fargate::with_fargate_tools(&here, &env.fargate_tools)?
        }
        // Where tools run (this function or the Fargate task), per-file tools reuse the results of unchanged
        // content from the work bucket's `scan-cache/`.
        Stage::RunScanner => {
            here.with_cache(Arc::new(S3ScanCache::new(&clients.aws, &env.work_bucket)?))
        }
        _ => here,
    })
}

/// Sources from the work bucket's uploads or as the local preparer takes them (git under the fetch policy,
/// CodeCommit with the function's own role).
fn step_sources(env: &StepEnv, clients: &Clients) -> Result<StepSources> {
    let local_roots = (!env.local_source_roots.is_empty()).then(|| env.local_source_roots.clone());
    Ok(StepSources {
        uploads: S3Uploads::new(&clients.aws, &env.work_bucket)?,
        archive: ArchiveLimits::default(),
        local: LocalSourcePreparer::new(SourcePolicy {
            git: GitPolicy {
                allow_local: local_roots.is_some(),
                allow_hosts: env.settings.fetch_allow_hosts.clone(),
                codecommit: clients
                    .credentials
                    .clone()
                    .map(|provider| Arc::new(RoleCredentials(provider)) as CredentialSource),
                // `secretsmanager:` git credentials, only under the deployment's prefix (the role may read
                // nothing else).
                secrets: env
                    .settings
                    .git_secrets_prefix
                    .clone()
                    .map(|prefix| NamedSecrets {
                        store: Arc::new(SecretsManagerStore::from_client(clients.secrets.clone())),
                        prefix,
                    }),
                github: certus_source::GitHubApi {
                    base: env.settings.github_api_url.clone(),
                    fetch: FetchPolicy {
                        allow_hosts: env.settings.fetch_allow_hosts.clone(),
                        allow_plain_http_for: env.settings.fetch_allow_plain_http.clone(),
                        extra_ca_pem: extra_ca(env)?,
                        ..FetchPolicy::default()
                    },
                },
                ..GitPolicy::default()
            },
            allowed_roots: Some(env.local_source_roots.clone()),
            ..SourcePolicy::default()
        }),
    })
}

fn fetchers(env: &StepEnv, clients: &Clients) -> Result<Fetchers> {
    let settings = &env.settings;
    Ok(Fetchers {
        remote: RemoteFetcher::new(FetchPolicy {
            allow_hosts: settings.fetch_allow_hosts.clone(),
            allow_plain_http_for: settings.fetch_allow_plain_http.clone(),
            extra_ca_pem: extra_ca(env)?,
            file_roots: env.local_source_roots.clone(),
            ..FetchPolicy::default()
        })
        .map_err(|e| StepError::Config(format!("manifest fetching: {e}")))?,
        s3: S3Fetcher::new(&clients.aws),
    })
}

/// `CERTUS_ASSURANCE_SIGNING_KEY_REF`: `awskms://…` on AWS (a PEM file for a self-hosted runner).
async fn signer(env: &StepEnv, clients: &Clients) -> Result<Arc<dyn BundleSigner>> {
    match env.settings.signing_key_ref.as_deref() {
        Some(reference) if reference.starts_with("awskms://") => {
            Ok(Arc::new(KmsSigner::new(&clients.aws, reference).await?))
        }
        Some(reference) if !reference.contains("://") => Ok(Arc::new(
            LocalSigner::load_or_generate(Path::new(reference))?,
        )),
        Some(reference) => Err(StepError::Config(format!(
            "CERTUS_ASSURANCE_SIGNING_KEY_REF '{reference}' is neither awskms:// nor a PEM file"
        ))),
        None => Err(StepError::Config(
            "CERTUS_ASSURANCE_SIGNING_KEY_REF is not set: bundles must be signed".into(),
        )),
    }
}

/// `CERTUS_ASSURANCE_FINGERPRINT_KEY_REF`: the ARN of a Secrets Manager secret whose string is the key (on
/// AWS), or a key file (a self-hosted runner). Required where scanners run: fingerprints are never unkeyed.
async fn fingerprint_key(env: &StepEnv, clients: &Clients) -> Result<FingerprintKey> {
    match env.settings.fingerprint_key_ref.as_deref() {
        Some(arn) if arn.starts_with("arn:") => {
            let text = secret_string(clients, arn, "fingerprint key").await?;
            FingerprintKey::new(text.as_bytes()).map_err(|e| {
                StepError::Config(format!(
                    "CERTUS_ASSURANCE_FINGERPRINT_KEY_REF: the secret holds no usable key: {e}"
                ))
            })
        }
        Some(file) => Ok(FingerprintKey::load_or_generate(Path::new(file))?),
        None => Err(StepError::Config(
            "CERTUS_ASSURANCE_FINGERPRINT_KEY_REF is not set: finding fingerprints must be keyed"
                .into(),
        )),
    }
}

/// The manifest verification policy: a key (file, `env://`, `s3://`, `awskms://`) and/or a Sigstore root.
async fn signature_policy(env: &StepEnv, clients: &Clients) -> Result<SignaturePolicy> {
    let settings = &env.settings;
    let key = match settings.manifest_verification_key_ref.as_deref() {
        Some(reference) => {
            let key_ref: KeyRef = reference
                .parse()
                .map_err(|e| StepError::Config(format!("verification key: {e}")))?;
            Some(resolve_key_ref(&clients.aws, &key_ref).await?)
        }
        None => None,
    };
    let trusted_root = match &settings.sigstore_trusted_root {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
            Some(
                TrustedRoot::from_json(&bytes)
                    .map_err(|e| StepError::Config(format!("Sigstore trusted root: {e}")))?,
            )
        }
        None => None,
    };
    let identity =
        match (&settings.sigstore_identity, &settings.sigstore_issuer) {
            (Some(identity), Some(issuer)) => Some(IdentityPolicy {
                identity: identity.clone(),
                issuer: issuer.clone(),
            }),
            (None, None) => None,
            _ => return Err(StepError::Config(
                "keyless verification needs both CERTUS_ASSURANCE_SIGSTORE_IDENTITY and _ISSUER"
                    .into(),
            )),
        };
    if settings.manifest_verification_required && key.is_none() && trusted_root.is_none() {
        return Err(StepError::Config(
            "manifest verification is required but CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF is not set"
                .into(),
        ));
    }
    Ok(SignaturePolicy {
        required: settings.manifest_verification_required,
        key,
        trusted_root,
        identity,
    })
}

fn extra_ca(env: &StepEnv) -> Result<Option<Vec<u8>>> {
    env.settings
        .ca_file
        .as_ref()
        .map(|p| std::fs::read(p).map_err(|e| CoreError::io(p, e).into()))
        .transpose()
}

/// Certus-Trust (token from Secrets Manager) in front of the S3 publisher. Without a Trust URL every request
/// fails closed.
async fn upload_gate(env: &StepEnv, clients: &Clients) -> Result<UploadGate> {
    let settings = &env.settings;
    let trust: Arc<dyn TrustClient> = match &settings.trust_base_url {
        Some(url) => {
            let mut config = HttpTrustConfig::new(url.clone());
            config.bearer_token = trust_token(env, clients).await?;
            config.extra_ca_pem =
                extra_ca(env)?.map(|pem| String::from_utf8_lossy(&pem).into_owned());
            Arc::new(
                HttpTrustClient::new(&config)
                    .map_err(|e| StepError::Config(format!("Certus-Trust: {e}")))?,
            )
        }
        None => Arc::new(NoTrust),
    };
    let raw = format!("s3://{}/{}", settings.raw_bucket, settings.raw_prefix);
    let golden = format!("s3://{}/{}", settings.golden_bucket, settings.golden_prefix);
    Ok(UploadGate::new(
        trust,
        Arc::new(S3Publisher::new(&clients.aws, &raw, &golden)?),
        settings.oci_repository.clone(),
    )
    .with_signer_identity(settings.signer_identity.clone()))
}

async fn trust_token(env: &StepEnv, clients: &Clients) -> Result<Option<String>> {
    let Some(arn) = &env.trust_token_secret_arn else {
        return Ok(None);
    };
    Ok(Some(secret_string(clients, arn, "Trust token").await?).filter(|t| !t.is_empty()))
}

/// The string of a Secrets Manager secret (empty when it has none).
async fn secret_string(clients: &Clients, arn: &str, what: &str) -> Result<String> {
    let secret = clients
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            StepError::Stage(certus_stages::StageError::Retryable(format!(
                "the {what} secret could not be read: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )))
        })?;
    Ok(secret.secret_string().unwrap_or_default().to_string())
}

/// `s3://` through the S3 client, everything else under the fetch policy.
struct Fetchers {
    remote: RemoteFetcher,
    s3: S3Fetcher,
}

#[async_trait]
impl ManifestFetcher for Fetchers {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        if uri.starts_with("s3://") {
            self.s3.fetch(uri, max_bytes).await
        } else {
            self.remote.fetch(uri, max_bytes).await
        }
    }
}

/// No Trust URL configured: nothing is ever permitted.
struct NoTrust;

#[async_trait]
impl TrustClient for NoTrust {
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange {
        TrustExchange {
            request: request.clone(),
            answer: None,
            attempts: Vec::new(),
            error: Some("CERTUS_ASSURANCE_TRUST_BASE_URL is not set: uploads are refused".into()),
        }
    }
}
