//! Who is calling, and which workspaces they may use: API keys and OIDC/JWT bearer tokens, per tenant.

mod jwt;
mod keys;
mod principal;

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
    },
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
        if keys.is_empty() && jwt.is_none() {
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
        let (keys, jwt) = match &*self.mode {
            Mode::Disabled => return Ok(Principal::unrestricted("anonymous")),
            Mode::Enabled { keys, jwt } => (keys, jwt),
        };
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
