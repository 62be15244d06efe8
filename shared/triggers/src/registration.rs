//! Per-repository registrations (a JSON or TOML file): which repository, which secret authenticates its
//! deliveries, which branches trigger, and the scan a push starts (clone URL, manifest and signature,
//! profile, workspace/component/assessment). Loading validates everything and names each bad field.

use std::fmt;
use std::path::Path;

use certus_core::ids::derived_test_id;
use certus_core::request::{SubmitRequest, ValidatedSubmission};
use certus_core::{CoreError, FieldError};
use serde::{Deserialize, Serialize};

use crate::branches::BranchPattern;
use crate::error::{Result, TriggerError};
use crate::secret::WebhookSecret;

const MAX_REGISTRATIONS_FILE: u64 = 1024 * 1024;
const MAX_ID_LEN: usize = 64;
const MAX_REPOSITORY_LEN: usize = 512;

/// Where pushes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Github,
    Gitlab,
    Codecommit,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Codecommit => "codecommit",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Github, Self::Gitlab, Self::Codecommit]
            .into_iter()
            .find(|p| p.as_str() == text)
    }

    /// GitHub and GitLab repository paths are case-insensitive; CodeCommit names are not.
    fn same_repository(self, a: &str, b: &str) -> bool {
        match self {
            Self::Github | Self::Gitlab => a.eq_ignore_ascii_case(b),
            Self::Codecommit => a == b,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registration as written in the file (everything optional so that validation can name what is
/// missing).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistration {
    id: Option<String>,
    provider: Option<String>,
    repository: Option<String>,
    clone_url: Option<String>,
    secret: Option<String>,
    branches: Option<Vec<String>>,
    manifest_path: Option<String>,
    manifest_uri: Option<String>,
    manifest_signature_path: Option<String>,
    manifest_signature_uri: Option<String>,
    profile: Option<String>,
    workspace_id: Option<String>,
    component_id: Option<String>,
    assessment_id: Option<String>,
    requested_by: Option<String>,
    /// The tenant the started jobs belong to: the API shows them to that tenant's credentials only.
    tenant: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationsFile {
    registrations: Vec<RawRegistration>,
}

impl RegistrationsFile {
    fn parse(text: &str, format: Format) -> Result<Self> {
        let parse_error = |reason: String| TriggerError::RegistrationsFile {
            path: "<text>".into(),
            reason,
        };
        match format {
            Format::Json => serde_json::from_str(text).map_err(|e| parse_error(e.to_string())),
            Format::Toml => toml::from_str(text).map_err(|e| parse_error(e.to_string())),
        }
    }
}

/// A validated registration.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub provider: Provider,
    /// GitHub `full_name`, GitLab `path_with_namespace`, CodeCommit repository name or ARN.
    pub repository: String,
    pub branches: Vec<BranchPattern>,
    /// The tenant its jobs are recorded for; without one they are visible to no API caller.
    pub tenant: Option<String>,
    secret: Option<WebhookSecret>,
    /// The submission every push starts, but for its branch and commit.
    template: SubmitRequest,
}

impl Registration {
    pub fn triggers_on(&self, branch: &str) -> bool {
        self.branches.iter().any(|p| p.matches(branch))
    }

    /// The submission for a push of `commit` to `branch`, validated as an API submission is.
    pub fn submission(&self, branch: &str, commit: &str) -> Result<ValidatedSubmission> {
        let request = SubmitRequest {
            branch: Some(branch.to_string()),
            commit: Some(commit.to_string()),
            ..self.template.clone()
        };
        request.validate().map_err(|e| match e {
            CoreError::Validation(errors) => TriggerError::Submission(errors),
            other => TriggerError::Core(other),
        })
    }

    /// The job a push of `commit` starts: the same registration, repository and commit always name the
    /// same job, whichever branch or delivery brought it.
    pub fn test_id_for(&self, commit: &str) -> String {
        derived_test_id(&format!(
            "push\n{}\n{}\n{}\n{}",
            self.provider,
            self.id,
            self.repository.to_ascii_lowercase(),
            commit.to_ascii_lowercase()
        ))
    }

    pub(crate) fn secret(&self) -> Option<&WebhookSecret> {
        self.secret.as_ref()
    }

    /// The CodeCommit repository name (the last part of an ARN).
    fn codecommit_name(&self) -> &str {
        self.repository
            .rsplit(':')
            .next()
            .unwrap_or(&self.repository)
    }
}

/// Every registration of a deployment.
#[derive(Debug, Clone, Default)]
pub struct Registrations {
    entries: Vec<Registration>,
}

impl Registrations {
    /// Reads a `.json` or `.toml` file; secret files are looked up relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let file_error = |reason: String| TriggerError::RegistrationsFile {
            path: path.display().to_string(),
            reason,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| file_error(e.to_string()))?
            .len();
        if size > MAX_REGISTRATIONS_FILE {
            return Err(file_error(format!(
                "larger than {MAX_REGISTRATIONS_FILE} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let format = Format::of(path)
            .ok_or_else(|| file_error("the file name must end in .json or .toml".into()))?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, format, base_dir).map_err(|e| match e {
            TriggerError::RegistrationsFile { reason, .. } => file_error(reason),
            other => other,
        })
    }

    /// The `secret` references of a registrations text as written, in order, nothing resolved or checked: a
    /// loader fetches the files they name before [`Registrations::load`] (registrations kept in S3).
    pub fn secret_references(text: &str, format: Format) -> Result<Vec<String>> {
        Ok(RegistrationsFile::parse(text, format)?
            .registrations
            .into_iter()
            .filter_map(|raw| raw.secret)
            .collect())
    }

    /// Parses and validates registrations given as text.
    pub fn parse(text: &str, format: Format, base_dir: &Path) -> Result<Self> {
        let file = RegistrationsFile::parse(text, format)?;
        let mut errors = Vec::new();
        let mut entries: Vec<Registration> = Vec::new();
        for (index, raw) in file.registrations.into_iter().enumerate() {
            let at = |field: &str| format!("registrations[{index}].{field}");
            let Some(registration) = validate(raw, base_dir, &at, &mut errors) else {
                continue;
            };
            if let Some(earlier) = entries.iter().find(|e| e.id == registration.id) {
                errors.push(FieldError::new(
                    at("id"),
                    format!("'{}' is used by another registration too", earlier.id),
                ));
            } else if let Some(earlier) = entries.iter().find(|e| registration.same_repository(e)) {
                errors.push(FieldError::new(
                    at("repository"),
                    format!(
                        "{} repository '{}' is already registered by '{}'",
                        registration.provider, registration.repository, earlier.id
                    ),
                ));
            } else {
                entries.push(registration);
            }
        }
        if errors.is_empty() {
            Ok(Self { entries })
        } else {
            Err(TriggerError::Registrations(errors))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The registration of a GitHub or GitLab repository.
    pub fn find(&self, provider: Provider, repository: &str) -> Option<&Registration> {
        self.entries
            .iter()
            .find(|r| r.provider == provider && provider.same_repository(&r.repository, repository))
    }

    /// The registration of a CodeCommit repository: one registered by ARN must match the event's ARN,
    /// one registered by name its repository name.
    pub fn find_codecommit(&self, name: &str, arns: &[String]) -> Option<&Registration> {
        self.entries.iter().find(|r| {
            r.provider == Provider::Codecommit
                && if r.repository.starts_with("arn:") {
                    arns.contains(&r.repository) && r.codecommit_name() == name
                } else {
                    r.repository == name
                }
        })
    }

    /// The registrations of `provider`, for checking a delivery's signature before its body is parsed.
    pub(crate) fn of(&self, provider: Provider) -> impl Iterator<Item = &Registration> {
        self.entries.iter().filter(move |r| r.provider == provider)
    }
}

impl Registration {
    fn same_repository(&self, other: &Registration) -> bool {
        self.provider == other.provider
            && match self.provider {
                Provider::Codecommit => self.codecommit_name() == other.codecommit_name(),
                provider => provider.same_repository(&self.repository, &other.repository),
            }
    }
}

/// How a registrations text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
}

impl Format {
    /// By the file name's extension: `.json` or `.toml`.
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(Self::Json),
            Some("toml") => Some(Self::Toml),
            _ => None,
        }
    }
}

fn validate(
    raw: RawRegistration,
    base_dir: &Path,
    at: &dyn Fn(&str) -> String,
    errors: &mut Vec<FieldError>,
) -> Option<Registration> {
    let before = errors.len();
    let id = required(errors, at, "id", raw.id);
    if let Some(id) = &id {
        if id.len() > MAX_ID_LEN
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            errors.push(FieldError::new(
                at("id"),
                "must be 1-64 characters of letters, digits, '.', '_' or '-'",
            ));
        }
    }
    let provider = required(errors, at, "provider", raw.provider).and_then(|p| {
        let parsed = Provider::parse(&p);
        if parsed.is_none() {
            errors.push(FieldError::new(
                at("provider"),
                format!(
                    "unknown provider '{}': expected github, gitlab or codecommit",
                    p.chars().take(40).collect::<String>()
                ),
            ));
        }
        parsed
    });
    let repository = required(errors, at, "repository", raw.repository);
    if let (Some(provider), Some(repository)) = (provider, &repository) {
        if let Err(reason) = check_repository(provider, repository) {
            errors.push(FieldError::new(at("repository"), reason));
        }
    }
    let clone_url = required(errors, at, "clone_url", raw.clone_url);
    let secret = match (provider, raw.secret) {
        (Some(Provider::Codecommit), Some(_)) => {
            errors.push(FieldError::new(
                at("secret"),
                "CodeCommit events come through EventBridge (authenticated by IAM) and take no secret",
            ));
            None
        }
        (Some(Provider::Codecommit), None) | (None, _) => None,
        (Some(_), None) => {
            errors.push(FieldError::new(
                at("secret"),
                "secret is required: env://NAME or the path of a file holding the webhook secret",
            ));
            None
        }
        (Some(_), Some(reference)) => match WebhookSecret::resolve(&reference, base_dir) {
            Ok(secret) => Some(secret),
            Err(reason) => {
                errors.push(FieldError::new(at("secret"), reason));
                None
            }
        },
    };
    let branches = match raw.branches {
        None => {
            errors.push(FieldError::new(
                at("branches"),
                "branches is required: the branch names or patterns whose pushes start scans",
            ));
            Vec::new()
        }
        Some(list) if list.is_empty() => {
            errors.push(FieldError::new(
                at("branches"),
                "must name at least one branch or pattern",
            ));
            Vec::new()
        }
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                BranchPattern::parse(p)
                    .map_err(|reason| {
                        errors.push(FieldError::new(at(&format!("branches[{i}]")), reason));
                    })
                    .ok()
            })
            .collect(),
    };
    let template = SubmitRequest {
        workspace_id: raw.workspace_id,
        component_id: raw.component_id,
        assessment_id: raw.assessment_id,
        source_type: Some("git".into()),
        git_url: clone_url,
        requested_by: raw
            .requested_by
            .or_else(|| id.as_ref().map(|id| format!("push-trigger/{id}"))),
        profile: raw.profile,
        manifest_path: raw.manifest_path,
        manifest_uri: raw.manifest_uri,
        manifest_signature_path: raw.manifest_signature_path,
        manifest_signature_uri: raw.manifest_signature_uri,
        ..SubmitRequest::default()
    };
    // The scan a push starts must be a valid submission whatever its branch and commit.
    if let Err(CoreError::Validation(problems)) = template.clone().validate() {
        errors.extend(problems.into_iter().map(|p| {
            let field = if p.field == "git_url" {
                "clone_url"
            } else {
                p.field.as_str()
            };
            FieldError::new(at(field), p.message.replace("git_url", "clone_url"))
        }));
    }
    if raw.tenant.as_deref().is_some_and(|t| t.trim().is_empty()) {
        errors.push(FieldError::new(at("tenant"), "must not be empty"));
    }
    if errors.len() > before {
        return None;
    }
    Some(Registration {
        id: id?,
        provider: provider?,
        repository: repository?,
        branches,
        tenant: raw.tenant,
        secret,
        template,
    })
}

fn required(
    errors: &mut Vec<FieldError>,
    at: &dyn Fn(&str) -> String,
    field: &str,
    value: Option<String>,
) -> Option<String> {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(v),
        None => {
            errors.push(FieldError::new(at(field), format!("{field} is required")));
            None
        }
    }
}

fn check_repository(provider: Provider, repository: &str) -> std::result::Result<(), String> {
    if repository.len() > MAX_REPOSITORY_LEN
        || repository
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "must be at most {MAX_REPOSITORY_LEN} characters without whitespace or control characters"
        ));
    }
    match provider {
        Provider::Github | Provider::Gitlab => {
            let parts: Vec<&str> = repository.split('/').collect();
            let nested_ok = provider == Provider::Gitlab || parts.len() == 2;
            if parts.len() < 2 || !nested_ok || parts.iter().any(|p| p.is_empty()) {
                return Err(match provider {
                    Provider::Github => "must be the repository's full_name, owner/name".into(),
                    _ => {
                        "must be the project's path_with_namespace, group[/subgroup]/project".into()
                    }
                });
            }
            Ok(())
        }
        Provider::Codecommit => {
            let name = match repository.strip_prefix("arn:") {
                Some(rest) => {
                    let parts: Vec<&str> = rest.split(':').collect();
                    let shaped = parts.len() == 5
                        && parts[0].starts_with("aws")
                        && parts[1] == "codecommit"
                        && !parts[2].is_empty()
                        && parts[3].len() == 12
                        && parts[3].bytes().all(|b| b.is_ascii_digit());
                    if !shaped {
                        return Err(
                            "an ARN must read arn:aws:codecommit:<region>:<12-digit account>:<name>"
                                .into(),
                        );
                    }
                    parts[4]
                }
                None => repository,
            };
            if name.is_empty()
                || name.len() > 100
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return Err(
                    "a CodeCommit repository name is 1-100 letters, digits, '.', '_' or '-'".into(),
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dir_with_secret() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("hook.secret"),
            "a-webhook-secret-for-tests\n",
        )
        .unwrap();
        dir
    }

    fn github() -> serde_json::Value {
        json!({
            "id": "payments", "provider": "github", "repository": "Acme/Payments",
            "clone_url": "https://github.com/acme/payments.git", "secret": "hook.secret",
            "branches": ["main", "release/*"], "manifest_path": ".certus/manifest.json",
            "manifest_signature_path": ".certus/manifest.json.sig",
            "workspace_id": "ws-acme", "component_id": "payments", "assessment_id": "push"
        })
    }

    fn parse_json(entries: Vec<serde_json::Value>, dir: &Path) -> Result<Registrations> {
        let text = json!({ "registrations": entries }).to_string();
        Registrations::parse(&text, Format::Json, dir)
    }

    fn problems(result: Result<Registrations>) -> Vec<(String, String)> {
        match result {
            Err(TriggerError::Registrations(errors)) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_registration_loads_and_builds_the_submission() {
        let dir = dir_with_secret();
        let registrations = parse_json(vec![github()], dir.path()).unwrap();
        let r = registrations
            .find(Provider::Github, "acme/payments")
            .unwrap();
        assert!(r.triggers_on("main") && r.triggers_on("release/2.0") && !r.triggers_on("dev"));
        let commit = "a".repeat(40);
        let s = r.submission("release/2.0", &commit).unwrap();
        assert_eq!(
            s.source,
            certus_core::request::SourceSpec::Git {
                git_url: "https://github.com/acme/payments.git".into(),
                branch: Some("release/2.0".into()),
                commit: Some(commit.clone()),
                git_credentials_ref: None,
            }
        );
        assert_eq!(s.requested_by.as_deref(), Some("push-trigger/payments"));
        assert_eq!(s.profile, "light");
        assert!(r.secret().unwrap().equals(b"a-webhook-secret-for-tests"));
        assert_eq!(
            r.test_id_for(&commit),
            r.test_id_for(&commit.to_uppercase())
        );
        assert_ne!(r.test_id_for(&commit), r.test_id_for(&"b".repeat(40)));
    }

    #[test]
    fn the_tenant_of_started_jobs_is_read_and_an_empty_one_refused() {
        let dir = dir_with_secret();
        let registrations = parse_json(vec![github()], dir.path()).unwrap();
        let r = registrations
            .find(Provider::Github, "acme/payments")
            .unwrap();
        assert_eq!(r.tenant, None);
        let mut entry = github();
        entry["tenant"] = serde_json::json!("acme");
        let registrations = parse_json(vec![entry.clone()], dir.path()).unwrap();
        let r = registrations
            .find(Provider::Github, "acme/payments")
            .unwrap();
        assert_eq!(r.tenant.as_deref(), Some("acme"));
        entry["tenant"] = serde_json::json!(" ");
        assert_eq!(
            problems(parse_json(vec![entry], dir.path())),
            vec![(
                "registrations[0].tenant".to_string(),
                "must not be empty".to_string()
            )]
        );
    }

    #[test]
    fn toml_registrations_load_from_a_file() {
        let dir = dir_with_secret();
        let path = dir.path().join("triggers.toml");
        std::fs::write(
            &path,
            r#"
[[registrations]]
id = "infra"
provider = "codecommit"
repository = "arn:aws:codecommit:eu-west-1:123456789012:infra"
clone_url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/infra"
branches = ["main"]
manifest_uri = "s3://manifests/infra.json"
manifest_signature_uri = "s3://manifests/infra.json.sig"
workspace_id = "ws-ops"
component_id = "infra"
assessment_id = "push"
"#,
        )
        .unwrap();
        let registrations = Registrations::load(&path).unwrap();
        let arn = "arn:aws:codecommit:eu-west-1:123456789012:infra".to_string();
        assert!(registrations.find_codecommit("infra", &[arn]).is_some());
        let other = "arn:aws:codecommit:eu-west-1:999999999999:infra".to_string();
        assert!(registrations.find_codecommit("infra", &[other]).is_none());
    }

    #[test]
    fn every_bad_field_is_named() {
        let dir = dir_with_secret();
        let mut bad = github();
        bad["provider"] = json!("bitbucket");
        bad["secret"] = json!("missing.secret");
        let m = problems(parse_json(vec![bad], dir.path()));
        let fields: Vec<&str> = m.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["registrations[0].provider"], "{m:?}");

        let mut bad = github();
        bad["secret"] = json!("missing.secret");
        bad["branches"] = json!(["ok", "bad branch"]);
        bad["clone_url"] = json!("ext::sh -c evil");
        bad["manifest_uri"] = json!("https://x/m.json");
        bad["workspace_id"] = json!("../x");
        let m = problems(parse_json(vec![bad], dir.path()));
        let fields: Vec<&str> = m.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "registrations[0].secret",
                "registrations[0].branches[1]",
                "registrations[0].manifest",
                "registrations[0].manifest_signature_uri",
                "registrations[0].workspace_id",
                "registrations[0].clone_url",
            ],
            "{m:?}"
        );
        assert!(m[5].1.contains("remote helper"), "{m:?}");
    }

    #[test]
    fn secret_references_are_listed_as_written_without_resolving_them() {
        let text = r#"
            [[registrations]]
            id = "a"
            secret = "webhook-secrets/a.secret"
            [[registrations]]
            id = "b"
            [[registrations]]
            id = "c"
            secret = "env://HOOK"
        "#;
        assert_eq!(
            Registrations::secret_references(text, Format::Toml).unwrap(),
            ["webhook-secrets/a.secret", "env://HOOK"]
        );
        assert!(Registrations::secret_references("registrations = 1", Format::Toml).is_err());
        assert_eq!(Format::of(Path::new("x/t.json")), Some(Format::Json));
        assert_eq!(Format::of(Path::new("t.yaml")), None);
    }

    #[test]
    fn missing_fields_and_secrets_are_reported() {
        let dir = dir_with_secret();
        let m = problems(parse_json(
            vec![json!({"provider": "gitlab", "repository": "group/sub/project"})],
            dir.path(),
        ));
        let fields: Vec<&str> = m.iter().map(|(f, _)| f.as_str()).collect();
        for expected in [
            "registrations[0].id",
            "registrations[0].clone_url",
            "registrations[0].secret",
            "registrations[0].branches",
            "registrations[0].manifest",
            "registrations[0].workspace_id",
        ] {
            assert!(fields.contains(&expected), "{expected} not in {m:?}");
        }
        let mut codecommit = github();
        codecommit["provider"] = json!("codecommit");
        codecommit["repository"] = json!("payments");
        let m = problems(parse_json(vec![codecommit], dir.path()));
        assert_eq!(m[0].0, "registrations[0].secret");
        assert!(m[0].1.contains("take no secret"), "{m:?}");
    }

    #[test]
    fn repositories_and_ids_must_be_unique_and_well_formed() {
        let dir = dir_with_secret();
        let mut twin = github();
        twin["id"] = json!("payments-again");
        twin["repository"] = json!("acme/PAYMENTS");
        let m = problems(parse_json(vec![github(), twin], dir.path()));
        assert_eq!(m[0].0, "registrations[1].repository");
        assert!(m[0].1.contains("already registered by 'payments'"), "{m:?}");

        let m = problems(parse_json(vec![github(), github()], dir.path()));
        assert_eq!(m[0].0, "registrations[1].id");

        for repository in ["acme", "acme/x/y", "/x", "acme/ x"] {
            let mut bad = github();
            bad["repository"] = json!(repository);
            let m = problems(parse_json(vec![bad], dir.path()));
            assert_eq!(m[0].0, "registrations[0].repository", "{repository}");
        }
        let mut bad = github();
        bad["provider"] = json!("codecommit");
        bad["secret"] = serde_json::Value::Null;
        bad["repository"] = json!("arn:aws:s3:::bucket");
        let m = problems(parse_json(vec![bad], dir.path()));
        assert_eq!(m[0].0, "registrations[0].repository");
    }

    #[test]
    fn the_example_registrations_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(
            dir.path().join("secrets/gitlab-platform.token"),
            "example-gitlab-token-0123",
        )
        .unwrap();
        // Only this test reads the variable the example names.
        std::env::set_var(
            "CERTUS_WEBHOOK_SECRET_PAYMENTS",
            "example-github-secret-0123",
        );
        let text = include_str!("../../../examples/push-triggers.toml");
        let registrations = Registrations::parse(text, Format::Toml, dir.path()).unwrap();
        assert_eq!(registrations.len(), 3);
        let gitlab = registrations
            .find(Provider::Gitlab, "acme/platform/api")
            .unwrap();
        assert!(gitlab.triggers_on("hotfix/2026/11") && !gitlab.triggers_on("dev"));
        assert!(registrations
            .find_codecommit(
                "infra",
                &["arn:aws:codecommit:eu-west-1:123456789012:infra".to_string()]
            )
            .is_some());
    }

    #[test]
    fn unknown_fields_and_file_types_are_refused() {
        let dir = dir_with_secret();
        let mut extra = github();
        extra["secrett"] = json!("x");
        let err = parse_json(vec![extra], dir.path()).unwrap_err().to_string();
        assert!(err.contains("unknown field `secrett`"), "{err}");
        let path = dir.path().join("triggers.yaml");
        std::fs::write(&path, "registrations: []").unwrap();
        let err = Registrations::load(&path).unwrap_err().to_string();
        assert!(err.contains(".json or .toml"), "{err}");
    }
}
