//! The checked-in OpenAPI document describes exactly the router's routes, and only status codes the
//! handlers can answer with; every described route is really served.

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
            for code in &codes {
                assert!(
                    route.statuses.contains(code),
                    "{method} {path}: {code} cannot be answered"
                );
            }
            // The push webhooks are authenticated by their own signature or token.
            let needs_auth = path != "/health" && !path.starts_with("/v1/webhooks/");
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
