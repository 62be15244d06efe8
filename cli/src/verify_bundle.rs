//! `certus verify-bundle`: an auditor's check of a bundle directory, one verdict per check.
//! Exit 0 when every check passes (skips allowed), 1 when any fails, 2 on a usage error.

use std::path::PathBuf;

use certus_core::bundle_check::{verify_bundle, Pins, Verdict};
use certus_verify::PublicKey;

use crate::error::{CliError, Result};

#[derive(Debug, clap::Args)]
pub struct VerifyBundleArgs {
    /// The bundle directory, or `s3://bucket/prefix` (with the `aws` feature).
    pub bundle: String,
    /// Assurance's public key (PEM) to pin; without it the key published in the bundle is used.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The manifest owner's public key (PEM), to verify manifest.sig.
    #[arg(long)]
    pub manifest_key: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn load_key(path: &PathBuf) -> Result<PublicKey> {
    let pem = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    Ok(PublicKey::from_pem(&pem)?)
}

pub async fn run(args: VerifyBundleArgs) -> Result<i32> {
    let downloaded;
    let dir = if args.bundle.starts_with("s3://") {
        downloaded = fetch_remote(&args.bundle).await?;
        downloaded.path().to_path_buf()
    } else {
        PathBuf::from(&args.bundle)
    };
    if !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a bundle directory",
            args.bundle
        )));
    }
    let attestation_key = args.key.as_ref().map(load_key).transpose()?;
    let manifest_key = args.manifest_key.as_ref().map(load_key).transpose()?;
    let report = verify_bundle(
        &dir,
        &Pins {
            attestation_key: attestation_key.as_ref(),
            manifest_key: manifest_key.as_ref(),
        },
    );
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| certus_core::CoreError::json("report", e))?;
        println!("{text}");
    } else {
        for check in &report.checks {
            let mark = match check.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "SKIP",
            };
            println!("{mark}  {:<20} {}", check.name, check.detail);
        }
        println!(
            "{}",
            if report.passed() {
                "bundle verified"
            } else {
                "bundle verification FAILED"
            }
        );
    }
    Ok(if report.passed() { 0 } else { 1 })
}

/// A bundle under an S3 prefix, copied into a temporary directory for checking.
#[cfg(feature = "aws")]
async fn fetch_remote(uri: &str) -> Result<tempfile::TempDir> {
    let settings = certus_core::settings::Settings::from_env()?;
    let dir = tempfile::tempdir().map_err(|e| CliError::io("temporary directory", e))?;
    crate::aws::download_bundle(uri, dir.path(), &settings).await?;
    Ok(dir)
}

#[cfg(not(feature = "aws"))]
async fn fetch_remote(uri: &str) -> Result<tempfile::TempDir> {
    Err(CliError::Usage(format!(
        "{uri}: reading bundles from S3 needs the AWS adapters: build certus with `--features aws`"
    )))
}
