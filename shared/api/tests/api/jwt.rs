//! OIDC/JWT bearer tokens against a JWKS written here from keys openssl makes at test time.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use certus_api::{JwtAlgorithm, JwtSettings, JwtVerifier};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::{run, start, Options, Server};

const ISSUER: &str = "https://issuer.certus.invalid";
const AUDIENCE: &str = "certus-assurance";

struct Keys {
    ec: EncodingKey,
    rsa: EncodingKey,
    ec_public_pem: Vec<u8>,
}

fn make_keys(dir: &Path) -> (Keys, JwkSet) {
    let ec_path = dir.join("ec.pem");
    let rsa_path = dir.join("rsa.pem");
    run(Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&ec_path));
    run(Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&rsa_path));
    let ec_public_pem = run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&ec_path));
    let ec = EncodingKey::from_ec_pem(&std::fs::read(&ec_path).unwrap()).unwrap();
    let rsa = EncodingKey::from_rsa_pem(&std::fs::read(&rsa_path).unwrap()).unwrap();
    let mut ec_jwk = Jwk::from_encoding_key(&ec, Algorithm::ES256).unwrap();
    ec_jwk.common.key_id = Some("ec-1".into());
    let mut rsa_jwk = Jwk::from_encoding_key(&rsa, Algorithm::RS256).unwrap();
    rsa_jwk.common.key_id = Some("rsa-1".into());
    (
        Keys {
            ec,
            rsa,
            ec_public_pem,
        },
        JwkSet {
            keys: vec![ec_jwk, rsa_jwk],
        },
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(patch: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "tenant-jwt",
        "exp": now() + 600, "nbf": now() - 5, "iat": now(),
        "certus_workspaces": ["ws-jwt"],
    });
    for (k, v) in patch.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

async fn jwt_server() -> (Server, Keys) {
    let scratch = tempfile::tempdir().unwrap();
    let (keys, set) = make_keys(scratch.path());
    let jwks = scratch.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::to_string(&set).unwrap()).unwrap();
    let verifier = JwtVerifier::load(JwtSettings::new(jwks, ISSUER, AUDIENCE)).unwrap();
    (
        start(Options {
            jwt: Some(verifier),
            ..Options::default()
        })
        .await,
        keys,
    )
}

async fn list_with(s: &Server, token: &str) -> (u16, Value) {
    let response = s
        .http
        .get(s.url("/v1/security-scans?workspace_id=ws-jwt"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn valid_es256_and_rs256_tokens_are_accepted_with_their_workspaces() {
    let (s, keys) = jwt_server().await;
    for token in [
        sign(Algorithm::ES256, "ec-1", &keys.ec, &claims(json!({}))),
        sign(Algorithm::RS256, "rsa-1", &keys.rsa, &claims(json!({}))),
    ] {
        let (status, body) = list_with(&s, &token).await;
        assert_eq!(status, 200, "{body}");
        let response = s.submit_as(&token, &s.body("ws-jwt", "sample")).await;
        assert_eq!(response.status(), 202);
        let response = s.submit_as(&token, &s.body("ws-acme", "sample")).await;
        assert_eq!(response.status(), 403, "the token's workspaces bound it");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_tokens_are_refused_with_the_reason() {
    let (s, keys) = jwt_server().await;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none_token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(json!({})))
    );
    let hs256_with_public_key = sign(
        Algorithm::HS256,
        "ec-1",
        &EncodingKey::from_secret(&keys.ec_public_pem).unwrap(),
        &claims(json!({})),
    );
    let cases = [
        (
            sign(
                Algorithm::ES256,
                "ec-1",
                &keys.ec,
                &claims(json!({"exp": now() - 3600})),
            ),
            "the token has expired",
        ),
        (
            sign(
                Algorithm::ES256,
                "ec-1",
                &keys.ec,
                &claims(json!({"nbf": now() + 3600})),
            ),
            "the token is not valid yet (nbf)",
        ),
        (
            sign(
                Algorithm::ES256,
                "ec-1",
                &keys.ec,
                &claims(json!({"aud": "someone-else"})),
            ),
            "the token's audience is not this service",
        ),
        (
            sign(
                Algorithm::ES256,
                "ec-1",
                &keys.ec,
                &claims(json!({"iss": "https://evil.invalid"})),
            ),
            "the token's issuer is not the configured one",
        ),
        (none_token, "the token header cannot be read"),
        (hs256_with_public_key, "algorithm HS256 is not accepted"),
        (
            // An RSA signature presented under the EC key's id.
            sign(Algorithm::RS256, "ec-1", &keys.rsa, &claims(json!({}))),
            "no configured key matches the token's kid and algorithm",
        ),
        (
            sign(
                Algorithm::ES256,
                "ec-1",
                &keys.ec,
                &claims(json!({"certus_workspaces": "ws-jwt"})),
            ),
            "claim 'certus_workspaces' must be a list of workspace ids",
        ),
    ];
    for (token, reason) in cases {
        let (status, body) = list_with(&s, &token).await;
        assert_eq!(status, 401, "{reason}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "expected '{reason}' in '{detail}'");
    }
    // A token whose signature was made by another key of the same type.
    let scratch = tempfile::tempdir().unwrap();
    let (other, _) = make_keys(scratch.path());
    let forged = sign(Algorithm::ES256, "ec-1", &other.ec, &claims(json!({})));
    let (status, body) = list_with(&s, &forged).await;
    assert_eq!(status, 401);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("signature does not verify"),
        "{body}"
    );
    s.stop().await;
}

#[test]
fn configuration_refuses_weak_or_useless_settings() {
    assert!(matches!(
        "HS256".parse::<JwtAlgorithm>(),
        Err(certus_api::ApiError::AuthConfig(_))
    ));
    assert_eq!(
        "ES256".parse::<JwtAlgorithm>().unwrap(),
        JwtAlgorithm::Es256
    );
    let scratch = tempfile::tempdir().unwrap();
    let jwks = scratch.path().join("jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}"#,
    )
    .unwrap();
    let err = JwtVerifier::load(JwtSettings::new(jwks.clone(), ISSUER, AUDIENCE))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("no RSA or P-256 signing key"),
        "{err}"
    );
    std::fs::write(&jwks, "not json").unwrap();
    let err = JwtVerifier::load(JwtSettings::new(jwks, ISSUER, AUDIENCE))
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a JWKS document"), "{err}");
    let err = certus_api::AuthConfig::new(certus_api::ApiKeys::default(), None)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("nobody could call the API"),
        "{err}"
    );
}

/// Rate limits count a token caller per tenant and subject (issue 17): two subjects of one tenant have
/// buckets of their own, and a subject that presents a fresh token for every request still draws on its one
/// bucket. The bucket refills one token per 100 s, so no refill happens during the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_callers_are_rate_limited_per_subject_whatever_token_they_present() {
    const BURST: u32 = 6;
    let scratch = tempfile::tempdir().unwrap();
    let (keys, set) = make_keys(scratch.path());
    let jwks = scratch.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::to_string(&set).unwrap()).unwrap();
    let mut settings = JwtSettings::new(jwks, ISSUER, AUDIENCE);
    settings.tenant_claim = "org".into();
    let bucket = certus_api::Bucket {
        burst: BURST,
        per_second: 0.01,
    };
    let s = start(Options {
        jwt: Some(JwtVerifier::load(settings).unwrap()),
        rate_limits: Some(certus_api::RateLimits {
            per_key: bucket,
            per_client: bucket,
            max_tracked: 100,
        }),
        ..Options::default()
    })
    .await;
    // A new token each time: another `jti` and `iat`, as a client refreshing its token gets.
    let fresh = |subject: &str, n: u32| {
        sign(
            Algorithm::ES256,
            "ec-1",
            &keys.ec,
            &claims(
                json!({"org": "acme", "sub": subject, "jti": format!("{subject}-{n}"),
                           "iat": now() - i64::from(n)}),
            ),
        )
    };
    let mut alice = Vec::new();
    for n in 0..=BURST {
        alice.push(list_with(&s, &fresh("alice", n)).await.0);
    }
    let mut expected = vec![200; BURST as usize];
    expected.push(429);
    assert_eq!(
        alice, expected,
        "a fresh token must not give a fresh bucket"
    );
    // Bob, of the same tenant, has a bucket of his own.
    for n in 0..BURST {
        assert_eq!(list_with(&s, &fresh("bob", n)).await.0, 200, "bob #{n}");
    }
    assert_eq!(list_with(&s, &fresh("bob", BURST)).await.0, 429);
}
