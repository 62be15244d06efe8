//! `certus manifest …`: the digest we record, the canonical bytes authors sign for inline manifests, and a
//! verification that applies exactly the checks a scan applies.

use std::io::Write;
use std::path::{Path, PathBuf};

use certus_core::digest::{canonical_json, sha256_hex};
use certus_core::manifest::{Manifest, MAX_MANIFEST_BYTES};
use certus_core::pipeline::{read_capped, MAX_SIGNATURE_BYTES};
use certus_core::ports::ManifestVerifier;
use certus_core::settings::Settings;

use crate::error::{CliError, Result};
use crate::local::{signature_policy, VerificationFlags};

#[derive(Debug, clap::Subcommand)]
pub enum ManifestCommand {
    /// Print the manifest digest: SHA-256 of the file's exact bytes (with --inline, of its RFC 8785 form).
    Digest {
        file: PathBuf,
        /// Digest the canonical (RFC 8785) form, as for a manifest sent inline in a request.
        #[arg(long)]
        inline: bool,
    },
    /// Print the RFC 8785 canonical bytes of a manifest: sign these for an inline manifest.
    Canonicalize { file: PathBuf },
    /// Verify a manifest signature as a scan would, and check that the manifest parses.
    Verify {
        file: PathBuf,
        /// A cosign `.sig` file or a Sigstore bundle.
        #[arg(long)]
        signature: PathBuf,
        /// PEM file or `env://VAR`.
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        trusted_root: Option<PathBuf>,
        #[arg(long)]
        identity: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        /// Verify over the canonical (RFC 8785) form, as for an inline manifest.
        #[arg(long)]
        inline: bool,
    },
}

fn manifest_bytes(file: &Path, inline: bool) -> Result<Vec<u8>> {
    let bytes = read_capped(file, MAX_MANIFEST_BYTES)?;
    if !inline {
        return Ok(bytes);
    }
    Manifest::parse(&bytes)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| certus_core::CoreError::json("manifest", e))?;
    Ok(canonical_json(&value)?)
}

pub async fn run(command: ManifestCommand) -> Result<i32> {
    match command {
        ManifestCommand::Digest { file, inline } => {
            println!("{}", sha256_hex(&manifest_bytes(&file, inline)?));
        }
        ManifestCommand::Canonicalize { file } => {
            let bytes = manifest_bytes(&file, true)?;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| CliError::io("stdout", e))?;
        }
        ManifestCommand::Verify {
            file,
            signature,
            key,
            trusted_root,
            identity,
            issuer,
            inline,
        } => {
            let settings = Settings::from_env()?;
            let policy = signature_policy(
                &VerificationFlags {
                    key: key.as_deref(),
                    require: true,
                    trusted_root: trusted_root.as_deref(),
                    identity: identity.as_deref(),
                    issuer: issuer.as_deref(),
                },
                &settings,
            )
            .await?;
            let bytes = manifest_bytes(&file, inline)?;
            let sig = read_capped(&signature, MAX_SIGNATURE_BYTES)?;
            let record = policy.verify(&bytes, &sig).await?;
            Manifest::parse(&bytes)?;
            let mut out = record;
            out["manifest_digest"] = serde_json::Value::String(sha256_hex(&bytes));
            println!(
                "{}",
                serde_json::to_string_pretty(&out)
                    .map_err(|e| certus_core::CoreError::json("verification", e))?
            );
        }
    }
    Ok(0)
}
