//! The `ws` Lambda: WebSocket routes and the events table's stream. Clients are built and the JWKS read
//! (`CERTUS_ASSURANCE_JWKS_URI`, from the work bucket) once here; a missing JWKS does not stop the function —
//! it refuses connections and still fans events out. Failures are answered with `errorType` `Retryable` or
//! `NonRetryable`.

use std::sync::Arc;

use certus_apigw::{
    ApiGatewayFanout, ApigwError, ConnectAuth, ConnectionTable, Delivery, ManagementApi, WsHandler,
};
use certus_dynamo::{DynamoEventLog, DynamoJobStore};
use lambda_runtime::{service_fn, tracing, Diagnostic, Error, LambdaEvent};
use serde_json::Value;

/// A failure as the runtime reports it: `errorType` `Retryable` or `NonRetryable`, and the message.
#[derive(Debug)]
struct Failure(ApigwError);

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        Diagnostic {
            error_type: failure.0.error_type().into(),
            error_message: failure.0.to_string(),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let var = |name: &str| std::env::var(name).ok();
    let settings = ws::Settings::from_vars(&var)?;
    let config = certus_apigw::load_sdk_config(None).await?;
    let auth = certus_apigw::connect_auth(&var, &certus_apigw::config_fetcher(&config)).await;
    if let ConnectAuth::Unavailable(reason) = &auth {
        tracing::error!(%reason, "no way to authenticate $connect: every connection is refused");
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let jobs = Arc::new(DynamoJobStore::new(dynamodb.clone(), &settings.jobs_table));
    let events = Arc::new(DynamoEventLog::new(
        dynamodb.clone(),
        &settings.events_table,
    ));
    let delivery = Arc::new(Delivery::new(
        ConnectionTable::new(dynamodb, &settings.connections_table),
        ManagementApi::new(&config, &settings.management_endpoint)?,
        events,
    ));
    let sockets = WsHandler::new(auth, jobs, delivery.clone(), ws::SETTLE);
    let fanout = ApiGatewayFanout::new(delivery);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (sockets, fanout) = (&sockets, &fanout);
        async move {
            ws::handle(sockets, fanout, event.payload)
                .await
                .map_err(Failure)
        }
    }))
    .await
}
