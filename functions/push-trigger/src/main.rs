//! The `push-trigger` Lambda: CodeCommit pushes delivered by EventBridge start one scan of the pushed commit,
//! recorded in DynamoDB and run by the scan state machine. [`push_trigger::Function`] reads the registrations
//! (from the work bucket) and builds the clients once; registrations that cannot be read make every event
//! fail, naming why.

use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let function = push_trigger::Function::from_vars(&|name| std::env::var(name).ok()).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let function = &function;
        async move { function.invoke(&event.payload).await }
    }))
    .await
}
