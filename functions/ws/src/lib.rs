//! The `ws` Lambda's handler. It is invoked two ways: by the WebSocket API (`$connect`, `subscribe`,
//! `$disconnect`, `$default`), answered by `certus_apigw::WsHandler`; and by the events table's stream, whose
//! new events go to the job's subscribers through `ApiGatewayFanout`. A stream record that is not a stored
//! event is logged and skipped (retrying cannot mend it); delivery problems never fail the batch.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use certus_apigw::{
    ApiGatewayFanout, ApigwError, ConnectAuth, ConnectionTable, Delivery, ManagementApi, WsHandler,
};
use certus_core::event::Event;
use certus_core::ports::EventSink;
use certus_core::settings::Vars;
use certus_dynamo::{DynamoEventLog, DynamoJobStore};
use serde_json::Value;

/// After a replay, the wait before a last look at the log (the subscriber index is eventually consistent).
pub const SETTLE: Duration = Duration::from_millis(1500);

/// What the function reads from its environment besides authentication.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connections_table: String,
    pub jobs_table: String,
    pub events_table: String,
    /// The management API of the WebSocket stage, `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub management_endpoint: String,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let [connections_table, jobs_table, events_table, management_endpoint] = Vars::new(var)
            .required([
                "CONNECTIONS_TABLE",
                "JOBS_TABLE",
                "EVENTS_TABLE",
                "WS_ENDPOINT",
            ])?;
        Ok(Self {
            connections_table,
            jobs_table,
            events_table,
            management_endpoint,
        })
    }
}

/// The function as built once per container: the WebSocket routes and the stream's fan-out.
pub struct Function {
    sockets: WsHandler,
    fanout: ApiGatewayFanout,
}

impl Function {
    /// Reads the settings through `var`, then builds the clients and reads the JWKS. A JWKS that cannot be
    /// loaded does not stop the function: it is logged, every connection is refused, and events still fan out.
    pub async fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let settings = Settings::from_vars(var)?;
        let config = certus_apigw::load_sdk_config(None).await?;
        let auth = certus_apigw::connect_auth(var, &certus_apigw::config_fetcher(&config)).await;
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
        Ok(Self {
            sockets: WsHandler::new(auth, jobs, delivery.clone(), SETTLE),
            fanout: ApiGatewayFanout::new(delivery),
        })
    }

    /// One invocation, its failure typed for the runtime.
    pub async fn invoke(
        &self,
        payload: Value,
    ) -> Result<Value, certus_runtime::Failure<ApigwError>> {
        handle(&self.sockets, &self.fanout, payload)
            .await
            .map_err(certus_runtime::Failure)
    }
}

/// Handles one invocation: a stream batch (answered `null`) or a WebSocket event (answered with its status).
pub async fn handle(
    sockets: &WsHandler,
    fanout: &ApiGatewayFanout,
    payload: Value,
) -> Result<Value, ApigwError> {
    if payload.get("Records").is_some() {
        for event in stored_events(&payload) {
            fanout.deliver(&event).await;
        }
        return Ok(Value::Null);
    }
    let request: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(payload).map_err(|e| ApigwError::BadEvent {
            field: "payload",
            reason: format!("neither a stream batch nor a WebSocket event: {e}"),
        })?;
    let response = sockets.handle(request).await?;
    serde_json::to_value(response).map_err(|e| ApigwError::BadEvent {
        field: "response",
        reason: e.to_string(),
    })
}

/// The events of a stream batch's `INSERT` records (`dynamodb.NewImage.event`, the stored JSON line), in
/// batch order; anything else is skipped with a log line.
pub fn stored_events(batch: &Value) -> Vec<Event> {
    let records = batch["Records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut events = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        if record["eventName"] != "INSERT" {
            continue;
        }
        let parsed = record["dynamodb"]["NewImage"]["event"]["S"]
            .as_str()
            .ok_or_else(|| "no NewImage.event string".to_string())
            .and_then(|line| serde_json::from_str::<Event>(line).map_err(|e| e.to_string()));
        match parsed {
            Ok(event) => events.push(event),
            Err(reason) => {
                tracing::warn!(index, reason = %reason, "stream record skipped: not a stored event");
            }
        }
    }
    events
}
