//! FileFetcher: reads only below canonicalised roots.

use certus_fetch::{FetchError, FileFetcher};

#[tokio::test]
async fn reads_files_inside_a_root_only() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let inside = root.path().join("manifest.json");
    std::fs::write(&inside, b"{}").unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, b"not for you").unwrap();
    std::os::unix::fs::symlink(&secret, root.path().join("link.txt")).unwrap();

    let fetcher = FileFetcher::new(&[root.path().to_path_buf()]).unwrap();
    let uri = |path: &std::path::Path| format!("file://{}", path.display());
    assert_eq!(fetcher.fetch_bytes(&uri(&inside), 16).await.unwrap(), b"{}");

    for path in [
        secret.clone(),
        root.path().join("link.txt"),
        root.path()
            .join("../")
            .join(outside.path().file_name().unwrap())
            .join("secret.txt"),
    ] {
        let error = fetcher.fetch_bytes(&uri(&path), 64).await.unwrap_err();
        assert!(
            matches!(&error, FetchError::File { reason, .. } if reason.contains("outside every allowed file root")),
            "{}: {error:?}",
            path.display()
        );
    }
}

#[tokio::test]
async fn refuses_oversized_missing_and_remote_files() {
    let root = tempfile::tempdir().unwrap();
    let big = root.path().join("big.json");
    std::fs::write(&big, vec![b'x'; 100]).unwrap();
    let fetcher = FileFetcher::new(&[root.path().to_path_buf()]).unwrap();

    let error = fetcher
        .fetch_bytes(&format!("file://{}", big.display()), 99)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::File { reason, .. } if reason.contains("larger than the limit of 99 bytes")),
        "{error:?}"
    );
    let missing = root.path().join("missing.json");
    let error = fetcher
        .fetch_bytes(&format!("file://{}", missing.display()), 99)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::File { .. }), "{error:?}");
    let error = fetcher
        .fetch_bytes("file://fileserver.example/etc/passwd", 99)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::InvalidUri { reason, .. } if reason.contains("remote host")),
        "{error:?}"
    );
    let error = fetcher
        .fetch_bytes(&format!("file://{}", root.path().display()), 99)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::File { reason, .. } if reason.contains("not a regular file")),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_everything_without_roots() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("m.json");
    std::fs::write(&file, b"{}").unwrap();
    let fetcher = FileFetcher::new(&[]).unwrap();
    let error = fetcher
        .fetch_bytes(&format!("file://{}", file.display()), 99)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::File { reason, .. } if reason == "no file roots are configured"),
        "{error:?}"
    );
}

#[test]
fn refuses_a_missing_root() {
    let error = FileFetcher::new(&["/nonexistent/certus-root".into()])
        .err()
        .unwrap();
    assert!(matches!(error, FetchError::Config { .. }), "{error:?}");
}
