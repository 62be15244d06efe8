//! The `ws` Lambda: WebSocket routes and the events table's stream, built once by [`ws::Function`] (a missing
//! JWKS does not stop the function: it refuses connections and still fans events out). Failures are answered
//! with `errorType` `Retryable` or `NonRetryable`.

use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let function = ws::Function::from_vars(&|name| std::env::var(name).ok()).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        function.invoke(event.payload)
    }))
    .await
}
