//! Connection hygiene for `certus serve`: the accept loop that replaces a bare `axum::serve`. Every accepted
//! connection must fit under a global cap and a per-client-address cap (a connection over either is closed at
//! once, before a byte is read); a request's headers must arrive within the header timeout, which is also how
//! long an idle keep-alive connection (or one that never sends anything) is kept. The admission is carried by
//! the connection's socket, so an upgraded WebSocket keeps counting until it closes. Each request carries the
//! client's address (a [`ClientAddr`](crate::ratelimit::ClientAddr) extension) for the rate limits.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

/// Limits on the connections `certus serve` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections held at once, WebSockets included; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections held at once from one client address.
    pub max_per_client: usize,
    /// Time allowed for a request's headers to arrive, counted from the connection's start or from the end of
    /// the previous response: a connection that sends nothing, or only part of its headers, is closed then.
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// 1 000 connections, 100 per client address, 10 s for the headers. The global cap stays below the
    /// common soft limit of 1 024 open files only together with the data files; raise `ulimit -n` with it.
    fn default() -> Self {
        Self {
            max_connections: 1000,
            max_per_client: 100,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Counts of held connections, shared by the accept loop and every admission.
#[derive(Default)]
struct Held {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// The accept loop's bookkeeping of connections held.
struct Gate {
    limits: ConnectionLimits,
    held: Mutex<Held>,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, Held> {
        // Only counters live under this lock; a panic elsewhere cannot leave them half-updated.
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a new connection from `client`, or `None` when a cap is reached.
    fn admit(self: &Arc<Self>, client: IpAddr) -> Option<Admission> {
        let client = match client {
            IpAddr::V6(v6) => v6.to_canonical(),
            v4 => v4,
        };
        let mut held = self.lock();
        let from_client = held.per_client.get(&client).copied().unwrap_or(0);
        if held.total >= self.limits.max_connections || from_client >= self.limits.max_per_client {
            return None;
        }
        held.total += 1;
        held.per_client.insert(client, from_client + 1);
        Some(Admission {
            gate: self.clone(),
            client,
        })
    }
}

/// One held connection; released when dropped.
struct Admission {
    gate: Arc<Gate>,
    client: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut held = self.gate.lock();
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.per_client.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.per_client.remove(&self.client);
            }
        }
    }
}

/// An accepted socket together with its admission, so that the count lives exactly as long as the socket,
/// through a WebSocket upgrade too.
struct Admitted {
    stream: TcpStream,
    _admission: Admission,
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// After a failed `accept` (out of file descriptors, say) the loop waits this long instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops accepting, asks every
/// HTTP connection to finish its request in flight and waits up to `grace` for them. Upgraded WebSockets are
/// not waited for (their watchers end with the process).
pub async fn serve_limited<S>(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    grace: Duration,
    shutdown: S,
) where
    S: Future<Output = ()> + Send + 'static,
{
    let gate = Arc::new(Gate {
        limits,
        held: Mutex::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are gone the receiver sees the channel close.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Some(admission) = gate.admit(peer.ip()) else {
            // Over a cap: closed before anything is read.
            drop(stream);
            continue;
        };
        // Latency of small answers matters more than packet count here; failing to set it is harmless.
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Admitted {
            stream,
            _admission: admission,
        });
        // Handlers that count requests per client address (the rate limits) find it in the extensions.
        let client = crate::ratelimit::ClientAddr(peer.ip());
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(client);
            app.clone().oneshot(request)
        });
        let mut stop = stop_rx.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(io, service)
                .with_upgrades();
            tokio::pin!(connection);
            let stopping = async move {
                // A closed channel means the loop is gone: stop as well.
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            tokio::select! {
                // A connection error (a client gone, headers too slow) concerns that client alone.
                _ = connection.as_mut() => {}
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = tokio::time::timeout(grace, alive_rx.recv()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admissions_count_per_client_and_in_total_and_are_returned() {
        let gate = Arc::new(Gate {
            limits: ConnectionLimits {
                max_connections: 3,
                max_per_client: 2,
                header_timeout: Duration::from_secs(1),
            },
            held: Mutex::default(),
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let first = gate.admit(a).expect("first");
        let second = gate.admit(mapped).expect("second, same client");
        assert!(gate.admit(a).is_none(), "per-client cap");
        let third = gate.admit(b).expect("another client");
        assert!(
            gate.admit("127.0.0.4".parse().unwrap()).is_none(),
            "global cap"
        );
        drop(first);
        let again = gate.admit(a).expect("a slot was returned");
        drop((second, third, again));
        let held = gate.lock();
        assert_eq!(held.total, 0);
        assert!(held.per_client.is_empty());
    }
}
