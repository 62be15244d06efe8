//! Wiring for one machine: where data lives, and the embedded adapters and scanners the pipeline gets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::audit::AuditedJobStore;
use certus_core::fingerprint::FingerprintKey;
use certus_core::incremental::ScanCache;
use certus_core::pipeline::{PipelineSettings, Services};
use certus_core::ports::{ArtifactStore, BundleSigner, EventSink, ManifestFetcher};
use certus_core::settings::Settings;
use certus_core::verification::SignaturePolicy;
use certus_fetch::{FetchPolicy, RemoteFetcher};
use certus_local::{LocalArtifactStore, LocalScanCache, Placement, SqliteStore};
use certus_scanners::ScannerConfig;
use certus_source::{GitPolicy, KeptCheckouts, LocalSourcePreparer, SourcePolicy};
use certus_verify::{IdentityPolicy, KeyRef, PublicKey, TrustedRoot};

use crate::error::{CliError, Result};

pub const LOCAL_BUILDER_ID: &str = "https://certus-assurance.invalid/builders/local";

/// `--data-dir`, else `CERTUS_ASSURANCE_ARTIFACT_ROOT`, else `$XDG_DATA_HOME/certus` (when absolute, as the
/// XDG specification asks), else `~/.local/share/certus`; made absolute against the working directory, since
/// git runs inside the checkouts kept there.
pub fn data_dir(flag: Option<&Path>, settings: &Settings) -> Result<PathBuf> {
    let chosen = flag
        .map(Path::to_path_buf)
        .or_else(|| settings.artifact_root.clone())
        .or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .filter(|xdg| xdg.is_absolute())
                .map(|xdg| xdg.join("certus"))
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local/share/certus"))
        })
        .ok_or_else(|| {
            CliError::Usage(
                "no data directory: set --data-dir, CERTUS_ASSURANCE_ARTIFACT_ROOT or HOME".into(),
            )
        })?;
    std::path::absolute(&chosen).map_err(|e| {
        CliError::Usage(format!(
            "the data directory {} has no absolute path: {e}",
            chosen.display()
        ))
    })
}

/// How manifests are verified: flags override settings.
pub struct VerificationFlags<'a> {
    pub key: Option<&'a str>,
    pub require: bool,
    pub trusted_root: Option<&'a Path>,
    pub identity: Option<&'a str>,
    pub issuer: Option<&'a str>,
}

pub async fn signature_policy(
    flags: &VerificationFlags<'_>,
    settings: &Settings,
) -> Result<SignaturePolicy> {
    let key_ref = flags
        .key
        .map(str::to_string)
        .or_else(|| settings.manifest_verification_key_ref.clone());
    let key = match key_ref {
        Some(reference) => Some(load_key(&reference, settings).await?),
        None => None,
    };
    let root_path = flags
        .trusted_root
        .map(Path::to_path_buf)
        .or_else(|| settings.sigstore_trusted_root.clone());
    let trusted_root = root_path
        .map(|p| {
            let bytes = std::fs::read(&p).map_err(|e| CliError::io(&p, e))?;
            Ok::<_, CliError>(TrustedRoot::from_json(&bytes)?)
        })
        .transpose()?;
    let identity = flags
        .identity
        .map(str::to_string)
        .or_else(|| settings.sigstore_identity.clone());
    let issuer = flags
        .issuer
        .map(str::to_string)
        .or_else(|| settings.sigstore_issuer.clone());
    let identity = match (identity, issuer) {
        (Some(identity), Some(issuer)) => Some(IdentityPolicy { identity, issuer }),
        (None, None) => None,
        _ => return Err(CliError::Usage(
            "keyless verification needs both an identity and an issuer (--identity and --issuer)"
                .into(),
        )),
    };
    let required = flags.require || settings.manifest_verification_required;
    if required && key.is_none() && trusted_root.is_none() {
        return Err(CliError::Usage(
            "manifest verification is required but no verification key is configured: pass --key or set \
             CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF (or a Sigstore trusted root for keyless signatures)"
                .into(),
        ));
    }
    Ok(SignaturePolicy {
        required,
        key,
        trusted_root,
        identity,
    })
}

/// A public key from a reference: a PEM file, `env://VAR`, or (with the `aws` feature) `s3://` and `awskms://`.
pub async fn load_key(reference: &str, settings: &Settings) -> Result<PublicKey> {
    let key_ref: KeyRef = reference.parse()?;
    if !key_ref.is_remote() {
        return Ok(key_ref.load_local()?);
    }
    #[cfg(feature = "aws")]
    {
        crate::aws::resolve_key(&key_ref, settings).await
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = settings;
        Err(CliError::Usage(format!(
            "key reference '{reference}' needs the AWS adapters: build certus with `--features aws`"
        )))
    }
}

pub struct LocalOptions {
    pub data_dir: PathBuf,
    pub out: Option<PathBuf>,
    pub keep_workspace: bool,
    pub stream_base: String,
    pub sinks: Vec<Arc<dyn EventSink>>,
    /// Local paths a request may name (directory and archive sources, `file://` manifests). `None`: any path
    /// and local git repositories — the CLI user's own machine.
    pub allowed_roots: Option<Vec<PathBuf>>,
    /// Keep directory file tables and per-file results in `<data dir>/cache/` and reuse them (incremental
    /// scans); `certus scan --no-cache` turns it off.
    pub scan_cache: bool,
}

impl LocalOptions {
    /// Options for commands that run no console scan (`serve`, `upload-request`): bundles in the data
    /// directory, no live console, workspaces removed after each run.
    pub fn headless(data_dir: PathBuf, allowed_roots: Option<Vec<PathBuf>>) -> Self {
        Self {
            data_dir,
            out: None,
            keep_workspace: false,
            stream_base: String::new(),
            sinks: Vec::new(),
            allowed_roots,
            scan_cache: false,
        }
    }
}

/// Extra CA certificates (PEM) from `CERTUS_ASSURANCE_CA_FILE`.
pub fn extra_ca(settings: &Settings) -> Result<Option<Vec<u8>>> {
    settings
        .ca_file
        .as_ref()
        .map(|p| std::fs::read(p).map_err(|e| CliError::io(p, e)))
        .transpose()
}

/// The network policy for manifest fetches and OCI pushes, `file://` confined to `roots` (any path when `None`).
pub fn fetch_policy(settings: &Settings, roots: &Option<Vec<PathBuf>>) -> Result<FetchPolicy> {
    Ok(FetchPolicy {
        allow_hosts: settings.fetch_allow_hosts.clone(),
        allow_plain_http_for: settings.fetch_allow_plain_http.clone(),
        extra_ca_pem: extra_ca(settings)?,
        file_roots: roots.clone().unwrap_or_else(|| vec![PathBuf::from("/")]),
        ..FetchPolicy::default()
    })
}

/// Manifest and signature fetching: `https://` and `oci://` under the SSRF policy, `file://` under the roots.
fn fetcher(settings: &Settings, roots: &Option<Vec<PathBuf>>) -> Result<RemoteFetcher> {
    RemoteFetcher::new(fetch_policy(settings, roots)?)
        .map_err(|e| CliError::Usage(format!("manifest fetching: {e}")))
}

/// `s3://` through the AWS adapters (when built with them), everything else through [`RemoteFetcher`].
struct Fetchers {
    remote: RemoteFetcher,
    #[cfg(feature = "aws")]
    aws: crate::aws::LazyAws,
}

#[async_trait::async_trait]
impl ManifestFetcher for Fetchers {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        #[cfg(feature = "aws")]
        if uri.starts_with("s3://") {
            return self.aws.fetch(uri, max_bytes).await;
        }
        self.remote.fetch(uri, max_bytes).await
    }
}

/// Assurance's signing key: `CERTUS_ASSURANCE_SIGNING_KEY_REF` (a PEM file, or `awskms://…` with the `aws`
/// feature), else a key file in the data directory created on first use.
async fn signer(settings: &Settings, data_dir: &Path) -> Result<Arc<dyn BundleSigner>> {
    match settings.signing_key_ref.as_deref() {
        #[cfg(feature = "aws")]
        Some(reference) if reference.starts_with("awskms://") => {
            crate::aws::kms_signer(reference, settings).await
        }
        Some(reference) if reference.contains("://") => Err(CliError::Usage(format!(
            "signing key '{reference}' is not a PEM file{}",
            if reference.starts_with("awskms://") {
                " (KMS needs a build with `--features aws`)"
            } else {
                ""
            }
        ))),
        Some(path) => Ok(Arc::new(LocalSigner::load_or_generate(Path::new(path))?)),
        None => Ok(Arc::new(LocalSigner::load_or_generate(
            &data_dir.join("keys/assurance-signing.pem"),
        )?)),
    }
}

/// The key of finding fingerprints: `CERTUS_ASSURANCE_FINGERPRINT_KEY_REF` (a key file), else a key file in the
/// data directory created (mode 0600) on first use. A Secrets Manager ARN is for the AWS steps.
fn fingerprint_key(settings: &Settings, data_dir: &Path) -> Result<FingerprintKey> {
    let path = match settings.fingerprint_key_ref.as_deref() {
        Some(reference) if reference.starts_with("arn:") => {
            return Err(CliError::Usage(format!(
                "CERTUS_ASSURANCE_FINGERPRINT_KEY_REF '{reference}' is a Secrets Manager ARN, which only \
                 the AWS steps read: give certus a key file"
            )))
        }
        Some(file) => PathBuf::from(file),
        None => data_dir.join("keys/fingerprint.key"),
    };
    Ok(FingerprintKey::load_or_generate(&path)?)
}

/// Where bundles are kept: the data directory (or `--out`), or with the `aws` feature and
/// `CERTUS_ASSURANCE_WORK_BUCKET`, S3.
async fn artifact_store(
    settings: &Settings,
    placement: Placement,
) -> Result<Arc<dyn ArtifactStore>> {
    match (&settings.work_bucket, placement) {
        (None, placement) => Ok(Arc::new(LocalArtifactStore::new(placement))),
        (Some(_), Placement::Fixed(dir)) => Err(CliError::Usage(format!(
            "--out {} and CERTUS_ASSURANCE_WORK_BUCKET both name where the bundle goes; give one",
            dir.display()
        ))),
        #[cfg(feature = "aws")]
        (Some(bucket), Placement::PerJob(_)) => crate::aws::artifact_store(bucket, settings).await,
        #[cfg(not(feature = "aws"))]
        (Some(bucket), Placement::PerJob(_)) => Err(CliError::Usage(format!(
            "CERTUS_ASSURANCE_WORK_BUCKET={bucket} needs the AWS adapters: build certus with `--features aws`"
        ))),
    }
}

/// Creates `dir` if needed and makes it private to this user (`0700`), also when an earlier version left it
/// readable by others.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| CliError::io(dir, e))
}

/// The embedded services: SQLite store (every job change written to its audit trail), local bundles,
/// git/directory/archive sources, local scanners.
pub async fn services(
    options: LocalOptions,
    policy: SignaturePolicy,
    settings: &Settings,
) -> Result<Services> {
    private_dir(&options.data_dir)?;
    let store = Arc::new(SqliteStore::open(&options.data_dir.join("certus.db"))?);
    let placement = match options.out {
        Some(dir) => Placement::Fixed(dir),
        None => Placement::PerJob(options.data_dir.join("bundles")),
    };
    let scanners = if settings.sample_mode {
        certus_core::pipeline::ScannerSet::sample_only(Arc::new(certus_scanners::SampleScanner))
    } else {
        certus_scanners::available(&ScannerConfig {
            advisory_db: settings.advisory_db.clone(),
            advisory_db_max_age_days: settings.advisory_db_max_age_days,
            tools_bin_dir: settings.tools_bin_dir.clone(),
            secrets_rules: settings.secrets_rules.clone(),
            advisory_source: None,
        })
    };
    let mut sources = LocalSourcePreparer::new(SourcePolicy {
        git: GitPolicy {
            allow_local: options.allowed_roots.is_none(),
            allow_hosts: settings.fetch_allow_hosts.clone(),
            credentials_dir: settings.git_credentials_dir.clone(),
            github: certus_source::GitHubApi {
                base: settings.github_api_url.clone(),
                fetch: fetch_policy(settings, &Some(Vec::new()))?,
            },
            ..GitPolicy::default()
        },
        allowed_roots: options.allowed_roots.clone(),
        ..SourcePolicy::default()
    });
    let scanners = if options.scan_cache {
        let cache: Arc<dyn ScanCache> = Arc::new(LocalScanCache::open(
            options.data_dir.join("cache"),
            certus_local::scan_cache::DEFAULT_MAX_BYTES,
        )?);
        sources = sources.with_cache(cache.clone());
        let kept = settings
            .kept_checkouts
            .unwrap_or(certus_source::kept::DEFAULT_MAX_KEPT);
        if kept > 0 {
            let dir = options.data_dir.join("checkouts");
            sources = sources.with_kept_checkouts(KeptCheckouts::new(dir, kept));
        }
        scanners.with_cache(cache)
    } else {
        scanners
    };
    let signer = signer(settings, &options.data_dir).await?;
    let fingerprint_key = fingerprint_key(settings, &options.data_dir)?;
    Ok(Services {
        jobs: Arc::new(AuditedJobStore::new(store.clone(), store.clone())),
        events: store,
        sinks: options.sinks,
        artifacts: Some(artifact_store(settings, placement).await?),
        sources: Some(Arc::new(sources)),
        fetcher: Some(Arc::new(Fetchers {
            remote: fetcher(settings, &options.allowed_roots)?,
            #[cfg(feature = "aws")]
            aws: crate::aws::LazyAws::new(settings),
        })),
        verifier: Some(Arc::new(policy)),
        signer: Some(signer),
        scanners: Some(scanners),
        fingerprint_key: Some(fingerprint_key),
        settings: PipelineSettings {
            workspace_root: options.data_dir.join("runs"),
            keep_workspace: options.keep_workspace,
            max_parallel_tools: settings.max_workers.unwrap_or(4),
            max_log_lines_per_tool: 2000,
            max_tool_timeout: certus_core::manifest::DEFAULT_TOOL_TIMEOUT * 4,
            stream_base: options.stream_base,
            runner_id: certus_core::runner::local_runner_id(),
            builder: BuilderInfo {
                id: LOCAL_BUILDER_ID.into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        },
    })
}
