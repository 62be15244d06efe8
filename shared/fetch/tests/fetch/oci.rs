//! OciFetcher against a real registry (Debian's docker-registry) on loopback; skipped when not installed.

use certus_fetch::{FetchError, FetchPolicy, OciFetcher};

use crate::support::loopback_policy;
use crate::support::registry;

const LIMIT: usize = 64 * 1024;
const REPOSITORY: &str = "certus/manifests";

fn registry_policy() -> FetchPolicy {
    let mut policy = loopback_policy(&["127.0.0.1"], None);
    policy.allow_plain_http_for = vec!["127.0.0.1".into()];
    policy
}

fn manifest_bytes() -> Vec<u8> {
    br#"{"version":"1","tools":["secrets","sbom"]}"#.to_vec()
}

#[tokio::test]
async fn fetches_an_artifact_by_tag_and_by_digest() {
    let Some(registry) = registry::start().await else {
        return;
    };
    let manifest = manifest_bytes();
    let digest = registry
        .push_artifact(REPOSITORY, "v1", &[("certus-manifest.json", &manifest)])
        .await;
    let fetcher = OciFetcher::new(registry_policy()).unwrap();

    let by_tag = format!("oci://{}/{REPOSITORY}:v1", registry.authority());
    assert_eq!(fetcher.fetch_bytes(&by_tag, LIMIT).await.unwrap(), manifest);

    let by_digest = format!("oci://{}/{REPOSITORY}@{digest}", registry.authority());
    assert_eq!(
        fetcher.fetch_bytes(&by_digest, LIMIT).await.unwrap(),
        manifest
    );
}

#[tokio::test]
async fn selects_a_layer_by_title() {
    let Some(registry) = registry::start().await else {
        return;
    };
    let manifest = manifest_bytes();
    let signature = b"MEUCIQDfake-signature-for-tests".to_vec();
    registry
        .push_artifact(
            REPOSITORY,
            "signed",
            &[
                ("certus-manifest.json", &manifest),
                ("certus-manifest.json.sig", &signature),
            ],
        )
        .await;
    let fetcher = OciFetcher::new(registry_policy()).unwrap();
    let base = format!("oci://{}/{REPOSITORY}:signed", registry.authority());

    let sig = fetcher
        .fetch_bytes(&format!("{base}#certus-manifest.json.sig"), LIMIT)
        .await
        .unwrap();
    assert_eq!(sig, signature);
    let error = fetcher.fetch_bytes(&base, LIMIT).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::Oci { reason, .. } if reason.contains("has 2 layers")),
        "{error:?}"
    );
    let error = fetcher
        .fetch_bytes(&format!("{base}#missing.json"), LIMIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Oci { reason, .. } if reason.contains("no layer is titled 'missing.json'")),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_a_tampered_blob() {
    let Some(registry) = registry::start().await else {
        return;
    };
    let manifest = manifest_bytes();
    registry
        .push_artifact(REPOSITORY, "v1", &[("certus-manifest.json", &manifest)])
        .await;
    let layer_digest = registry::sha256(&manifest);
    registry.tamper(&layer_digest, "secrets", "SECRETS");
    let fetcher = OciFetcher::new(registry_policy()).unwrap();
    let uri = format!("oci://{}/{REPOSITORY}:v1", registry.authority());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    match &error {
        FetchError::DigestMismatch {
            what,
            expected,
            actual,
        } => {
            assert!(what.starts_with("blob sha256:"), "{what}");
            assert_eq!(expected, &layer_digest);
            assert_ne!(actual, &layer_digest);
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn refuses_a_tampered_manifest_fetched_by_digest() {
    let Some(registry) = registry::start().await else {
        return;
    };
    let digest = registry
        .push_artifact(
            REPOSITORY,
            "v1",
            &[("certus-manifest.json", &manifest_bytes())],
        )
        .await;
    registry.tamper(&digest, "vnd.certus", "vnd.CERTUS");
    let fetcher = OciFetcher::new(registry_policy()).unwrap();
    let uri = format!("oci://{}/{REPOSITORY}@{digest}", registry.authority());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::DigestMismatch { what, expected, .. } if what.starts_with("manifest ") && expected == &digest),
        "{error:?}"
    );
}

#[tokio::test]
async fn reports_a_missing_tag_as_not_found() {
    let Some(registry) = registry::start().await else {
        return;
    };
    registry
        .push_artifact(
            REPOSITORY,
            "v1",
            &[("certus-manifest.json", &manifest_bytes())],
        )
        .await;
    let fetcher = OciFetcher::new(registry_policy()).unwrap();
    let uri = format!("oci://{}/{REPOSITORY}:nope", registry.authority());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::NotFound {
            host: registry.authority(),
            what: format!("manifest '{}/{REPOSITORY}:nope'", registry.authority()),
        }
    );
    assert!(error.to_string().contains("HTTP 404"));
}

#[tokio::test]
async fn refuses_an_oversized_blob() {
    let Some(registry) = registry::start().await else {
        return;
    };
    let big = vec![b'a'; 8 * 1024];
    registry
        .push_artifact(REPOSITORY, "big", &[("certus-manifest.json", &big)])
        .await;
    let fetcher = OciFetcher::new(registry_policy()).unwrap();
    let uri = format!("oci://{}/{REPOSITORY}:big", registry.authority());
    let error = fetcher.fetch_bytes(&uri, 1024).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::TooLarge { limit: 1024, what, .. } if what.starts_with("blob ")),
        "{error:?}"
    );
    assert_eq!(fetcher.fetch_bytes(&uri, big.len()).await.unwrap(), big);
}

#[tokio::test]
async fn refuses_a_loopback_registry_unless_allowed() {
    let Some(registry) = registry::start().await else {
        return;
    };
    let uri = format!("oci://{}/{REPOSITORY}:v1", registry.authority());

    let mut no_plain_http = registry_policy();
    no_plain_http.allow_plain_http_for.clear();
    let error = OciFetcher::new(no_plain_http)
        .unwrap()
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Tls { .. }),
        "https to a plain registry: {error:?}"
    );

    let mut not_allowlisted = registry_policy();
    not_allowlisted.allow_hosts.clear();
    let error = OciFetcher::new(not_allowlisted)
        .unwrap()
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::BlockedAddress { reason, .. } if reason == "loopback"),
        "{error:?}"
    );
}
