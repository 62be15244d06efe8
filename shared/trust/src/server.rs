//! A Certus-Trust dev server: the Trust HTTP API (`POST /v1/verify-and-permit-upload`, `GET /v1/health`,
//! `GET /health`) answered by a [`LocalTrustGate`] as the real service answers — 202 with the decision, 422
//! with its `detail` list for a body its model refuses — bound to a loopback address only, so the whole
//! upload flow can be tried over HTTP on one machine.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::VERIFY_AND_PERMIT_PATH;
use crate::error::{Result, TrustError};
use crate::gate::LocalTrustGate;

/// Requests larger than this are refused (413).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

struct ServerState {
    gate: Arc<LocalTrustGate>,
    bearer_token: Option<String>,
}

/// A running dev server; dropping it leaves the server running until the runtime ends.
pub struct DevServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl DevServer {
    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: the base URL to give an [`crate::HttpTrustClient`].
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(self) -> Result<()> {
        let server_error = |reason: String| TrustError::Server {
            addr: self.addr.to_string(),
            reason,
        };
        // The receiver is gone only if the server already ended; the join below reports why.
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| server_error(e.to_string()))?
            .map_err(|e| server_error(e.to_string()))
    }
}

/// Serves the Trust API on `addr` (loopback only; port 0 picks a free port) until shut down. With a
/// `bearer_token`, requests must carry `Authorization: Bearer <token>`.
pub async fn trust_dev_server(
    addr: SocketAddr,
    gate: Arc<LocalTrustGate>,
    bearer_token: Option<String>,
) -> Result<DevServer> {
    let server_error = |reason: String| TrustError::Server {
        addr: addr.to_string(),
        reason,
    };
    if !addr.ip().is_loopback() {
        return Err(server_error(
            "the dev server binds loopback addresses only (127.0.0.1, ::1)".into(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| server_error(e.to_string()))?;
    let bound = listener
        .local_addr()
        .map_err(|e| server_error(e.to_string()))?;
    let state = Arc::new(ServerState { gate, bearer_token });
    let app = Router::new()
        .route(VERIFY_AND_PERMIT_PATH, post(verify_and_permit))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/v1/health",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // A dropped sender also stops the server.
                let _ = stopped.await;
            })
            .await
    });
    Ok(DevServer {
        addr: bound,
        stop,
        task,
    })
}

async fn verify_and_permit(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(token) = &state.bearer_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(presented.as_bytes(), token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "missing or wrong bearer token"})),
            )
                .into_response();
        }
    }
    let answer = state.gate.answer(&body).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(answer.body)).into_response()
}

/// Compares without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_to_bind_a_non_loopback_address() {
        let gate = Arc::new(LocalTrustGate::new());
        let err = trust_dev_server("0.0.0.0:0".parse().unwrap(), gate, None)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
