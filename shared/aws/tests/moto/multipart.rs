//! Multipart server-side copies in `S3Publisher`: a 12 MiB file published with a 5 MiB threshold lands in
//! raw and golden byte for byte with its metadata; a source that differs from the index is refused before
//! any part is copied; a part that fails aborts the upload, leaving no parts and no object behind; an index
//! entry beyond S3's 5 TiB limit is refused before anything is copied.

use std::sync::atomic::AtomicUsize;

use certus_aws::{
    AwsClients, S3ArtifactStore, S3Publisher, MAX_MULTIPART_OBJECT_BYTES, MIN_PART_BYTES,
};
use certus_core::bundle::{BundleIndex, BundleWriter};
use certus_core::digest::sha256_hex;
use certus_core::ports::{ArtifactStore, Publisher};
use certus_core::CoreError;

use crate::common::{
    get, is_copy_to, listing, moto_clients, moto_clients_with, moto_endpoint, new_bucket, put,
    FailAfter,
};
use crate::publish::job;
use crate::store::TEST_ID;

const BIG: &str = "reports/sbom/big.bin";
const BIG_BYTES: usize = 12 * 1024 * 1024;

struct Stored {
    clients: AwsClients,
    bundles: String,
    raw: String,
    golden: String,
    location: String,
    index: BundleIndex,
    big: Vec<u8>,
    _dir: tempfile::TempDir,
}

async fn stored(endpoint: &str) -> Stored {
    let clients = moto_clients(endpoint);
    let bundles = new_bucket(&clients, "mp-bundles").await;
    let raw = new_bucket(&clients, "mp-raw").await;
    let golden = new_bucket(&clients, "mp-golden").await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bundle");
    let writer = BundleWriter::new(root.clone()).unwrap();
    writer.write("scan.json", br#"{"job":{}}"#).unwrap();
    let big: Vec<u8> = (0..BIG_BYTES as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    writer.write(BIG, &big).unwrap();
    let index = writer.write_index().unwrap();
    let store = S3ArtifactStore::new(&clients, &format!("s3://{bundles}/assurance")).unwrap();
    let location = store.store_bundle(TEST_ID, &root, &index).await.unwrap();
    Stored {
        clients,
        bundles,
        raw,
        golden,
        location,
        index,
        big,
        _dir: dir,
    }
}

fn publisher(clients: &AwsClients, s: &Stored) -> S3Publisher {
    S3Publisher::new(
        clients,
        &format!("s3://{}/security-scans", s.raw),
        &format!("s3://{}/security-scans", s.golden),
    )
    .unwrap()
    .with_multipart_threshold(MIN_PART_BYTES)
    .with_part_size(MIN_PART_BYTES)
}

async fn open_uploads(clients: &AwsClients, bucket: &str) -> usize {
    clients
        .s3()
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .uploads()
        .len()
}

#[tokio::test]
async fn a_large_file_is_copied_in_parts_to_raw_and_golden() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = stored(&endpoint).await;
    let job = job();
    let remote = publisher(&s.clients, &s)
        .publish(&job, &s.location, &s.index)
        .await
        .unwrap();
    assert_eq!(
        remote.golden[BIG],
        format!("s3://{}/security-scans/{TEST_ID}/golden/{BIG}", s.golden)
    );
    let expected = s.index.get(BIG).unwrap().sha256.to_string();
    assert_eq!(expected, sha256_hex(&s.big));
    for (bucket, key) in [
        (&s.raw, format!("security-scans/{TEST_ID}/incoming/{BIG}")),
        (&s.golden, format!("security-scans/{TEST_ID}/golden/{BIG}")),
    ] {
        let bytes = get(&s.clients, bucket, &key).await;
        assert_eq!(bytes.len(), BIG_BYTES, "{key}");
        assert_eq!(sha256_hex(&bytes), expected, "{key}");
        let head = s
            .clients
            .s3()
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let metadata = head.metadata().unwrap();
        for (name, value) in [
            ("test_id", TEST_ID),
            ("workspace_id", "ws1"),
            ("component_id", "comp"),
            ("assessment_id", "a-1"),
            ("sha256", expected.as_str()),
            ("manifest_digest", &job.manifest_digest.unwrap().to_string()),
        ] {
            assert_eq!(
                metadata.get(name).map(String::as_str),
                Some(value),
                "{name} of {key}"
            );
        }
        // A multipart object's ETag names its part count: three parts of at most 5 MiB.
        assert!(
            head.e_tag().unwrap().trim_matches('"').ends_with("-3"),
            "{key}: {:?}",
            head.e_tag()
        );
        assert_eq!(open_uploads(&s.clients, bucket).await, 0);
    }
    // The small file still went by a single copy with its full-object checksum.
    let small = get(
        &s.clients,
        &s.golden,
        &format!("security-scans/{TEST_ID}/golden/scan.json"),
    )
    .await;
    assert_eq!(small, br#"{"job":{}}"#);

    // Publishing again gives the same answer.
    let again = publisher(&s.clients, &s)
        .publish(&job, &s.location, &s.index)
        .await
        .unwrap();
    assert_eq!(again, remote);
}

#[tokio::test]
async fn a_large_source_that_differs_from_the_index_is_not_copied() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = stored(&endpoint).await;
    // Same size, other bytes, written without the checksum or metadata the store sets.
    let mut other = s.big.clone();
    other[7] ^= 0xff;
    let source_key = format!("assurance/{TEST_ID}/bundle/{BIG}");
    put(&s.clients, &s.bundles, &source_key, &other).await;
    let err = publisher(&s.clients, &s)
        .publish(&job(), &s.location, &s.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.starts_with(&format!(
            "s3://{}/{source_key} does not match the index digest sha256:{}",
            s.bundles,
            s.index.get(BIG).unwrap().sha256
        ))),
        "{err}"
    );
    assert!(listing(&s.clients, &s.raw, "")
        .await
        .keys()
        .all(|k| !k.ends_with(BIG)));
    assert!(listing(&s.clients, &s.golden, "").await.is_empty());
    assert_eq!(open_uploads(&s.clients, &s.raw).await, 0);
}

#[tokio::test]
async fn a_failed_part_aborts_the_upload() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = stored(&endpoint).await;
    // The second part copied into raw fails (and so does every later copy into raw).
    let failing = moto_clients_with(
        &endpoint,
        FailAfter {
            matches: |raw, request| {
                is_copy_to(raw, request) && request.uri().contains("partNumber=2")
            },
            target: format!("/{}/", s.raw),
            allowed: 0,
            seen: AtomicUsize::new(0),
        },
    );
    let err = publisher(&failing, &s)
        .publish(&job(), &s.location, &s.index)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "of s3://{}/{} to s3://{}/security-scans/{TEST_ID}/incoming/{BIG} (part 2)",
            s.bundles,
            format_args!("assurance/{TEST_ID}/bundle/{BIG}"),
            s.raw
        )),
        "{message}"
    );
    assert_eq!(
        open_uploads(&s.clients, &s.raw).await,
        0,
        "the upload was aborted"
    );
    assert!(listing(&s.clients, &s.raw, "")
        .await
        .keys()
        .all(|k| !k.ends_with(BIG)));
    assert!(listing(&s.clients, &s.golden, "").await.is_empty());
}

#[tokio::test]
async fn an_entry_beyond_five_tebibytes_is_refused_before_any_copy() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = stored(&endpoint).await;
    let mut index = s.index.clone();
    let entry = index.files.iter_mut().find(|e| e.path == BIG).unwrap();
    entry.size = MAX_MULTIPART_OBJECT_BYTES + 1;
    let err = publisher(&s.clients, &s)
        .publish(&job(), &s.location, &index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m == &format!(
            "{BIG} is {} bytes, more than S3's 5 TiB object limit",
            MAX_MULTIPART_OBJECT_BYTES + 1
        )),
        "{err}"
    );
    assert!(listing(&s.clients, &s.raw, "").await.is_empty());
}
