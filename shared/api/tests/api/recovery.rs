//! No job is lost across a restart: at start the server ends jobs whose runner is gone and runs the QUEUED
//! ones; a job whose runner is still alive is left alone.

use certus_core::job::{Job, JobStatus};
use certus_core::request::SubmitRequest;
use certus_core::time;
use serde_json::json;

use crate::support::{start, Options};

fn job(test_id: &str, directory: &std::path::Path) -> Job {
    let request: SubmitRequest = serde_json::from_value(json!({
        "workspace_id": "ws-acme", "component_id": "demo", "assessment_id": "a-1",
        "source_type": "directory", "directory_path": directory.display().to_string(),
        "manifest": {"product": "demo", "version": "1", "profiles": [{"name": "light", "tools": ["sample"], "thresholds": {}}]},
    }))
    .unwrap();
    let mut job = Job::queued(
        test_id.into(),
        request.validate().unwrap(),
        format!("ws://127.0.0.1:1/v1/security-scans/{test_id}/stream"),
        time::now(),
    );
    job.tenant = Some("acme".into());
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_left_behind_are_ended_or_run_at_start() {
    let code = tempfile::tempdir().unwrap();
    std::fs::write(code.path().join("app.py"), "print(1)\n").unwrap();
    let queued = job("test_00000000000a", code.path());
    let mut orphan = job("test_00000000000b", code.path());
    orphan.start(time::now()).unwrap();
    orphan.runner = Some("pid:4294967295".into());
    let mut alive = job("test_00000000000c", code.path());
    alive.start(time::now()).unwrap();
    alive.runner = Some(format!("pid:{}", std::process::id()));

    let s = start(Options {
        seed: vec![queued, orphan, alive],
        ..Options::default()
    })
    .await;
    let ended = s.wait_terminal("test_00000000000b").await;
    assert_eq!(ended.status, JobStatus::Failed);
    assert_eq!(
        ended.errors,
        vec!["interrupted: runner pid:4294967295 stopped before the scan finished".to_string()]
    );
    assert!(s
        .history("test_00000000000b")
        .await
        .last()
        .unwrap()
        .body
        .is_terminal());
    let ran = s.wait_terminal("test_00000000000a").await;
    assert_eq!(ran.status, JobStatus::Succeeded, "{:?}", ran.errors);
    let record = s
        .get_as(&s.acme.key, "/v1/security-scans/test_00000000000c")
        .await;
    let record: serde_json::Value = record.json().await.unwrap();
    assert_eq!(
        record["status"], "RUNNING",
        "a live runner's job is not touched"
    );
    s.stop().await;
}
