//! Authentication settings the `api` and `ws` functions share, read from `CERTUS_ASSURANCE_…` variables: a
//! keys file of hashed API keys (packaged with the function) and/or a JWKS file with the issuer and audience
//! bearer tokens must carry. Without either nobody could call: that configuration is refused.

use std::path::PathBuf;

use certus_api::{ApiKeys, AuthConfig, GatewayPolicy, JwtSettings, JwtVerifier};

use crate::error::{ApigwError, Result};

pub const ENV_PREFIX: &str = "CERTUS_ASSURANCE_";

/// `var` reads one variable (the process environment in `main`); empty values count as unset.
pub fn auth_from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<AuthConfig> {
    auth(var, false)
}

/// For a function behind API Gateway's JWT authorizer (the HTTP API): besides keys and a JWKS, the claims the
/// authorizer verified are accepted when they name `JWT_ISSUER` and `JWT_AUDIENCE`.
pub fn auth_behind_jwt_authorizer(var: &dyn Fn(&str) -> Option<String>) -> Result<AuthConfig> {
    auth(var, true)
}

fn auth(var: &dyn Fn(&str) -> Option<String>, gateway_verified: bool) -> Result<AuthConfig> {
    let get = |name: &str| var(&format!("{ENV_PREFIX}{name}")).filter(|v| !v.is_empty());
    let config = |e: certus_api::ApiError| ApigwError::Config(e.to_string());
    let keys = match get("API_KEYS_FILE") {
        Some(path) => ApiKeys::load(&PathBuf::from(path)).map_err(config)?,
        None => ApiKeys::default(),
    };
    let jwt = match (get("JWKS_FILE"), get("JWT_ISSUER"), get("JWT_AUDIENCE")) {
        (Some(jwks), Some(issuer), Some(audience)) => Some(
            JwtVerifier::load(JwtSettings::new(PathBuf::from(jwks), &issuer, &audience))
                .map_err(config)?,
        ),
        (None, _, _) => None,
        _ => {
            return Err(ApigwError::Config(format!(
                "{ENV_PREFIX}JWKS_FILE needs {ENV_PREFIX}JWT_ISSUER and {ENV_PREFIX}JWT_AUDIENCE"
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
