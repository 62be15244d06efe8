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
use certus_core::verification::SignaturePolicy;
use certus_verify::{Artifact, Signature, TrustMaterial};

use crate::error::{CliError, Result};
use crate::local::{signature_policy, VerificationFlags};

#[derive(Debug, clap::Subcommand)]
pub enum ManifestCommand {
    /// Print the manifest digest: SHA-256 of the file's exact bytes (with --inline, of its RFC 8785 form).
    Digest {
        /// The manifest (JSON).
        file: PathBuf,
        /// Digest the canonical (RFC 8785) form, as for a manifest sent inline in a request.
        #[arg(long)]
        inline: bool,
    },
    /// Print the RFC 8785 canonical bytes of a manifest: sign these for an inline manifest.
    Canonicalize {
        /// The manifest (JSON).
        file: PathBuf,
    },
    /// Check a manifest against its contract (docs/manifest.schema.json) without scanning: exit 0 when valid,
    /// 2 with every problem named by its JSON pointer. Also says which tools are not installed here.
    Validate {
        /// The manifest (JSON).
        file: PathBuf,
    },
    /// Verify a manifest signature as a scan would, and check that the manifest parses. With --digest,
    /// verify against the manifest's SHA-256 instead of its bytes (the manifest is then not parsed). Exit 0
    /// verified, 1 the signature does not verify, 2 usage or file errors.
    Verify {
        /// The manifest (JSON).
        #[arg(required_unless_present = "digest")]
        file: Option<PathBuf>,
        /// `sha256:<64 hex>`: verify against this digest of the manifest instead of the file.
        #[arg(long, conflicts_with_all = ["file", "inline"])]
        digest: Option<String>,
        /// A cosign `.sig` file or a Sigstore bundle.
        #[arg(long)]
        signature: PathBuf,
        /// PEM file or `env://VAR`.
        #[arg(long)]
        key: Option<String>,
        /// Sigstore trusted_root.json, for keyless signatures.
        #[arg(long)]
        trusted_root: Option<PathBuf>,
        /// The signer identity a keyless signature must carry.
        #[arg(long)]
        identity: Option<String>,
        /// The OIDC issuer that must have vouched for that identity.
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
            eprintln!(
                "{}: {}",
                file.display(),
                crate::terminal::printable(&e.to_string())
            );
            return Ok(2);
        }
    };
    let settings = Settings::from_env()?;
    let scanners = certus_scanners::available(&certus_scanners::ScannerConfig {
        advisory_db: settings.advisory_db.clone(),
        advisory_db_max_age_days: settings.advisory_db_max_age_days,
        tools_bin_dir: settings.tools_bin_dir.clone(),
        secrets_rules: settings.secrets_rules.clone(),
        advisory_source: None,
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

/// Parses `--digest sha256:<64 hex>`.
fn parse_digest(text: &str) -> Result<[u8; 32]> {
    let invalid = || {
        CliError::Usage(format!(
            "--digest {text:?} is not sha256:<64 hex digits> (only SHA-256 is supported)"
        ))
    };
    let hex_digits = text.strip_prefix("sha256:").ok_or_else(invalid)?;
    let bytes = hex::decode(hex_digits).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

/// Verifies the signature against the manifest's SHA-256 alone, with the same trust material a
/// scan uses.
fn verify_digest(
    policy: &SignaturePolicy,
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<serde_json::Value> {
    let signature = Signature::parse(signature)?;
    certus_core::verification::check_signature_kind(&signature)?;
    let trust = TrustMaterial {
        key: policy.key.as_ref(),
        trusted_root: policy.trusted_root.as_ref(),
        identity: policy.identity.as_ref(),
    };
    let verification =
        certus_verify::verify_artifact(&signature, Some(Artifact::Sha256Digest(digest)), &trust)?;
    let mut out = serde_json::to_value(&verification)
        .map_err(|e| certus_core::CoreError::json("verification", e))?;
    out["verified"] = serde_json::Value::Bool(true);
    out["manifest_digest"] = serde_json::Value::String(hex::encode(digest));
    Ok(out)
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
            digest,
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
            let sig = read_capped(&signature, MAX_SIGNATURE_BYTES)?;
            // A signature that does not verify is a failed check (1), as in `verify-bundle`; unreadable
            // files and bad flags are errors (2).
            let failed = |e: &dyn std::fmt::Display| {
                eprintln!(
                    "certus: FAIL {}",
                    crate::terminal::printable(&e.to_string())
                );
                Ok(1)
            };
            let out = match (file, digest) {
                (_, Some(digest)) => match verify_digest(&policy, &parse_digest(&digest)?, &sig) {
                    Ok(out) => out,
                    Err(e) => return failed(&e),
                },
                (Some(file), None) => {
                    let bytes = manifest_bytes(&file, inline)?;
                    let mut out = match policy.verify(&bytes, &sig).await {
                        Ok(record) => serde_json::to_value(record)
                            .map_err(|e| certus_core::CoreError::json("verification", e))?,
                        Err(e) => return failed(&e),
                    };
                    Manifest::parse(&bytes)?;
                    out["manifest_digest"] = serde_json::Value::String(sha256_hex(&bytes));
                    out
                }
                (None, None) => {
                    return Err(CliError::Usage(
                        "give the manifest file or --digest sha256:<hex>".into(),
                    ))
                }
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&out)
                    .map_err(|e| certus_core::CoreError::json("verification", e))?
            );
        }
    }
    Ok(0)
}
