//! The checked-in OpenAPI document describes exactly the router's routes and exactly the status codes each
//! handler can answer with; every described route is really served, the server serves the document itself,
//! and a battery of good and bad requests to every route gets only documented answers.

use std::collections::BTreeSet;

use certus_api::ROUTES;
use serde_json::Value;

use crate::support::{start, Options};

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

#[test]
fn the_document_matches_the_route_table() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            let route = ROUTES
                .iter()
                .find(|r| r.method == method && r.path == path)
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            let codes: BTreeSet<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|c| c.parse().unwrap())
                .collect();
            assert!(
                codes.contains(&route.success),
                "{method} {path}: success {} undocumented",
                route.success
            );
            let answerable: BTreeSet<u16> = route.statuses.iter().copied().collect();
            assert_eq!(
                codes, answerable,
                "{method} {path}: documented codes (left) and the codes the handler can answer (right)"
            );
            // The push webhooks are authenticated by their own signature or token.
            let needs_auth = !["/health", "/openapi.yaml"].contains(&path.as_str())
                && !path.starts_with("/v1/webhooks/");
            assert_eq!(
                operation.get("security").is_none(),
                needs_auth,
                "{method} {path}: security"
            );
            documented.insert((method, path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(documented, routed);
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["apiKey"]["name"], "X-API-Key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_in_the_table_is_served() {
    let s = start(Options::default()).await;
    for route in ROUTES {
        let path = route.path.replace("{test_id}", "test_0123456789ab");
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        let response = s
            .http
            .request(method, s.url(&path))
            .bearer_auth(&s.acme.key)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_ne!(status, 405, "{} {path}", route.method);
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("no route for"),
            "{} {path} is not routed",
            route.method
        );
        assert!(
            route.statuses.contains(&status),
            "{} {path}: {status} not in the table",
            route.method
        );
    }
    let response = s
        .http
        .delete(s.url("/v1/security-scans"))
        .bearer_auth(&s.acme.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    s.stop().await;
}

/// Every documented status of a route, from the served document.
fn documented(doc: &Value, method: &str, path: &str) -> BTreeSet<u16> {
    doc["paths"][path][method.to_ascii_lowercase()]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
        .keys()
        .map(|c| c.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_serves_its_document_and_answers_every_route_only_with_documented_codes() {
    let s = start(Options {
        uploads: true,
        ..Options::default()
    })
    .await;
    let served = s.http.get(s.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/yaml"));
    let doc: Value = serde_norway::from_str(&served.text().await.unwrap()).unwrap();
    assert_eq!(doc, document(), "the served document is the checked-in one");

    // A finished job of acme's, so that the job routes answer their success too.
    let finished = s.submit(&s.acme.key, "ws-acme", "sample").await;
    s.wait_terminal(&finished).await;
    let ids = [finished.as_str(), "test_0123456789ab", "not-an-id"];
    let keys = [
        Some(s.acme.key.as_str()),
        Some(s.auditor.key.as_str()),
        Some(s.globex.key.as_str()),
        Some("not-a-key"),
        None,
    ];
    let bodies: [&[u8]; 4] = [b"", b"{", br#"{"tiers": "basic"}"#, br#"{"tier": "basic"}"#];
    let mut seen: BTreeSet<(String, String, u16)> = BTreeSet::new();
    for route in ROUTES {
        let allowed = documented(&doc, route.method, route.path);
        for id in ids {
            let path = route.path.replace("{test_id}", id);
            for key in keys {
                let bodies = if route.method == "POST" {
                    &bodies[..]
                } else {
                    &bodies[..1]
                };
                for body in bodies {
                    let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
                    let mut request = s.http.request(method, s.url(&path));
                    if let Some(key) = key {
                        request = request.bearer_auth(key);
                    }
                    if route.method == "POST" {
                        request = request
                            .header("content-type", "application/json")
                            .body(body.to_vec());
                    }
                    let status = request.send().await.unwrap().status().as_u16();
                    assert!(
                        allowed.contains(&status),
                        "{} {path} with key {key:?} and body {:?} answered {status}, documented {allowed:?}",
                        route.method,
                        String::from_utf8_lossy(body)
                    );
                    seen.insert((route.method.into(), route.path.into(), status));
                }
            }
        }
    }
    // The battery reached the interesting answers, not only 401s.
    for (method, path, status) in [
        ("GET", "/v1/security-scans/{test_id}/stream", 426),
        ("GET", "/v1/security-scans/{test_id}/findings", 200),
        ("GET", "/v1/security-scans/{test_id}/evidence", 200),
        ("POST", "/v1/security-scans/{test_id}/upload-request", 202),
        ("POST", "/v1/security-scans/{test_id}/upload-request", 400),
        ("POST", "/v1/security-scans/{test_id}/upload-request", 422),
        ("POST", "/v1/security-scans/{test_id}/upload-request", 403),
        ("POST", "/v1/security-scans", 422),
        ("GET", "/v1/session", 200),
    ] {
        assert!(
            seen.contains(&(method.to_string(), path.to_string(), status)),
            "{method} {path} never answered {status}"
        );
    }
    s.stop().await;
}
