//! `GET /v1/security-scans/{test_id}/stream`: a job's events over a WebSocket. The watcher subscribes to the
//! live hub first, then gets the persisted history, then live events with a higher `seq` — no duplicates, and
//! any gap (a lagging receiver, events delivered out of order) is filled from the store. The socket closes
//! normally after `scan_complete`; an unknown or foreign job closes with 4404. A watcher over the hub's
//! [`WatcherLimits`](crate::hub::WatcherLimits) is refused with 429 before the upgrade.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use certus_core::event::Event;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{credential_name, Principal};
use crate::error::ApiError;
use crate::exposure::Exposure;
use crate::hub::{Subscription, WatcherPermit};
use crate::ratelimit::{self, ClientAddr, RateLimiter};
use crate::routes::ApiState;
use crate::scans::visible_job;

/// Close code for a job that does not exist or is not the caller's.
pub const CLOSE_UNKNOWN_JOB: u16 = 4404;
const CLOSE_NORMAL: u16 = 1000;
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client silent (no pong, nothing) for this long is dropped.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A send that cannot complete in this time means the client stopped reading: it is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients have nothing to say but pongs; anything larger is refused by closing that socket.
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// Unsent data allowed per connection before it is dropped.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// Buffers of each socket (tungstenite's defaults are 128 KiB each; events and pongs are small).
const READ_BUFFER: usize = 8 * 1024;
const WRITE_BUFFER: usize = 8 * 1024;

#[derive(Debug, Deserialize)]
pub struct StreamParams {
    access_token: Option<String>,
}

pub async fn stream(
    State(state): State<ApiState>,
    Path(test_id): Path<String>,
    params: Result<Query<StreamParams>, QueryRejection>,
    headers: HeaderMap,
    limiter: Option<Extension<Arc<RateLimiter>>>,
    client: Option<Extension<ClientAddr>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let token = params.ok().and_then(|Query(p)| p.access_token);
    let limiter = limiter.map(|Extension(limiter)| (limiter, client.map(|c| c.0 .0)));
    let principal = match ratelimit::after_authentication(
        limiter.as_ref(),
        || credential_name(&headers, token.as_deref()),
        state.auth.authenticate(&headers, token.as_deref()),
    ) {
        Ok(principal) => principal,
        Err(e) => return e.into_response(),
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return upgrade_refusal(&rejection).into_response(),
    };
    let key = principal.rate_key(|| credential_name(&headers, token.as_deref()));
    let permit = match state.hub.admit_watcher(&key, &principal.tenant) {
        Ok(permit) => permit,
        Err(limit) => return ApiError::TooManyWatchers(limit.describe().into()).into_response(),
    };
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        // The permit lives as long as the watcher (or goes with the closure if the upgrade never completes).
        .on_upgrade(move |socket| watch_job(state, principal, test_id, socket, permit))
}

/// A request that did not ask for a WebSocket at all (a plain GET) is 426 with `Upgrade: websocket`; one
/// that asked but got the handshake wrong is 400. Both answer the JSON `detail` shape of every other refusal.
fn upgrade_refusal(rejection: &WebSocketUpgradeRejection) -> ApiError {
    match rejection {
        WebSocketUpgradeRejection::InvalidConnectionHeader(_)
        | WebSocketUpgradeRejection::InvalidUpgradeHeader(_)
        | WebSocketUpgradeRejection::ConnectionNotUpgradable(_) => ApiError::UpgradeRequired(
            "this route is a WebSocket: connect with a WebSocket client (Connection: upgrade, Upgrade: websocket)"
                .into(),
        ),
        other => ApiError::BadRequest(other.body_text()),
    }
}

async fn watch_job(
    state: ApiState,
    principal: Principal,
    test_id: String,
    socket: WebSocket,
    _permit: WatcherPermit,
) {
    let mut watcher = Watcher {
        exposure: state.exposure.clone(),
        socket,
        last_sent: 0,
        last_heard: Instant::now(),
    };
    let Ok(job) = visible_job(&state, &principal, &test_id).await else {
        watcher.close(CLOSE_UNKNOWN_JOB, "job not found").await;
        return;
    };
    let mut subscription = state.hub.subscribe(&job.test_id);
    match watcher
        .follow(&state, &job.test_id, &mut subscription)
        .await
    {
        Ok(Ending::Complete) => watcher.close(CLOSE_NORMAL, "scan complete").await,
        Ok(Ending::NoMoreEvents) => watcher.close(CLOSE_NORMAL, "no more events").await,
        Ok(Ending::ClientGone) => {}
        Err(e) => eprintln!("certus serve: stream of {}: {e}", job.test_id),
    }
}

enum Ending {
    /// `scan_complete` was sent.
    Complete,
    /// The job record is final (or the live channel went away) but no `scan_complete` came: nothing more will.
    NoMoreEvents,
    ClientGone,
}

struct Watcher {
    exposure: Arc<Exposure>,
    socket: WebSocket,
    last_sent: u64,
    last_heard: Instant,
}

impl Watcher {
    async fn follow(
        &mut self,
        state: &ApiState,
        test_id: &str,
        subscription: &mut Subscription,
    ) -> crate::error::Result<Ending> {
        if let Some(ending) = self.catch_up(state, test_id).await? {
            return Ok(ending);
        }
        let mut ticker = tokio::time::interval(PING_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                received = subscription.receiver.recv() => {
                    let ending = match received {
                        Ok(event) if event.seq <= self.last_sent => None,
                        Ok(event) if event.seq == self.last_sent + 1 => self.send_event(&event).await,
                        // A gap: every delivered event was persisted first, so the store has what is missing.
                        Ok(_) | Err(RecvError::Lagged(_)) => self.catch_up(state, test_id).await?,
                        // The hub keeps the channel while it is subscribed; should it go, end after the store.
                        Err(RecvError::Closed) => Some(
                            self.catch_up(state, test_id)
                                .await?
                                .unwrap_or(Ending::NoMoreEvents),
                        ),
                    };
                    if let Some(ending) = ending {
                        return Ok(ending);
                    }
                }
                incoming = self.socket.recv() => match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(Ending::ClientGone),
                    // Pongs keep the connection alive; anything else a client sends is ignored.
                    Some(Ok(_)) => self.last_heard = Instant::now(),
                },
                _ = ticker.tick() => {
                    if self.last_heard.elapsed() > IDLE_LIMIT {
                        return Ok(Ending::ClientGone);
                    }
                    if let Some(ending) = self.send(Message::Ping(Default::default())).await {
                        return Ok(ending);
                    }
                    if let Some(ending) = self.check_record(state, test_id).await? {
                        return Ok(ending);
                    }
                }
            }
        }
    }

    /// Sends every persisted event after the last one sent; `Some` when the stream has ended.
    async fn catch_up(
        &mut self,
        state: &ApiState,
        test_id: &str,
    ) -> crate::error::Result<Option<Ending>> {
        for event in state
            .records
            .events
            .history(test_id, self.last_sent)
            .await?
        {
            if event.seq <= self.last_sent {
                continue;
            }
            if let Some(ending) = self.send_event(&event).await {
                return Ok(Some(ending));
            }
        }
        Ok(None)
    }

    /// Guards against a job whose record is final but whose `scan_complete` never arrived live.
    async fn check_record(
        &mut self,
        state: &ApiState,
        test_id: &str,
    ) -> crate::error::Result<Option<Ending>> {
        let terminal = state
            .records
            .jobs
            .get(test_id)
            .await?
            .is_some_and(|job| job.status.is_terminal());
        if !terminal {
            return Ok(None);
        }
        Ok(Some(
            self.catch_up(state, test_id)
                .await?
                .unwrap_or(Ending::NoMoreEvents),
        ))
    }

    async fn send_event(&mut self, event: &Event) -> Option<Ending> {
        if let Some(ending) = self
            .send(Message::Text(self.exposure.event_line(event).into()))
            .await
        {
            return Some(ending);
        }
        self.last_sent = event.seq;
        event.body.is_terminal().then_some(Ending::Complete)
    }

    /// `Some(ClientGone)` when the client cannot take the message (gone, or not reading).
    async fn send(&mut self, message: Message) -> Option<Ending> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => None,
            _ => Some(Ending::ClientGone),
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        // The client may already be gone; nothing else to do then.
        let _ = self.send(Message::Close(Some(frame))).await;
    }
}
