//! The submit request (spec §2) and its validation: every problem is reported with the field it concerns,
//! and nothing runs until the whole request is valid.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, FieldError, Result};

/// The body of `POST /v1/security-scans`, as received (everything optional so validation can name what is missing).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub workspace_id: Option<String>,
    pub component_id: Option<String>,
    pub assessment_id: Option<String>,
    pub source_type: Option<String>,
    pub git_url: Option<String>,
    /// Where the credentials for a private `https://` repository are kept (`env:NAME` or `file:NAME`): a
    /// reference, stored with the job; the secret itself is read only when the repository is fetched.
    pub git_credentials_ref: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub directory_path: Option<String>,
    pub archive_path: Option<String>,
    pub requested_by: Option<String>,
    pub profile: Option<String>,
    /// Inline manifest (a JSON object); its digest is taken over its RFC 8785 canonical form.
    pub manifest: Option<serde_json::Value>,
    /// Manifest path relative to the source root.
    pub manifest_path: Option<String>,
    /// Remote manifest: `s3://`, `oci://`, `https://` or `file://`.
    pub manifest_uri: Option<String>,
    /// Signature location for `manifest_uri` (same schemes); may also be used with the other sources.
    pub manifest_signature_uri: Option<String>,
    /// Signature given inline: the text of a cosign `.sig` file (base64) or of a Sigstore bundle (JSON).
    pub manifest_signature: Option<String>,
    /// Signature file relative to the source root (for `manifest_path` manifests kept beside the code).
    pub manifest_signature_path: Option<String>,
    /// An earlier scan of the same workspace whose findings are the baseline: new findings are told apart.
    pub baseline_test_id: Option<String>,
    /// `true`: read and scan every file, reusing nothing earlier scans kept (no file table, no cached
    /// result), as `certus scan --no-cache` does. Default `false`.
    pub full_scan: Option<bool>,
}

/// Where the code to scan comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source_type", rename_all = "snake_case")]
pub enum SourceSpec {
    Git {
        git_url: String,
        branch: Option<String>,
        commit: Option<String>,
        /// The reference to the repository's credentials (never the secret), when it is private.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        git_credentials_ref: Option<String>,
    },
    Directory {
        directory_path: String,
    },
    Archive {
        archive_path: String,
    },
}

impl SourceSpec {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Git { .. } => "git",
            Self::Directory { .. } => "directory",
            Self::Archive { .. } => "archive",
        }
    }
}

/// Where the manifest comes from: exactly one of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ManifestSource {
    Inline(serde_json::Value),
    RepoPath(String),
    Uri(String),
}

/// Where the manifest's signature comes from, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SignatureSource {
    Inline(String),
    RepoPath(String),
    Uri(String),
}

/// Where the baseline findings come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BaselineSource {
    /// An earlier job's bundle (same workspace).
    TestId(String),
    /// A bundle directory or SARIF file on this machine (the CLI's `--baseline`).
    Path(String),
}

/// The three ids that place a scan in the owner's world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanIds {
    pub workspace_id: String,
    pub component_id: String,
    pub assessment_id: String,
}

/// A request that passed validation: only valid states are representable from here on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatedSubmission {
    pub ids: ScanIds,
    pub source: SourceSpec,
    pub manifest: ManifestSource,
    pub signature: Option<SignatureSource>,
    pub profile: String,
    pub requested_by: Option<String>,
    #[serde(default)]
    pub baseline: Option<BaselineSource>,
    /// The submission asked for a full scan: nothing earlier scans kept is reused. Written only when set, so
    /// stored records from before the field keep their bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_scan: bool,
}

impl ValidatedSubmission {
    /// Whether the manifest or its signature is read from the source: only then must the source be prepared
    /// before the manifest is fetched.
    pub fn manifest_in_source(&self) -> bool {
        matches!(self.manifest, ManifestSource::RepoPath(_))
            || matches!(self.signature, Some(SignatureSource::RepoPath(_)))
    }
}

pub const DEFAULT_PROFILE: &str = "light";
const MAX_ID_LEN: usize = 128;
const MAX_TEXT_LEN: usize = 2048;
const MAX_INLINE_SIGNATURE_LEN: usize = 256 * 1024;
const URI_SCHEMES: [&str; 4] = ["s3://", "oci://", "https://", "file://"];

/// The parts every submission shares, validated the same way for the API and the CLI.
struct Common {
    ids: Option<ScanIds>,
    source: Option<SourceSpec>,
    profile: String,
    requested_by: Option<String>,
    baseline: Option<BaselineSource>,
    full_scan: bool,
}

impl SubmitRequest {
    /// Validates the whole request, collecting every problem rather than stopping at the first.
    pub fn validate(self) -> Result<ValidatedSubmission> {
        let mut errors = Vec::new();
        let manifest = validate_manifest_source(
            &mut errors,
            self.manifest.clone(),
            self.manifest_path.clone(),
            self.manifest_uri.clone(),
        );
        let signature = validate_signature_source(
            &mut errors,
            self.manifest_uri.is_some(),
            self.manifest_signature.clone(),
            self.manifest_signature_path.clone(),
            self.manifest_signature_uri.clone(),
        );
        let common = self.validate_common(&mut errors);
        finish(errors, common, manifest, signature)
    }

    /// For a trusted local caller (the CLI) whose manifest and signature are named directly: ids, source,
    /// profile and requester are validated as for the API; the manifest fields of `self` are ignored.
    pub fn validate_with(
        self,
        manifest: ManifestSource,
        signature: Option<SignatureSource>,
    ) -> Result<ValidatedSubmission> {
        let mut errors = Vec::new();
        let common = self.validate_common(&mut errors);
        finish(errors, common, Some(manifest), signature)
    }

    fn validate_common(self, errors: &mut Vec<FieldError>) -> Common {
        let workspace_id = required_id(errors, "workspace_id", self.workspace_id);
        let component_id = required_id(errors, "component_id", self.component_id);
        let assessment_id = required_id(errors, "assessment_id", self.assessment_id);
        let source = validate_source(
            errors,
            self.source_type.as_deref(),
            self.git_url,
            self.git_credentials_ref,
            self.branch,
            self.commit,
            self.directory_path,
            self.archive_path,
        );
        let profile = match self.profile {
            None => DEFAULT_PROFILE.to_string(),
            Some(p) if is_safe_name(&p) => p,
            Some(_) => {
                errors.push(FieldError::new(
                    "profile",
                    "must be 1-64 characters of letters, digits, '.', '_' or '-'",
                ));
                String::new()
            }
        };
        let requested_by = self.requested_by.filter(|r| !r.trim().is_empty());
        if requested_by
            .as_ref()
            .is_some_and(|r| r.len() > MAX_TEXT_LEN || r.chars().any(char::is_control))
        {
            errors.push(FieldError::new(
                "requested_by",
                "must be at most 2048 characters without control characters",
            ));
        }
        let baseline = match self.baseline_test_id {
            None => None,
            Some(id) => match crate::ids::parse_test_id(&id) {
                Ok(_) => Some(BaselineSource::TestId(id)),
                Err(_) => {
                    errors.push(FieldError::new(
                        "baseline_test_id",
                        "must be a test id (test_ followed by 12 lowercase hex digits)",
                    ));
                    None
                }
            },
        };
        let ids = match (workspace_id, component_id, assessment_id) {
            (Some(workspace_id), Some(component_id), Some(assessment_id)) => Some(ScanIds {
                workspace_id,
                component_id,
                assessment_id,
            }),
            _ => None,
        };
        Common {
            ids,
            source,
            profile,
            requested_by,
            baseline,
            full_scan: self.full_scan.unwrap_or(false),
        }
    }
}

fn finish(
    errors: Vec<FieldError>,
    common: Common,
    manifest: Option<ManifestSource>,
    signature: Option<SignatureSource>,
) -> Result<ValidatedSubmission> {
    match (common.ids, common.source, manifest) {
        (Some(ids), Some(source), Some(manifest)) if errors.is_empty() => Ok(ValidatedSubmission {
            ids,
            source,
            manifest,
            signature,
            profile: common.profile,
            requested_by: common.requested_by,
            baseline: common.baseline,
            full_scan: common.full_scan,
        }),
        _ => Err(CoreError::Validation(errors)),
    }
}

fn required_id(errors: &mut Vec<FieldError>, field: &str, value: Option<String>) -> Option<String> {
    match value {
        None => {
            errors.push(FieldError::new(field, format!("{field} is required")));
            None
        }
        Some(v) if v.trim().is_empty() => {
            errors.push(FieldError::new(field, format!("{field} must not be empty")));
            None
        }
        Some(v)
            if v.len() > MAX_ID_LEN
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
                || v.starts_with(['.', '-']) =>
        {
            errors.push(FieldError::new(
                field,
                "must be at most 128 characters of letters, digits, '.', '_', '-' or ':', not starting with '.' or '-'",
            ));
            None
        }
        Some(v) => Some(v),
    }
}

#[allow(clippy::too_many_arguments)]
fn validate_source(
    errors: &mut Vec<FieldError>,
    source_type: Option<&str>,
    git_url: Option<String>,
    git_credentials_ref: Option<String>,
    branch: Option<String>,
    commit: Option<String>,
    directory_path: Option<String>,
    archive_path: Option<String>,
) -> Option<SourceSpec> {
    let source_type = source_type.unwrap_or("git");
    if source_type != "git" && git_credentials_ref.is_some() {
        errors.push(FieldError::new(
            GIT_CREDENTIALS_REF,
            "is only for source_type='git'",
        ));
        return None;
    }
    match source_type {
        "git" => {
            let url = require_for(errors, "git_url", git_url, source_type)?;
            if url.starts_with('-') || url.chars().any(char::is_control) || url.len() > MAX_TEXT_LEN
            {
                errors.push(FieldError::new(
                    "git_url",
                    "must be a repository URL or path, not starting with '-' and without control characters",
                ));
                return None;
            }
            if url.starts_with("ext::") || url.contains("::") {
                errors.push(FieldError::new(
                    "git_url",
                    "remote helper transports ('<helper>::') are not allowed",
                ));
                return None;
            }
            if carries_credentials(&url) {
                errors.push(FieldError::new(
                    "git_url",
                    "must not carry credentials (a token or password before '@'): they would be kept in the \
                     job record, the bundle and its provenance; name them with git_credentials_ref (env:NAME, \
                     file:NAME, secretsmanager:NAME or githubapp:…) instead",
                ));
                return None;
            }
            let git_credentials_ref = match git_credentials_ref {
                None => None,
                Some(reference) => {
                    if let Err(reason) = GitCredentialsRef::parse(&reference) {
                        errors.push(FieldError::new(GIT_CREDENTIALS_REF, reason));
                        return None;
                    }
                    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                    if !matches!(scheme.as_deref(), Some("https" | "http")) {
                        errors.push(FieldError::new(
                            GIT_CREDENTIALS_REF,
                            "needs an https:// git_url: credentials are only handed to git over HTTP(S)",
                        ));
                        return None;
                    }
                    Some(reference)
                }
            };
            let branch = branch.filter(|b| !b.is_empty());
            if let Some(b) = &branch {
                if !is_valid_ref(b) {
                    errors.push(FieldError::new(
                        "branch",
                        "must be a valid git branch name (no leading '-', no '..', spaces or control characters)",
                    ));
                }
            }
            let commit = commit.filter(|c| !c.is_empty());
            if let Some(c) = &commit {
                if !(c.len() >= 7 && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_hexdigit())) {
                    errors.push(FieldError::new(
                        "commit",
                        "must be a hexadecimal commit id of 7 to 64 digits",
                    ));
                }
            }
            Some(SourceSpec::Git {
                git_url: url,
                branch,
                commit: commit.map(|c| c.to_ascii_lowercase()),
                git_credentials_ref,
            })
        }
        "directory" => require_for(errors, "directory_path", directory_path, source_type)
            .and_then(|p| local_path(errors, "directory_path", p))
            .map(|directory_path| SourceSpec::Directory { directory_path }),
        "archive" => require_for(errors, "archive_path", archive_path, source_type)
            .and_then(|p| local_path(errors, "archive_path", p))
            .map(|archive_path| SourceSpec::Archive { archive_path }),
        other => {
            errors.push(FieldError::new(
                "source_type",
                format!(
                    "unknown source_type '{}': expected one of git, directory, archive",
                    other.chars().take(40).collect::<String>()
                ),
            ));
            None
        }
    }
}

/// The submission field that names a private repository's credentials.
pub const GIT_CREDENTIALS_REF: &str = "git_credentials_ref";

/// The prefix every `env:` credential variable must have, so that a submission can never make the service
/// read one of its other variables (its AWS keys, its Trust token).
pub const GIT_CREDENTIAL_ENV_PREFIX: &str = "CERTUS_ASSURANCE_GIT_CREDENTIAL_";

/// Where a private repository's credentials are kept: a token, or `user:token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitCredentialsRef {
    /// A variable of the service's environment, named with [`GIT_CREDENTIAL_ENV_PREFIX`].
    Env(String),
    /// A plain file name inside the service's credentials directory
    /// (`CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR`).
    File(String),
    /// An AWS Secrets Manager secret, by name or ARN; only on AWS, and only under the deployment's prefix
    /// ([`check_secret_prefix`]).
    SecretsManager(String),
    /// A GitHub App installation token, minted when git is about to fetch: the App's id, the installation's
    /// id, and where the App's PEM private key is kept (`env:`, `file:` or `secretsmanager:`).
    GitHubApp {
        app_id: u64,
        installation_id: u64,
        key: Box<GitCredentialsRef>,
    },
}

/// The longest secret name or ARN a `secretsmanager:` reference may give.
const MAX_SECRET_ID_LEN: usize = 2048;

impl GitCredentialsRef {
    /// Parses `env:NAME`, `file:NAME`, `secretsmanager:<name or ARN>` or
    /// `githubapp:<app id>:<installation id>:<key reference>` (the key reference one of the first three);
    /// anything else is refused with the reason.
    pub fn parse(reference: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = reference.strip_prefix("githubapp:") {
            let mut parts = rest.splitn(3, ':');
            let id = |part: Option<&str>| {
                part.filter(|p| {
                    !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit())
                })
                .and_then(|p| p.parse::<u64>().ok())
                .filter(|n| *n > 0)
            };
            let (app_id, installation_id) = (id(parts.next()), id(parts.next()));
            let key = parts.next().unwrap_or_default();
            let (Some(app_id), Some(installation_id)) = (app_id, installation_id) else {
                return Err("githubapp: must be githubapp:<app id>:<installation id>:<key reference>, both \
                            ids positive decimal numbers"
                    .into());
            };
            if key.starts_with("githubapp:") {
                return Err(
                    "githubapp: the key reference must be env:, file: or secretsmanager:".into(),
                );
            }
            let key =
                Self::parse(key).map_err(|reason| format!("githubapp: the App's key: {reason}"))?;
            return Ok(Self::GitHubApp {
                app_id,
                installation_id,
                key: Box::new(key),
            });
        }
        if let Some(name) = reference.strip_prefix("env:") {
            let valid = name.len() > GIT_CREDENTIAL_ENV_PREFIX.len()
                && name.len() <= 128
                && name.starts_with(GIT_CREDENTIAL_ENV_PREFIX)
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            return if valid {
                Ok(Self::Env(name.to_string()))
            } else {
                Err(format!(
                    "env: must name a variable {GIT_CREDENTIAL_ENV_PREFIX}<NAME> (upper-case letters, digits and \
                     '_', at most 128 characters); no other variable of the service may be read"
                ))
            };
        }
        if let Some(name) = reference.strip_prefix("file:") {
            return if is_safe_name(name) && !name.starts_with('.') {
                Ok(Self::File(name.to_string()))
            } else {
                Err("file: must name a plain file (1-64 letters, digits, '.', '_' or '-', no '/', not \
                     starting with '.') in the service's git credentials directory"
                    .into())
            };
        }
        if let Some(id) = reference.strip_prefix("secretsmanager:") {
            let valid = !id.is_empty()
                && id.len() <= MAX_SECRET_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-:".contains(&b))
                && (!id.starts_with("arn:") || arn_secret_name(id).is_some());
            return if valid {
                Ok(Self::SecretsManager(id.to_string()))
            } else {
                Err("secretsmanager: must name a secret by name or ARN (letters, digits and /_+=.@-)".into())
            };
        }
        // Not echoed: a secret pasted here by mistake must not come back in an error or a log.
        Err(
            "is not a credentials reference: expected env:NAME, file:NAME, secretsmanager:<name or ARN> or \
             githubapp:<app id>:<installation id>:<key reference>"
                .into(),
        )
    }
}

impl SourceSpec {
    /// Why this source's `secretsmanager:` credentials reference may not be used where the deployment's
    /// prefix is `prefix` ([`check_secret_prefix`]; `None` without AWS), as the field error a submission is
    /// refused with; `None` when it may (or the source names no such reference).
    pub fn secret_reference_refusal(&self, prefix: Option<&str>) -> Option<FieldError> {
        let SourceSpec::Git {
            git_credentials_ref: Some(reference),
            ..
        } = self
        else {
            return None;
        };
        let parsed = match GitCredentialsRef::parse(reference) {
            Ok(GitCredentialsRef::GitHubApp { key, .. }) => Ok(*key),
            other => other,
        };
        match parsed {
            Ok(GitCredentialsRef::SecretsManager(id)) => check_secret_prefix(&id, prefix)
                .err()
                .map(|reason| FieldError::new(GIT_CREDENTIALS_REF, reason)),
            _ => None,
        }
    }
}

/// The secret name inside a Secrets Manager ARN (`arn:<partition>:secretsmanager:<region>:<account>:secret:
/// <name>`), `None` for anything else.
fn arn_secret_name(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(7, ':');
    let (arn_word, _partition, service, _region, _account, kind, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn_word == "arn" && service == "secretsmanager" && kind == "secret" && !name.is_empty())
        .then_some(name)
}

/// Whether the Secrets Manager secret `id` (a name or an ARN, as a `secretsmanager:` reference gives it) may
/// be read by a submission: only secrets whose name starts with the deployment's `prefix`
/// (`CERTUS_ASSURANCE_GIT_SECRETS_PREFIX`, e.g. `certus-assurance/git/`), so a tenant cannot name another
/// application's secret. `None`: no such references are available here. The error names neither the
/// secret nor the prefix' neighbours, only the rule.
pub fn check_secret_prefix(id: &str, prefix: Option<&str>) -> std::result::Result<(), String> {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return Err(
            "secretsmanager: references are not available here (only on AWS, where \
                    CERTUS_ASSURANCE_GIT_SECRETS_PREFIX is set); use env: or file:"
                .into(),
        );
    };
    let name = if id.starts_with("arn:") {
        arn_secret_name(id)
    } else {
        Some(id)
    };
    match name {
        Some(name) if name.starts_with(prefix) && !name.contains("..") => Ok(()),
        _ => Err(format!(
            "secretsmanager: only secrets named under '{prefix}' may be used for git credentials"
        )),
    }
}

fn require_for(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<String>,
    source_type: &str,
) -> Option<String> {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(v),
        None => {
            errors.push(FieldError::new(
                field,
                format!("{field} is required when source_type='{source_type}'"),
            ));
            None
        }
    }
}

fn local_path(errors: &mut Vec<FieldError>, field: &str, path: String) -> Option<String> {
    if path.len() > MAX_TEXT_LEN || path.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must be a path without control characters",
        ));
        None
    } else {
        Some(path)
    }
}

fn validate_manifest_source(
    errors: &mut Vec<FieldError>,
    inline: Option<serde_json::Value>,
    path: Option<String>,
    uri: Option<String>,
) -> Option<ManifestSource> {
    let given: Vec<&str> = [
        inline.as_ref().map(|_| "manifest"),
        path.as_ref().map(|_| "manifest_path"),
        uri.as_ref().map(|_| "manifest_uri"),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.len() {
        0 => {
            errors.push(FieldError::new(
                "manifest",
                "a manifest source is required: give exactly one of manifest, manifest_path, manifest_uri",
            ));
            return None;
        }
        1 => {}
        _ => {
            errors.push(FieldError::new(
                "manifest",
                format!(
                    "give exactly one manifest source, not several: {}",
                    given.join(", ")
                ),
            ));
            return None;
        }
    }
    if let Some(value) = inline {
        if !value.is_object() {
            errors.push(FieldError::new(
                "manifest",
                "inline manifest must be a JSON object",
            ));
            return None;
        }
        return Some(ManifestSource::Inline(value));
    }
    if let Some(p) = path {
        return match relative_inside(&p) {
            Ok(()) => Some(ManifestSource::RepoPath(p)),
            Err(reason) => {
                errors.push(FieldError::new("manifest_path", reason));
                None
            }
        };
    }
    let uri = uri?;
    match check_uri(&uri) {
        Ok(()) => Some(ManifestSource::Uri(uri)),
        Err(reason) => {
            errors.push(FieldError::new("manifest_uri", reason));
            None
        }
    }
}

fn validate_signature_source(
    errors: &mut Vec<FieldError>,
    manifest_is_uri: bool,
    inline: Option<String>,
    path: Option<String>,
    uri: Option<String>,
) -> Option<SignatureSource> {
    if manifest_is_uri && uri.is_none() {
        errors.push(FieldError::new(
            "manifest_signature_uri",
            "manifest_signature_uri is required when manifest_uri is given",
        ));
        return None;
    }
    let given = [inline.is_some(), path.is_some(), uri.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given > 1 {
        errors.push(FieldError::new(
            "manifest_signature",
            "give at most one of manifest_signature, manifest_signature_path, manifest_signature_uri",
        ));
        return None;
    }
    if let Some(sig) = inline {
        if sig.len() > MAX_INLINE_SIGNATURE_LEN {
            errors.push(FieldError::new(
                "manifest_signature",
                "must be at most 256 KiB",
            ));
            return None;
        }
        return Some(SignatureSource::Inline(sig));
    }
    if let Some(p) = path {
        return match relative_inside(&p) {
            Ok(()) => Some(SignatureSource::RepoPath(p)),
            Err(reason) => {
                errors.push(FieldError::new("manifest_signature_path", reason));
                None
            }
        };
    }
    let uri = uri?;
    match check_uri(&uri) {
        Ok(()) => Some(SignatureSource::Uri(uri)),
        Err(reason) => {
            errors.push(FieldError::new("manifest_signature_uri", reason));
            None
        }
    }
}

fn check_uri(uri: &str) -> std::result::Result<(), String> {
    if uri.len() > MAX_TEXT_LEN || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(
            "must be a URI of at most 2048 characters without spaces or control characters".into(),
        );
    }
    if !URI_SCHEMES.iter().any(|s| uri.starts_with(s)) {
        return Err("must start with s3://, oci://, https:// or file://".into());
    }
    Ok(())
}

/// A path given by a client that must stay inside the source root: relative, no `..`, no empty parts.
pub fn relative_inside(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() || path.len() > MAX_TEXT_LEN {
        return Err("must be a non-empty relative path".into());
    }
    if path.starts_with(['/', '\\']) || path.as_bytes().get(1) == Some(&b':') {
        return Err("must be relative to the source root, not absolute".into());
    }
    if path.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if path.split(['/', '\\']).any(|part| part == "..") {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

/// Profile names, tool ids and similar short names: 1-64 of `[A-Za-z0-9._-]`, not starting with `-`.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn is_valid_ref(name: &str) -> bool {
    name.len() <= 255
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"~^:?*[\\".contains(c))
}

/// Whether a git URL names credentials: any user information of an http(s) URL (a token alone is a
/// credential), or a password in any scheme's (`ssh://git@host/…` and `git@host:…` name only a user).
fn carries_credentials(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _host)) = authority.rsplit_once('@') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    userinfo.contains(':') || scheme == "http" || scheme == "https"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "workspace_id": "ws1", "component_id": "comp", "assessment_id": "a-1",
            "git_url": "https://example.invalid/repo.git",
            "manifest": {"profiles": [{"name": "light"}]}
        })
    }

    fn with(patch: serde_json::Value) -> Result<ValidatedSubmission> {
        let mut body = base();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        serde_json::from_value::<SubmitRequest>(body)
            .unwrap()
            .validate()
    }

    fn messages(result: Result<ValidatedSubmission>) -> Vec<(String, String)> {
        match result {
            Err(CoreError::Validation(errs)) => {
                errs.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_git_request_is_valid_with_defaults() {
        let v = with(json!({})).unwrap();
        assert_eq!(v.profile, "light");
        assert!(matches!(v.source, SourceSpec::Git { .. }));
        assert!(matches!(v.manifest, ManifestSource::Inline(_)));
        assert_eq!(v.signature, None);
    }

    #[test]
    fn a_full_scan_is_asked_only_with_a_boolean_true() {
        assert!(!with(json!({})).unwrap().full_scan);
        assert!(!with(json!({"full_scan": false})).unwrap().full_scan);
        assert!(with(json!({"full_scan": true})).unwrap().full_scan);
        let mut body = base();
        body["full_scan"] = json!("yes");
        let err = serde_json::from_value::<SubmitRequest>(body).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn unknown_source_type_is_named() {
        let m = messages(with(json!({"source_type": "svn"})));
        assert_eq!(m[0].0, "source_type");
        assert!(m[0].1.contains("unknown source_type 'svn'"), "{m:?}");
    }

    #[test]
    fn each_source_type_requires_its_location() {
        let m = messages(with(json!({"git_url": null})));
        assert_eq!(
            m,
            vec![(
                "git_url".into(),
                "git_url is required when source_type='git'".into()
            )]
        );
        let m = messages(with(json!({"source_type": "directory"})));
        assert_eq!(
            m,
            vec![(
                "directory_path".into(),
                "directory_path is required when source_type='directory'".into()
            )]
        );
        let m = messages(with(json!({"source_type": "archive"})));
        assert_eq!(
            m,
            vec![(
                "archive_path".into(),
                "archive_path is required when source_type='archive'".into()
            )]
        );
    }

    #[test]
    fn directory_and_archive_requests_are_valid() {
        let v = with(json!({"source_type": "directory", "directory_path": "/srv/code"})).unwrap();
        assert_eq!(
            v.source,
            SourceSpec::Directory {
                directory_path: "/srv/code".into()
            }
        );
        let v = with(json!({"source_type": "archive", "archive_path": "up/a.tgz"})).unwrap();
        assert_eq!(
            v.source,
            SourceSpec::Archive {
                archive_path: "up/a.tgz".into()
            }
        );
    }

    #[test]
    fn no_manifest_source_is_refused() {
        let m = messages(with(json!({"manifest": null})));
        assert_eq!(m[0].0, "manifest");
        assert!(m[0]
            .1
            .contains("exactly one of manifest, manifest_path, manifest_uri"));
    }

    #[test]
    fn several_manifest_sources_are_refused_and_listed() {
        let m = messages(with(
            json!({"manifest_path": "m.json", "manifest_uri": "https://x/m.json",
                                     "manifest_signature_uri": "https://x/m.sig"}),
        ));
        assert_eq!(m[0].0, "manifest");
        assert!(
            m[0].1.contains("manifest, manifest_path, manifest_uri"),
            "{m:?}"
        );
    }

    #[test]
    fn manifest_uri_needs_a_signature_uri() {
        let m = messages(with(
            json!({"manifest": null, "manifest_uri": "s3://b/m.json"}),
        ));
        assert_eq!(
            m,
            vec![(
                "manifest_signature_uri".into(),
                "manifest_signature_uri is required when manifest_uri is given".into()
            )]
        );
        let ok = with(json!({"manifest": null, "manifest_uri": "s3://b/m.json",
                             "manifest_signature_uri": "s3://b/m.json.sig"}))
        .unwrap();
        assert_eq!(
            ok.signature,
            Some(SignatureSource::Uri("s3://b/m.json.sig".into()))
        );
    }

    #[test]
    fn manifest_uri_scheme_is_checked() {
        let m = messages(with(json!({"manifest": null, "manifest_uri": "ftp://x/m",
                                     "manifest_signature_uri": "https://x/s"})));
        assert_eq!(m[0].0, "manifest_uri");
    }

    #[test]
    fn manifest_path_cannot_escape() {
        for bad in ["../m.json", "a/../../m.json", "/etc/passwd", "C:\\m.json"] {
            let m = messages(with(json!({"manifest": null, "manifest_path": bad})));
            assert_eq!(m[0].0, "manifest_path", "{bad}");
        }
        let m = messages(with(json!({"manifest_signature_path": "../sig"})));
        assert_eq!(m[0].0, "manifest_signature_path");
    }

    #[test]
    fn inline_manifest_must_be_an_object() {
        let m = messages(with(json!({"manifest": [1, 2]})));
        assert_eq!(
            m,
            vec![(
                "manifest".into(),
                "inline manifest must be a JSON object".into()
            )]
        );
    }

    #[test]
    fn missing_ids_are_all_reported_at_once() {
        let m = messages(with(
            json!({"workspace_id": null, "component_id": "", "assessment_id": "../x"}),
        ));
        let fields: Vec<_> = m.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec!["workspace_id", "component_id", "assessment_id"]
        );
        assert_eq!(m[0].1, "workspace_id is required");
    }

    #[test]
    fn credentials_in_git_urls_are_refused_but_ssh_user_names_are_not() {
        for url in [
            "https://x-access-token:ghp_Planted0123456789@github.com/acme/app.git",
            "https://ghp_Planted0123456789@github.com/acme/app.git",
            "HTTP://oauth2@gitlab.example/acme/app.git",
            "ssh://git:secret@example.invalid/acme/app.git",
            "git://user:pw@example.invalid/app.git",
        ] {
            let m = messages(with(json!({ "git_url": url })));
            assert_eq!(m[0].0, "git_url", "{url}");
            assert!(m[0].1.contains("must not carry credentials"), "{url}");
        }
        for url in [
            "ssh://git@example.invalid/acme/app.git",
            "git@github.com:acme/app.git",
            "https://github.com/acme/app.git?ref=a@b",
            "https://github.com/acme/a@b.git",
        ] {
            assert!(with(json!({ "git_url": url })).is_ok(), "{url}");
        }
    }

    #[test]
    fn a_git_credentials_ref_is_kept_as_a_reference_and_only_in_the_allowed_forms() {
        for reference in [
            "env:CERTUS_ASSURANCE_GIT_CREDENTIAL_ACME",
            "file:acme-token",
        ] {
            let v = with(json!({ "git_credentials_ref": reference })).unwrap();
            let SourceSpec::Git {
                git_credentials_ref,
                ..
            } = &v.source
            else {
                panic!("not a git source");
            };
            assert_eq!(git_credentials_ref.as_deref(), Some(reference));
            let stored = serde_json::to_string(&v).unwrap();
            assert!(stored.contains(reference), "{stored}");
        }
        for (reference, says) in [
            (
                "env:AWS_SECRET_ACCESS_KEY",
                "CERTUS_ASSURANCE_GIT_CREDENTIAL_",
            ),
            ("env:CERTUS_ASSURANCE_TRUST_TOKEN", "no other variable"),
            (
                "env:CERTUS_ASSURANCE_GIT_CREDENTIAL_",
                "CERTUS_ASSURANCE_GIT_CREDENTIAL_",
            ),
            ("env:CERTUS_ASSURANCE_GIT_CREDENTIAL_a-b", "upper-case"),
            ("file:../etc/passwd", "plain file"),
            ("file:..", "plain file"),
            ("file:sub/token", "plain file"),
            ("file:/etc/shadow", "plain file"),
            ("file:", "plain file"),
            ("secretsmanager:", "by name or ARN"),
            ("secretsmanager:a b", "by name or ARN"),
            ("secretsmanager:arn:aws:s3:::bucket", "by name or ARN"),
            (
                "ghp_PastedTokenByMistake0123",
                "expected env:NAME, file:NAME, secretsmanager:",
            ),
        ] {
            let m = messages(with(json!({ "git_credentials_ref": reference })));
            assert_eq!(m.len(), 1, "{reference}: {m:?}");
            assert_eq!(m[0].0, "git_credentials_ref", "{reference}");
            assert!(m[0].1.contains(says), "{reference}: {m:?}");
            assert!(!m[0].1.contains("ghp_Pasted"), "{m:?}");
        }
        for patch in [
            json!({"git_url": "git@github.com:acme/app.git", "git_credentials_ref": "file:t"}),
            json!({"git_url": "ssh://git@example.invalid/app.git", "git_credentials_ref": "file:t"}),
            json!({"source_type": "directory", "git_url": null, "directory_path": "/src",
                   "git_credentials_ref": "file:t"}),
        ] {
            assert_eq!(
                messages(with(patch.clone()))[0].0,
                "git_credentials_ref",
                "{patch}"
            );
        }
    }

    #[test]
    fn a_github_app_reference_names_the_app_the_installation_and_where_its_key_is_kept() {
        assert_eq!(
            GitCredentialsRef::parse("githubapp:12345:678:file:acme-app.pem"),
            Ok(GitCredentialsRef::GitHubApp {
                app_id: 12345,
                installation_id: 678,
                key: Box::new(GitCredentialsRef::File("acme-app.pem".into())),
            })
        );
        for (bad, says) in [
            ("githubapp:12345:678", "the App's key"),
            (
                "githubapp:x:678:file:k",
                "both ids positive decimal numbers",
            ),
            (
                "githubapp:0:678:file:k",
                "both ids positive decimal numbers",
            ),
            ("githubapp:1::file:k", "both ids positive decimal numbers"),
            ("githubapp:1:2:env:HOME", "the App's key: env: must name"),
            (
                "githubapp:1:2:githubapp:1:2:file:k",
                "must be env:, file: or secretsmanager:",
            ),
        ] {
            let err = GitCredentialsRef::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let spec = SourceSpec::Git {
            git_url: "https://github.com/acme/app.git".into(),
            branch: None,
            commit: None,
            git_credentials_ref: Some("githubapp:1:2:secretsmanager:prod/db".into()),
        };
        let refusal = spec.secret_reference_refusal(Some("certus-assurance/git/"));
        assert!(
            refusal.is_some(),
            "the App key's secret is held to the prefix too"
        );
    }

    #[test]
    fn secrets_manager_references_are_kept_and_only_names_under_the_prefix_may_be_read() {
        for id in [
            "certus-assurance/git/acme",
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:certus-assurance/git/acme-AbCdEf",
        ] {
            assert_eq!(
                GitCredentialsRef::parse(&format!("secretsmanager:{id}")),
                Ok(GitCredentialsRef::SecretsManager(id.to_string()))
            );
            assert_eq!(
                check_secret_prefix(id, Some("certus-assurance/git/")),
                Ok(())
            );
        }
        for id in [
            "other-app/db-password",
            "certus-assurance/git",
            "arn:aws:secretsmanager:eu-west-1:000000000000:secret:other-app/key",
            "certus-assurance/git/../other",
        ] {
            let err = check_secret_prefix(id, Some("certus-assurance/git/")).unwrap_err();
            assert!(err.contains("only secrets named under"), "{id}: {err}");
        }
        let off = check_secret_prefix("certus-assurance/git/acme", None).unwrap_err();
        assert!(off.contains("not available here"), "{off}");
        assert!(check_secret_prefix("x", Some("")).is_err());
    }

    #[test]
    fn a_stored_git_source_without_credentials_reads_and_writes_as_before() {
        let old = json!({"source_type": "git", "git_url": "https://example.invalid/r.git",
                         "branch": "main", "commit": null});
        let spec: SourceSpec = serde_json::from_value(old.clone()).unwrap();
        assert!(matches!(
            &spec,
            SourceSpec::Git {
                git_credentials_ref: None,
                ..
            }
        ));
        assert_eq!(serde_json::to_value(&spec).unwrap(), old);
    }

    #[test]
    fn hostile_git_fields_are_refused() {
        assert_eq!(
            messages(with(json!({"git_url": "--upload-pack=touch /tmp/x"})))[0].0,
            "git_url"
        );
        assert_eq!(
            messages(with(json!({"git_url": "ext::sh -c touch% /tmp/pwned"})))[0].0,
            "git_url"
        );
        assert_eq!(messages(with(json!({"branch": "-b"})))[0].0, "branch");
        assert_eq!(messages(with(json!({"branch": "a..b"})))[0].0, "branch");
        assert_eq!(messages(with(json!({"commit": "HEAD~1"})))[0].0, "commit");
        assert_eq!(messages(with(json!({"profile": "--all"})))[0].0, "profile");
    }

    #[test]
    fn several_signature_sources_are_refused() {
        let m = messages(with(
            json!({"manifest_signature": "abc", "manifest_signature_path": "m.sig"}),
        ));
        assert_eq!(m[0].0, "manifest_signature");
    }

    #[test]
    fn unknown_fields_are_refused_by_the_parser() {
        let err = serde_json::from_value::<SubmitRequest>(json!({"workspace": "x"})).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `workspace`"),
            "{err}"
        );
    }
}
