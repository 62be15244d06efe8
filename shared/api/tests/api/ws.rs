//! The WebSocket stream: full ordered history-then-live delivery to many watchers, late joiners, 4404 for
//! unknown or foreign jobs, misbehaving clients, and the `watch` client.

use std::time::Duration;

use certus_api::{watch, ApiError};
use certus_core::event::{Event, EventBody};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{start, Options, Server, GATED};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(s: &Server, test_id: &str, key: &str) -> Socket {
    let mut request = s.ws_url(test_id).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect")
        .0
}

/// Reads until the server closes: the events, and the close frame.
async fn collect(mut socket: Socket) -> (Vec<Event>, Option<CloseFrame>) {
    let mut events = Vec::new();
    let read = async {
        while let Some(message) = socket.next().await {
            match message.expect("ws read") {
                Message::Text(text) => {
                    events.push(serde_json::from_str(text.as_str()).expect("event"));
                }
                Message::Close(frame) => return frame,
                _ => {}
            }
        }
        None
    };
    let frame = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the stream ends");
    (events, frame)
}

fn assert_complete_stream(events: &[Event], history: &[Event], who: &str) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "{who}: every seq once, in order"
    );
    assert_eq!(
        events, history,
        "{who}: the stream equals the persisted history"
    );
    assert!(
        events.last().unwrap().body.is_terminal(),
        "{who}: ends with scan_complete"
    );
}

async fn wait_for_gate(s: &Server, test_id: &str) {
    for _ in 0..500 {
        let waiting = s.history(test_id).await.iter().any(
            |e| matches!(&e.body, EventBody::Log { line, .. } if line == "waiting for the gate"),
        );
        if waiting {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the gated scanner never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_watcher_gets_the_whole_stream_exactly_once() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", GATED).await;
    let first = tokio::spawn(collect(connect(&s, &test_id, &s.acme.key).await));
    let second = tokio::spawn(collect(connect(&s, &test_id, &s.multi.key).await));
    wait_for_gate(&s, &test_id).await;
    let late = tokio::spawn(collect(connect(&s, &test_id, &s.ops.key).await));
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.gate.add_permits(1);
    let released = std::time::Instant::now();

    let results = [
        first.await.unwrap(),
        second.await.unwrap(),
        late.await.unwrap(),
    ];
    // Live delivery, not the 15 s record check, brought the end.
    assert!(
        released.elapsed() < Duration::from_secs(10),
        "{:?}",
        released.elapsed()
    );
    let history = s.history_as_clients_see_it(&test_id).await;
    assert!(history.len() > 40, "the gated scan logs many lines");
    for ((events, close), who) in results.iter().zip(["first", "second", "late"]) {
        assert_complete_stream(events, &history, who);
        let close = close.as_ref().expect("a close frame");
        assert_eq!(u16::from(close.code), 1000, "{who}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watcher_after_the_end_gets_the_history_and_a_normal_close() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    s.wait_terminal(&test_id).await;
    let (events, close) = collect(connect(&s, &test_id, &s.acme.key).await).await;
    assert_complete_stream(
        &events,
        &s.history_as_clients_see_it(&test_id).await,
        "after the end",
    );
    assert_eq!(u16::from(close.unwrap().code), 1000);

    // The browser form: the credential in the query.
    let url = format!("{}?access_token={}", s.ws_url(&test_id), s.acme.key);
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let (events, _) = collect(socket).await;
    assert_eq!(
        events.len(),
        s.history_as_clients_see_it(&test_id).await.len()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_malformed_and_foreign_jobs_close_with_4404() {
    let s = start(Options::default()).await;
    let acme_job = s.submit(&s.acme.key, "ws-acme", "sample").await;
    for (id, key) in [
        ("test_0123456789ab", &s.acme.key),
        ("not-an-id", &s.acme.key),
        (acme_job.as_str(), &s.globex.key),
    ] {
        let (events, close) = collect(connect(&s, id, key).await).await;
        assert!(events.is_empty(), "{id}");
        let close = close.expect("a close frame");
        assert_eq!(u16::from(close.code), 4404, "{id}");
        assert_eq!(close.reason.as_str(), "job not found");
    }
    let err = watch(&s.ws_url("test_0123456789ab"), Some(&s.acme.key), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::WatchUnknownJob(id) if id == "test_0123456789ab"),
        "{err}"
    );

    // No credentials, or bad ones: the handshake itself is refused with 401.
    let refused = tokio_tungstenite::connect_async(s.ws_url(&acme_job))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, WsError::Http(r) if r.status() == 401),
        "{refused}"
    );
    let err = watch(&s.ws_url(&acme_job), Some("wrong-key"), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::WatchUnauthorized { status: 401, .. }),
        "{err}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn misbehaving_clients_do_not_disturb_others_or_the_scan() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", GATED).await;
    let good = tokio::spawn(collect(connect(&s, &test_id, &s.acme.key).await));
    // Never reads a thing.
    let _silent = connect(&s, &test_id, &s.acme.key).await;
    // Sends garbage, then a message over the size limit, which closes its own socket only.
    let mut noisy = connect(&s, &test_id, &s.acme.key).await;
    noisy
        .send(Message::text("{\"subscribe\": garbage"))
        .await
        .unwrap();
    noisy.send(Message::binary(vec![0xff; 100])).await.unwrap();
    noisy
        .send(Message::text("x".repeat(64 * 1024)))
        .await
        .unwrap();
    let noisy_end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match noisy.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        noisy_end.is_ok(),
        "the oversized message closed the noisy socket"
    );

    wait_for_gate(&s, &test_id).await;
    s.gate.add_permits(1);
    let job = s.wait_terminal(&test_id).await;
    assert_eq!(job.status.as_str(), "SUCCEEDED");
    let (events, _) = good.await.unwrap();
    assert_complete_stream(
        &events,
        &s.history_as_clients_see_it(&test_id).await,
        "good watcher",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_watch_client_returns_scan_complete() {
    let s = start(Options::default()).await;
    let test_id = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let mut seen = Vec::new();
    let last = watch(&s.ws_url(&test_id), Some(&s.acme.key), |e| seen.push(e.seq))
        .await
        .unwrap()
        .expect("scan_complete");
    assert!(matches!(last.body, EventBody::ScanComplete { .. }));
    assert_eq!(seen, (1..=last.seq).collect::<Vec<_>>());
    let err = watch("http://127.0.0.1:1/x", None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::WatchConnect { .. }), "{err}");
    s.stop().await;
}
