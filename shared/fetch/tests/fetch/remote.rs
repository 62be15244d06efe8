//! RemoteFetcher: dispatch on the scheme, through the core's `ManifestFetcher` port.

use certus_core::error::CoreError;
use certus_core::ports::ManifestFetcher;
use certus_fetch::{FetchError, FetchPolicy, RemoteFetcher};

use crate::support::loopback_policy;
use crate::support::pki;
use crate::support::server::{self, Reply};

#[tokio::test]
async fn dispatches_https_and_file_uris() {
    let pki = pki::generate();
    let server = server::start("127.0.0.1:0", Some(pki.server_config), |_| {
        Reply::ok(b"remote".to_vec())
    })
    .await
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("m.json"), b"local").unwrap();
    let mut policy = loopback_policy(&["localhost"], Some(&pki.ca_pem));
    policy.file_roots = vec![root.path().to_path_buf()];
    let fetcher = RemoteFetcher::new(policy).unwrap();

    let remote = fetcher
        .fetch(&format!("https://localhost:{}/m.json", server.port()), 64)
        .await
        .unwrap();
    assert_eq!(remote, b"remote");
    let local = fetcher
        .fetch(&format!("file://{}/m.json", root.path().display()), 64)
        .await
        .unwrap();
    assert_eq!(local, b"local");
}

#[tokio::test]
async fn refuses_other_schemes() {
    let fetcher = RemoteFetcher::new(FetchPolicy::default()).unwrap();
    for (uri, scheme) in [
        ("http://example.com/m.json", "http"),
        ("s3://bucket/key", "s3"),
        ("ftp://example.com/m", "ftp"),
        ("gopher://x", "gopher"),
        ("/etc/passwd", "(none)"),
    ] {
        let error = fetcher.fetch_bytes(uri, 64).await.unwrap_err();
        assert_eq!(
            error,
            FetchError::UnsupportedScheme {
                scheme: scheme.into()
            },
            "{uri}"
        );
    }
}

#[tokio::test]
async fn reports_refusals_as_core_manifest_errors() {
    let fetcher = RemoteFetcher::new(FetchPolicy::default()).unwrap();
    let error = fetcher
        .fetch("https://127.0.0.1:9/latest/meta-data/", 64)
        .await
        .unwrap_err();
    match error {
        CoreError::Manifest(message) => {
            assert!(message.contains("127.0.0.1:9"), "{message}");
            assert!(message.contains("loopback"), "{message}");
        }
        other => panic!("expected CoreError::Manifest, got {other:?}"),
    }
    let error = fetcher.fetch("file:///etc/passwd", 64).await.unwrap_err();
    assert!(
        matches!(&error, CoreError::Manifest(message) if message.contains("no file roots")),
        "{error:?}"
    );
}
