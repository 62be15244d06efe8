//! Settings from `CERTUS_ASSURANCE_*` environment variables (spec §9), read through a lookup function so
//! they can be tested without touching the process environment.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{CoreError, FieldError, Result};
use crate::trust::DEFAULT_SIGNER_IDENTITY;

pub const PREFIX: &str = "CERTUS_ASSURANCE_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Data directory for the embedded store, workspaces and bundles.
    pub artifact_root: Option<PathBuf>,
    pub manifest_verification_required: bool,
    /// PEM path, `env://VAR`, `s3://bucket/key` or `awskms://…`.
    pub manifest_verification_key_ref: Option<String>,
    /// Sigstore `trusted_root.json` for keyless signatures, with the identity and issuer to expect.
    pub sigstore_trusted_root: Option<PathBuf>,
    pub sigstore_identity: Option<String>,
    pub sigstore_issuer: Option<String>,
    /// Scanner tasks that may run at once within a scan.
    pub max_workers: Option<usize>,
    /// Only the sample scanner (canned output) — for demos without scanners.
    pub sample_mode: bool,
    /// Offline advisory database (RustSec layout or OSV JSON directory).
    pub advisory_db: Option<PathBuf>,
    /// Scans fail against an advisory database whose snapshot date is older than this many days.
    pub advisory_db_max_age_days: Option<u32>,
    /// How many git checkouts the data directory keeps for rescans (0: none, every git scan clones afresh);
    /// `None`: the preparer's default.
    pub kept_checkouts: Option<usize>,
    /// Assurance's signing key (PEM path, or `awskms://…` on AWS).
    pub signing_key_ref: Option<String>,
    /// The key of finding fingerprints: a key file (created, mode 0600, on first use), or on AWS the ARN of
    /// a Secrets Manager secret whose string is the key. Unset: `<data>/keys/fingerprint.key` locally.
    pub fingerprint_key_ref: Option<String>,
    /// Where external scanners (semgrep, bandit…) are looked for before `PATH`.
    pub tools_bin_dir: Option<PathBuf>,
    /// A gitleaks-format rule file for the built-in secrets scanner.
    pub secrets_rules: Option<PathBuf>,
    /// Hosts that manifest fetches may reach although they resolve to private or loopback addresses.
    pub fetch_allow_hosts: Vec<String>,
    /// The directory a submission's `git_credentials_ref` of the form `file:NAME` is read from; unset, such
    /// references are refused.
    pub git_credentials_dir: Option<PathBuf>,
    /// On AWS, the name prefix of the Secrets Manager secrets a `git_credentials_ref` of the form
    /// `secretsmanager:<name or ARN>` may name (e.g. `certus-assurance/git/`); unset, such references are
    /// refused. IAM grants prepare-source `GetSecretValue` on this prefix only.
    pub git_secrets_prefix: Option<String>,
    /// The GitHub API a `git_credentials_ref` of the form `githubapp:…` mints installation tokens at
    /// (`GITHUB_API_URL`, default `https://api.github.com`; GitHub Enterprise Server: `https://<host>/api/v3`).
    pub github_api_url: String,
    /// Hosts that may be fetched over plain http (a registry on loopback).
    pub fetch_allow_plain_http: Vec<String>,
    /// Extra CA certificates (PEM) trusted for manifest fetches and Certus-Trust.
    pub ca_file: Option<PathBuf>,
    /// Certus-Trust base URL; without it the embedded gate applies the Trust contract in-process.
    pub trust_base_url: Option<String>,
    /// `s3://bucket[/prefix]` where finished bundles are kept (instead of the data directory).
    pub work_bucket: Option<String>,
    /// Publish to S3 (raw and golden buckets) instead of local `raw/` and `golden/` directories.
    pub s3_upload: bool,
    pub raw_bucket: String,
    pub raw_prefix: String,
    pub golden_bucket: String,
    pub golden_prefix: String,
    /// `oci://registry/repo`: permitted bundles are also pushed there as a signed OCI artifact.
    pub oci_repository: Option<String>,
    /// S3 (and KMS) endpoint override, e.g. a local S3-compatible server.
    pub s3_endpoint_url: Option<String>,
    /// Bearer token for Certus-Trust (never printed).
    pub trust_token: Option<Secret>,
    /// The identity Assurance signs upload requests as (`inner_signature.signer`); Certus-Trust grants the
    /// `verified` tier only to the Assurance identity. Default [`DEFAULT_SIGNER_IDENTITY`].
    pub signer_identity: String,
}

/// A credential read from the environment; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::from_vars(Vars::new(&lookup))
    }

    /// The settings the CLI and the step functions share, read through `vars`.
    pub fn from_vars(vars: Vars<'_>) -> Result<Self> {
        let get = |name: &str| vars.get(name);
        let flag = |name: &str| -> Result<bool> {
            match get(name).map(|v| v.trim().to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
                Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
                Some(v) => Err(invalid(
                    name,
                    format!("'{v}' is not a boolean (true/false)"),
                )),
            }
        };
        let max_workers = number(&vars, "MAX_WORKERS", 1..=64usize, "number")?;
        let advisory_db_max_age_days = number(
            &vars,
            "ADVISORY_DB_MAX_AGE_DAYS",
            1..=36_500u32,
            "number of days",
        )?;
        let kept_checkouts = number(
            &vars,
            "KEPT_CHECKOUTS",
            0..=1_000usize,
            "number of checkouts",
        )?;
        Ok(Self {
            artifact_root: get("ARTIFACT_ROOT").map(PathBuf::from),
            manifest_verification_required: flag("MANIFEST_VERIFICATION_REQUIRED")?,
            manifest_verification_key_ref: get("MANIFEST_VERIFICATION_KEY_REF"),
            sigstore_trusted_root: get("SIGSTORE_TRUSTED_ROOT").map(PathBuf::from),
            sigstore_identity: get("SIGSTORE_IDENTITY"),
            sigstore_issuer: get("SIGSTORE_ISSUER"),
            max_workers,
            sample_mode: flag("SAMPLE_MODE")?,
            advisory_db: get("ADVISORY_DB").map(PathBuf::from),
            advisory_db_max_age_days,
            kept_checkouts,
            signing_key_ref: get("SIGNING_KEY_REF"),
            fingerprint_key_ref: get("FINGERPRINT_KEY_REF"),
            tools_bin_dir: get("TOOLS_BIN_DIR").map(PathBuf::from),
            secrets_rules: get("SECRETS_RULES").map(PathBuf::from),
            fetch_allow_hosts: list(get("FETCH_ALLOW_HOSTS")),
            git_credentials_dir: get("GIT_CREDENTIALS_DIR").map(PathBuf::from),
            git_secrets_prefix: get("GIT_SECRETS_PREFIX").filter(|p| !p.is_empty()),
            github_api_url: match get("GITHUB_API_URL") {
                None => "https://api.github.com".to_string(),
                Some(v)
                    if (v.starts_with("https://") || v.starts_with("http://"))
                        && v.len() <= 512
                        && !v.chars().any(|c| c.is_control() || c.is_whitespace()) =>
                {
                    v
                }
                Some(_) => {
                    return Err(invalid(
                        "GITHUB_API_URL",
                        "must be an https:// (or allow-listed http://) URL of at most 512 characters".into(),
                    ))
                }
            },
            fetch_allow_plain_http: list(get("FETCH_ALLOW_PLAIN_HTTP")),
            ca_file: get("CA_FILE").map(PathBuf::from),
            trust_base_url: get("TRUST_BASE_URL"),
            trust_token: get("TRUST_TOKEN").map(Secret),
            signer_identity: match get("SIGNER_IDENTITY") {
                None => DEFAULT_SIGNER_IDENTITY.to_string(),
                Some(v) if v.trim() != v || v.chars().any(char::is_control) || v.len() > 256 => {
                    return Err(invalid(
                        "SIGNER_IDENTITY",
                        "must be at most 256 characters without surrounding spaces or control characters"
                            .into(),
                    ))
                }
                Some(v) => v,
            },
            s3_endpoint_url: get("S3_ENDPOINT_URL"),
            oci_repository: get("OCI_REPOSITORY"),
            work_bucket: get("WORK_BUCKET"),
            s3_upload: flag("S3_UPLOAD")?,
            raw_bucket: get("RAW_BUCKET").unwrap_or_else(|| "raw".into()),
            raw_prefix: get("RAW_PREFIX").unwrap_or_else(|| "security-scans".into()),
            golden_bucket: get("GOLDEN_BUCKET").unwrap_or_else(|| "golden".into()),
            golden_prefix: get("GOLDEN_PREFIX").unwrap_or_else(|| "security-scans".into()),
        })
    }
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The one way a binary reads its `CERTUS_ASSURANCE_*` variables: through a lookup (the process environment
/// in `main`, a map in tests). Blank values count as unset; required variables are read together, so one error
/// names every missing one.
#[derive(Clone, Copy)]
pub struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The lookup itself, for a variable outside the prefix (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn lookup(&self) -> &'a dyn Fn(&str) -> Option<String> {
        self.lookup
    }

    /// `CERTUS_ASSURANCE_<name>`, or `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(&format!("{PREFIX}{name}")).filter(|v| !v.trim().is_empty())
    }

    /// Every one of `names`, in order; a `Config` error naming each variable that is unset or blank.
    pub fn required<const N: usize>(&self, names: [&str; N]) -> Result<[String; N]> {
        let values = names.map(|name| self.get(name));
        let missing: Vec<String> = names
            .iter()
            .zip(&values)
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| format!("{PREFIX}{name} is not set"))
            .collect();
        if !missing.is_empty() {
            return Err(CoreError::Config(missing.join("; ")));
        }
        Ok(values.map(Option::unwrap_or_default))
    }
}

/// The whole number `name` holds within `range`, or `None` when it is unset; anything else is an error naming
/// the variable and saying what `what` it must be.
fn number<T>(vars: &Vars<'_>, name: &str, range: RangeInclusive<T>, what: &str) -> Result<Option<T>>
where
    T: FromStr + PartialOrd + Display,
{
    let Some(v) = vars.get(name) else {
        return Ok(None);
    };
    v.trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| {
            invalid(
                name,
                format!(
                    "'{v}' is not a {what} from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn invalid(name: &str, message: String) -> CoreError {
    CoreError::Validation(vec![FieldError::new(format!("{PREFIX}{name}"), message)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn required_variables_are_read_together_and_every_missing_one_is_named() {
        let vars: HashMap<&str, &str> = [
            ("CERTUS_ASSURANCE_JOBS_TABLE", "jobs"),
            ("CERTUS_ASSURANCE_EVENTS_TABLE", "  "),
        ]
        .into_iter()
        .collect();
        let lookup = |name: &str| vars.get(name).map(|v| v.to_string());
        let vars = Vars::new(&lookup);
        assert_eq!(vars.required(["JOBS_TABLE"]).unwrap(), ["jobs"]);
        assert_eq!(vars.get("EVENTS_TABLE"), None, "blank counts as unset");
        let err = vars
            .required(["JOBS_TABLE", "EVENTS_TABLE", "AUDIT_TABLE"])
            .unwrap_err();
        assert!(matches!(err, CoreError::Config(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "configuration error: CERTUS_ASSURANCE_EVENTS_TABLE is not set; \
             CERTUS_ASSURANCE_AUDIT_TABLE is not set"
        );
    }

    fn from(pairs: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn reads_the_contract_names() {
        let s = from(&[
            ("MANIFEST_VERIFICATION_REQUIRED", "TRUE"),
            ("MANIFEST_VERIFICATION_KEY_REF", "env://KEY"),
            ("MAX_WORKERS", "4"),
            ("ARTIFACT_ROOT", "/data"),
            ("FETCH_ALLOW_HOSTS", "registry.internal, 127.0.0.1,"),
        ])
        .unwrap();
        assert_eq!(s.fetch_allow_hosts, vec!["registry.internal", "127.0.0.1"]);
        let with_token = from(&[("TRUST_TOKEN", "tok-123")]).unwrap();
        assert!(!format!("{with_token:?}").contains("tok-123"));
        assert!(s.manifest_verification_required);
        assert_eq!(
            s.manifest_verification_key_ref.as_deref(),
            Some("env://KEY")
        );
        assert_eq!(s.max_workers, Some(4));
        assert_eq!(s.artifact_root, Some(PathBuf::from("/data")));
        let defaults = from(&[]).unwrap();
        assert_eq!(
            (
                defaults.raw_bucket.as_str(),
                defaults.golden_prefix.as_str()
            ),
            ("raw", "security-scans")
        );
        assert!(!defaults.s3_upload && defaults.work_bucket.is_none());
        assert_eq!(defaults.signer_identity, "certus-assurance@certus.cloud");
        let named = from(&[("SIGNER_IDENTITY", "assurance@example.invalid")]).unwrap();
        assert_eq!(named.signer_identity, "assurance@example.invalid");
        assert_eq!(defaults.github_api_url, "https://api.github.com");
        let ghes = from(&[("GITHUB_API_URL", "https://ghe.example.invalid/api/v3")]).unwrap();
        assert_eq!(ghes.github_api_url, "https://ghe.example.invalid/api/v3");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = from(&[("MANIFEST_VERIFICATION_REQUIRED", "maybe")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED"),
            "{err}"
        );
        assert!(from(&[("MAX_WORKERS", "0")]).is_err());
        assert_eq!(
            from(&[("KEPT_CHECKOUTS", "0")]).unwrap().kept_checkouts,
            Some(0)
        );
        assert_eq!(from(&[]).unwrap().kept_checkouts, None);
        let err = from(&[("KEPT_CHECKOUTS", "all")]).unwrap_err();
        assert!(
            err.to_string().contains("CERTUS_ASSURANCE_KEPT_CHECKOUTS"),
            "{err}"
        );
        let err = from(&[("ADVISORY_DB_MAX_AGE_DAYS", "a week")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS"),
            "{err}"
        );
        assert_eq!(
            from(&[("ADVISORY_DB_MAX_AGE_DAYS", "30")])
                .unwrap()
                .advisory_db_max_age_days,
            Some(30)
        );
        let err = from(&[("SIGNER_IDENTITY", " padded@example.invalid")]).unwrap_err();
        assert!(
            err.to_string().contains("CERTUS_ASSURANCE_SIGNER_IDENTITY"),
            "{err}"
        );
        for bad in ["ftp://ghe.example.invalid", "api.github.com", "https://a b"] {
            let err = from(&[("GITHUB_API_URL", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("CERTUS_ASSURANCE_GITHUB_API_URL"),
                "{err}"
            );
        }
    }
}
