//! The `ws` Lambda: WebSocket routes and the events table's stream. Clients are built and the JWKS read
//! (`CERTUS_ASSURANCE_JWKS_URI`, from the work bucket) once here; a missing JWKS does not stop the function —
//! it refuses connections and still fans events out. Failures are answered with `errorType` `Retryable` or
//! `NonRetryable`.

use std::sync::Arc;

use certus_apigw::{
    ApiGatewayFanout, ConnectAuth, ConnectionTable, Delivery, ManagementApi, WsHandler,
};
use certus_dynamo::{DynamoEventLog, DynamoJobStore};
use certus_runtime::Failure;
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use serde_json::Value;

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
