//! `S3RunStore`: a run's between-steps files under its own prefix, streamed both ways, keys confined to the
//! run, missing objects answered as absent, size caps enforced.

use certus_aws::S3RunStore;
use certus_core::ports::RunStore;

use crate::common::{moto_clients, moto_endpoint, new_bucket};

const RUN: &str = "test_0123456789ab";
const OTHER: &str = "test_ba9876543210";

#[tokio::test]
async fn run_files_round_trip_under_the_runs_prefix_and_stay_confined() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "runs").await;
    let store = S3RunStore::new(&clients, &format!("s3://{bucket}/runs")).unwrap();

    store
        .put(RUN, "state.json", b"{\"a\":1}".to_vec())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    let local = dir.path().join("source.tgz");
    std::fs::write(&local, &big).unwrap();
    store.put_file(RUN, "source.tgz", &local).await.unwrap();
    store
        .put(RUN, "bundle/reports/sast/x.sarif.json", b"{}".to_vec())
        .await
        .unwrap();
    store
        .put(OTHER, "bundle/manifest.json", b"{}".to_vec())
        .await
        .unwrap();

    assert_eq!(
        store.get(RUN, "state.json", 100).await.unwrap().unwrap(),
        b"{\"a\":1}"
    );
    assert!(store.get(RUN, "missing.json", 100).await.unwrap().is_none());
    assert!(
        store.get(RUN, "source.tgz", 1000).await.is_err(),
        "size cap"
    );
    let back = dir.path().join("out/source.tgz");
    assert!(store.get_file(RUN, "source.tgz", &back).await.unwrap());
    assert_eq!(std::fs::read(&back).unwrap(), big);
    assert!(!store.get_file(RUN, "nothing", &back).await.unwrap());
    assert_eq!(
        store.list(RUN, "bundle/").await.unwrap(),
        ["bundle/reports/sast/x.sarif.json"],
        "another run's files are not listed"
    );
    let listed = clients
        .s3()
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("runs/{RUN}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(3));

    for bad in ["../escape", "/abs", "a/../../b", ""] {
        assert!(
            store.put(RUN, bad, vec![]).await.is_err(),
            "{bad:?} accepted"
        );
    }
    assert!(store.put("../../x", "k", vec![]).await.is_err());
}
