//! Upload gating for this machine: Certus-Trust over HTTP when `CERTUS_ASSURANCE_TRUST_BASE_URL` is set,
//! otherwise the embedded gate that applies the Trust contract in-process; publication to local `raw/` and
//! `golden/` directories, and with `CERTUS_ASSURANCE_OCI_REPOSITORY` a signed OCI artifact pushed after them.
//! `certus upload-request` and `certus trust serve` (the same contract as the real Certus-Trust,
//! docs/trust-contract.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use certus_core::pipeline::Services;
use certus_core::ports::Publisher;
use certus_fetch::OciPublisher;

use certus_core::settings::Settings;
use certus_core::trust::{Tier, TrustClient};
use certus_core::upload::UploadGate;
use certus_core::verification::SignaturePolicy;
use certus_trust::{
    HttpTrustClient, HttpTrustConfig, LocalPublisher, LocalPublisherConfig, LocalTrustGate,
};

use crate::error::{CliError, Result};
use crate::local::{self, LocalOptions};

fn trust_error(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("Certus-Trust: {e}"))
}

/// The gate and publication for jobs of this data directory.
pub async fn gate(services: &Services, settings: &Settings, data_dir: &Path) -> Result<UploadGate> {
    let local = match settings.s3_upload {
        false => Arc::new(
            LocalPublisher::new(&LocalPublisherConfig::under(data_dir)).map_err(trust_error)?,
        ),
        #[cfg(feature = "aws")]
        true => crate::aws::publisher(settings).await?,
        #[cfg(not(feature = "aws"))]
        true => return Err(CliError::Usage(
            "CERTUS_ASSURANCE_S3_UPLOAD needs the AWS adapters: build certus with `--features aws`"
                .into(),
        )),
    };
    let publisher: Arc<dyn Publisher> = match &settings.oci_repository {
        Some(repository) => Arc::new(
            OciPublisher::new(
                local,
                repository,
                local::fetch_policy(settings, &Some(Vec::new()))?,
                services.artifacts()?.clone(),
                services.signer()?.clone(),
            )
            .map_err(|e| CliError::Usage(format!("OCI repository: {e}")))?,
        ),
        None => local,
    };
    let trust: Arc<dyn TrustClient> = match &settings.trust_base_url {
        Some(url) => {
            let mut config = HttpTrustConfig::new(url);
            config.bearer_token = settings.trust_token.as_ref().map(|t| t.0.clone());
            config.extra_ca_pem =
                local::extra_ca(settings)?.map(|pem| String::from_utf8_lossy(&pem).into_owned());
            Arc::new(HttpTrustClient::new(&config).map_err(trust_error)?)
        }
        // A Trust configured for this machine: the service's rules, naming the raw bucket published to.
        None => Arc::new(
            LocalTrustGate::new()
                .raw_bucket(publisher.raw_bucket())
                .check_bundles(services.artifacts()?.clone())
                .locate_bundles_with(services.jobs.clone()),
        ),
    };
    Ok(
        UploadGate::new(trust, publisher, settings.oci_repository.clone())
            .with_signer_identity(settings.signer_identity.clone()),
    )
}

#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// The finished (SUCCEEDED) scan to publish.
    pub test_id: String,
    /// The Trust tier to ask for.
    #[arg(long, value_parser = ["basic", "verified"], default_value = "basic")]
    pub tier: String,
    /// Data directory holding the job and its bundle (default: as for `certus scan`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Exit 0 when uploaded, 1 when denied or failed (the reason printed), 2 on errors.
pub async fn request(args: UploadArgs) -> Result<i32> {
    let settings = Settings::from_env()?;
    let data_dir = local::data_dir(args.data_dir.as_deref(), &settings)?;
    let services = local::services(
        LocalOptions::headless(data_dir.clone(), None),
        SignaturePolicy::default(),
        &settings,
    )
    .await?;
    let tier = if args.tier == "verified" {
        Tier::Verified
    } else {
        Tier::Basic
    };
    let job = gate(&services, &settings, &data_dir)
        .await?
        .request_upload(&services, &args.test_id, tier)
        .await?;
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "test_id": job.test_id,
        "upload_status": job.upload_status,
        "upload_permission_id": job.upload_permission_id,
        "remote_artifacts": job.remote_artifacts,
        "last_exchange": job.upload_audit.last(),
    }))
    .map_err(|e| certus_core::CoreError::json("upload result", e))?;
    println!("{text}");
    Ok(
        if job.upload_status == certus_core::job::UploadStatus::Uploaded {
            0
        } else {
            1
        },
    )
}

#[derive(Debug, clap::Subcommand)]
pub enum TrustCommand {
    /// A development Certus-Trust server on loopback that applies the Trust contract.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8057")]
        addr: SocketAddr,
        /// Require this bearer token (read from the environment variable named here).
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Accept only these signing keys (`sha256:<fingerprint>`, `inner_signature.key_fingerprint`).
        #[arg(long = "pin-key")]
        pin_keys: Vec<String>,
        /// The identity granted the `verified` tier (as the real service: the Assurance identity).
        #[arg(long, default_value = certus_core::trust::DEFAULT_SIGNER_IDENTITY)]
        assurance_identity: String,
        /// The raw bucket named in permits' `storage_config` (the service's default).
        #[arg(long, default_value = certus_trust::DEFAULT_RAW_BUCKET)]
        raw_bucket: String,
    },
}

pub async fn trust(command: TrustCommand) -> Result<i32> {
    let TrustCommand::Serve {
        addr,
        token_env,
        pin_keys,
        assurance_identity,
        raw_bucket,
    } = command;
    let token = token_env
        .map(|var| {
            std::env::var(&var)
                .map_err(|_| CliError::Usage(format!("environment variable {var} is not set")))
        })
        .transpose()?;
    let gate = LocalTrustGate::new()
        .assurance_identity(assurance_identity)
        .raw_bucket(raw_bucket);
    let gate = if pin_keys.is_empty() {
        gate
    } else {
        gate.pin_keys(pin_keys).map_err(trust_error)?
    };
    let server = certus_trust::trust_dev_server(addr, Arc::new(gate), token)
        .await
        .map_err(trust_error)?;
    eprintln!(
        "certus: Trust dev server on {} (set CERTUS_ASSURANCE_TRUST_BASE_URL to it); Ctrl-C stops it",
        server.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::io("signal", e))?;
    server.shutdown().await.map_err(trust_error)?;
    Ok(0)
}
