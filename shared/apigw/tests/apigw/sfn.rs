//! The Step Functions launcher and upload starter against moto's Step Functions: execution names and inputs,
//! one execution per duplicate request, a job that cannot be started ending FAILED, and a cancelled job's
//! execution stopped.

use std::sync::Arc;

use certus_api::{Launcher, UploadRequests};
use certus_apigw::{SfnLauncher, SfnUploads};
use certus_core::event::EventBody;
use certus_core::job::{JobStatus, UploadStatus};
use certus_core::ports::{EventLog, JobStore};
use certus_core::record::UploadStep;
use certus_core::trust::Tier;
use certus_local::SqliteStore;
use serde_json::{json, Value};

use crate::common::*;

/// What every test here starts from: the Step Functions client on moto, and a local job store in a directory
/// of its own with the services over it. `None` without moto (skipped locally, a failure in CI).
struct World {
    client: aws_sdk_sfn::Client,
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    services: certus_core::pipeline::Services,
}

fn world() -> Option<World> {
    let endpoint = moto_endpoint()?;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    Some(World {
        client: aws_sdk_sfn::Client::new(&sdk_config(&endpoint)),
        services: services(dir.path(), store.clone()),
        store,
        dir,
    })
}

async fn state_machine(client: &aws_sdk_sfn::Client, tag: &str) -> String {
    let definition = json!({
        "StartAt": "Done",
        "States": {"Done": {"Type": "Pass", "End": true}},
    });
    client
        .create_state_machine()
        .name(unique_name(tag))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/certus-test")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string()
}

/// (name, input) of every execution of the machine.
async fn executions(client: &aws_sdk_sfn::Client, arn: &str) -> Vec<(String, Value)> {
    let listed = client
        .list_executions()
        .state_machine_arn(arn)
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for execution in listed.executions() {
        let described = client
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .unwrap();
        let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
        found.push((described.name().unwrap().to_string(), input));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[tokio::test]
async fn a_duplicate_submit_starts_one_execution_named_after_the_job() {
    let Some(World {
        client,
        dir,
        store,
        services,
    }) = world()
    else {
        return;
    };
    let arn = state_machine(&client, "scan").await;
    let job = submit(&services, dir.path(), "ws-acme").await;
    let launcher = SfnLauncher::new(client.clone(), &arn, services.records());

    launcher.launch(job.test_id.clone()).await;
    launcher.launch(job.test_id.clone()).await;

    assert_eq!(
        executions(&client, &arn).await,
        vec![(job.test_id.clone(), json!({"test_id": job.test_id}))]
    );
    let record = store.get(&job.test_id).await.unwrap().unwrap();
    assert_eq!(
        record.status,
        JobStatus::Queued,
        "the machine runs it, not the API"
    );
}

#[tokio::test]
async fn a_start_that_fails_for_good_ends_the_job_failed_with_the_reason() {
    let Some(World {
        client,
        dir,
        store,
        services,
    }) = world()
    else {
        return;
    };
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:certus-does-not-exist";
    let job = submit(&services, dir.path(), "ws-acme").await;

    SfnLauncher::new(client, missing, services.records())
        .launch(job.test_id.clone())
        .await;

    let record = store.get(&job.test_id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let reason = record.errors.join("\n");
    assert!(reason.contains("the scan could not be started"), "{reason}");
    assert!(reason.contains("StateMachineDoesNotExist"), "{reason}");
    let history = store.history(&job.test_id, 0).await.unwrap();
    assert!(
        matches!(
            history.last().map(|e| &e.body),
            Some(EventBody::ScanComplete {
                status: JobStatus::Failed,
                ..
            })
        ),
        "{history:?}"
    );
}

#[tokio::test]
async fn upload_requests_start_one_execution_per_recorded_exchange() {
    let Some(World {
        client,
        dir,
        store,
        services,
    }) = world()
    else {
        return;
    };
    let arn = state_machine(&client, "upload").await;
    let mut job = submit(&services, dir.path(), "ws-acme").await;
    job.transition(JobStatus::Running, certus_core::time::now())
        .unwrap();
    job.transition(JobStatus::Succeeded, certus_core::time::now())
        .unwrap();
    store.save(&job).await.unwrap();
    let uploads: Arc<dyn UploadRequests> =
        Arc::new(SfnUploads::new(client.clone(), &arn, services.jobs.clone()));

    // `verified` for this unsigned manifest is refused before any execution starts.
    let refused = uploads
        .request_upload(&job.test_id, Tier::Verified)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("needs a verified manifest"),
        "{refused}"
    );
    assert!(executions(&client, &arn).await.is_empty());

    // Two requests while nothing is recorded yet: one execution.
    for _ in 0..2 {
        let answered = uploads
            .request_upload(&job.test_id, Tier::Basic)
            .await
            .unwrap();
        assert_eq!(answered.upload_status, job.upload_status);
    }
    let first = format!("{}-upload-0", job.test_id);
    let input = json!({"test_id": job.test_id, "tier": "basic"});
    assert_eq!(
        executions(&client, &arn).await,
        vec![(first.clone(), input.clone())]
    );

    // An attempt that failed is recorded: the next request is a new attempt.
    job.upload_audit.push(UploadStep::publish_failed(
        "publication failed: unreachable",
    ));
    job.set_upload_status(UploadStatus::UploadFailed).unwrap();
    store.save(&job).await.unwrap();
    uploads
        .request_upload(&job.test_id, Tier::Basic)
        .await
        .unwrap();
    let second = format!("{}-upload-1", job.test_id);
    assert_eq!(
        executions(&client, &arn).await,
        vec![
            (first.clone(), input.clone()),
            (second.clone(), input.clone())
        ]
    );

    // A denied job is asked about again: a new request starts a new attempt.
    job.set_upload_status(UploadStatus::Denied).unwrap();
    job.upload_audit
        .push(UploadStep::publish_failed("publication failed: denied"));
    store.save(&job).await.unwrap();
    let answered = uploads
        .request_upload(&job.test_id, Tier::Basic)
        .await
        .unwrap();
    assert_eq!(answered.upload_status, UploadStatus::Denied);
    assert_eq!(executions(&client, &arn).await.len(), 3);

    // An uploaded job is settled: nothing starts.
    job.set_upload_status(UploadStatus::Permitted).unwrap();
    job.set_upload_status(UploadStatus::Uploaded).unwrap();
    store.save(&job).await.unwrap();
    uploads
        .request_upload(&job.test_id, Tier::Basic)
        .await
        .unwrap();
    assert_eq!(executions(&client, &arn).await.len(), 3);
}

#[tokio::test]
async fn an_upload_for_a_job_not_succeeded_is_a_conflict() {
    let Some(World {
        client,
        dir,
        store: _,
        services,
    }) = world()
    else {
        return;
    };
    let arn = state_machine(&client, "upload").await;
    let job = submit(&services, dir.path(), "ws-acme").await;
    let error = SfnUploads::new(client.clone(), &arn, services.jobs.clone())
        .request_upload(&job.test_id, Tier::Basic)
        .await
        .unwrap_err();
    assert!(
        matches!(error, certus_core::CoreError::Conflict(_)),
        "{error}"
    );
    assert!(executions(&client, &arn).await.is_empty());
}

/// A state machine whose executions stay RUNNING (one Wait of an hour), as a scan does while its tools run.
async fn long_state_machine(client: &aws_sdk_sfn::Client, tag: &str) -> String {
    let definition = json!({
        "StartAt": "Scanning",
        "States": {"Scanning": {"Type": "Wait", "Seconds": 3600, "End": true}},
    });
    client
        .create_state_machine()
        .name(unique_name(tag))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/certus-test")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string()
}

/// The status of the scan execution named `name`.
async fn execution_state(
    client: &aws_sdk_sfn::Client,
    launcher: &SfnLauncher,
    name: &str,
) -> String {
    client
        .describe_execution()
        .execution_arn(launcher.execution_arn(name).unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_str()
        .to_string()
}

#[tokio::test]
async fn cancelling_stops_the_running_execution_and_ends_the_job_cancelled() {
    let Some(World {
        client,
        dir,
        store,
        services,
    }) = world()
    else {
        return;
    };
    let arn = long_state_machine(&client, "scan-cancel").await;
    let job = submit(&services, dir.path(), "ws-acme").await;
    let launcher = SfnLauncher::new(client.clone(), &arn, services.records());
    launcher.launch(job.test_id.clone()).await;
    assert_eq!(
        execution_state(&client, &launcher, &job.test_id).await,
        "RUNNING"
    );

    let ended = launcher
        .cancel(&job.test_id, "cancelled by tenant acme")
        .await
        .unwrap();

    assert_eq!(ended.status, JobStatus::Cancelled);
    // (moto records no error or cause for a stopped execution; Step Functions keeps "Cancelled" and the reason.)
    assert_eq!(
        execution_state(&client, &launcher, &job.test_id).await,
        "ABORTED"
    );
    let record = store.get(&job.test_id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    let history = store.history(&job.test_id, 0).await.unwrap();
    let completes = history
        .iter()
        .filter(|e| matches!(e.body, EventBody::ScanComplete { .. }))
        .count();
    assert_eq!(completes, 1, "{history:?}");
    assert!(matches!(
        history.last().map(|e| &e.body),
        Some(EventBody::ScanComplete {
            status: JobStatus::Cancelled,
            ..
        })
    ));
}

#[tokio::test]
async fn a_job_never_started_is_cancelled_and_a_stop_that_fails_leaves_the_job_as_it_was() {
    let Some(World {
        client,
        dir,
        store,
        services,
    }) = world()
    else {
        return;
    };
    let arn = long_state_machine(&client, "scan-unstarted").await;

    // No execution of that name: nothing to stop, the job ends CANCELLED and never starts.
    let queued = submit(&services, dir.path(), "ws-acme").await;
    let launcher = SfnLauncher::new(client.clone(), &arn, services.records());
    let ended = launcher
        .cancel(&queued.test_id, "cancelled by tenant acme")
        .await
        .unwrap();
    assert_eq!(ended.status, JobStatus::Cancelled);
    assert!(executions(&client, &arn).await.is_empty());

    // A machine ARN that names no state machine: the stop fails, the job stays QUEUED (not shown cancelled
    // while a run may go on), the error names the operation.
    let other = submit(&services, dir.path(), "ws-acme").await;
    let broken = SfnLauncher::new(client.clone(), "not-an-arn", services.records());
    let refused = broken
        .cancel(&other.test_id, "cancelled by tenant acme")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("StopExecution") && refused.contains("not arn:…:stateMachine:<name>"),
        "{refused}"
    );
    let record = store.get(&other.test_id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Queued);
}

#[tokio::test]
async fn a_cancel_reads_no_bundle_here_and_never_commits_a_scan_complete_that_could_disagree_with_one(
) {
    let Some(World {
        client,
        dir,
        store,
        services,
    }) = world()
    else {
        return;
    };
    let arn = long_state_machine(&client, "scan-ended").await;
    let launcher = SfnLauncher::new(client.clone(), &arn, services.records());
    let now = certus_core::time::now();

    // Ended (its record saved) with a stored bundle, but its scan_complete never committed: the event ending
    // the bundle's stream cannot be read here, so none is made up; the error names the job.
    let mut bundled = submit(&services, dir.path(), "ws-acme").await;
    bundled.start(now).unwrap();
    bundled.transition(JobStatus::Succeeded, now).unwrap();
    bundled.bundle_location = Some("s3://artifacts/bundles/x".into());
    store.save(&bundled).await.unwrap();
    let refused = launcher
        .cancel(&bundled.test_id, "cancelled by tenant acme")
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains(&bundled.test_id), "{refused}");
    assert!(store.history(&bundled.test_id, 0).await.unwrap().is_empty());

    // Ended without a bundle: its one scan_complete is committed, the status kept.
    let mut failed = submit(&services, dir.path(), "ws-acme").await;
    failed.start(now).unwrap();
    failed.transition(JobStatus::Failed, now).unwrap();
    store.save(&failed).await.unwrap();
    let ended = launcher
        .cancel(&failed.test_id, "cancelled by tenant acme")
        .await
        .unwrap();
    assert_eq!(ended.status, JobStatus::Failed);
    let history = store.history(&failed.test_id, 0).await.unwrap();
    assert!(
        matches!(
            history.as_slice(),
            [certus_core::event::Event {
                body: EventBody::ScanComplete {
                    status: JobStatus::Failed,
                    bundle: None,
                    ..
                },
                ..
            }]
        ),
        "{history:?}"
    );
}
