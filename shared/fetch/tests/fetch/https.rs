//! HttpsFetcher against a local TLS server with a test CA.

use std::time::Duration;

use certus_fetch::{FetchError, HttpsFetcher, Timeouts};

use crate::support::server::{self, Reply};
use crate::support::{loopback_policy, pki};

const LIMIT: usize = 1024;

async fn tls_server(
    handler: impl Fn(&server::Head) -> Reply + Send + Sync + 'static,
) -> (server::TestServer, String) {
    let pki = pki::generate();
    let server = server::start("127.0.0.1:0", Some(pki.server_config), handler)
        .await
        .unwrap();
    (server, pki.ca_pem)
}

fn fetcher(ca_pem: &str, allow: &[&str]) -> HttpsFetcher {
    HttpsFetcher::new(loopback_policy(allow, Some(ca_pem))).unwrap()
}

#[tokio::test]
async fn fetches_over_verified_tls_when_loopback_is_allowlisted() {
    let (server, ca) = tls_server(|head| match head.path() {
        "/manifest.json" => Reply::ok(b"{\"ok\":true}".to_vec()),
        _ => Reply::status(404),
    })
    .await;
    let uri = format!("https://localhost:{}/manifest.json", server.port());
    let body = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap();
    assert_eq!(body, b"{\"ok\":true}");

    let by_ip = format!("https://127.0.0.1:{}/manifest.json", server.port());
    let body = fetcher(&ca, &["127.0.0.1"])
        .fetch_bytes(&by_ip, LIMIT)
        .await
        .unwrap();
    assert_eq!(body, b"{\"ok\":true}");
}

#[tokio::test]
async fn accepts_a_body_of_exactly_the_limit() {
    let (server, ca) = tls_server(|_| Reply::ok(vec![b'x'; LIMIT])).await;
    let uri = format!("https://localhost:{}/m", server.port());
    let body = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap();
    assert_eq!(body.len(), LIMIT);
}

#[tokio::test]
async fn refuses_a_server_signed_by_an_unknown_ca() {
    let (server, _) = tls_server(|_| Reply::ok(b"x".to_vec())).await;
    let other_ca = pki::generate().ca_pem;
    let uri = format!("https://localhost:{}/m", server.port());
    let error = fetcher(&other_ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    match &error {
        FetchError::Tls { host, reason } => {
            assert_eq!(host, &format!("localhost:{}", server.port()));
            assert!(reason.contains("UnknownIssuer"), "{reason}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn refuses_an_oversized_body_by_content_length() {
    let (server, ca) = tls_server(|_| Reply::ok(vec![b'x'; LIMIT + 1])).await;
    let uri = format!("https://localhost:{}/big", server.port());
    let error = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::TooLarge {
            host: format!("localhost:{}", server.port()),
            what: "resource '/big'".into(),
            limit: LIMIT as u64,
        }
    );
}

#[tokio::test]
async fn refuses_an_oversized_body_by_count_when_chunked() {
    let (server, ca) = tls_server(|_| Reply::chunked(vec![b'x'; 64 * 1024])).await;
    let uri = format!("https://localhost:{}/chunked", server.port());
    let error = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::TooLarge { limit, .. } if *limit == LIMIT as u64),
        "{error:?}"
    );
    let body = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, 64 * 1024)
        .await
        .unwrap();
    assert_eq!(body.len(), 64 * 1024);
}

#[tokio::test]
async fn follows_a_redirect_on_the_same_host() {
    let (server, ca) = tls_server(|head| match head.path() {
        "/old" => Reply::redirect("/new"),
        "/new" => Reply::ok(b"moved".to_vec()),
        _ => Reply::status(404),
    })
    .await;
    let uri = format!("https://localhost:{}/old", server.port());
    let body = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap();
    assert_eq!(body, b"moved");
}

#[tokio::test]
async fn refuses_a_redirect_to_another_host_or_to_plain_http() {
    let (server, _) = tls_server(|_| Reply::ok(b"x".to_vec())).await;
    let port = server.port();
    let pki = pki::generate();
    let redirector = server::start(
        "127.0.0.1:0",
        Some(pki.server_config),
        move |head| match head.path() {
            "/other-host" => Reply::redirect(&format!("https://127.0.0.1:{port}/m")),
            _ => Reply::redirect("http://localhost/m"),
        },
    )
    .await
    .unwrap();
    let fetcher = fetcher(&pki.ca_pem, &["localhost", "127.0.0.1"]);
    let uri = format!("https://localhost:{}/other-host", redirector.port());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    match &error {
        FetchError::Redirect { reason, .. } => {
            assert!(
                reason.contains(&format!("https://127.0.0.1:{port}")),
                "{reason}"
            );
            assert!(reason.contains("only the same host"), "{reason}");
        }
        other => panic!("expected a redirect refusal, got {other:?}"),
    }
    assert_eq!(server.connections(), 0, "the other host was contacted");

    let uri = format!("https://localhost:{}/to-http", redirector.port());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::Redirect { reason, .. } if reason.contains("http://localhost")),
        "{error:?}"
    );
}

#[tokio::test]
async fn follows_up_to_the_redirect_limit() {
    let (server, ca) = tls_server(|head| match head.path() {
        "/1" => Reply::redirect("/2"),
        "/2" => Reply::redirect("/3"),
        "/3" => Reply::redirect("/final"),
        "/final" => Reply::ok(b"arrived".to_vec()),
        _ => Reply::status(404),
    })
    .await;
    let uri = format!("https://localhost:{}/1", server.port());
    let body = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap();
    assert_eq!(body, b"arrived");
    assert_eq!(certus_fetch::MAX_REDIRECTS, 3);
}

#[tokio::test]
async fn bounds_a_redirect_loop() {
    let (server, ca) = tls_server(|_| Reply::redirect("/loop")).await;
    let uri = format!("https://localhost:{}/loop", server.port());
    let error = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Redirect {
            host: format!("localhost:{}", server.port()),
            reason: format!("more than {} redirects", certus_fetch::MAX_REDIRECTS),
        }
    );
    assert_eq!(server.requests().len(), certus_fetch::MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn times_out_on_a_stalled_server() {
    let (server, ca) = tls_server(|_| Reply::Stall).await;
    let mut policy = loopback_policy(&["localhost"], Some(&ca));
    policy.timeouts = Timeouts {
        connect: Duration::from_secs(1),
        total: Duration::from_millis(800),
    };
    let fetcher = HttpsFetcher::new(policy).unwrap();
    let uri = format!("https://localhost:{}/slow", server.port());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Timeout {
            host: format!("localhost:{}", server.port())
        }
    );
}

#[tokio::test]
async fn refuses_loopback_names_unless_allowlisted() {
    let (server, ca) = tls_server(|_| Reply::ok(b"x".to_vec())).await;
    let uri = format!("https://localhost:{}/m", server.port());
    let error = fetcher(&ca, &["other.example"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    match &error {
        FetchError::BlockedAddress { host, reason, .. } => {
            assert_eq!(host, "localhost");
            assert_eq!(reason, "loopback");
        }
        other => panic!("expected a blocked address, got {other:?}"),
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn refuses_loopback_ip_literals_before_connecting() {
    let (server, ca) = tls_server(|_| Reply::ok(b"x".to_vec())).await;
    let fetcher = fetcher(&ca, &[]);
    let uri = format!("https://127.0.0.1:{}/m", server.port());
    let error = fetcher.fetch_bytes(&uri, LIMIT).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::BlockedAddress { address, reason, .. } if address == "127.0.0.1" && reason == "loopback"),
        "{error:?}"
    );
    assert_eq!(server.connections(), 0);

    // [::1]: a listener there (when the machine has IPv6 loopback) must see no connection either.
    let v6 = server::start("[::1]:0", None, |_| Reply::ok(b"x".to_vec()))
        .await
        .ok();
    let port = v6.as_ref().map_or(443, |v6| v6.port());
    let error = fetcher
        .fetch_bytes(&format!("https://[::1]:{port}/m"), LIMIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::BlockedAddress { address, reason, .. } if address == "::1" && reason == "loopback"),
        "{error:?}"
    );
    if let Some(v6) = v6 {
        assert_eq!(v6.connections(), 0);
    }
}

#[tokio::test]
async fn refuses_mapped_loopback_literals_at_once() {
    let fetcher = HttpsFetcher::new(loopback_policy(&[], None)).unwrap();
    for (uri, address) in [
        ("https://[::1]/m", "::1"),
        ("https://[::ffff:127.0.0.1]/m", "::ffff:127.0.0.1"),
        ("https://127.0.0.2/m", "127.0.0.2"),
    ] {
        let error = fetcher.fetch_bytes(uri, LIMIT).await.unwrap_err();
        assert!(
            matches!(&error, FetchError::BlockedAddress { address: a, reason, .. } if a == address && reason == "loopback"),
            "{uri}: {error:?}"
        );
    }
}

#[tokio::test]
async fn never_echoes_credentials_or_query_strings() {
    let (server, ca) = tls_server(|_| Reply::status(404)).await;
    let uri = format!(
        "https://user:hunter2-pass@localhost:{}/missing?token=sekrit-query",
        server.port()
    );
    let error = fetcher(&ca, &["localhost"])
        .fetch_bytes(&uri, LIMIT)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::NotFound { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("localhost"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("sekrit"),
        "{text}"
    );

    let error = fetcher(&ca, &[])
        .fetch_bytes(
            "https://user:hunter2-pass@127.0.0.1/m?token=sekrit-query",
            LIMIT,
        )
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("sekrit"),
        "{text}"
    );
}

#[tokio::test]
async fn refuses_plain_http() {
    let fetcher = HttpsFetcher::new(loopback_policy(&["localhost"], None)).unwrap();
    let error = fetcher
        .fetch_bytes("http://localhost/m", LIMIT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::PlainHttpRefused {
            host: "localhost".into()
        }
    );
}
