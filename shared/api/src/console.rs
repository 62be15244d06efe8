//! The web console and the OpenAPI document, served by `certus serve` without authentication (they hold no
//! data: every number the console shows comes from the authenticated API). The assets are built into the
//! binary and answered with a strict Content-Security-Policy: scripts, styles and requests only to this
//! origin, plus the WebSocket of the same host for live progress.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

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

pub async fn index(headers: HeaderMap) -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML, &headers)
}

pub async fn script(headers: HeaderMap) -> Response {
    asset("text/javascript; charset=utf-8", APP_JS, &headers)
}

pub async fn style(headers: HeaderMap) -> Response {
    asset("text/css; charset=utf-8", APP_CSS, &headers)
}

pub async fn openapi(headers: HeaderMap) -> Response {
    asset("application/yaml; charset=utf-8", OPENAPI_YAML, &headers)
}

fn asset(content_type: &'static str, body: &'static str, headers: &HeaderMap) -> Response {
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
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(headers)) {
        out.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Only this origin, and the WebSocket of the host the browser asked for. A `Host` header with anything but
/// host-name characters (a `;` would add a directive) is left out: `connect-src 'self'` remains.
pub fn content_security_policy(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    let sockets = host
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; connect-src 'self'{sockets}; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_for(host: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        content_security_policy(&headers)
    }

    #[test]
    fn the_policy_names_the_hosts_websocket_and_nothing_a_host_header_smuggles_in() {
        assert!(policy_for("127.0.0.1:8056")
            .contains("connect-src 'self' ws://127.0.0.1:8056 wss://127.0.0.1:8056;"));
        let smuggled = policy_for("evil.example; script-src *");
        assert!(smuggled.contains("connect-src 'self';"), "{smuggled}");
        assert!(!smuggled.contains("evil"), "{smuggled}");
        assert!(content_security_policy(&HeaderMap::new()).starts_with("default-src 'self';"));
    }
}
