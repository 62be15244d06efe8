//! `S3Uploads`: an upload is stored under its tenant's key, held only for that tenant and while it exists,
//! and downloaded whole or refused past the cap.

use certus_aws::S3Uploads;

use crate::common::{moto_clients, moto_endpoint, new_bucket};

#[tokio::test]
async fn an_upload_is_held_for_its_tenant_only_and_downloads_within_the_cap() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "uploads").await;
    let uploads = S3Uploads::new(&clients, &format!("s3://{bucket}/bundles")).unwrap();
    let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let uri = uploads
        .put("acme", "app.tar.gz", body.clone(), "application/gzip")
        .await
        .unwrap();
    assert!(uri.starts_with(&format!("s3://{bucket}/uploads/")), "{uri}");
    assert!(uploads.is_upload(&uri));
    assert_eq!(uploads.file_name(&uri), Some("app.tar.gz"));
    assert!(uploads.holds("acme", &uri).await.unwrap());
    assert!(!uploads.holds("initech", &uri).await.unwrap());
    let missing = uri.replace("/app.tar.gz", "/gone.tar.gz");
    assert!(!uploads.holds("acme", &missing).await.unwrap());
    assert!(uploads
        .put("acme", "../x.tar", Vec::new(), "application/x-tar")
        .await
        .is_err());

    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.tar.gz");
    assert_eq!(uploads.download(&uri, &whole, 5000).await.unwrap(), 5000);
    assert_eq!(std::fs::read(&whole).unwrap(), body);
    let capped = dir.path().join("capped.tar.gz");
    let err = uploads
        .download(&uri, &capped, 4999)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("larger than the 4999 bytes"), "{err}");
    let outside = format!("s3://{bucket}/runs/x/app.tar.gz");
    assert!(uploads
        .download(&outside, &dir.path().join("o"), 10)
        .await
        .is_err());
}
