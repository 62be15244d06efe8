//! Request rate limits against a real server on loopback: a burst from one key is refused with 429,
//! `Retry-After` and a JSON `detail` while another key and `/health` keep answering; failed authentications
//! and the routes without authentication are counted per client address. The buckets refill so slowly here
//! (one token per 100 s) that no refill happens during the test: the counts are exact, whatever the timing.

use std::net::IpAddr;

use certus_api::{Bucket, RateLimits};
use certus_core::ports::{JobQuery, JobStore};
use futures_util::future::join_all;
use serde_json::Value;

use crate::support::{start, Options, Server};

const KEY_BURST: u32 = 10;
const CLIENT_BURST: u32 = 5;

fn limits() -> RateLimits {
    RateLimits {
        per_key: Bucket {
            burst: KEY_BURST,
            per_second: 0.01,
        },
        per_client: Bucket {
            burst: CLIENT_BURST,
            per_second: 0.01,
        },
        max_tracked: 100,
    }
}

/// A client whose connections come from the loopback address `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(from.parse::<IpAddr>().expect("address"))
        .build()
        .expect("client")
}

/// Asserts a refusal by the rate limits: 429, a whole number of seconds in `Retry-After`, a JSON `detail`.
async fn assert_rate_limited(response: reqwest::Response, whose: &str) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(
        (1..=100).contains(&retry_after),
        "one token every 100 s: {retry_after}"
    );
    let body: Value = response.json().await.expect("JSON");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with(&format!("too many requests from {whose}")),
        "{detail}"
    );
}

/// Sends `count` requests at once with `key` (as a bearer token) to `path`; returns the answers' statuses.
async fn burst(s: &Server, key: &str, path: &str, count: usize) -> Vec<reqwest::Response> {
    join_all((0..count).map(|_| s.http.get(s.url(path)).bearer_auth(key).send()))
        .await
        .into_iter()
        .map(|answer| answer.expect("answered"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_from_one_key_is_refused_while_another_key_and_health_still_answer() {
    let s = start(Options {
        rate_limits: Some(limits()),
        ..Options::default()
    })
    .await;
    let sent = 40;
    let answers = burst(&s, &s.acme.key, "/v1/session", sent).await;
    let answered = answers.iter().filter(|a| a.status() == 200).count();
    let mut refused = 0;
    for answer in answers.into_iter().filter(|a| a.status() != 200) {
        assert_rate_limited(answer, "these credentials").await;
        refused += 1;
    }
    eprintln!("one key: {sent} requests sent, {answered} answered, {refused} refused");
    assert_eq!(answered, KEY_BURST as usize);
    assert_eq!(refused, sent - KEY_BURST as usize);

    // The same key is the same bucket whichever header carries it, on every authenticated route, the stream
    // included (before its upgrade).
    for path in [
        "/v1/security-scans?workspace_id=ws-acme",
        "/v1/security-scans/test_0123456789ab",
        "/v1/security-scans/test_0123456789ab/stream",
    ] {
        assert_rate_limited(s.get_as(&s.acme.key, path).await, "these credentials").await;
    }
    assert_rate_limited(
        s.submit_as(&s.acme.key, &s.body("ws-acme", "sample")).await,
        "these credentials",
    )
    .await;
    assert!(
        s.store
            .list(&JobQuery {
                limit: 100,
                ..JobQuery::default()
            })
            .await
            .unwrap()
            .jobs
            .is_empty(),
        "a refused submission started nothing"
    );

    // Another key of the same tenant, another tenant, and /health are not held back.
    for key in [&s.multi.key, &s.globex.key] {
        let answers = burst(&s, key, "/v1/session", KEY_BURST as usize).await;
        assert!(answers.iter().all(|a| a.status() == 200));
    }
    let health = join_all((0..100).map(|_| s.http.get(s.url("/health")).send())).await;
    assert!(health
        .into_iter()
        .all(|answer| answer.expect("health").status() == 200));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_authentications_and_public_routes_are_limited_per_client_address() {
    let s = start(Options {
        rate_limits: Some(limits()),
        ..Options::default()
    })
    .await;
    let guesser = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..CLIENT_BURST + 3 {
        let answer = guesser
            .get(s.url("/v1/session"))
            .bearer_auth("not-a-key")
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
        if answer.status() == 429 {
            assert_rate_limited(answer, "this client address").await;
        }
    }
    assert_eq!(
        statuses,
        [vec![401; CLIENT_BURST as usize], vec![429; 3]].concat()
    );
    // A valid key from the same address is counted on its own bucket: not locked out by the guesses.
    let answer = guesser
        .get(s.url("/v1/session"))
        .bearer_auth(&s.acme.key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // Routes without authentication share the address's bucket, /health excepted.
    assert_eq!(
        guesser
            .get(s.url("/openapi.yaml"))
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        guesser.get(s.url("/health")).send().await.unwrap().status(),
        200
    );
    // Another address has its own bucket.
    let other = client_from("127.0.0.3");
    let mut public = Vec::new();
    for _ in 0..CLIENT_BURST + 1 {
        public.push(
            other
                .get(s.url("/openapi.yaml"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        public,
        [vec![200; CLIENT_BURST as usize], vec![429]].concat()
    );
    let answer = client_from("127.0.0.4")
        .get(s.url("/v1/session"))
        .bearer_auth("not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    s.stop().await;
}
