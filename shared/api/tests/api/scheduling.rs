//! Fair scheduling and cancellation (the red-team's V7) and the existence oracle for foreign job ids (W12):
//! one tenant's hanging scans hold only its share of the slots, waiting jobs show their queue position, a
//! cancel stops a run (its git processes included) or keeps a job from ever starting, and another tenant's
//! job id answers byte for byte as an unknown id does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certus_core::event::EventBody;
use certus_core::ids::new_test_id;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::support::{start, Options, Server};

/// A git "server" that accepts connections and never answers (the report's tarpit), on loopback.
struct Tarpit {
    port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<AtomicUsize>,
}

async fn tarpit() -> Tarpit {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (keep, count) = (held.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().unwrap().push(stream);
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    Tarpit {
        port,
        held,
        accepted,
    }
}

impl Tarpit {
    /// Connections accepted so far.
    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every connection it accepted is closed by its client (reads reach EOF): nothing still holds one.
    async fn all_closed(&self) {
        let streams: Vec<TcpStream> = std::mem::take(&mut *self.held.lock().unwrap());
        for mut stream in streams {
            let mut sink = Vec::new();
            let closed = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let mut buffer = [0u8; 4096];
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => sink.extend_from_slice(&buffer[..n]),
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "a tarpit connection is still held open");
        }
    }
}

fn git_body(workspace: &str, url: &str) -> Value {
    json!({
        "workspace_id": workspace, "component_id": "demo", "assessment_id": "a-1",
        "git_url": url,
        "manifest": {"product": "demo", "version": "1", "profiles": [{"name": "light", "tools": ["sample"], "thresholds": {}}]},
    })
}

async fn submit_json(s: &Server, key: &str, body: &Value) -> String {
    let response = s.submit_as(key, body).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["test_id"].as_str().unwrap().to_string()
}

async fn get_json(s: &Server, key: &str, path: &str) -> (u16, Value) {
    let response = s.get_as(key, path).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn cancel(s: &Server, key: &str, test_id: &str) -> (u16, String) {
    let response = s
        .http
        .post(s.url(&format!("/v1/security-scans/{test_id}/cancel")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn wait_connections(pit: &Tarpit, count: usize) {
    for _ in 0..600 {
        if pit.connections() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the tarpit never saw {count} connections");
}

async fn terminal_events(s: &Server, test_id: &str) -> Vec<EventBody> {
    s.history(test_id)
        .await
        .into_iter()
        .map(|e| e.body)
        .filter(EventBody::is_terminal)
        .collect()
}

/// The report's reproduction: four scans of a git URL that never answers, then another tenant's scan. Before,
/// the four held every slot for the git timeout and the other scan waited; now the attacker holds its share
/// (2 of 4), its other jobs wait with their queue position, and the other tenant's scan runs at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hanging_scans_of_one_tenant_never_delay_another_tenants_scan() {
    let pit = tarpit().await;
    let s = start(Options {
        git_allow_hosts: vec!["127.0.0.1".into()],
        ..Options::default()
    })
    .await;
    let mut hanging = Vec::new();
    for i in 0..4 {
        let url = format!("http://127.0.0.1:{}/hang{i}.git", pit.port);
        hanging.push(submit_json(&s, &s.globex.key, &git_body("ws-globex", &url)).await);
    }
    s.wait_status(&hanging[0], "RUNNING").await;
    s.wait_status(&hanging[1], "RUNNING").await;
    wait_connections(&pit, 2).await;
    for (index, test_id) in hanging[2..].iter().enumerate() {
        let (status, job) =
            get_json(&s, &s.globex.key, &format!("/v1/security-scans/{test_id}")).await;
        assert_eq!(status, 200);
        assert_eq!(job["status"], "QUEUED");
        assert_eq!(job["queue_position"], json!(index + 1), "{job}");
    }
    let (_, running) = get_json(
        &s,
        &s.globex.key,
        &format!("/v1/security-scans/{}", hanging[0]),
    )
    .await;
    assert!(running.get("queue_position").is_none(), "{running}");

    let acme = s.submit(&s.acme.key, "ws-acme", "sample").await;
    let done = s.wait_terminal(&acme).await;
    assert_eq!(done.status.as_str(), "SUCCEEDED", "{:?}", done.errors);
    // The attacker's scans are still hanging: the other tenant was not served by a timeout.
    for test_id in &hanging[..2] {
        let job = s.store_job(test_id).await;
        assert_eq!(job.status.as_str(), "RUNNING");
    }
    // The stored record has no queue position (the answer adds it).
    let stored: Value = serde_json::to_value(s.store_job(&hanging[2]).await).unwrap();
    assert!(stored.get("queue_position").is_none());

    // Cancelled while waiting: they never start. Cancelled while running: git dies with the run.
    for test_id in hanging[2..].iter().chain(&hanging[..2]) {
        let (status, text) = cancel(&s, &s.globex.key, test_id).await;
        assert_eq!(status, 200, "{text}");
    }
    pit.all_closed().await;
    for test_id in &hanging {
        let job = s.store_job(test_id).await;
        assert_eq!(job.status.as_str(), "CANCELLED");
        assert_eq!(terminal_events(&s, test_id).await.len(), 1, "{test_id}");
    }
    for test_id in &hanging[2..] {
        assert!(
            s.store_job(test_id).await.started_at.is_none(),
            "a cancelled queued job started"
        );
    }
    assert_eq!(
        pit.connections(),
        2,
        "a cancelled queued job reached the remote"
    );
    s.stop().await;
}

/// The cancel route: auditors are refused, other tenants get the unknown-id answer, the owner's cancel ends
/// a running job once (one `scan_complete`, an audit entry naming who cancelled), frees its slot and removes
/// its workspace; a second cancel is 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_running_scan_once_for_its_tenant_only() {
    let s = start(Options {
        max_scans_per_tenant: Some(1),
        ..Options::default()
    })
    .await;
    let first = s
        .submit(&s.acme.key, "ws-acme", crate::support::GATED)
        .await;
    s.wait_status(&first, "RUNNING").await;
    let second = s
        .submit(&s.acme.key, "ws-acme", crate::support::GATED)
        .await;
    let (_, waiting) = get_json(&s, &s.acme.key, &format!("/v1/security-scans/{second}")).await;
    assert_eq!(
        waiting["queue_position"], 1,
        "acme's share is one slot: {waiting}"
    );

    let (status, _) = cancel(&s, &s.auditor.key, &first).await;
    assert_eq!(status, 403);
    let unknown = new_test_id().unwrap();
    let (unknown_status, unknown_text) = cancel(&s, &s.globex.key, &unknown).await;
    assert_eq!(unknown_status, 404);
    for key in [&s.globex.key, &s.initech.key] {
        let (status, text) = cancel(&s, key, &first).await;
        assert_eq!(status, 404);
        assert_eq!(text.replace(&first, &unknown), unknown_text);
    }
    assert_eq!(s.store_job(&first).await.status.as_str(), "RUNNING");

    let (status, text) = cancel(&s, &s.acme.key, &first).await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["status"], "CANCELLED");
    assert_eq!(answer["errors"], json!(["cancelled by tenant acme"]));
    let ended = terminal_events(&s, &first).await;
    assert_eq!(ended.len(), 1);
    assert!(
        matches!(&ended[0], EventBody::ScanComplete { status, .. } if status.as_str() == "CANCELLED")
    );
    let (_, audit) = get_json(
        &s,
        &s.acme.key,
        &format!("/v1/security-scans/{first}/audit"),
    )
    .await;
    let cancelled: Vec<&Value> = audit["trail"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "status_changed" && e["detail"]["to"] == "CANCELLED")
        .collect();
    assert_eq!(cancelled.len(), 1, "{audit}");
    assert_eq!(
        cancelled[0]["detail"]["errors"],
        json!(["cancelled by tenant acme"])
    );
    assert!(
        !s.path().join("runs").join(&first).exists(),
        "the workspace is left"
    );

    // The slot is free again: the waiting job starts.
    s.wait_status(&second, "RUNNING").await;
    let (status, text) = cancel(&s, &s.acme.key, &first).await;
    assert_eq!(status, 409, "{text}");
    assert_eq!(terminal_events(&s, &first).await.len(), 1);

    s.gate.add_permits(1);
    assert_eq!(s.wait_terminal(&second).await.status.as_str(), "SUCCEEDED");
    s.stop().await;
}

/// Status and body of every job route for `key` and `test_id`, with the id replaced by `<id>`, and the
/// headers that describe the body.
async fn answers(s: &Server, key: &str, test_id: &str) -> Vec<(u16, String, String)> {
    let mut found = Vec::new();
    for (method, path) in [
        ("GET", "/v1/security-scans/{id}"),
        ("GET", "/v1/security-scans/{id}/audit"),
        ("GET", "/v1/security-scans/{id}/findings"),
        ("GET", "/v1/security-scans/{id}/evidence"),
        ("POST", "/v1/security-scans/{id}/cancel"),
        ("POST", "/v1/security-scans/{id}/upload-request"),
    ] {
        let url = s.url(&path.replace("{id}", test_id));
        let request = match method {
            "GET" => s.http.get(url),
            _ => s.http.post(url),
        };
        let response = request.bearer_auth(key).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = format!(
            "{:?} {:?}",
            response.headers().get("content-type"),
            response.headers().get("content-length")
        );
        let text = response.text().await.unwrap().replace(test_id, "<id>");
        found.push((status, headers, text));
    }
    found
}

/// W12: another tenant's existing job, an unknown id and another tenant's record the server could not even
/// parse all answer the same bytes; the lookup filters by tenant in the store, so a foreign record is never
/// read into a job (before, the unparsable one answered 500 and a parsed one took measurably longer).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_job_id_answers_byte_for_byte_as_an_unknown_one() {
    let s = start(Options::default()).await;
    let foreign = s.submit(&s.globex.key, "ws-globex", "sample").await;
    s.wait_terminal(&foreign).await;
    let broken = new_test_id().unwrap();
    let db = rusqlite::Connection::open(s.path().join("certus.db")).unwrap();
    db.execute(
        "INSERT INTO jobs (test_id, workspace_id, component_id, assessment_id, status, created_at, updated_at, record)
         VALUES (?1, 'ws-acme', 'demo', 'a-1', 'QUEUED', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?2)",
        rusqlite::params![broken, json!({"test_id": broken, "tenant": "globex"}).to_string()],
    )
    .unwrap();
    let unknown = answers(&s, &s.acme.key, &new_test_id().unwrap()).await;
    assert!(
        unknown.iter().all(|(status, _, _)| *status == 404),
        "{unknown:?}"
    );
    assert_eq!(answers(&s, &s.acme.key, &foreign).await, unknown);
    assert_eq!(answers(&s, &s.acme.key, &broken).await, unknown);
    assert_eq!(answers(&s, &s.initech.key, &foreign).await, unknown);
    s.stop().await;
}
