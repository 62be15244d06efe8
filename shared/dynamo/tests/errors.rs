//! A DynamoDB failure no retry can cure is never reported as retryable storage trouble: the variant follows
//! the service's error code. Runs against moto (`CERTUS_MOTO_ENDPOINT`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_core::ports::JobStore;
use certus_core::{CoreError, Retryability};
use certus_dynamo::DynamoJobStore;
use common::{client, id, job, moto_endpoint, tables, unique};

#[tokio::test]
async fn a_missing_table_is_a_config_error_never_retried() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let store = DynamoJobStore::new(client(&endpoint), unique("no-such-table"));
    let err = store.get(&id(1)).await.unwrap_err();
    assert!(matches!(err, CoreError::Config(_)), "{err:?}");
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
}

#[tokio::test]
async fn an_item_over_the_size_limit_is_refused_never_retried() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let t = tables(&endpoint).await;
    let mut big = job(2, ("w", "c", "a"), "https://git.example.invalid/r.git", 1);
    // DynamoDB items hold at most 400 KB; the record attribute alone is larger.
    big.warnings = vec!["w".repeat(1024); 450];
    let err = t.jobs.create(&big).await.unwrap_err();
    assert!(matches!(err, CoreError::Validation(_)), "{err:?}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("ValidationException"), "{err}");
}
