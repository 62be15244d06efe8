//! `S3Fetcher`: a manifest within the cap, one over it, missing objects and buckets, other schemes.

use certus_aws::S3Fetcher;
use certus_core::ports::ManifestFetcher;
use certus_core::{CoreError, Retryability};

use crate::common::{moto_clients, moto_endpoint, new_bucket, put, unique_name};

#[tokio::test]
async fn fetches_within_the_cap_and_refuses_beyond_it() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "fetch").await;
    let manifest = br#"{"version":"1.0","profile":"light"}"#.repeat(3);
    put(&clients, &bucket, "manifests/m.json", &manifest).await;
    let fetcher = S3Fetcher::new(&clients);
    let uri = format!("s3://{bucket}/manifests/m.json");

    assert_eq!(fetcher.fetch(&uri, manifest.len()).await.unwrap(), manifest);

    let err = fetcher.fetch(&uri, manifest.len() - 1).await.unwrap_err();
    let expected = format!(
        "{uri} is {} bytes, larger than the limit of {} bytes",
        manifest.len(),
        manifest.len() - 1
    );
    assert!(
        matches!(&err, CoreError::Manifest(m) if *m == expected),
        "{err}"
    );
}

#[tokio::test]
async fn missing_objects_and_buckets_are_named() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "missing").await;
    let fetcher = S3Fetcher::new(&clients);

    let uri = format!("s3://{bucket}/nope.json");
    let err = fetcher.fetch(&uri, 1024).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Manifest(m) if m.starts_with(&format!("{uri} does not exist")) && m.contains("NoSuchKey")),
        "{err}"
    );
    assert!(!err.is_retryable());

    let uri = format!("s3://{}/m.json", unique_name("absent"));
    let err = fetcher.fetch(&uri, 1024).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Manifest(m) if m.contains("does not exist") && m.contains("NoSuchBucket")),
        "{err}"
    );
    assert!(
        !err.to_string().contains("testing"),
        "credentials must not appear in messages: {err}"
    );
}

#[tokio::test]
async fn other_schemes_are_refused_before_any_request() {
    // No server needed: the URI is refused before a request is built.
    let clients = moto_clients("http://127.0.0.1:9");
    let fetcher = S3Fetcher::new(&clients);
    for (uri, reason) in [
        (
            "https://example.invalid/m.json",
            "only s3:// URIs are handled here (scheme: https)",
        ),
        (
            "file:///etc/passwd",
            "only s3:// URIs are handled here (scheme: file)",
        ),
        ("s3://bucket-only", "names no object"),
    ] {
        let err = fetcher.fetch(uri, 1024).await.unwrap_err();
        assert!(
            matches!(&err, CoreError::Manifest(m) if m.contains(reason)),
            "{uri}: {err}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_storage_error() {
    // Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    let clients = moto_clients("http://127.0.0.1:9");
    let err = S3Fetcher::new(&clients)
        .fetch("s3://some-bucket/m.json", 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Storage(m) if m.starts_with("s3://some-bucket/m.json: the service could not be reached")),
        "{err}"
    );
    assert!(err.is_retryable());
}
