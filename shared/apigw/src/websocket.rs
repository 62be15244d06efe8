//! The WebSocket API's handler (API Gateway WebSocket events): `$connect` authenticates with the HTTP API's
//! `AuthConfig` and records the connection with its tenant; `subscribe` (`{"action":"subscribe","test_id":…}`)
//! checks the caller may see the job, records the subscription and replays the persisted history, after which
//! the fan-out sends live events; `$disconnect` forgets the connection.
//!
//! Credentials on `$connect`: `Authorization: Bearer <API key or JWT>` or `X-API-Key` from clients that can
//! set headers; browsers, whose WebSocket API cannot, pass the same credential as the `access_token` query
//! parameter (`wss://…/prod?access_token=…`) — keep it short-lived (a JWT), as URLs may be logged.
//!
//! Refusals the client sees as a message before the connection is dropped: `{"type":"error","code":4404,…}`
//! for a job that does not exist or is not the caller's (as the local stream's close code 4404), `4401` for a
//! connection that is not recorded; `4400` (connection kept) for a malformed message, `4409` for a second
//! job on one connection.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use certus_api::AuthConfig;
use certus_core::ids::parse_test_id;
use certus_core::ports::JobStore;
use serde::Deserialize;
use serde_json::json;

use crate::connections::Subscription;
use crate::delivery::{Delivered, Delivery};
use crate::error::{ApigwError, Result};
use crate::management::Posted;

pub const CODE_BAD_MESSAGE: u16 = 4400;
pub const CODE_NOT_CONNECTED: u16 = 4401;
pub const CODE_UNKNOWN_JOB: u16 = 4404;
pub const CODE_OTHER_JOB: u16 = 4409;
/// Client messages larger than this are refused unread.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
const MAX_CONNECTION_ID_LEN: usize = 128;

/// A client's message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    action: String,
    test_id: String,
}

/// How `$connect` is authenticated: with the deployment's configuration, or not at all when none could be
/// loaded at init — then every connection is refused (503, the reason logged) while `$disconnect`, the
/// messages of no connection and the events-stream fan-out keep working.
pub enum ConnectAuth {
    Ready(AuthConfig),
    Unavailable(String),
}

impl From<AuthConfig> for ConnectAuth {
    fn from(auth: AuthConfig) -> Self {
        Self::Ready(auth)
    }
}

pub struct WsHandler {
    auth: ConnectAuth,
    jobs: Arc<dyn JobStore>,
    delivery: Arc<Delivery>,
    /// After the replay, how long to wait before looking at the log once more: covers the moment in which
    /// the `by_test_id` index (eventually consistent) may not yet show the new subscriber to the fan-out.
    settle: Duration,
}

impl WsHandler {
    pub fn new(
        auth: impl Into<ConnectAuth>,
        jobs: Arc<dyn JobStore>,
        delivery: Arc<Delivery>,
        settle: Duration,
    ) -> Self {
        Self {
            auth: auth.into(),
            jobs,
            delivery,
            settle,
        }
    }

    /// Handles one WebSocket event; the status code answers `$connect` (non-2xx refuses the connection).
    pub async fn handle(
        &self,
        request: ApiGatewayWebsocketProxyRequest,
    ) -> Result<ApiGatewayProxyResponse> {
        let context = &request.request_context;
        let connection_id = context
            .connection_id
            .as_deref()
            .ok_or(ApigwError::BadEvent {
                field: "requestContext.connectionId",
                reason: "missing".into(),
            })?;
        check_connection_id(connection_id)?;
        match context.route_key.as_deref() {
            Some("$connect") => self.connect(connection_id, &request).await,
            Some("$disconnect") => {
                self.delivery.connections().remove(connection_id).await?;
                Ok(response(200))
            }
            Some(_) => self.message(connection_id, request.body.as_deref()).await,
            None => Err(ApigwError::BadEvent {
                field: "requestContext.routeKey",
                reason: "missing".into(),
            }),
        }
    }

    async fn connect(
        &self,
        connection_id: &str,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<ApiGatewayProxyResponse> {
        let auth = match &self.auth {
            ConnectAuth::Ready(auth) => auth,
            ConnectAuth::Unavailable(reason) => {
                tracing::error!(connection_id, %reason, "connection refused: no authentication is configured");
                return Ok(response(503));
            }
        };
        let token = request.query_string_parameters.first("access_token");
        match auth.authenticate(&request.headers, token) {
            Ok(principal) => {
                self.delivery
                    .connections()
                    .record(connection_id, &principal)
                    .await?;
                tracing::info!(connection_id, tenant = %principal.tenant, "connected");
                Ok(response(200))
            }
            Err(refusal) => {
                tracing::info!(connection_id, reason = %refusal, "connection refused");
                Ok(response(401))
            }
        }
    }

    async fn message(
        &self,
        connection_id: &str,
        body: Option<&str>,
    ) -> Result<ApiGatewayProxyResponse> {
        let message = match parse_message(body) {
            Ok(message) => message,
            Err(reason) => {
                self.tell(connection_id, CODE_BAD_MESSAGE, &reason).await?;
                return Ok(response(200));
            }
        };
        self.subscribe(connection_id, &message.test_id).await?;
        Ok(response(200))
    }

    async fn subscribe(&self, connection_id: &str, test_id: &str) -> Result<()> {
        let connections = self.delivery.connections();
        let Some(connection) = connections.get(connection_id).await? else {
            return self
                .refuse(
                    connection_id,
                    CODE_NOT_CONNECTED,
                    "this connection is not authenticated",
                )
                .await;
        };
        let job = match parse_test_id(test_id) {
            Ok(test_id) => self.jobs.get(test_id).await?,
            Err(_) => None,
        };
        let Some(job) = job.filter(|job| {
            connection
                .principal
                .may_see(job.tenant.as_deref(), &job.ids.workspace_id)
        }) else {
            return self
                .refuse(connection_id, CODE_UNKNOWN_JOB, "job not found")
                .await;
        };
        match connections.subscribe(connection_id, &job.test_id).await? {
            Subscription::Recorded => {}
            Subscription::NoConnection => return Ok(()),
            Subscription::OtherJob(other) => {
                let reason = format!(
                    "this connection follows job {other}; open another for {}",
                    job.test_id
                );
                return self.tell(connection_id, CODE_OTHER_JOB, &reason).await;
            }
        }
        let outcome = self
            .delivery
            .catch_up(connection_id, &job.test_id, None)
            .await?;
        tracing::info!(connection_id, test_id = %job.test_id, ?outcome, "subscribed");
        if matches!(outcome, Delivered::UpToDate | Delivered::Busy) && !self.settle.is_zero() {
            tokio::time::sleep(self.settle).await;
            self.delivery
                .catch_up(connection_id, &job.test_id, None)
                .await?;
        }
        Ok(())
    }

    /// Sends an error message; the connection stays open.
    async fn tell(&self, connection_id: &str, code: u16, reason: &str) -> Result<()> {
        let message = json!({"type": "error", "code": code, "message": reason}).to_string();
        if self
            .delivery
            .management()
            .post(connection_id, message.as_bytes())
            .await?
            == Posted::Gone
        {
            self.delivery.connections().remove(connection_id).await?;
        }
        Ok(())
    }

    /// Sends an error message, then drops the connection.
    async fn refuse(&self, connection_id: &str, code: u16, reason: &str) -> Result<()> {
        self.tell(connection_id, code, reason).await?;
        self.delivery.finish(connection_id).await
    }
}

fn parse_message(body: Option<&str>) -> std::result::Result<ClientMessage, String> {
    let body = body.ok_or("the message is empty")?;
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "the message is larger than {MAX_MESSAGE_BYTES} bytes"
        ));
    }
    let message: ClientMessage = serde_json::from_str(body)
        .map_err(|e| format!("send {{\"action\":\"subscribe\",\"test_id\":\"…\"}}: {e}"))?;
    if message.action != "subscribe" {
        return Err(format!(
            "unknown action '{}': the only action is subscribe",
            message.action.chars().take(40).collect::<String>()
        ));
    }
    Ok(message)
}

/// API Gateway's connection ids are short base64-like strings; anything else is not from API Gateway.
fn check_connection_id(connection_id: &str) -> Result<()> {
    let fine = !connection_id.is_empty()
        && connection_id.len() <= MAX_CONNECTION_ID_LEN
        && connection_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=+/_-".contains(&b));
    if fine {
        Ok(())
    } else {
        Err(ApigwError::BadEvent {
            field: "requestContext.connectionId",
            reason: "not an API Gateway connection id".into(),
        })
    }
}

fn response(status: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = (status != 200).then(|| Body::Text(String::new()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_must_be_small_subscribe_requests() {
        let ok = parse_message(Some(
            r#"{"action":"subscribe","test_id":"test_0123456789ab"}"#,
        ))
        .unwrap();
        assert_eq!(ok.test_id, "test_0123456789ab");
        assert!(parse_message(None).unwrap_err().contains("empty"));
        assert!(parse_message(Some(r#"{"action":"delete","test_id":"x"}"#))
            .unwrap_err()
            .contains("unknown action 'delete'"));
        assert!(
            parse_message(Some(r#"{"action":"subscribe","test_id":"x","extra":1}"#))
                .unwrap_err()
                .contains("unknown field `extra`")
        );
        let big = format!(
            r#"{{"action":"subscribe","test_id":"{}"}}"#,
            "a".repeat(5000)
        );
        assert!(parse_message(Some(&big))
            .unwrap_err()
            .contains("larger than"));
    }

    #[test]
    fn connection_ids_are_checked() {
        assert!(check_connection_id("L0SM9cOFvHcCIhw=").is_ok());
        for bad in ["", "a/../b c", "id\n", &"x".repeat(200)] {
            assert!(check_connection_id(bad).is_err(), "{bad:?}");
        }
    }
}
