//! OciFetcher against a scripted registry: the bearer-token challenge, a blob redirect to another host (which
//! must not receive the token), and a token realm that the SSRF policy refuses.

use std::sync::{Arc, Mutex};

use certus_fetch::{FetchError, FetchPolicy, OciFetcher};

use crate::support::loopback_policy;
use crate::support::registry::{sha256, OCI_MANIFEST};
use crate::support::server::{self, Reply, TestServer};

const TOKEN: &str = "test-token-0f9e8d";
const REPOSITORY: &str = "certus/signed";

fn artifact() -> (Vec<u8>, Vec<u8>) {
    let blob = b"{\"manifest\":\"from a token-protected registry\"}".to_vec();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha256(&blob), "size": blob.len()}],
    }))
    .unwrap();
    (manifest, blob)
}

/// A registry demanding a bearer token from `realm`, serving the blob through a redirect to `localhost`.
async fn token_registry(realm: Arc<Mutex<String>>) -> TestServer {
    let (manifest, blob) = artifact();
    let blob_digest = sha256(&blob);
    server::start("127.0.0.1:0", None, move |head| {
        let authorized = head.header("authorization") == Some(&format!("Bearer {TOKEN}"));
        let challenge = format!(
            "Bearer realm=\"{}\",service=\"test-registry\",scope=\"repository:{REPOSITORY}:pull\"",
            realm.lock().unwrap()
        );
        match head.path() {
            "/token" => Reply::ok(format!("{{\"token\":\"{TOKEN}\"}}")),
            path if path.starts_with("/storage/") => {
                if head.header("authorization").is_some() {
                    Reply::status(400)
                } else {
                    Reply::ok(blob.clone())
                }
            }
            _ if !authorized => Reply::status(401).with_header("WWW-Authenticate", &challenge),
            path if path == format!("/v2/{REPOSITORY}/manifests/v1") => {
                Reply::ok(manifest.clone()).with_header("Content-Type", OCI_MANIFEST)
            }
            path if path == format!("/v2/{REPOSITORY}/blobs/{blob_digest}") => {
                let port = head
                    .header("host")
                    .and_then(|host| host.rsplit(':').next())
                    .unwrap_or("0")
                    .to_string();
                Reply::status(307)
                    .with_header("Location", &format!("http://localhost:{port}/storage/blob"))
            }
            _ => Reply::status(404),
        }
    })
    .await
    .unwrap()
}

fn policy() -> FetchPolicy {
    let mut policy = loopback_policy(&["127.0.0.1", "localhost"], None);
    policy.allow_plain_http_for = vec!["127.0.0.1".into(), "localhost".into()];
    policy
}

#[tokio::test]
async fn answers_the_bearer_challenge_and_drops_the_token_on_a_cross_host_redirect() {
    let realm = Arc::new(Mutex::new(String::new()));
    let registry = token_registry(Arc::clone(&realm)).await;
    *realm.lock().unwrap() = format!("http://127.0.0.1:{}/token", registry.port());
    let uri = format!("oci://127.0.0.1:{}/{REPOSITORY}:v1", registry.port());

    let body = OciFetcher::new(policy())
        .unwrap()
        .fetch_bytes(&uri, 4096)
        .await
        .unwrap();
    assert_eq!(body, artifact().1);

    let requests = registry.requests();
    let token_request = requests
        .iter()
        .find(|head| head.path() == "/token")
        .expect("a token request");
    assert!(
        token_request.target.contains("service=test-registry"),
        "{}",
        token_request.target
    );
    assert!(
        token_request
            .target
            .contains("scope=repository%3Acertus%2Fsigned%3Apull"),
        "{}",
        token_request.target
    );
    let manifest_request = requests
        .iter()
        .rfind(|head| head.path().contains("/manifests/"))
        .unwrap();
    assert_eq!(
        manifest_request.header("accept"),
        Some("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
    );
}

#[tokio::test]
async fn refuses_a_blob_redirect_to_plain_http_on_an_unlisted_host() {
    let realm = Arc::new(Mutex::new(String::new()));
    let registry = token_registry(Arc::clone(&realm)).await;
    *realm.lock().unwrap() = format!("http://127.0.0.1:{}/token", registry.port());
    let uri = format!("oci://127.0.0.1:{}/{REPOSITORY}:v1", registry.port());
    let mut policy = policy();
    policy.allow_plain_http_for = vec!["127.0.0.1".into()];
    let error = OciFetcher::new(policy)
        .unwrap()
        .fetch_bytes(&uri, 4096)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::PlainHttpRefused {
            host: format!("localhost:{}", registry.port())
        }
    );
}

#[tokio::test]
async fn applies_the_ssrf_policy_to_the_token_realm() {
    let realm = Arc::new(Mutex::new(String::new()));
    let registry = token_registry(Arc::clone(&realm)).await;
    *realm.lock().unwrap() = format!("http://localhost:{}/token", registry.port());
    let uri = format!("oci://127.0.0.1:{}/{REPOSITORY}:v1", registry.port());
    let mut policy = policy();
    policy.allow_hosts = vec!["127.0.0.1".into()];
    let error = OciFetcher::new(policy)
        .unwrap()
        .fetch_bytes(&uri, 4096)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::BlockedAddress { host, reason, .. } if host == "localhost" && reason == "loopback"),
        "{error:?}"
    );
    assert!(registry
        .requests()
        .iter()
        .all(|head| head.path() != "/token"));
}

#[tokio::test]
async fn reports_a_refused_token_and_a_relative_realm() {
    let realm = Arc::new(Mutex::new(String::new()));
    let shared = Arc::clone(&realm);
    let registry = server::start("127.0.0.1:0", None, move |head| match head.path() {
        "/token" => Reply::status(403),
        _ => Reply::status(401).with_header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"{}\"", shared.lock().unwrap()),
        ),
    })
    .await
    .unwrap();
    let uri = format!("oci://127.0.0.1:{}/{REPOSITORY}:v1", registry.port());
    let fetcher = OciFetcher::new(policy()).unwrap();

    *realm.lock().unwrap() = format!("http://127.0.0.1:{}/token", registry.port());
    let error = fetcher.fetch_bytes(&uri, 4096).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Auth {
            host: format!("127.0.0.1:{}", registry.port()),
            reason: format!(
                "the token service at '127.0.0.1:{}' answered HTTP 403",
                registry.port()
            ),
        }
    );

    *realm.lock().unwrap() = "/token".into();
    let error = fetcher.fetch_bytes(&uri, 4096).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::Auth { reason, .. } if reason.contains("not a valid URL")),
        "{error:?}"
    );
}
