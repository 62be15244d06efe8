//! `S3ScanCache`: indexes under `scan-cache/` of the work bucket, one request per read and per write, a
//! missing index answered as none, names that are not digests refused before any request, reads capped.

use certus_aws::S3ScanCache;
use certus_core::incremental::ScanCache;
use certus_testkit::S3RequestCounter;

use certus_aws::AwsClients;

use crate::common::{moto_clients, moto_endpoint, new_bucket};

fn digest(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn counting_clients(endpoint: &str, requests: S3RequestCounter) -> AwsClients {
    let plain = moto_clients(endpoint);
    let s3_config = plain
        .s3()
        .config()
        .to_builder()
        .interceptor(requests)
        .build();
    AwsClients::new(
        aws_sdk_s3::Client::from_conf(s3_config),
        plain.kms().clone(),
    )
}

#[tokio::test]
async fn indexes_round_trip_in_one_request_each_and_names_must_be_digests() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let bucket = new_bucket(&moto_clients(&endpoint), "scan-cache").await;
    let requests = S3RequestCounter::new("");
    let clients = counting_clients(&endpoint, requests.clone());
    let cache = S3ScanCache::new(&clients, &format!("s3://{bucket}")).unwrap();

    assert_eq!(cache.index(&digest(1), &digest(2)).await.unwrap(), None);
    assert_eq!(requests.count(), 1, "one GetObject");
    cache
        .put_index(&digest(1), &digest(2), vec![b'a'; 100])
        .await
        .unwrap();
    assert_eq!(requests.count(), 2, "one PutObject");
    assert_eq!(
        cache.index(&digest(1), &digest(2)).await.unwrap(),
        Some(vec![b'a'; 100])
    );
    assert_eq!(requests.count(), 3, "one GetObject");
    assert_eq!(cache.index(&digest(1), &digest(3)).await.unwrap(), None);
    let listed = moto_clients(&endpoint)
        .s3()
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [format!("scan-cache/{}/{}.idx", digest(1), digest(2))]
    );

    for (scope, lineage) in [
        ("../x".to_string(), digest(2)),
        (digest(1), "abc".to_string()),
        (digest(1), format!("{}/..", &digest(2)[..61])),
    ] {
        let err = cache.index(&scope, &lineage).await.unwrap_err();
        assert!(err.to_string().contains("a SHA-256 digest is"), "{err}");
        let err = cache
            .put_index(&scope, &lineage, b"x".to_vec())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("a SHA-256 digest is"), "{err}");
    }
    assert_eq!(
        requests.count(),
        4,
        "a name that is not a digest is refused before any request"
    );

    let small = cache.clone().with_max_bytes(99);
    let err = small.index(&digest(1), &digest(2)).await.unwrap_err();
    assert!(err.to_string().contains("larger than the limit"), "{err}");
}
