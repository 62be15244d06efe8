//! `S3ArtifactStore` and `download_prefix`: keys, metadata and checksums of a stored bundle, idempotent
//! re-upload, refusal of unconfined index paths and of files that disagree with the index, the download
//! round trip, hostile keys and the download caps.

use std::collections::BTreeSet;

use aws_sdk_s3::types::ChecksumMode;
use base64::Engine;
use certus_aws::{
    download_prefix, download_prefix_with, AwsClients, DownloadLimits, S3ArtifactStore,
};
use certus_core::bundle::{check_index, read_index, BundleIndex, BundleWriter, IndexEntry, INDEX};
use certus_core::ports::ArtifactStore;
use certus_core::CoreError;

use crate::common::{moto_clients, moto_endpoint, new_bucket, put};

pub const TEST_ID: &str = "tst_0123456789abcdef";

pub fn write_bundle(root: &std::path::Path) -> BundleIndex {
    let writer = BundleWriter::new(root.to_path_buf()).unwrap();
    writer
        .write("scan.json", br#"{"job":{"status":"SUCCEEDED"}}"#)
        .unwrap();
    writer
        .write("reports/sast/secrets.sarif.json", b"{\"runs\":[]}")
        .unwrap();
    writer.write("stream.jsonl", b"{\"seq\":1}\n").unwrap();
    // Larger than the upload read buffer, so streaming takes several reads.
    let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    writer.write("logs/runner.log", &large).unwrap();
    writer.write_index().unwrap()
}

async fn keys_under(clients: &AwsClients, bucket: &str, prefix: &str) -> BTreeSet<String> {
    let listed = clients
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_bundle_is_stored_with_metadata_and_checksums_and_downloads_back() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "store").await;
    let dir = tempfile::tempdir().unwrap();
    let bundle_dir = dir.path().join("bundle");
    let index = write_bundle(&bundle_dir);
    let store = S3ArtifactStore::new(&clients, &format!("s3://{bucket}/assurance/")).unwrap();

    let expected_location = format!("s3://{bucket}/assurance/{TEST_ID}/bundle");
    assert_eq!(store.location(TEST_ID), expected_location);
    let stored = store
        .store_bundle(TEST_ID, &bundle_dir, &index)
        .await
        .unwrap();
    assert_eq!(stored, expected_location);

    let prefix = format!("assurance/{TEST_ID}/bundle/");
    let mut expected: BTreeSet<String> = index
        .files
        .iter()
        .map(|e| format!("{prefix}{}", e.path))
        .collect();
    expected.insert(format!("{prefix}{INDEX}"));
    assert_eq!(keys_under(&clients, &bucket, &prefix).await, expected);

    for entry in &index.files {
        let head = clients
            .s3()
            .head_object()
            .bucket(&bucket)
            .key(format!("{prefix}{}", entry.path))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let metadata = head.metadata().unwrap();
        assert_eq!(metadata.get("test_id").map(String::as_str), Some(TEST_ID));
        assert_eq!(metadata.get("sha256"), Some(&entry.sha256.to_string()));
        let checksum = base64::engine::general_purpose::STANDARD.encode(entry.sha256.as_bytes());
        assert_eq!(
            head.checksum_sha256(),
            Some(checksum.as_str()),
            "{}",
            entry.path
        );
        assert_eq!(head.content_length(), Some(entry.size as i64));
    }

    // Storing the same bundle again is harmless.
    let again = store
        .store_bundle(TEST_ID, &bundle_dir, &index)
        .await
        .unwrap();
    assert_eq!(again, expected_location);
    assert_eq!(keys_under(&clients, &bucket, &prefix).await, expected);

    // Single files can be read back through the store, within a cap.
    let scan = store.read_file(&stored, "scan.json", 1024).await.unwrap();
    assert_eq!(
        scan.as_deref(),
        Some(
            std::fs::read(bundle_dir.join("scan.json"))
                .unwrap()
                .as_slice()
        )
    );
    assert_eq!(
        store
            .read_file(&stored, "reports/sast/none.sarif.json", 1024)
            .await
            .unwrap(),
        None
    );
    let err = store
        .read_file(&stored, "logs/runner.log", 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.contains("larger than the limit of 1024 bytes")),
        "{err}"
    );
    let err = store.read_file(&stored, "../../x", 1024).await.unwrap_err();
    assert!(matches!(&err, CoreError::PathEscape { .. }), "{err}");
    let elsewhere = format!("s3://{bucket}-other/assurance/{TEST_ID}/bundle");
    let err = store
        .read_file(&elsewhere, "scan.json", 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.contains("is not a bundle location of this store")),
        "{err}"
    );

    // And it comes back byte for byte.
    let dest = dir.path().join("downloaded");
    let summary = download_prefix(&clients, &stored, &dest).await.unwrap();
    assert_eq!(summary.files.len(), index.files.len() + 1);
    assert_eq!(
        summary.total_bytes,
        index.total_size() + std::fs::metadata(bundle_dir.join(INDEX)).unwrap().len()
    );
    let downloaded_index = read_index(&dest).unwrap();
    assert_eq!(downloaded_index, index);
    assert!(check_index(&dest, &downloaded_index).unwrap().is_empty());

    // A second download into the now non-empty directory is refused.
    let err = download_prefix(&clients, &stored, &dest).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.contains("is not empty")),
        "{err}"
    );
}

#[tokio::test]
async fn unconfined_or_disagreeing_index_entries_are_refused() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "refuse").await;
    let dir = tempfile::tempdir().unwrap();
    let bundle_dir = dir.path().join("bundle");
    let index = write_bundle(&bundle_dir);
    let store = S3ArtifactStore::new(&clients, &format!("s3://{bucket}")).unwrap();
    assert_eq!(
        store.location(TEST_ID),
        format!("s3://{bucket}/{TEST_ID}/bundle")
    );

    let mut escaping = index.clone();
    escaping.files.push(IndexEntry {
        path: "../outside.txt".into(),
        size: 1,
        sha256: "00".repeat(32).parse().unwrap(),
    });
    let err = store
        .store_bundle(TEST_ID, &bundle_dir, &escaping)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::PathEscape { reason, .. } if reason == "contains '..'"),
        "{err}"
    );
    assert!(
        keys_under(&clients, &bucket, "").await.is_empty(),
        "nothing may be uploaded"
    );

    let mut wrong_size = index.clone();
    wrong_size.files[0].size += 1;
    let err = store
        .store_bundle(TEST_ID, &bundle_dir, &wrong_size)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.contains("but the index says")),
        "{err}"
    );

    let err = store
        .store_bundle("../x", &bundle_dir, &index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.contains("cannot name a storage location")),
        "{err}"
    );

    // Same size, other bytes: refused before upload (and S3 would refuse the checksum too).
    std::fs::write(
        bundle_dir.join("scan.json"),
        br#"{"job":{"status":"SUCCEEDED"}}"#.map(|b| if b == b'S' { b'X' } else { b }),
    )
    .unwrap();
    let err = store
        .store_bundle(TEST_ID, &bundle_dir, &index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.starts_with("scan.json has sha256") && m.contains("but the index says")),
        "{err}"
    );
}

#[tokio::test]
async fn hostile_keys_and_oversized_prefixes_are_refused_on_download() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "hostile").await;
    put(&clients, &bucket, "evil/bundle/scan.json", b"{}").await;
    put(&clients, &bucket, "evil/bundle/a/../../x", b"escape").await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let err = download_prefix(&clients, &format!("s3://{bucket}/evil/bundle"), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::PathEscape { path, reason } if path == "a/../../x" && reason == "contains '..'"),
        "{err}"
    );
    assert!(
        !dest.exists(),
        "nothing may be written when a key is refused"
    );
    assert!(!dir.path().join("x").exists());

    put(&clients, &bucket, "many/1", b"1").await;
    put(&clients, &bucket, "many/2", b"22").await;
    let limits = DownloadLimits {
        max_objects: 1,
        max_total_bytes: 1024,
    };
    let err = download_prefix_with(&clients, &format!("s3://{bucket}/many"), &dest, limits)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.ends_with("holds more than 1 objects")),
        "{err}"
    );
    let limits = DownloadLimits {
        max_objects: 10,
        max_total_bytes: 2,
    };
    let err = download_prefix_with(&clients, &format!("s3://{bucket}/many"), &dest, limits)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.ends_with("holds more than 2 bytes")),
        "{err}"
    );

    let err = download_prefix(&clients, &format!("s3://{bucket}/nothing-here"), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.starts_with("no objects under")),
        "{err}"
    );
}

#[tokio::test]
async fn links_leading_out_of_the_bundle_are_refused() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "links").await;
    let dir = tempfile::tempdir().unwrap();
    let bundle_dir = dir.path().join("bundle");
    let index = write_bundle(&bundle_dir);
    std::fs::write(dir.path().join("secret.txt"), b"outside").unwrap();
    std::fs::remove_file(bundle_dir.join("scan.json")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), bundle_dir.join("scan.json"))
        .unwrap();
    let store = S3ArtifactStore::new(&clients, &format!("s3://{bucket}")).unwrap();
    let err = store
        .store_bundle(TEST_ID, &bundle_dir, &index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::PathEscape { path, reason } if path == "scan.json" && reason.contains("symlink")),
        "{err}"
    );
}
