//! The `sync-advisories` Lambda: on its schedule, stores the configured advisory snapshot in the work bucket
//! and makes it current (`certus_advisories::function`); a snapshot that cannot be fetched or checked fails
//! the invocation (`NonRetryable` when refused, `Retryable` for a download or storage hiccup) and leaves the
//! previous one current.

use certus_runtime::Failure;
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let function =
        certus_advisories::function::SyncFunction::from_vars(&|name| std::env::var(name).ok())
            .await?;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| {
        let function = &function;
        async move {
            let pointer = function.invoke().await.map_err(|e| {
                tracing::warn!(error = %e, "advisory snapshot not synced; the current one stays");
                Failure(e)
            })?;
            tracing::info!(sha256 = %pointer.sha256, date = %pointer.snapshot_date, advisories = pointer.advisories, "advisory snapshot current");
            serde_json::to_value(pointer).map_err(|e| {
                Failure(certus_advisories::AdvisoriesError::Storage(format!(
                    "the pointer could not be encoded: {e}"
                )))
            })
        }
    }))
    .await
}
