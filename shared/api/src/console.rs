//! The web console and the OpenAPI document, served by `certus serve` — and by the `api` Lambda behind the
//! HTTP API — without authentication (they hold no data: every number the console shows comes from the
//! authenticated API). The assets are built into the binary and answered with a strict
//! Content-Security-Policy: scripts, styles and requests only to this origin, plus the one WebSocket origin
//! live progress comes from — the host the browser asked for locally, the WebSocket API on AWS.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::routes::ApiState;

/// The console's page.
pub const INDEX: &str = "/";
/// Its script.
pub const SCRIPT: &str = "/console/app.js";
/// Its style sheet.
pub const STYLE: &str = "/console/app.css";
/// The API's OpenAPI 3.1 document.
pub const OPENAPI: &str = "/openapi.yaml";

const INDEX_HTML: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const APP_CSS: &str = include_str!("../console/app.css");
const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

pub async fn index(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML, &state, &headers)
}

pub async fn script(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    asset("text/javascript; charset=utf-8", APP_JS, &state, &headers)
}

pub async fn style(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    asset("text/css; charset=utf-8", APP_CSS, &state, &headers)
}

pub async fn openapi(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    asset(
        "application/yaml; charset=utf-8",
        OPENAPI_YAML,
        &state,
        &headers,
    )
}

fn asset(
    content_type: &'static str,
    body: &'static str,
    state: &ApiState,
    headers: &HeaderMap,
) -> Response {
    let mut response = body.into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let stream_base = &state.records.stream_base;
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(stream_base, headers)) {
        out.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Only this origin, and one WebSocket origin for live progress. A stream base with a path (`wss://…/live`,
/// the WebSocket API of a deployment on AWS, where a client connects, then subscribes) is the only one named;
/// without a path (`certus serve`, whose stream is `/v1/security-scans/{id}/stream` of its own host), the
/// WebSocket of the host the browser asked for. A value with anything but host-name characters (a `;` would
/// add a directive) is left out: `connect-src 'self'` remains.
pub fn content_security_policy(stream_base: &str, headers: &HeaderMap) -> String {
    let separate = stream_base
        .split_once("://")
        .and_then(|(scheme, rest)| Some((scheme, rest.split_once('/')?.0)));
    let sockets = match separate {
        Some((scheme @ ("ws" | "wss"), authority)) if host_like(authority) => {
            Some(format!(" {scheme}://{authority}"))
        }
        Some(_) => None,
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| host_like(h))
            .map(|h| format!(" ws://{h} wss://{h}")),
    }
    .unwrap_or_default();
    format!(
        "default-src 'self'; connect-src 'self'{sockets}; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// A host name or address with an optional port, nothing else.
fn host_like(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_for(stream_base: &str, host: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        content_security_policy(stream_base, &headers)
    }

    #[test]
    fn the_policy_names_the_hosts_websocket_and_nothing_a_host_header_smuggles_in() {
        let local = "ws://127.0.0.1:8056";
        assert!(policy_for(local, "127.0.0.1:8056")
            .contains("connect-src 'self' ws://127.0.0.1:8056 wss://127.0.0.1:8056;"));
        let smuggled = policy_for(local, "evil.example; script-src *");
        assert!(smuggled.contains("connect-src 'self';"), "{smuggled}");
        assert!(!smuggled.contains("evil"), "{smuggled}");
        assert!(content_security_policy("", &HeaderMap::new()).starts_with("default-src 'self';"));
    }

    #[test]
    fn behind_a_websocket_api_only_its_origin_is_named() {
        let aws = "wss://abc123.execute-api.eu-west-1.amazonaws.com/live";
        let policy = policy_for(aws, "def456.execute-api.eu-west-1.amazonaws.com");
        assert!(
            policy.contains(
                "connect-src 'self' wss://abc123.execute-api.eu-west-1.amazonaws.com; img-src"
            ),
            "{policy}"
        );
        assert!(
            !policy.contains("def456"),
            "the HTTP API's host is not a WebSocket: {policy}"
        );
        for bad in [
            "wss://evil.example; script-src */live",
            "https://abc123.example/live",
            "wss:///live",
        ] {
            let policy = policy_for(bad, "def456.example");
            assert!(
                policy.contains("connect-src 'self'; img-src"),
                "{bad}: {policy}"
            );
        }
    }
}
