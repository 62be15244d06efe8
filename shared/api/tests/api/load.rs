//! A bounded load test: 200 concurrent submissions, each with its own watcher. Every job must end, every
//! watcher must get its whole stream, and no request may fail.

use std::time::{Duration, Instant};

use certus_api::watch;

use crate::support::{start, Options};

const JOBS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_watched_submissions() {
    let s = std::sync::Arc::new(
        start(Options {
            max_concurrent_scans: 8,
            // One client with 200 submissions and 200 watchers at once: above the default caps.
            connections: Some(certus_api::ConnectionLimits {
                max_per_client: 1000,
                max_connections: 1000,
                ..Default::default()
            }),
            watchers: Some(certus_api::WatcherLimits {
                per_key: JOBS,
                per_tenant: JOBS,
                total: JOBS,
            }),
            ..Options::default()
        })
        .await,
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..JOBS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let response = s.submit_as(&s.acme.key, &s.body("ws-acme", "sample")).await;
            let latency = sent.elapsed();
            assert_eq!(response.status(), 202);
            let body: serde_json::Value = response.json().await.unwrap();
            let test_id = body["test_id"].as_str().unwrap().to_string();
            let mut seqs = Vec::new();
            let last = watch(
                body["stream_url"].as_str().unwrap(),
                Some(&s.acme.key),
                |e| seqs.push(e.seq),
            )
            .await
            .expect("watch")
            .expect("scan_complete");
            (test_id, latency, seqs, last.seq)
        }));
    }
    let mut latencies = Vec::new();
    let mut streams = Vec::new();
    for task in tasks {
        let (test_id, latency, seqs, last) = tokio::time::timeout(Duration::from_secs(50), task)
            .await
            .expect("within the time bound")
            .expect("task");
        latencies.push(latency);
        streams.push((test_id, seqs, last));
    }
    let all_terminal = started.elapsed();
    let submit_phase: Duration = latencies.iter().copied().max().unwrap_or_default();
    for (test_id, seqs, last) in &streams {
        let job = s.wait_terminal(test_id).await;
        assert!(job.status.is_terminal());
        assert_eq!(
            seqs,
            &(1..=*last).collect::<Vec<_>>(),
            "{test_id}: full stream"
        );
        assert_eq!(s.history(test_id).await.len() as u64, *last);
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    eprintln!(
        "load: {JOBS} submissions, {:.0} submissions/s, submit latency p50 {:?} p99 {:?}, all terminal and watched in {:?}",
        JOBS as f64 / submit_phase.as_secs_f64().max(1e-3),
        pct(50),
        pct(99),
        all_terminal
    );
    match std::sync::Arc::try_unwrap(s) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("server still shared"),
    }
}
