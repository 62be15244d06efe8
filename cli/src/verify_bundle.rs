//! `certus verify-bundle`: an auditor's check of a bundle directory, one verdict per check.
//! Exit 0 when every check passes (skips allowed) and the attestation's signer is pinned (`--key`) or
//! explicitly accepted (`--trust-embedded-key`), 1 when any check fails, 2 on a usage error, and 3 when every
//! check passes but the only key checked is the one the bundle publishes itself (W11: anyone can make such a
//! bundle with a key of their own, so automation that reads the exit code must not take it as verified).

use std::path::PathBuf;

use certus_core::bundle_check::{verify_bundle, Pins, Verdict};
use certus_verify::PublicKey;

use crate::error::{CliError, Result};
use crate::terminal::printable;

#[derive(Debug, clap::Args)]
pub struct VerifyBundleArgs {
    /// The bundle directory, or `s3://bucket/prefix` (with the `aws` feature).
    pub bundle: String,
    /// Assurance's public key (PEM) to pin. Without it (and without --trust-embedded-key) the signature is
    /// checked with the key the bundle publishes and the result is UNPINNED, exit 3.
    #[arg(long, conflicts_with = "trust_embedded_key")]
    pub key: Option<PathBuf>,
    /// Accept the key published in the bundle as the signer (exit 0 when every check passes): only for a
    /// bundle whose published key was checked some other way.
    #[arg(long)]
    pub trust_embedded_key: bool,
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
    let signer = match (&attestation_key, args.trust_embedded_key) {
        (Some(_), _) => Signer::Pinned,
        (None, true) => Signer::EmbeddedAccepted,
        (None, false) => Signer::Unpinned,
    };
    let published = published_fingerprint(&dir);
    if args.json {
        let mut value =
            serde_json::to_value(&report).map_err(|e| certus_core::CoreError::json("report", e))?;
        value["passed"] = report.passed().into();
        value["signer"] = signer.label().into();
        value["published_key"] = published.clone().into();
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| certus_core::CoreError::json("report", e))?;
        println!("{text}");
    } else {
        for check in &report.checks {
            let mark = match check.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "SKIP",
            };
            println!(
                "{mark}  {:<20} {}",
                printable(check.name),
                printable(&check.detail)
            );
        }
        let key = published.as_deref().unwrap_or("unreadable");
        println!(
            "{}",
            match (report.passed(), signer) {
                (false, _) => "bundle verification FAILED".to_string(),
                (true, Signer::Pinned) => "bundle verified".to_string(),
                (true, Signer::EmbeddedAccepted) => format!(
                    "bundle verified with the key it publishes (sha256:{key}), accepted by --trust-embedded-key"
                ),
                (true, Signer::Unpinned) => format!(
                    "UNPINNED: the bundle is intact and signed, but only by the key it publishes itself \
                     (sha256:{key}); anyone can make such a bundle. NOT VERIFIED: pin Assurance's key with \
                     --key, or accept this one with --trust-embedded-key (exit {UNPINNED})"
                ),
            }
        );
    }
    Ok(match (report.passed(), signer) {
        (false, _) => 1,
        (true, Signer::Unpinned) => UNPINNED,
        (true, _) => 0,
    })
}

/// Exit code of a bundle whose checks all pass but whose signer nobody pinned.
pub const UNPINNED: i32 = 3;

/// Who vouches for the attestation's signing key.
#[derive(Debug, Clone, Copy)]
enum Signer {
    /// `--key`: the caller's own copy of Assurance's key.
    Pinned,
    /// `--trust-embedded-key`: the caller accepted the key the bundle publishes.
    EmbeddedAccepted,
    /// Nobody: only the key the bundle publishes was checked.
    Unpinned,
}

impl Signer {
    fn label(self) -> &'static str {
        match self {
            Self::Pinned => "pinned",
            Self::EmbeddedAccepted => "embedded-key-accepted",
            Self::Unpinned => "unpinned",
        }
    }
}

/// The SHA-256 fingerprint of the key the bundle publishes, when it is readable.
fn published_fingerprint(dir: &std::path::Path) -> Option<String> {
    let pem = std::fs::read_to_string(dir.join(certus_core::bundle::SIGNING_KEY)).ok()?;
    PublicKey::from_pem(&pem).ok().map(|key| key.fingerprint())
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
