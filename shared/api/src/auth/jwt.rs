//! OIDC/JWT bearer tokens checked against a configured JWKS file: signature with a pinned algorithm (RS256 or
//! ES256, never `none` or HMAC), issuer, audience, expiry and not-before with a small leeway; the tenant and
//! its workspaces come from claims.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::principal::Principal;
use crate::error::{ApiError, Result};

const MAX_JWKS_BYTES: u64 = 1024 * 1024;
const MAX_WORKSPACES_IN_TOKEN: usize = 1000;
pub const DEFAULT_WORKSPACES_CLAIM: &str = "certus_workspaces";
pub const DEFAULT_TENANT_CLAIM: &str = "sub";

/// The signature algorithms a deployment may pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Rs256,
    Es256,
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

impl FromStr for JwtAlgorithm {
    type Err = ApiError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            other => Err(ApiError::AuthConfig(format!(
                "JWT algorithm '{other}' is not allowed: use RS256 or ES256"
            ))),
        }
    }
}

/// What the operator configures for bearer tokens.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub jwks_path: PathBuf,
    pub issuer: String,
    pub audience: String,
    /// Tokens signed with any other algorithm are refused.
    pub algorithms: Vec<JwtAlgorithm>,
    /// The claim naming the tenant (default `sub`).
    pub tenant_claim: String,
    /// The claim listing the tenant's workspaces (default `certus_workspaces`; `"*"` means all).
    pub workspaces_claim: String,
    /// Tolerance for clock skew on `exp` and `nbf`.
    pub leeway: Duration,
}

impl JwtSettings {
    /// Settings with the default claims, both algorithms and a 30 s leeway.
    pub fn new(jwks_path: PathBuf, issuer: &str, audience: &str) -> Self {
        Self {
            jwks_path,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            algorithms: vec![JwtAlgorithm::Es256, JwtAlgorithm::Rs256],
            tenant_claim: DEFAULT_TENANT_CLAIM.into(),
            workspaces_claim: DEFAULT_WORKSPACES_CLAIM.into(),
            leeway: Duration::from_secs(30),
        }
    }
}

struct TrustedKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies bearer tokens with the keys of a JWKS file.
pub struct JwtVerifier {
    settings: JwtSettings,
    keys: Vec<TrustedKey>,
}

impl JwtVerifier {
    /// Loads the JWKS; keys that cannot sign with a configured algorithm are left out, and a JWKS left with
    /// no usable key is refused.
    pub fn load(settings: JwtSettings) -> Result<Self> {
        let path = settings.jwks_path.clone();
        let refuse = |reason: String| ApiError::Jwks {
            path: path.display().to_string(),
            reason,
        };
        if settings.issuer.is_empty() || settings.audience.is_empty() {
            return Err(ApiError::AuthConfig(
                "a JWT issuer and audience must both be configured".into(),
            ));
        }
        if settings.algorithms.is_empty() {
            return Err(ApiError::AuthConfig(
                "at least one JWT algorithm (RS256 or ES256) must be allowed".into(),
            ));
        }
        let set = read_jwks(&path).map_err(refuse)?;
        let keys: Vec<TrustedKey> = set
            .keys
            .iter()
            .filter_map(|jwk| trusted_key(jwk, &settings.algorithms))
            .collect();
        if keys.is_empty() {
            return Err(refuse(
                "no RSA or P-256 signing key usable with the configured algorithms".into(),
            ));
        }
        Ok(Self { settings, keys })
    }

    /// The principal a valid token names, or why the token is refused.
    pub fn verify(&self, token: &str) -> std::result::Result<Principal, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| format!("the token header cannot be read ({e})"))?;
        let allowed = self
            .settings
            .algorithms
            .iter()
            .any(|a| a.to_jwt() == header.alg);
        if !allowed {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        let candidates: Vec<&TrustedKey> = self
            .keys
            .iter()
            .filter(|k| k.algorithm == header.alg)
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .collect();
        if candidates.is_empty() {
            return Err("no configured key matches the token's kid and algorithm".into());
        }
        let validation = self.validation(header.alg);
        let mut last_error = String::new();
        for candidate in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &candidate.key, &validation) {
                Ok(data) => return self.principal(&data.claims),
                Err(e) => last_error = describe(&e),
            }
        }
        Err(last_error)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation
    }

    fn principal(&self, claims: &Map<String, Value>) -> std::result::Result<Principal, String> {
        let tenant = claims
            .get(&self.settings.tenant_claim)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                format!(
                    "claim '{}' (the tenant) is missing",
                    self.settings.tenant_claim
                )
            })?;
        let claim = &self.settings.workspaces_claim;
        let list = claims
            .get(claim)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("claim '{claim}' must be a list of workspace ids"))?;
        if list.len() > MAX_WORKSPACES_IN_TOKEN {
            return Err(format!("claim '{claim}' lists too many workspaces"));
        }
        let workspaces = list
            .iter()
            .map(|w| w.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("claim '{claim}' must hold only non-empty strings"))?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(Principal::with_workspaces(tenant.to_string(), workspaces).for_subject(subject))
    }
}

fn read_jwks(path: &Path) -> std::result::Result<JwkSet, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_JWKS_BYTES {
        return Err(format!("larger than the limit of {MAX_JWKS_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not a JWKS document: {e}"))
}

/// The key and the one algorithm it is used with, when that algorithm is allowed.
fn trusted_key(jwk: &Jwk, allowed: &[JwtAlgorithm]) -> Option<TrustedKey> {
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared_matches = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
        Some(_) => false,
    };
    if !declared_matches || !allowed.iter().any(|a| a.to_jwt() == algorithm) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(TrustedKey {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not the configured one".into(),
        ErrorKind::InvalidAudience => "the token's audience is not this service".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match the key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the '{claim}' claim"),
        other => format!("the token cannot be verified ({other:?})"),
    }
}
