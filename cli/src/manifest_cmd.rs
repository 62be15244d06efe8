//! `certus manifest …`: the digest we record, the canonical bytes authors sign for inline manifests, a check
//! of the manifest contract without scanning, and a verification that applies exactly the checks a scan
//! applies.

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
    /// Check a manifest against its contract (docs/manifest.schema.json) without scanning: exit 0 when valid,
    /// 2 with every problem named by its JSON pointer. Also says which tools are not installed here.
    Validate { file: PathBuf },
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

fn validate(file: &Path) -> Result<i32> {
    let bytes = read_capped(file, MAX_MANIFEST_BYTES)?;
    let manifest = match Manifest::parse(&bytes) {
        Ok(manifest) => manifest,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return Ok(2);
        }
    };
    let settings = Settings::from_env()?;
    let scanners = certus_scanners::available(&certus_scanners::ScannerConfig {
        advisory_db: settings.advisory_db.clone(),
        advisory_db_max_age_days: settings.advisory_db_max_age_days,
        tools_bin_dir: settings.tools_bin_dir.clone(),
        secrets_rules: settings.secrets_rules.clone(),
    });
    println!(
        "{}: valid manifest ({} profile(s))",
        file.display(),
        manifest.profiles.len()
    );
    for profile in &manifest.profiles {
        let tools: Vec<String> = profile
            .tools
            .iter()
            .map(|t| {
                if t.optional() {
                    format!("{} (optional)", t.id())
                } else {
                    t.id().to_string()
                }
            })
            .collect();
        println!(
            "  {:<15} tools {}; thresholds {}",
            profile.name,
            tools.join(", "),
            profile.thresholds.describe()
        );
        // What a scan of this profile would meet on this machine.
        if let Err(e) = manifest.resolve_profile(&profile.name, &|id| scanners.supports(id)) {
            println!("  {:<15} note: on this machine: {e}", "");
        }
    }
    Ok(0)
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
        ManifestCommand::Validate { file } => return validate(&file),
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
