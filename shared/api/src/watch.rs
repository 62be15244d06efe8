//! The client side of the event stream, for `certus watch <test_id>`: connects to a job's stream URL, hands
//! every event to the caller, and ends at `scan_complete` or when the server closes.

use certus_core::event::Event;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::error::{ApiError, Result};
use crate::stream::CLOSE_UNKNOWN_JOB;

/// Events are small, but a log line may be long; nothing larger is accepted from the server.
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Watches the stream at `url` (`ws://host:port/v1/security-scans/<test_id>/stream`), with an API key or
/// bearer token when the server needs one. Returns the `scan_complete` event, or `None` when the server
/// closed normally without one (the job ended without a final event).
pub async fn watch<F: FnMut(&Event)>(
    url: &str,
    token: Option<&str>,
    mut on_event: F,
) -> Result<Option<Event>> {
    let connect_error = |reason: String| ApiError::WatchConnect {
        url: url.to_string(),
        reason,
    };
    let mut request = url
        .into_client_request()
        .map_err(|e| connect_error(e.to_string()))?;
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| connect_error("the token is not visible ASCII".into()))?;
        request.headers_mut().insert("authorization", value);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_EVENT_BYTES))
        .max_frame_size(Some(MAX_EVENT_BYTES));
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .map_err(|e| match e {
            WsError::Http(response) if matches!(response.status().as_u16(), 401 | 403) => {
                ApiError::WatchUnauthorized {
                    url: url.to_string(),
                    status: response.status().as_u16(),
                }
            }
            WsError::Http(response) => {
                connect_error(format!("the server answered HTTP {}", response.status()))
            }
            other => connect_error(other.to_string()),
        })?;
    while let Some(message) = socket.next().await {
        match message.map_err(|e| ApiError::WatchProtocol(e.to_string()))? {
            Message::Text(text) => {
                let event: Event = serde_json::from_str(text.as_str()).map_err(|e| {
                    ApiError::WatchProtocol(format!(
                        "the server sent something that is not an event: {e}"
                    ))
                })?;
                on_event(&event);
                if event.body.is_terminal() {
                    return Ok(Some(event));
                }
            }
            Message::Close(Some(frame)) if u16::from(frame.code) == CLOSE_UNKNOWN_JOB => {
                return Err(ApiError::WatchUnknownJob(job_of(url)));
            }
            Message::Close(_) => return Ok(None),
            // Pings are answered by the library; nothing else is expected.
            _ => {}
        }
    }
    Err(ApiError::WatchProtocol(
        "the connection ended before scan_complete".into(),
    ))
}

fn job_of(url: &str) -> String {
    url.trim_end_matches("/stream")
        .rsplit('/')
        .next()
        .unwrap_or(url)
        .chars()
        .take(40)
        .collect()
}
