//! The console as deployed on AWS, in a real browser: its page and script answered with the policy the `api`
//! Lambda gives them (`content_security_policy` for a WebSocket API stream base), a stand-in for the few API
//! answers the scan page reads, whose job's `stream_url` is the WebSocket API's, and a stand-in for API
//! Gateway's WebSocket API (the token on connect, then `{"action":"subscribe",…}`; refusals as messages).

use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, Query};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::webdriver::Browser;

const KNOWN: &str = "test_0123456789ab";
const UNKNOWN: &str = "test_ffffffffffff";

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn listen(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

/// The page, script and style with the policy of the api function whose stream base is `stream_base`.
fn console(stream_base: String, token: String) -> Router {
    let asset = |kind: &'static str, body: &'static str| {
        let stream_base = stream_base.clone();
        get(move |headers: HeaderMap| async move {
            let policy = certus_api::console::content_security_policy(&stream_base, &headers);
            (
                [
                    (header::CONTENT_TYPE, kind),
                    (header::CONTENT_SECURITY_POLICY, &policy),
                ],
                body,
            )
                .into_response()
        })
    };
    let authorized = move |headers: &HeaderMap| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {token}").as_str())
    };
    let session = {
        let authorized = authorized.clone();
        get(move |headers: HeaderMap| async move {
            assert!(authorized(&headers), "the console sends its credential");
            Json(json!({"tenant": "acme", "role": "client", "workspaces": ["ws-acme"]}))
        })
    };
    let base = stream_base.clone();
    let job = get(move |UrlPath(id): UrlPath<String>| async move {
        Json(
            json!({"test_id": id, "status": "RUNNING", "workspace_id": "ws-acme", "component_id": "web",
                    "assessment_id": "a-1", "source_type": "git", "git_url": "https://git.example.invalid/r.git",
                    "created_at": "2026-12-05T00:00:00Z", "stream_url": base, "upload_status": "not_requested",
                    "upload_audit": []}),
        )
    });
    Router::new()
        .route(
            "/",
            asset(
                "text/html; charset=utf-8",
                include_str!("../../../shared/api/console/index.html"),
            ),
        )
        .route(
            "/console/app.js",
            asset(
                "text/javascript; charset=utf-8",
                include_str!("../../../shared/api/console/app.js"),
            ),
        )
        .route(
            "/console/app.css",
            asset(
                "text/css; charset=utf-8",
                include_str!("../../../shared/api/console/app.css"),
            ),
        )
        .route("/v1/session", session)
        .route(
            "/v1/security-scans",
            get(|| async { Json(json!({"items": [], "next_page_token": null})) }),
        )
        .route("/v1/security-scans/{id}", job)
}

/// The WebSocket API: records the connection's token and its message, replays two events of the known job,
/// refuses any other with the `ws` function's error message, then drops the connection.
fn websocket_api(seen: Seen) -> Router {
    Router::new().route(
        "/live",
        get(
            move |Query(query): Query<std::collections::HashMap<String, String>>,
                  upgrade: WebSocketUpgrade| {
                let seen = seen.clone();
                async move {
                    let token = query.get("access_token").cloned();
                    upgrade.on_upgrade(move |socket| follow(socket, token, seen))
                }
            },
        ),
    )
}

async fn follow(mut socket: WebSocket, token: Option<String>, seen: Seen) {
    let Some(Ok(Message::Text(text))) = socket.recv().await else {
        return;
    };
    let message: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    seen.lock().unwrap().push((token, message.clone()));
    let replies = if message["test_id"] == KNOWN {
        vec![
            json!({"seq": 1, "type": "phase", "message": "preparing source"}),
            json!({"seq": 2, "type": "scan_complete", "status": "SUCCEEDED"}),
        ]
    } else {
        vec![json!({"type": "error", "code": 4404, "message": "job not found"})]
    };
    for reply in replies {
        let _ = socket.send(Message::Text(reply.to_string().into())).await;
    }
    let _ = socket.send(Message::Close(None)).await;
}

pub async fn the_console_follows_a_job_over_the_websocket_api(browser: &Browser, token: &str) {
    let seen: Seen = Arc::default();
    let sockets = listen(websocket_api(seen.clone())).await;
    let stream_base = format!("ws://{sockets}/live");
    let site = format!(
        "http://{}",
        listen(console(stream_base, token.to_string())).await
    );
    let policy = reqwest::get(format!("{site}/")).await.unwrap().headers()
        ["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains(&format!("connect-src 'self' ws://{sockets}; ")),
        "{policy}"
    );

    crate::sign_in(browser, &site, token).await;
    browser.goto(&format!("{site}/#/scan/{KNOWN}")).await;
    browser
        .wait_text("#progress-state", "scan complete: SUCCEEDED")
        .await;
    let log = browser
        .script(
            "return [...document.querySelectorAll('#progress-log li')].map((l) => l.textContent);",
            json!([]),
        )
        .await;
    assert_eq!(
        log,
        json!(["#1 preparing source", "#2 scan complete: SUCCEEDED"])
    );
    browser.goto(&format!("{site}/#/scan/{UNKNOWN}")).await;
    browser
        .wait_text("#progress-state", "no such scan for this credential")
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [KNOWN, UNKNOWN].map(|id| (
            Some(token.to_string()),
            json!({"action": "subscribe", "test_id": id})
        ))
    );
}
