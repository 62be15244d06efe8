//! Credentials for a private repository, named by a submission's `git_credentials_ref`: a variable of the
//! service's environment (`env:CERTUS_ASSURANCE_GIT_CREDENTIAL_<NAME>`), a plain file in the operator's
//! credentials directory (`file:<NAME>`), or on AWS a Secrets Manager secret under the deployment's prefix
//! (`secretsmanager:<name or ARN>`, read through the [`SecretStore`] port so this crate has no AWS types). The secret — a token, or `user:token` — is read only when git is
//! about to fetch, and is handed to git the way CodeCommit credentials are ([`crate::git`]): through a
//! credential helper scoped to the submission's own host that reads it from that git process's environment.
//! It never reaches argv, the URL, a file in the workspace, a log or an error message.
//!
//! `githubapp:<app id>:<installation id>:<key reference>` names a GitHub App instead: the key reference (one
//! of the forms above) holds the App's PEM private key, from which an RS256 App JWT is signed and exchanged
//! for an installation token at `POST {api}/app/installations/{id}/access_tokens` ([`GitHubApi`], through
//! the outbound-address policy of `certus-fetch`); that token is used as `x-access-token:<token>` like any
//! other, for this fetch only.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use certus_core::error::{CoreError, Result};
use certus_core::request::{check_secret_prefix, GitCredentialsRef, GIT_CREDENTIALS_REF};
use certus_fetch::{FetchPolicy, HttpsFetcher};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};

/// The user name sent with a token given alone (GitHub, Gitea and others take any name with a token).
const TOKEN_USER: &str = "x-access-token";
/// A credentials file larger than this is not a token.
const MAX_SECRET_BYTES: u64 = 16 * 1024;

/// The GitHub API `githubapp:` references mint installation tokens at.
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";
/// The App JWT's lifetime: GitHub accepts at most ten minutes; its `iat` is set a minute back for clock skew.
const APP_JWT_SECONDS: i64 = 9 * 60;
const APP_JWT_SKEW_SECONDS: i64 = 60;
/// An installation-token answer larger than this is not one.
const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

/// Where GitHub App installation tokens are minted: the API's base URL
/// (`CERTUS_ASSURANCE_GITHUB_API_URL`, default [`DEFAULT_GITHUB_API`]) and the fetch policy the request is
/// held to (public https only unless the operator allow-lists a host).
#[derive(Debug, Clone)]
pub struct GitHubApi {
    pub base: String,
    pub fetch: FetchPolicy,
}

impl Default for GitHubApi {
    fn default() -> Self {
        Self {
            base: DEFAULT_GITHUB_API.to_string(),
            fetch: FetchPolicy::default(),
        }
    }
}

/// Reads the string of a named secret (AWS Secrets Manager on AWS). Called just before git runs; what it
/// returns is used for that fetch only and never stored.
#[async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The secret's string; an error must not contain it.
    async fn secret_string(&self, id: &str) -> Result<String>;
}

/// The secrets `secretsmanager:` references may name: a store, and the name prefix every such secret must
/// have (`CERTUS_ASSURANCE_GIT_SECRETS_PREFIX`), checked before the store is asked anything.
#[derive(Debug, Clone)]
pub struct NamedSecrets {
    pub store: Arc<dyn SecretStore>,
    pub prefix: String,
}

/// A user name and password read from a credentials reference. `Debug` shows neither.
pub(crate) struct Secret {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn refused(reason: impl std::fmt::Display) -> CoreError {
    CoreError::Source(format!("{GIT_CREDENTIALS_REF}: {reason}"))
}

/// Reads the secret `reference` names: `env:` from this process's environment, `file:` from `dir` only
/// (refused when `dir` is unset, or the file is a link or not a regular file), `secretsmanager:` from
/// `secrets` only, and only a name under its prefix (refused, before any request, without them: `certus scan`
/// and `certus serve` run without AWS).
pub(crate) async fn read(
    reference: &str,
    dir: Option<&Path>,
    secrets: Option<&NamedSecrets>,
    github: &GitHubApi,
) -> Result<Secret> {
    match GitCredentialsRef::parse(reference).map_err(refused)? {
        GitCredentialsRef::GitHubApp {
            app_id,
            installation_id,
            key,
        } => {
            let pem = read_text(*key, dir, secrets).await?;
            let token = installation_token(github, app_id, installation_id, &pem).await?;
            Ok(Secret {
                username: TOKEN_USER.to_string(),
                password: token,
            })
        }
        other => parse(&read_text(other, dir, secrets).await?),
    }
}

/// The text a non-App reference names.
async fn read_text(
    reference: GitCredentialsRef,
    dir: Option<&Path>,
    secrets: Option<&NamedSecrets>,
) -> Result<String> {
    Ok(match reference {
        GitCredentialsRef::GitHubApp { .. } => {
            return Err(refused(
                "githubapp: the key reference must be env:, file: or secretsmanager:",
            ))
        }
        GitCredentialsRef::Env(name) => std::env::var(&name)
            .map_err(|_| refused(format!("env:{name} is not set on this service")))?,
        GitCredentialsRef::File(name) => {
            let dir = dir.ok_or_else(|| {
                refused(
                    "file: references are not enabled here (CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR is \
                     not set)",
                )
            })?;
            read_file(&dir.join(&name), &name)?
        }
        GitCredentialsRef::SecretsManager(id) => {
            check_secret_prefix(&id, secrets.map(|s| s.prefix.as_str())).map_err(refused)?;
            let store = secrets.map(|s| &s.store).ok_or_else(|| {
                refused("secretsmanager: references are not available here; use env: or file:")
            })?;
            store.secret_string(&id).await?
        }
    })
}

#[derive(serde::Serialize)]
struct AppClaims {
    iat: i64,
    exp: i64,
    iss: String,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    token: Option<serde_json::Value>,
    expires_at: Option<serde_json::Value>,
}

/// Signs the App JWT with `pem` and exchanges it for the installation's token. Errors name the step and
/// the field, never the key, the JWT or the answer's body.
async fn installation_token(
    github: &GitHubApi,
    app_id: u64,
    installation_id: u64,
    pem: &str,
) -> Result<String> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| refused("githubapp: the App's key is not an RSA private key in PEM form"))?;
    let now = chrono::Utc::now().timestamp();
    let claims = AppClaims {
        iat: now - APP_JWT_SKEW_SECONDS,
        exp: now + APP_JWT_SECONDS,
        iss: app_id.to_string(),
    };
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|_| refused("githubapp: the App's JWT could not be signed with its key"))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    headers.insert(USER_AGENT, HeaderValue::from_static("certus-assurance"));
    let bearer = HeaderValue::from_str(&format!("Bearer {jwt}"))
        .map_err(|_| refused("githubapp: the App's JWT is not a valid header value"))?;
    headers.insert(AUTHORIZATION, bearer);
    let uri = format!(
        "{}/app/installations/{installation_id}/access_tokens",
        github.base.trim_end_matches('/')
    );
    let unavailable = |why: String| {
        refused(format!(
            "githubapp: no installation token for installation {installation_id} of App {app_id} \
             ({why})"
        ))
    };
    let fetcher =
        HttpsFetcher::new(github.fetch.clone()).map_err(|e| unavailable(e.to_string()))?;
    let body = fetcher
        .post_bytes(&uri, headers, Vec::new(), MAX_TOKEN_ANSWER_BYTES)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    token_from_answer(&body).map_err(|why| unavailable(why.into()))
}

/// The installation token in GitHub's answer, checked: a JSON object with a non-empty `token` string (no
/// spaces or control characters) and an RFC 3339 `expires_at`. The reason names the field, never its value.
fn token_from_answer(body: &[u8]) -> std::result::Result<String, &'static str> {
    let answer: TokenAnswer =
        serde_json::from_slice(body).map_err(|_| "the answer is not a JSON object")?;
    let token = match answer.token {
        Some(serde_json::Value::String(token))
            if !token.is_empty()
                && token.len() <= 1024
                && !token.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            token
        }
        _ => return Err("the answer's 'token' is missing or not a token string"),
    };
    match answer.expires_at {
        Some(serde_json::Value::String(at))
            if chrono::DateTime::parse_from_rfc3339(&at).is_ok() =>
        {
            Ok(token)
        }
        _ => Err("the answer's 'expires_at' is missing or not an RFC 3339 time"),
    }
}

fn read_file(path: &Path, name: &str) -> Result<String> {
    let unreadable = || {
        refused(format!(
            "file:{name} cannot be read from the credentials directory"
        ))
    };
    let not_regular = || {
        refused(format!(
            "file:{name} is not a regular file in the credentials directory"
        ))
    };
    let meta = std::fs::symlink_metadata(path).map_err(|_| unreadable())?;
    if !meta.file_type().is_file() {
        return Err(not_regular());
    }
    // Opened without following a link, and checked again once open, so a link swapped in after the check
    // above is not followed either.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|_| not_regular())?;
    if !file.metadata().map_err(|_| unreadable())?.is_file() {
        return Err(not_regular());
    }
    let mut text = String::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| unreadable())?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(refused(format!("file:{name} is too large for a token")));
    }
    Ok(text)
}

/// A token alone, or `user:token`, with one trailing line break allowed. A control character anywhere else
/// would let the secret inject lines into git's credential protocol, so it is refused.
fn parse(text: &str) -> Result<Secret> {
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(refused(
            "the secret must be a token or user:token on one line",
        ));
    }
    let (username, password) = match text.split_once(':') {
        Some((user, token)) if !user.is_empty() && !token.is_empty() => (user, token),
        Some(_) => {
            return Err(refused(
                "the secret must be a token or user:token, neither part empty",
            ))
        }
        None => (TOKEN_USER, text),
    };
    Ok(Secret {
        username: username.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_alone_or_a_user_and_token_on_one_line() {
        let alone = parse("ghp_abc\n").unwrap();
        assert_eq!(
            (alone.username.as_str(), alone.password.as_str()),
            (TOKEN_USER, "ghp_abc")
        );
        let pair = parse("ci-bot:glpat:x\r\n").unwrap();
        assert_eq!(
            (pair.username.as_str(), pair.password.as_str()),
            ("ci-bot", "glpat:x")
        );
        assert_eq!(format!("{pair:?}"), "Secret(<redacted>)");
        for bad in ["", "\n", "tok\nhost=evil", "user:", ":tok", "a\u{0}b"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("git_credentials_ref: "), "{bad:?}: {err}");
            assert!(!err.contains("evil"), "{err}");
        }
    }

    #[tokio::test]
    async fn files_are_read_only_from_the_configured_directory_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join("acme"), "bot:s3cr3t-value\n").unwrap();
        std::fs::write(dir.path().join("outside"), "outside-secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), creds.join("link")).unwrap();
        std::fs::create_dir(creds.join("sub")).unwrap();

        let secret = read("file:acme", Some(&creds), None, &GitHubApi::default())
            .await
            .unwrap();
        assert_eq!(secret.password, "s3cr3t-value");

        let unset = read("file:acme", None, None, &GitHubApi::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            unset.contains("CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR is not set"),
            "{unset}"
        );
        for (reference, says) in [
            ("file:link", "not a regular file"),
            ("file:sub", "not a regular file"),
            ("file:missing", "cannot be read"),
            ("file:../outside", "plain file"),
            ("env:HOME", "CERTUS_ASSURANCE_GIT_CREDENTIAL_"),
            (
                "secretsmanager:certus-assurance/git/x",
                "not available here",
            ),
        ] {
            let err = read(reference, Some(&creds), None, &GitHubApi::default())
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{reference}: {err}");
            assert!(!err.contains("secret-"), "{reference}: {err}");
        }
    }

    #[test]
    fn an_installation_token_answer_needs_a_token_and_its_expiry_and_is_never_echoed() {
        assert_eq!(
            token_from_answer(br#"{"token":"ghs_abc","expires_at":"2030-01-01T00:00:00Z"}"#),
            Ok("ghs_abc".to_string())
        );
        for (body, says) in [
            (&br#"<html>ghs_leak</html>"#[..], "not a JSON object"),
            (br#"["ghs_leak"]"#, "not a JSON object"),
            (br#"{"expires_at":"2030-01-01T00:00:00Z"}"#, "'token'"),
            (
                br#"{"token":42,"expires_at":"2030-01-01T00:00:00Z"}"#,
                "'token'",
            ),
            (
                br#"{"token":"ghs_leak\nhost=x","expires_at":"2030-01-01T00:00:00Z"}"#,
                "'token'",
            ),
            (br#"{"token":"ghs_leak"}"#, "'expires_at'"),
            (
                br#"{"token":"ghs_leak","expires_at":"soon"}"#,
                "'expires_at'",
            ),
        ] {
            let why = token_from_answer(body).unwrap_err();
            assert!(why.contains(says) && !why.contains("ghs_leak"), "{why}");
        }
    }

    #[tokio::test]
    async fn an_unset_variable_is_named_without_reading_any_other() {
        let err = read(
            "env:CERTUS_ASSURANCE_GIT_CREDENTIAL_NEVER_SET_IN_TESTS",
            None,
            None,
            &GitHubApi::default(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("env:CERTUS_ASSURANCE_GIT_CREDENTIAL_NEVER_SET_IN_TESTS is not set"),
            "{err}"
        );
    }

    /// A store that answers one secret and records every name it was asked for.
    #[derive(Debug, Default)]
    struct Recording(std::sync::Mutex<Vec<String>>);

    #[async_trait]
    impl SecretStore for Recording {
        async fn secret_string(&self, id: &str) -> Result<String> {
            self.0.lock().unwrap().push(id.to_string());
            Ok("bot:sm-token-value".into())
        }
    }

    #[tokio::test]
    async fn secrets_manager_names_outside_the_prefix_are_refused_before_the_store_is_asked() {
        let store = Arc::new(Recording::default());
        let secrets = NamedSecrets {
            store: store.clone(),
            prefix: "certus-assurance/git/".into(),
        };
        let secret = read(
            "secretsmanager:certus-assurance/git/acme",
            None,
            Some(&secrets),
            &GitHubApi::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            (secret.username.as_str(), secret.password.as_str()),
            ("bot", "sm-token-value")
        );
        for outside in [
            "secretsmanager:prod/database",
            "secretsmanager:arn:aws:secretsmanager:eu-west-1:000000000000:secret:prod/db-AbCdEf",
        ] {
            let err = read(outside, None, Some(&secrets), &GitHubApi::default())
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("git_credentials_ref: secretsmanager: only secrets named under"),
                "{err}"
            );
        }
        assert_eq!(
            *store.0.lock().unwrap(),
            vec!["certus-assurance/git/acme".to_string()]
        );
    }
}
