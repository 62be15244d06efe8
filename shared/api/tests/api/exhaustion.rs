//! The red-team exhaustion reproductions (V1: idle and half-sent connections; V6: WebSocket watchers) against a
//! real server on loopback. Attackers connect from other loopback addresses (127.0.0.2 and up, all of them
//! loopback on Linux), so the per-client cap can be told from the global one; `/health` is asked from
//! 127.0.0.1 on a fresh connection each time.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use certus_api::{ConnectionLimits, WatcherLimits};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{start, Options};

/// How long any single wait of these tests may take before the test fails (a bound, not a measurement).
const BOUND: Duration = Duration::from_secs(60);

/// A connection from the loopback address `from` to the server.
pub async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    let local: IpAddr = from.parse().expect("address");
    socket.bind(SocketAddr::new(local, 0)).expect("bind");
    socket.connect(server).await.expect("connect")
}

/// Sends `GET /health` on `stream`: true when the server answers it, false when it closes the connection.
async fn answers_health(stream: &mut TcpStream) -> bool {
    let ask = async {
        if stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: certus\r\n\r\n")
            .await
            .is_err()
        {
            return false;
        }
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&seen);
            if text.starts_with("HTTP/1.1 200") && text.contains(r#"{"status":"ok"}"#) {
                return true;
            }
        }
    };
    tokio::time::timeout(BOUND, ask)
        .await
        .expect("the server neither answered nor closed the connection")
}

/// `/health` on a new connection from 127.0.0.1, and how long it took.
pub async fn health(server: SocketAddr) -> (bool, Duration) {
    let started = Instant::now();
    let mut stream = connect_from("127.0.0.1", server).await;
    let answered = answers_health(&mut stream).await;
    (answered, started.elapsed())
}

/// Waits until the server closes `stream` (end of file or reset), reading whatever it sends first.
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let wait = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(BOUND, wait)
        .await
        .expect("the server kept an idle or half-sent connection open past its header timeout");
}

/// The soft limit on open files of this process (both ends of every test connection live here).
pub fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        })
        .unwrap_or(1024)
}

/// Resident memory of this process (server and clients together), in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_and_health_keeps_answering() {
    // Each attacking connection costs two descriptors here (client and server end); keep well inside.
    let attackers = ((open_file_limit().saturating_sub(400)) / 2).clamp(100, 3000);
    let s = start(Options {
        connections: Some(ConnectionLimits {
            max_connections: attackers + 50,
            max_per_client: attackers + 10,
            header_timeout: Duration::from_secs(1),
        }),
        ..Options::default()
    })
    .await;
    let rss_before = rss_kib();
    let mut held = Vec::with_capacity(attackers);
    let mut slowest = Duration::ZERO;
    for i in 0..attackers {
        let mut stream = connect_from("127.0.0.2", s.addr).await;
        if i % 2 == 1 {
            // Half-sent: a request line and one header, never the blank line that ends the headers.
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .await
                .expect("partial request");
        }
        held.push(stream);
        if i % 250 == 0 {
            let (answered, took) = health(s.addr).await;
            assert!(
                answered,
                "/health did not answer with {i} attacking connections open"
            );
            slowest = slowest.max(took);
        }
    }
    let (answered, took) = health(s.addr).await;
    assert!(
        answered,
        "/health did not answer after the attack was set up"
    );
    slowest = slowest.max(took);
    let rss_during = rss_kib();
    for stream in &mut held {
        closed_by_server(stream).await;
    }
    drop(held);
    // Every slot came back: the same client may hold connections again.
    let mut again = connect_from("127.0.0.2", s.addr).await;
    assert!(answers_health(&mut again).await);
    eprintln!(
        "V1: {attackers} idle/half-sent connections, all closed by the server; /health slowest {slowest:?}; \
         RSS (test process) {rss_before} KiB before, {rss_during} KiB during, {} KiB after",
        rss_kib()
    );
    drop(again);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_client_or_global_cap_are_closed_at_once() {
    let s = start(Options {
        connections: Some(ConnectionLimits {
            max_connections: 50,
            max_per_client: 20,
            // Long enough that nothing here is closed by the timeout.
            header_timeout: Duration::from_secs(300),
        }),
        ..Options::default()
    })
    .await;
    // Opens 50 connections from `from`, then asks /health on each: how many the server holds.
    async fn flood(from: &str, server: SocketAddr) -> (Vec<TcpStream>, usize) {
        let mut streams = Vec::new();
        for _ in 0..50 {
            streams.push(connect_from(from, server).await);
        }
        let mut kept = Vec::new();
        for mut stream in streams {
            if answers_health(&mut stream).await {
                kept.push(stream);
            }
        }
        let count = kept.len();
        (kept, count)
    }
    let (first, held) = flood("127.0.0.2", s.addr).await;
    assert_eq!(held, 20, "one client holds at most max_per_client");
    // Another client is still served while the first is at its cap; it keeps this connection.
    let mut bystander = connect_from("127.0.0.1", s.addr).await;
    assert!(answers_health(&mut bystander).await);
    let (_second, held) = flood("127.0.0.3", s.addr).await;
    assert_eq!(held, 20);
    let (_third, held) = flood("127.0.0.4", s.addr).await;
    assert_eq!(held, 9, "the global cap of 50 leaves 9 after 20 + 1 + 20");
    let (answered, _) = health(s.addr).await;
    assert!(!answered, "a new connection over the global cap is closed");
    // Connections the clients close are given back.
    drop(first);
    let mut answered = false;
    for _ in 0..200 {
        if health(s.addr).await.0 {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "slots closed by clients were never returned");
    drop(bystander);
    s.stop().await;
}

/// Opens a watcher of `test_id` with `key`: the socket, or the HTTP status the upgrade was refused with.
async fn watcher(
    s: &crate::support::Server,
    test_id: &str,
    key: &str,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, u16> {
    let mut request = s.ws_url(test_id).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-api-key", key.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("watcher of {test_id}: {other}"),
    }
}

/// Opens `n` watchers that must all be accepted.
async fn watchers(
    s: &crate::support::Server,
    test_id: &str,
    key: &str,
    n: usize,
) -> Vec<WebSocketStream<MaybeTlsStream<TcpStream>>> {
    let mut open = Vec::new();
    for i in 0..n {
        match watcher(s, test_id, key).await {
            Ok(socket) => open.push(socket),
            Err(status) => panic!("watcher {i} refused with {status}"),
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_are_limited_per_key_per_tenant_and_in_total_and_given_back_when_closed() {
    let s = start(Options {
        watchers: Some(WatcherLimits {
            per_key: 5,
            per_tenant: 8,
            total: 12,
        }),
        ..Options::default()
    })
    .await;
    // Jobs that stay RUNNING (their scanner waits for the gate) so that watchers stay open.
    let test_id = s
        .submit(&s.acme.key, "ws-acme", crate::support::GATED)
        .await;
    let globex_job = s
        .submit(&s.globex.key, "ws-globex", crate::support::GATED)
        .await;
    let mut acme = watchers(&s, &test_id, &s.acme.key, 5).await;
    assert_eq!(
        watcher(&s, &test_id, &s.acme.key).await.err(),
        Some(429),
        "per key"
    );
    // acme's auditor key is another credential of the same tenant: 3 more reach the tenant's 8.
    let _auditor = watchers(&s, &test_id, &s.auditor.key, 3).await;
    assert_eq!(
        watcher(&s, &test_id, &s.auditor.key).await.err(),
        Some(429),
        "per tenant"
    );
    // Another tenant has its own key and tenant budget, but the server's total is 12.
    let _globex = watchers(&s, &globex_job, &s.globex.key, 4).await;
    assert_eq!(
        watcher(&s, &globex_job, &s.globex.key).await.err(),
        Some(429),
        "total"
    );
    // The refusal is an HTTP answer before any upgrade, with a JSON reason.
    let refused = s
        .http
        .get(s.url(&format!("/v1/security-scans/{globex_job}/stream")))
        .header("x-api-key", &s.globex.key)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("too many open watchers"));
    let (answered, _) = health(s.addr).await;
    assert!(answered);
    // Closing two of acme's watchers gives their places back: acme may open two again, not three.
    for mut socket in acme.drain(..2) {
        socket.close(None).await.unwrap();
        while let Some(Ok(_)) = socket.next().await {}
    }
    let mut reopened = Vec::new();
    for _ in 0..200 {
        match watcher(&s, &test_id, &s.acme.key).await {
            Ok(socket) => reopened.push(socket),
            Err(429) if reopened.len() < 2 => tokio::time::sleep(Duration::from_millis(25)).await,
            Err(status) => panic!("unexpected {status}"),
        }
        if reopened.len() == 2 {
            break;
        }
    }
    assert_eq!(reopened.len(), 2, "closed watchers were never given back");
    assert_eq!(watcher(&s, &test_id, &s.acme.key).await.err(), Some(429));
    // The watchers still open get the whole stream once the scan ends.
    s.gate.add_permits(2);
    for socket in acme.iter_mut().chain(reopened.iter_mut()) {
        let mut complete = false;
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                complete |= text.as_str().contains("scan_complete");
            }
        }
        assert!(complete, "a watcher within the limits missed scan_complete");
    }
    s.wait_terminal(&test_id).await;
    s.wait_terminal(&globex_job).await;
    s.stop().await;
}
