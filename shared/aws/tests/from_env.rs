//! `AwsClients::from_env` against moto: the environment's credential chain with dummy credentials, an
//! endpoint override and path-style S3. Alone in its test binary because it sets process environment.

use certus_aws::{AwsClients, S3Fetcher};
use certus_core::ports::ManifestFetcher;
use certus_core::CoreError;

#[tokio::test]
async fn clients_from_the_environment_reach_the_endpoint_path_style() {
    let err = AwsClients::from_env(Some("127.0.0.1:5099"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Validation(errors) if errors[0].field == "endpoint"),
        "{err}"
    );

    let Some(endpoint) = certus_testkit::moto_endpoint() else {
        return;
    };
    // Dummy credentials only, and never the cloud metadata address.
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(name, value);
    }
    std::env::remove_var("AWS_PROFILE");
    std::env::remove_var("AWS_ENDPOINT_URL");

    let clients = AwsClients::from_env(Some(&endpoint)).await.unwrap();
    let bucket = certus_testkit::unique_name("env");
    clients
        .s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    clients
        .s3()
        .put_object()
        .bucket(&bucket)
        .key("m.json")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let fetched = S3Fetcher::new(&clients)
        .fetch(&format!("s3://{bucket}/m.json"), 16)
        .await
        .unwrap();
    assert_eq!(fetched, b"{}");
}
