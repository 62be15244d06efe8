//! `S3Publisher`: raw staging and golden promotion by server-side copy, metadata, idempotent re-runs, and
//! refusal to promote a staged set that does not match the index.

use aws_sdk_s3::types::ChecksumMode;
use certus_aws::{AwsClients, S3ArtifactStore, S3Publisher};
use certus_core::bundle::{BundleIndex, INDEX};
use certus_core::job::Job;
use certus_core::ports::{ArtifactStore, Publisher};
use certus_core::request::SubmitRequest;
use certus_core::CoreError;
use serde_json::json;

use crate::common::{moto_clients, moto_endpoint, new_bucket, put};
use crate::store::{write_bundle, TEST_ID};

pub fn job() -> Job {
    let submission = serde_json::from_value::<SubmitRequest>(json!({
        "workspace_id": "ws1", "component_id": "comp", "assessment_id": "a-1",
        "git_url": "https://example.invalid/repo.git",
        "manifest": {"profiles": [{"name": "light"}]}
    }))
    .unwrap()
    .validate()
    .unwrap();
    let mut job = Job::queued(
        TEST_ID.into(),
        submission,
        "ws://127.0.0.1/stream".into(),
        certus_core::time::now(),
    );
    job.manifest_digest = Some("ab".repeat(32).parse().unwrap());
    job
}

struct Published {
    clients: AwsClients,
    bundles: String,
    raw: String,
    golden: String,
    location: String,
    index: BundleIndex,
    _dir: tempfile::TempDir,
}

async fn stored_bundle(endpoint: &str) -> Published {
    let clients = moto_clients(endpoint);
    let bundles = new_bucket(&clients, "bundles").await;
    let raw = new_bucket(&clients, "raw").await;
    let golden = new_bucket(&clients, "golden").await;
    let dir = tempfile::tempdir().unwrap();
    let index = write_bundle(&dir.path().join("bundle"));
    let store = S3ArtifactStore::new(&clients, &format!("s3://{bundles}/assurance")).unwrap();
    let location = store
        .store_bundle(TEST_ID, &dir.path().join("bundle"), &index)
        .await
        .unwrap();
    Published {
        clients,
        bundles,
        raw,
        golden,
        location,
        index,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_stored_bundle_is_staged_verified_and_promoted() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let b = stored_bundle(&endpoint).await;
    let publisher = S3Publisher::new(
        &b.clients,
        &format!("s3://{}/security-scans", b.raw),
        &format!("s3://{}/security-scans", b.golden),
    )
    .unwrap();
    assert_eq!(
        publisher.raw_destination(TEST_ID),
        format!("s3://{}/security-scans/{TEST_ID}/incoming/", b.raw)
    );

    let job = job();
    let remote = publisher
        .publish(&job, &b.location, &b.index)
        .await
        .unwrap();
    let mut paths: Vec<&str> = b.index.files.iter().map(|e| e.path.as_str()).collect();
    paths.push(INDEX);
    paths.sort();
    assert_eq!(
        remote.raw.keys().map(String::as_str).collect::<Vec<_>>(),
        paths
    );
    assert_eq!(
        remote.golden.keys().map(String::as_str).collect::<Vec<_>>(),
        paths
    );
    assert_eq!(
        remote.golden["scan.json"],
        format!(
            "s3://{}/security-scans/{TEST_ID}/golden/scan.json",
            b.golden
        )
    );
    assert_eq!(
        remote.raw["scan.json"],
        format!("s3://{}/security-scans/{TEST_ID}/incoming/scan.json", b.raw)
    );

    for entry in &b.index.files {
        let head = b
            .clients
            .s3()
            .head_object()
            .bucket(&b.golden)
            .key(format!("security-scans/{TEST_ID}/golden/{}", entry.path))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let metadata = head.metadata().unwrap();
        for (name, value) in [
            ("test_id", TEST_ID),
            ("workspace_id", "ws1"),
            ("component_id", "comp"),
            ("assessment_id", "a-1"),
            ("sha256", entry.sha256.to_string().as_str()),
            ("manifest_digest", &job.manifest_digest.unwrap().to_string()),
        ] {
            assert_eq!(
                metadata.get(name).map(String::as_str),
                Some(value),
                "{name} of {}",
                entry.path
            );
        }
        assert_eq!(head.content_length(), Some(entry.size as i64));
    }

    // Publishing again (a retried step) gives the same answer.
    let again = publisher
        .publish(&job, &b.location, &b.index)
        .await
        .unwrap();
    assert_eq!(again, remote);
}

#[tokio::test]
async fn a_staged_set_that_differs_from_the_index_is_never_promoted() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let b = stored_bundle(&endpoint).await;
    // Someone rewrites a stored file after the index was made.
    put(
        &b.clients,
        &b.bundles,
        &format!("assurance/{TEST_ID}/bundle/scan.json"),
        b"{\"tampered\":true}",
    )
    .await;
    let publisher = S3Publisher::new(
        &b.clients,
        &format!("s3://{}", b.raw),
        &format!("s3://{}/security-scans", b.golden),
    )
    .unwrap();
    let err = publisher
        .publish(&job(), &b.location, &b.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.starts_with(&format!("staged s3://{}/{TEST_ID}/incoming/scan.json", b.raw))),
        "{err}"
    );
    let golden = b
        .clients
        .s3()
        .list_objects_v2()
        .bucket(&b.golden)
        .send()
        .await
        .unwrap();
    assert!(golden.contents().is_empty(), "nothing may reach golden");

    let err = publisher
        .publish(&job(), "/var/lib/certus/bundles/x", &b.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Bundle(m) if m.starts_with("only bundles stored in S3 can be published")),
        "{err}"
    );
}
