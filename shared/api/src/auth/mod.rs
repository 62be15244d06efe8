//! Who is calling, and which workspaces they may use: API keys and OIDC/JWT bearer tokens, per tenant.

mod jwt;
mod keys;
mod principal;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::error::{ApiError, Result};

pub use jwt::{
    JwtAlgorithm, JwtSettings, JwtVerifier, DEFAULT_TENANT_CLAIM, DEFAULT_WORKSPACES_CLAIM,
};
pub use keys::{hash_key, ApiKeys};
pub use principal::{Principal, WorkspaceScope, ANY_WORKSPACE};

/// Credentials longer than this are refused unread.
const MAX_CREDENTIAL_LEN: usize = 16 * 1024;

/// How callers are authenticated. Cheap to clone.
#[derive(Clone)]
pub struct AuthConfig {
    mode: Arc<Mode>,
}

enum Mode {
    Disabled,
    Enabled {
        keys: ApiKeys,
        jwt: Option<Box<JwtVerifier>>,
        gateway: Option<GatewayPolicy>,
    },
}

/// Claims a gateway in front of the API has already verified (API Gateway's JWT authorizer checks signature,
/// issuer, audience and expiry). Only the hosting code attaches them, as a request extension; a client
/// cannot, so they are trusted as far as [`GatewayPolicy`] says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayClaims(pub HashMap<String, String>);

/// How verified gateway claims become a principal: the issuer and audience they must name (checked again,
/// cheaply) and the claims holding the tenant and its workspaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPolicy {
    pub issuer: String,
    pub audience: String,
    pub tenant_claim: String,
    pub workspaces_claim: String,
}

impl GatewayPolicy {
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            tenant_claim: DEFAULT_TENANT_CLAIM.into(),
            workspaces_claim: DEFAULT_WORKSPACES_CLAIM.into(),
        }
    }

    fn principal(&self, claims: &GatewayClaims) -> Result<Principal> {
        let refuse = |reason: String| ApiError::Unauthenticated(format!("invalid token: {reason}"));
        let claim = |name: &str| claims.0.get(name).map(String::as_str).unwrap_or_default();
        if claim("iss") != self.issuer {
            return Err(refuse("issuer is not the configured one".into()));
        }
        // The gateway renders a list claim as "[a b]"; a single audience as the plain string.
        if !list_claim(claim("aud")).any(|a| a == self.audience) {
            return Err(refuse("audience is not the configured one".into()));
        }
        let tenant = claim(&self.tenant_claim);
        if tenant.is_empty() {
            return Err(refuse(format!(
                "claim '{}' (the tenant) is missing",
                self.tenant_claim
            )));
        }
        let workspaces: Vec<String> = list_claim(claim(&self.workspaces_claim))
            .map(str::to_string)
            .collect();
        if workspaces.is_empty() {
            return Err(refuse(format!(
                "claim '{}' must list the tenant's workspaces",
                self.workspaces_claim
            )));
        }
        Ok(Principal::with_workspaces(tenant.to_string(), workspaces).for_subject(claim("sub")))
    }
}

/// The items of a claim as API Gateway renders it: `[a b c]`, `a,b`, or one value.
fn list_claim(text: &str) -> impl Iterator<Item = &str> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|item| item.trim_matches('"'))
        .filter(|item| !item.is_empty())
}

impl AuthConfig {
    /// No authentication at all: every caller may use every workspace. Only for tests and the explicit
    /// `--insecure-no-auth` development flag.
    pub fn disabled() -> Self {
        Self {
            mode: Arc::new(Mode::Disabled),
        }
    }

    /// API keys and, optionally, JWT bearer tokens. Refuses a configuration that would let nobody in.
    pub fn new(keys: ApiKeys, jwt: Option<JwtVerifier>) -> Result<Self> {
        Self::with_gateway(keys, jwt, None)
    }

    /// As [`AuthConfig::new`], also accepting claims a gateway verified (see [`GatewayClaims`]).
    pub fn with_gateway(
        keys: ApiKeys,
        jwt: Option<JwtVerifier>,
        gateway: Option<GatewayPolicy>,
    ) -> Result<Self> {
        if keys.is_empty() && jwt.is_none() && gateway.is_none() {
            return Err(ApiError::AuthConfig(
                "no API key and no JWKS is configured: nobody could call the API \
                 (give a keys file, a JWKS, or --insecure-no-auth for development)"
                    .into(),
            ));
        }
        Ok(Self {
            mode: Arc::new(Mode::Enabled {
                keys,
                jwt: jwt.map(Box::new),
                gateway,
            }),
        })
    }

    pub fn is_disabled(&self) -> bool {
        matches!(*self.mode, Mode::Disabled)
    }

    /// The caller named by `Authorization: Bearer`, `X-API-Key`, or (browsers' WebSockets) an
    /// `access_token` query parameter, in that order of preference.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Principal> {
        self.authenticate_with(headers, query_token, None)
    }

    /// As [`AuthConfig::authenticate`]; claims a gateway verified take precedence when this configuration
    /// accepts them.
    pub fn authenticate_with(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
        gateway_claims: Option<&GatewayClaims>,
    ) -> Result<Principal> {
        let (keys, jwt, gateway) = match &*self.mode {
            Mode::Disabled => return Ok(Principal::unrestricted("anonymous")),
            Mode::Enabled { keys, jwt, gateway } => (keys, jwt, gateway),
        };
        if let (Some(policy), Some(claims)) = (gateway, gateway_claims.filter(|c| !c.0.is_empty()))
        {
            return policy.principal(claims);
        }
        let bearer = header_text(headers, "authorization")?
            .map(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .map(str::trim)
                    .ok_or_else(|| {
                        ApiError::Unauthenticated(
                            "the Authorization header must use the Bearer scheme".into(),
                        )
                    })
            })
            .transpose()?;
        let api_key = header_text(headers, "x-api-key")?;
        let credential = bearer.or(api_key).or(query_token).ok_or_else(|| {
            ApiError::Unauthenticated(
                "give an API key (Authorization: Bearer or X-API-Key) or a bearer token".into(),
            )
        })?;
        if credential.is_empty() || credential.len() > MAX_CREDENTIAL_LEN {
            return Err(ApiError::Unauthenticated(
                "the credential is empty or too long".into(),
            ));
        }
        if let Some(principal) = keys.find(credential) {
            return Ok(principal.clone());
        }
        match jwt {
            Some(verifier) if credential.matches('.').count() == 2 => verifier
                .verify(credential)
                .map_err(|reason| ApiError::Unauthenticated(format!("invalid token: {reason}"))),
            _ => Err(ApiError::Unauthenticated(
                "the credential is not a known API key".into(),
            )),
        }
    }
}

/// A name for the credential a request presents, in the order [`AuthConfig::authenticate`] prefers them (a
/// bearer token without its scheme, `X-API-Key`, an `access_token` query parameter): the same key gives the
/// same name whichever way it comes. A digest: the credential itself is not kept. For per-credential limits.
pub(crate) fn credential_name(headers: &HeaderMap, query_token: Option<&str>) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").map(|value| {
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map_or(value, str::trim)
    });
    let presented = bearer
        .or_else(|| header("x-api-key"))
        .or(query_token)
        .unwrap_or_default();
    hash_key(presented)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::Unauthenticated(format!("the {name} header is not visible ASCII"))
            })
        })
        .transpose()
}

#[cfg(test)]
mod gateway_tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> GatewayClaims {
        GatewayClaims(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn config() -> AuthConfig {
        AuthConfig::with_gateway(
            ApiKeys::default(),
            None,
            Some(GatewayPolicy::new("https://idp.example.invalid", "certus")),
        )
        .unwrap()
    }

    #[test]
    fn verified_gateway_claims_name_the_tenant_and_its_workspaces() {
        let good = claims(&[
            ("iss", "https://idp.example.invalid"),
            ("aud", "[other certus]"),
            ("sub", "acme"),
            ("certus_workspaces", "[ws-a ws-b]"),
        ]);
        let principal = config()
            .authenticate_with(&HeaderMap::new(), None, Some(&good))
            .unwrap();
        assert_eq!(principal.tenant, "acme");
        assert!(principal.may_use("ws-b") && !principal.may_use("ws-c"));
    }

    #[test]
    fn claims_for_another_issuer_audience_or_without_scope_are_refused() {
        let base = [
            ("iss", "https://idp.example.invalid"),
            ("aud", "certus"),
            ("sub", "acme"),
            ("workspaces", "ws-a"),
        ];
        for (key, value) in [
            ("iss", "https://evil.example.invalid"),
            ("aud", "[other]"),
            ("tenant", ""),
            ("workspaces", "[]"),
        ] {
            let mut edited = claims(&base);
            edited.0.insert(key.into(), value.into());
            let refused = config().authenticate_with(&HeaderMap::new(), None, Some(&edited));
            assert!(refused.is_err(), "{key}={value} accepted");
        }
        // Without gateway claims (and no key or JWKS), nobody gets in.
        assert!(config().authenticate(&HeaderMap::new(), None).is_err());
    }

    #[test]
    fn gateway_claims_are_ignored_unless_configured() {
        let keys = ApiKeys::from_json(&format!(
            r#"[{{"key_sha256": "{}", "tenant": "acme", "workspaces": ["ws-a"]}}]"#,
            hash_key("k")
        ))
        .unwrap();
        let plain = AuthConfig::new(keys, None).unwrap();
        let forged = claims(&[
            ("iss", "x"),
            ("aud", "y"),
            ("sub", "evil"),
            ("certus_workspaces", "*"),
        ]);
        assert!(plain
            .authenticate_with(&HeaderMap::new(), None, Some(&forged))
            .is_err());
    }
}
