//! Authentication settings the `api` and `ws` functions share, read from `CERTUS_ASSURANCE_…` variables: a
//! keys file of hashed API keys and/or a JWKS (`JWKS_URI` in the work bucket, or `JWKS_FILE`; see
//! [`crate::config`]) with the issuer and audience bearer tokens must carry. Without either nobody could call:
//! that configuration is refused — for `ws` at its first `$connect`, not at init, so the stream fan-out of a
//! deployment without a JWKS still runs ([`connect_auth`]).

use std::path::{Path, PathBuf};

use certus_api::{ApiKeys, AuthConfig, GatewayPolicy, JwtSettings, JwtVerifier};
use certus_core::ports::ManifestFetcher;

use crate::config::ConfigSource;
use crate::error::{ApigwError, Result};
use crate::websocket::ConnectAuth;

pub const ENV_PREFIX: &str = "CERTUS_ASSURANCE_";
/// A JWKS larger than this is refused unread.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// `var` reads one variable (the process environment in `main`); empty values count as unset.
pub fn auth_from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<AuthConfig> {
    let jwks = jwks_file(var);
    auth(var, jwks.as_deref(), false)
}

/// For a function behind API Gateway's JWT authorizer (the HTTP API): besides keys and a JWKS, the claims the
/// authorizer verified are accepted when they name `JWT_ISSUER` and `JWT_AUDIENCE`.
pub fn auth_behind_jwt_authorizer(var: &dyn Fn(&str) -> Option<String>) -> Result<AuthConfig> {
    let jwks = jwks_file(var);
    auth(var, jwks.as_deref(), true)
}

/// How `ws` authenticates `$connect`: keys and/or the JWKS named by `JWKS_URI` (fetched with `fetcher`) or
/// `JWKS_FILE`. Never fails: a configuration that cannot be loaded becomes [`ConnectAuth::Unavailable`] with
/// the reason, so the function still starts (and serves the events stream) and refuses connections.
pub async fn connect_auth(
    var: &dyn Fn(&str) -> Option<String>,
    fetcher: &dyn ManifestFetcher,
) -> ConnectAuth {
    let loaded = async {
        let copy = match ConfigSource::from_vars(var, "JWKS")? {
            Some(source) => Some(source.local_copy(fetcher, MAX_JWKS_BYTES).await?),
            None => None,
        };
        auth(var, copy.as_ref().map(|c| c.path()), false)
    };
    match loaded.await {
        Ok(auth) => ConnectAuth::Ready(auth),
        Err(e) => ConnectAuth::Unavailable(format!(
            "{e} (a deployment names its JWKS in {ENV_PREFIX}JWKS_URI: template parameter JwksObjectKey)"
        )),
    }
}

fn jwks_file(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    var(&format!("{ENV_PREFIX}JWKS_FILE"))
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn auth(
    var: &dyn Fn(&str) -> Option<String>,
    jwks: Option<&Path>,
    gateway_verified: bool,
) -> Result<AuthConfig> {
    let get = |name: &str| var(&format!("{ENV_PREFIX}{name}")).filter(|v| !v.is_empty());
    let config = |e: certus_api::ApiError| ApigwError::Config(e.to_string());
    let keys = match get("API_KEYS_FILE") {
        Some(path) => ApiKeys::load(&PathBuf::from(path)).map_err(config)?,
        None => ApiKeys::default(),
    };
    let jwt = match (jwks, get("JWT_ISSUER"), get("JWT_AUDIENCE")) {
        (Some(jwks), Some(issuer), Some(audience)) => Some(
            JwtVerifier::load(JwtSettings::new(jwks.to_path_buf(), &issuer, &audience))
                .map_err(config)?,
        ),
        (None, _, _) => None,
        _ => {
            return Err(ApigwError::Config(format!(
                "a JWKS needs {ENV_PREFIX}JWT_ISSUER and {ENV_PREFIX}JWT_AUDIENCE"
            )))
        }
    };
    let gateway = match (gateway_verified, get("JWT_ISSUER"), get("JWT_AUDIENCE")) {
        (true, Some(issuer), Some(audience)) => Some(GatewayPolicy::new(&issuer, &audience)),
        _ => None,
    };
    AuthConfig::with_gateway(keys, jwt, gateway).map_err(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_that_lets_nobody_in_is_refused() {
        let error = auth_from_vars(&|_| None).err().unwrap().to_string();
        assert!(error.contains("no API key and no JWKS"), "{error}");
        let error = auth_from_vars(&|name| {
            (name == "CERTUS_ASSURANCE_JWKS_FILE").then(|| "/nonexistent/jwks.json".to_string())
        })
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("JWT_ISSUER"), "{error}");
    }

    /// Serves nothing: every object is missing.
    struct NoObjects;

    #[async_trait::async_trait]
    impl ManifestFetcher for NoObjects {
        async fn fetch(&self, uri: &str, _max: usize) -> certus_core::Result<Vec<u8>> {
            Err(certus_core::CoreError::Manifest(format!(
                "{uri}: NoSuchKey"
            )))
        }
    }

    /// The environment infra/template.yaml gives `name` (infra/tests/fixtures/function-environments.json,
    /// written from the translated template by infra/tests/translated.py and checked current by its tests).
    pub(crate) fn template_environment(name: &str) -> std::collections::HashMap<String, String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/tests/fixtures/function-environments.json");
        let all: std::collections::HashMap<String, std::collections::HashMap<String, String>> =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        all[name].clone()
    }

    #[tokio::test]
    async fn ws_starts_with_the_template_environment_and_refuses_connections_naming_the_jwks() {
        let env = template_environment("ws");
        assert_eq!(
            env["CERTUS_ASSURANCE_JWKS_URI"], "",
            "the default deploys no JWKS"
        );
        let var = |name: &str| env.get(name).cloned();
        match connect_auth(&var, &NoObjects).await {
            ConnectAuth::Unavailable(reason) => {
                assert!(reason.contains("no API key and no JWKS"), "{reason}");
                assert!(reason.contains("JwksObjectKey"), "{reason}");
            }
            ConnectAuth::Ready(_) => panic!("nobody can be authenticated without a JWKS"),
        }
        // Configured but not uploaded yet: still no failure at init, and the object is named.
        let mut env = env.clone();
        env.insert(
            "CERTUS_ASSURANCE_JWKS_URI".into(),
            "s3://work-bucket/config/jwks.json".into(),
        );
        let var = |name: &str| env.get(name).cloned();
        match connect_auth(&var, &NoObjects).await {
            ConnectAuth::Unavailable(reason) => {
                assert!(
                    reason.contains("s3://work-bucket/config/jwks.json: NoSuchKey"),
                    "{reason}"
                );
            }
            ConnectAuth::Ready(_) => panic!("a missing JWKS authenticates nobody"),
        }
    }

    #[test]
    fn a_keys_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let keys = format!(
            r#"[{{"key_sha256": "{}", "tenant": "acme", "workspaces": ["ws-acme"]}}]"#,
            certus_api::hash_key("k")
        );
        std::fs::write(&path, keys).unwrap();
        let path = path.display().to_string();
        let auth = auth_from_vars(&|name| {
            (name == "CERTUS_ASSURANCE_API_KEYS_FILE").then(|| path.clone())
        })
        .unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-api-key", http::HeaderValue::from_static("k"));
        assert_eq!(auth.authenticate(&headers, None).unwrap().tenant, "acme");
    }
}
