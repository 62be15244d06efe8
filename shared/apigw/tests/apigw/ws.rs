//! The WebSocket API against moto's DynamoDB (connections table) and a recording stand-in for the management
//! API: authentication on `$connect`, subscriptions, replay plus live fan-out exactly once and in order, gone
//! clients, and refusals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use certus_apigw::{ApiGatewayFanout, ConnectAuth, WsHandler};
use certus_core::event::{Event, EventBody};
use certus_core::job::JobStatus;
use certus_core::pipeline::{self, Services};
use certus_core::ports::{EventLog, EventSink};
use certus_core::progress::Progress;
use certus_local::SqliteStore;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::common::*;

struct Setup {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    services: Services,
    wiring: Wiring,
    handler: Arc<WsHandler>,
    keys: Keys,
}

async fn setup(endpoint: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let wiring = wiring(endpoint, store.clone()).await;
    let mut services = services(dir.path(), store.clone());
    services
        .sinks
        .push(Arc::new(ApiGatewayFanout::new(wiring.delivery.clone())));
    let keys = keys();
    let handler = Arc::new(WsHandler::new(
        keys.auth.clone(),
        store.clone(),
        wiring.delivery.clone(),
        Duration::ZERO,
    ));
    Setup {
        dir,
        store,
        services,
        wiring,
        handler,
        keys,
    }
}

impl Setup {
    async fn connect_with(&self, connection_id: &str, edit: impl FnOnce(&mut Value)) -> i64 {
        self.handler
            .handle(ws_event("ws-connect.json", connection_id, edit))
            .await
            .unwrap()
            .status_code
    }

    async fn connect(&self, connection_id: &str, key: &str) {
        let status = self
            .connect_with(connection_id, |e| e["headers"]["X-API-Key"] = json!(key))
            .await;
        assert_eq!(status, 200);
    }

    async fn subscribe(&self, connection_id: &str, test_id: &str) {
        subscribe(&self.handler, connection_id, test_id).await;
    }

    async fn submit(&self, workspace: &str) -> String {
        submit(&self.services, self.dir.path(), workspace)
            .await
            .test_id
    }

    fn posts(&self, connection_id: &str) -> Vec<Value> {
        self.wiring.stand_in.recorded.posts(connection_id)
    }

    async fn recorded(&self, connection_id: &str) -> bool {
        self.wiring
            .delivery
            .connections()
            .get(connection_id)
            .await
            .unwrap()
            .is_some()
    }

    /// Asserts the connection received exactly the job's persisted stream, in order, then was closed.
    async fn assert_full_stream(&self, connection_id: &str, test_id: &str) {
        let history = self.store.history(test_id, 0).await.unwrap();
        let posts = self.posts(connection_id);
        let expected: Vec<Value> = history
            .iter()
            .map(|e| serde_json::from_str(&e.to_json_line()).unwrap())
            .collect();
        assert_eq!(
            seqs(&posts),
            (1..=history.len() as u64).collect::<Vec<_>>(),
            "{connection_id}"
        );
        assert_eq!(posts, expected, "{connection_id}");
        assert_eq!(posts.last().unwrap()["type"], "scan_complete");
        assert!(
            self.wiring.stand_in.recorded.closed(connection_id),
            "{connection_id} closed"
        );
        assert!(
            !self.recorded(connection_id).await,
            "{connection_id} forgotten"
        );
    }
}

async fn subscribe(handler: &WsHandler, connection_id: &str, test_id: &str) {
    let response = handler
        .handle(ws_event("ws-subscribe.json", connection_id, |e| {
            e["body"] = json!(subscribe_body(test_id));
        }))
        .await
        .unwrap();
    assert_eq!(response.status_code, 200);
}

/// Subscribes a connection (in a task of its own) when the job's first `tool_start` is delivered.
struct JoinMidScan {
    handler: Arc<WsHandler>,
    connection_id: String,
    joined: Mutex<Option<JoinHandle<()>>>,
}

#[async_trait]
impl EventSink for JoinMidScan {
    async fn deliver(&self, event: &Event) {
        let mut joined = self.joined.lock().unwrap();
        if joined.is_none() && matches!(event.body, EventBody::ToolStart { .. }) {
            let handler = self.handler.clone();
            let connection_id = self.connection_id.clone();
            let test_id = event.test_id.clone();
            *joined = Some(tokio::spawn(async move {
                subscribe(&handler, &connection_id, &test_id).await;
            }));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_jwks_connections_are_refused_and_delivery_still_works() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = setup(&endpoint).await;
    // What ws starts with when the deployment names no JWKS (the template's default).
    let unconfigured = WsHandler::new(
        ConnectAuth::Unavailable("no API key and no JWKS is configured".into()),
        s.store.clone(),
        s.wiring.delivery.clone(),
        Duration::ZERO,
    );
    let acme = s.keys.acme.clone();
    let status = unconfigured
        .handle(ws_event("ws-connect.json", "nojwks00000=", |e| {
            e["headers"]["X-API-Key"] = json!(acme);
        }))
        .await
        .unwrap()
        .status_code;
    assert_eq!(status, 503);
    assert!(!s.recorded("nojwks00000=").await);
    // $disconnect and the fan-out of a configured connection are unaffected.
    let status = unconfigured
        .handle(ws_event("ws-disconnect.json", "nojwks00000=", |_| {}))
        .await
        .unwrap()
        .status_code;
    assert_eq!(status, 200);
    s.connect("live0000000=", &s.keys.acme).await;
    subscribe(&unconfigured, "live0000000=", "test_ffffffffffff").await;
    let posts = s.posts("live0000000=");
    assert!(
        posts.iter().any(|p| p["code"] == 4404),
        "messages still reach recorded connections: {posts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_authenticates_like_the_http_api() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = setup(&endpoint).await;
    assert_eq!(s.connect_with("anon0000000=", |_| {}).await, 401);
    assert!(!s.recorded("anon0000000=").await);
    let bad = s
        .connect_with("bad00000000=", |e| {
            e["headers"]["X-API-Key"] = json!("nope");
        })
        .await;
    assert_eq!(bad, 401);

    let acme = s.keys.acme.clone();
    let by_query = s
        .connect_with("query000000=", |e| {
            e["queryStringParameters"] = json!({"access_token": acme});
        })
        .await;
    assert_eq!(by_query, 200);
    let globex = s.keys.globex.clone();
    let by_bearer = s
        .connect_with("bearer00000=", |e| {
            e["headers"]["Authorization"] = json!(format!("Bearer {globex}"));
        })
        .await;
    assert_eq!(by_bearer, 200);
    let connections = s.wiring.delivery.connections();
    let recorded = connections.get("query000000=").await.unwrap().unwrap();
    assert_eq!(recorded.principal.tenant, "acme");
    assert!(recorded.principal.may_use("ws-acme") && !recorded.principal.may_use("ws-globex"));
    assert_eq!(
        connections
            .get("bearer00000=")
            .await
            .unwrap()
            .unwrap()
            .principal
            .tenant,
        "globex"
    );

    let response = s
        .handler
        .handle(ws_event("ws-disconnect.json", "query000000=", |_| {}))
        .await
        .unwrap();
    assert_eq!(response.status_code, 200);
    assert!(!s.recorded("query000000=").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_subscribers_and_one_joining_mid_scan_each_get_the_whole_stream_once() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let mut s = setup(&endpoint).await;
    let test_id = s.submit("ws-acme").await;
    for id in ["first000000=", "second00000=", "late0000000="] {
        s.connect(id, &s.keys.acme.clone()).await;
    }
    s.subscribe("first000000=", &test_id).await;
    s.subscribe("second00000=", &test_id).await;
    let joiner = Arc::new(JoinMidScan {
        handler: s.handler.clone(),
        connection_id: "late0000000=".into(),
        joined: Mutex::new(None),
    });
    s.services.sinks.insert(0, joiner.clone());

    let job = pipeline::run(&s.services, &test_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    let late = joiner
        .joined
        .lock()
        .unwrap()
        .take()
        .expect("joined mid-scan");
    late.await.unwrap();

    for id in ["first000000=", "second00000=", "late0000000="] {
        s.assert_full_stream(id, &test_id).await;
    }
    // After the job, a subscriber gets the whole history by replay and the connection closes.
    s.connect("after000000=", &s.keys.acme.clone()).await;
    s.subscribe("after000000=", &test_id).await;
    s.assert_full_stream("after000000=", &test_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_writers_and_a_concurrent_replay_deliver_every_event_exactly_once() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = setup(&endpoint).await;
    let test_id = s.submit("ws-acme").await;
    let key = s.keys.acme.clone();
    for id in ["early000000=", "racing00000="] {
        s.connect(id, &key).await;
    }
    s.subscribe("early000000=", &test_id).await;
    let progress = Arc::new(
        Progress::open(&test_id, s.store.clone(), s.services.sinks.clone())
            .await
            .unwrap(),
    );
    let mut writers = Vec::new();
    for writer in 0..4 {
        let progress = progress.clone();
        writers.push(tokio::spawn(async move {
            for line in 0..15 {
                progress
                    .emit(EventBody::Log {
                        tool: "sample".into(),
                        stream: "stdout".into(),
                        line: format!("writer {writer} line {line}"),
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    let handler = s.handler.clone();
    let racing_test_id = test_id.clone();
    let racing = tokio::spawn(async move {
        subscribe(&handler, "racing00000=", &racing_test_id).await;
    });
    for writer in writers {
        writer.await.unwrap();
    }
    racing.await.unwrap();
    pipeline::abandon(
        &s.services.records(),
        &test_id,
        JobStatus::Failed,
        "stopped by the test",
    )
    .await
    .unwrap();

    assert_eq!(s.store.history(&test_id, 0).await.unwrap().len(), 62);
    s.assert_full_stream("early000000=", &test_id).await;
    s.assert_full_stream("racing00000=", &test_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gone_client_is_forgotten_and_the_others_are_still_served() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = setup(&endpoint).await;
    let test_id = s.submit("ws-acme").await;
    let key = s.keys.acme.clone();
    s.connect("stays000000=", &key).await;
    s.connect("gone0000000=", &key).await;
    s.subscribe("stays000000=", &test_id).await;
    s.subscribe("gone0000000=", &test_id).await;
    assert!(s.recorded("gone0000000=").await);
    s.wiring.stand_in.mark_gone("gone0000000=");

    pipeline::run(&s.services, &test_id).await.unwrap();

    assert!(
        !s.recorded("gone0000000=").await,
        "a 410 removes the connection"
    );
    assert!(s.posts("gone0000000=").is_empty());
    s.assert_full_stream("stays000000=", &test_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_and_foreign_jobs_are_refused_with_4404() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let s = setup(&endpoint).await;
    let acme_job = s.submit("ws-acme").await;
    let globex_job = s.submit("ws-globex").await;
    // Another tenant's job under a workspace id globex's key names too.
    let initech_job = submit_for(&s.services, s.dir.path(), "ws-globex", "initech")
        .await
        .test_id;
    let globex = s.keys.globex.clone();
    let cases = [
        ("foreign0000=", acme_job.as_str()),
        ("sameworksp0=", initech_job.as_str()),
        ("unknown0000=", "test_ffffffffffff"),
        ("malformed00=", "../../etc/passwd"),
    ];
    for (id, test_id) in cases {
        s.connect(id, &globex).await;
        s.subscribe(id, test_id).await;
        let posts = s.posts(id);
        assert_eq!(posts.len(), 1, "{id}: {posts:?}");
        assert_eq!(posts[0]["type"], "error");
        assert_eq!(posts[0]["code"], 4404, "{id}");
        assert!(s.wiring.stand_in.recorded.closed(id), "{id} dropped");
        assert!(!s.recorded(id).await, "{id} forgotten");
    }

    // A malformed message is answered with 4400 and the connection stays; one job per connection.
    s.connect("chatty00000=", &globex).await;
    let response = s
        .handler
        .handle(ws_event("ws-subscribe.json", "chatty00000=", |e| {
            e["body"] = json!(r#"{"action":"unsubscribe","test_id":"x"}"#);
        }))
        .await
        .unwrap();
    assert_eq!(response.status_code, 200);
    s.subscribe("chatty00000=", &globex_job).await;
    s.subscribe("chatty00000=", &acme_job).await;
    let codes: Vec<Value> = s
        .posts("chatty00000=")
        .iter()
        .map(|p| p["code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(4400), json!(4404)]);
    assert!(!s.recorded("chatty00000=").await);

    // A subscription that is not the caller's first job on the connection.
    s.connect("twojobs0000=", &globex).await;
    s.subscribe("twojobs0000=", &globex_job).await;
    let another = s.submit("ws-globex").await;
    s.subscribe("twojobs0000=", &another).await;
    let posts = s.posts("twojobs0000=");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["code"], 4409);
    assert!(s.recorded("twojobs0000=").await, "kept open");
}
