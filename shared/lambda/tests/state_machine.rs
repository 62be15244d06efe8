//! The real state machine definitions (`statemachine/*.asl.json`) executed by `aws-local-stepfunctions`, every
//! Lambda task bound to this crate's `certus-step` (the handler code the Lambdas run), against moto's S3,
//! DynamoDB and KMS: the happy path (compared with the one-process runner), a scanner failing, a scanner timing
//! out, a step crashing, a lost response retried without acting twice, and Trust denying and permitting —
//! the dev server, and the real Certus-Trust (`../shared/data/certus-trust`, `CERTUS_TRUST_VENV`).
//! Needs `CERTUS_MOTO_ENDPOINT` and `statemachine/tests/node_modules` (`scripts/check-infra.sh` installs it);
//! without them each test says why it is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use certus_aws::{download_prefix, sdk_config, AwsClients};
use certus_core::audit::AuditLog;
use certus_core::audit::AuditedJobStore;
use certus_core::bundle::{self, check_index, read_index};
use certus_core::event::{Event, EventBody};
use certus_core::job::{Job, JobStatus, UploadStatus};
use certus_core::pipeline::{self, ScannerSet};
use certus_core::ports::{EventLog, JobStore};
use certus_core::record::UploadStep;
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_dynamo::{create_tables, DynamoAuditLog, DynamoEventLog, DynamoJobStore, TableNames};
use certus_integration::{cosign_sign, git_repo, harness, p256_keypair};
use certus_scanners::{SbomScanner, SecretsScanner};
use certus_trust::{trust_dev_server, LocalTrustGate};
use serde_json::{json, Value};

#[path = "../../trust/tests/common/real.rs"]
mod real_trust;

const CARGO_LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\n";
/// A fake key in the shape the secrets rules look for (random, labelled: not a credential).
const PLANTED: &str = "aws_secret = \"AKIAQX4NT7RZ2M5WCJ3E\"\n";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// moto's endpoint and the node runner, or `None` after saying what is missing.
fn prerequisites() -> Option<String> {
    let endpoint = certus_testkit::moto_endpoint()?;
    certus_testkit::require(
        root()
            .join("statemachine/tests/node_modules/aws-local-stepfunctions")
            .is_dir()
            .then_some(()),
        "statemachine/tests/node_modules absent (scripts/check-infra.sh installs it)",
    )?;
    Some(endpoint)
}

/// One deployment on moto: tables, buckets, a KMS signing key, a manifest key, a repository.
struct Deployment {
    dir: tempfile::TempDir,
    endpoint: String,
    aws: AwsClients,
    dynamodb: aws_sdk_dynamodb::Client,
    tables: TableNames,
    work: String,
    raw: String,
    golden: String,
    kms_key: String,
    /// The Secrets Manager secret holding the fingerprint key, and its text.
    fingerprint_secret: String,
    fingerprint_key_text: String,
    manifest_key: PathBuf,
    repo: PathBuf,
    extra_env: Vec<(String, String)>,
}

fn unique(tag: &str) -> String {
    certus_testkit::unique_name(&format!("sm-{tag}"))
}

fn dummy_credentials() {
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(k, v);
    }
}

impl Deployment {
    async fn new(endpoint: String, thresholds: Value) -> Self {
        dummy_credentials();
        let config = sdk_config(Some(&endpoint)).await.unwrap();
        let aws = AwsClients::from_sdk_config(&config);
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let tables = TableNames {
            jobs: unique("jobs"),
            events: unique("events"),
            audit: unique("audit"),
        };
        create_tables(&dynamodb, &tables).await.unwrap();
        let (work, raw, golden) = (unique("work"), unique("raw"), unique("golden"));
        for bucket in [&work, &raw, &golden] {
            aws.s3()
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
        }
        let kms_key = aws
            .kms()
            .create_key()
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_string();
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).unwrap();
        let fingerprint_key_text = hex::encode(random);
        let fingerprint_secret = aws_sdk_secretsmanager::Client::new(&config)
            .create_secret()
            .name(unique("fingerprint-key"))
            .secret_string(&fingerprint_key_text)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();

        let dir = tempfile::tempdir().unwrap();
        let (key, public) = p256_keypair(dir.path());
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let manifest = json!({
            "product": "demo", "version": "1",
            "profiles": [{"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}, "secrets"],
                          "thresholds": thresholds}],
        })
        .to_string();
        std::fs::write(repo.join("certus.json"), &manifest).unwrap();
        cosign_sign(
            &key,
            &repo.join("certus.json"),
            &repo.join("certus.json.sig"),
        );
        let sig = std::fs::read_to_string(repo.join("certus.json.sig")).unwrap();
        git_repo(
            &repo,
            &[
                ("Cargo.lock", CARGO_LOCK),
                ("config/settings.py", PLANTED),
                ("certus.json", &manifest),
                ("certus.json.sig", &sig),
            ],
        );
        Self {
            dir,
            endpoint,
            aws,
            dynamodb,
            tables,
            work,
            raw,
            golden,
            kms_key,
            fingerprint_secret,
            fingerprint_key_text,
            manifest_key: public,
            repo,
            extra_env: Vec::new(),
        }
    }

    fn jobs(&self) -> AuditedJobStore {
        AuditedJobStore::new(
            Arc::new(DynamoJobStore::new(
                self.dynamodb.clone(),
                &self.tables.jobs,
            )),
            Arc::new(self.audit()),
        )
    }

    fn audit(&self) -> DynamoAuditLog {
        DynamoAuditLog::new(self.dynamodb.clone(), &self.tables.audit)
    }

    fn events(&self) -> DynamoEventLog {
        DynamoEventLog::new(self.dynamodb.clone(), &self.tables.events)
    }

    fn submission(&self, git_url: &str) -> ValidatedSubmission {
        ValidatedSubmission {
            ids: ScanIds {
                workspace_id: "ws".into(),
                component_id: "demo".into(),
                assessment_id: "a1".into(),
            },
            source: SourceSpec::Git {
                git_url: git_url.into(),
                branch: Some("main".into()),
                commit: None,
                git_credentials_ref: None,
            },
            manifest: ManifestSource::RepoPath("certus.json".into()),
            signature: Some(SignatureSource::RepoPath("certus.json.sig".into())),
            profile: "light".into(),
            requested_by: Some("tests".into()),
            baseline: None,
            full_scan: false,
        }
    }

    /// A QUEUED job, as the API or a push trigger leaves it for the state machine.
    async fn submit(&self, git_url: &str) -> String {
        let id = certus_core::ids::new_test_id().unwrap();
        let job = Job::queued(
            id.clone(),
            self.submission(git_url),
            format!("wss://example.invalid/v1/security-scans/{id}/stream"),
            certus_core::time::now(),
        );
        self.jobs().create(&job).await.unwrap();
        id
    }

    fn step_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("CERTUS_ASSURANCE_JOBS_TABLE", self.tables.jobs.clone()),
            ("CERTUS_ASSURANCE_AUDIT_TABLE", self.tables.audit.clone()),
            ("CERTUS_ASSURANCE_EVENTS_TABLE", self.tables.events.clone()),
            (
                "CERTUS_ASSURANCE_RUNS_ROOT",
                format!("s3://{}/runs", self.work),
            ),
            (
                "CERTUS_ASSURANCE_WORK_BUCKET",
                format!("s3://{}/bundles", self.work),
            ),
            ("CERTUS_ASSURANCE_RAW_BUCKET", self.raw.clone()),
            ("CERTUS_ASSURANCE_GOLDEN_BUCKET", self.golden.clone()),
            (
                "CERTUS_ASSURANCE_SIGNING_KEY_REF",
                format!("awskms:///{}", self.kms_key),
            ),
            (
                "CERTUS_ASSURANCE_FINGERPRINT_KEY_REF",
                self.fingerprint_secret.clone(),
            ),
            (
                "CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF",
                self.manifest_key.display().to_string(),
            ),
            (
                "CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED",
                "true".into(),
            ),
            ("CERTUS_ASSURANCE_S3_ENDPOINT_URL", self.endpoint.clone()),
            (
                "CERTUS_ASSURANCE_LOCAL_SOURCE_ROOTS",
                self.dir.path().display().to_string(),
            ),
            (
                "CERTUS_ASSURANCE_WORKSPACE_ROOT",
                self.dir.path().join("lambda-tmp").display().to_string(),
            ),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// A task command: `certus-step`, optionally behind a shell wrapper that misbehaves on cue.
    fn task_command(&self, wrapper: Option<&str>) -> String {
        let step = env!("CARGO_BIN_EXE_certus-step");
        match wrapper {
            None => step.to_string(),
            Some(body) => {
                let path = self.dir.path().join(format!("wrapper-{}.sh", unique("w")));
                std::fs::write(
                    &path,
                    format!(
                        "#!/bin/sh\nSTEP='{step}'\nMARKS='{}'\n{body}\n",
                        self.dir.path().display()
                    ),
                )
                .unwrap();
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )
                .unwrap();
                path.display().to_string()
            }
        }
    }

    /// Runs a definition with the local interpreter; returns its summary JSON.
    fn execute(&self, definition: &str, input: Value, task_command: &str, extra: &[&str]) -> Value {
        let out = Command::new("node")
            .arg(root().join("statemachine/tests/run-local.mjs"))
            .arg("--definition")
            .arg(root().join("statemachine").join(definition))
            .arg("--input")
            .arg(input.to_string())
            .arg("--task-command")
            .arg(task_command)
            .args(["--retry-pause-ms", "10"])
            .args(extra)
            .envs(self.step_env())
            .output()
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
            panic!(
                "runner output is not JSON ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// The scan machine on one job, every task bound to `certus-step` itself.
    fn scan(&self, id: &str) -> Value {
        self.execute(
            "certus-assurance.asl.json",
            json!({"test_id": id}),
            &self.task_command(None),
            &[],
        )
    }

    /// The upload machine on one job.
    fn upload(&self, id: &str) -> Value {
        self.execute(
            "certus-upload.asl.json",
            json!({"test_id": id, "tier": "basic"}),
            &self.task_command(None),
            &[],
        )
    }

    async fn job(&self, id: &str) -> Job {
        self.jobs().get(id).await.unwrap().unwrap()
    }

    async fn history(&self, id: &str) -> Vec<Event> {
        self.events().history(id, 0).await.unwrap()
    }

    /// What the steps left under the functions' workspace root (their `/tmp`): each step's workspace goes
    /// when the step ends.
    fn leftovers(&self) -> Vec<String> {
        match std::fs::read_dir(self.dir.path().join("lambda-tmp")) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                Vec::new()
            }
        }
    }

    /// The stored bundle, downloaded and checked against its index.
    async fn bundle(&self, job: &Job) -> PathBuf {
        let location = job.bundle_location.as_deref().expect("bundle location");
        let dest = self.dir.path().join(format!("bundle-{}", job.test_id));
        download_prefix(&self.aws, location, &dest).await.unwrap();
        let index = read_index(&dest).unwrap();
        assert!(
            check_index(&dest, &index).unwrap().is_empty(),
            "bundle matches its index"
        );
        dest
    }

    async fn objects(&self, bucket: &str) -> Vec<String> {
        let listed = self
            .aws
            .s3()
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }
}

fn states(summary: &Value) -> Vec<String> {
    summary["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// seq 1..=n, exactly one scan_complete and it is last.
fn assert_event_contract(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "gap-free seq"
    );
    assert_eq!(events.iter().filter(|e| e.body.is_terminal()).count(), 1);
    assert!(
        events.last().unwrap().body.is_terminal(),
        "scan_complete is last"
    );
}

fn phases(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Phase { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_state_machine_and_the_local_runner_give_the_same_record_and_bundle() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let d = Deployment::new(endpoint, json!({"critical": 0})).await;
    let repo = d.repo.display().to_string();
    let id = d.submit(&repo).await;

    let summary = d.scan(&id);
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert_eq!(
        states(&summary),
        [
            "PrepareSource",
            "FetchManifest",
            "VerifyManifest",
            "LaunchScanners",
            "RunScanners",
            "BuildBundle",
            "Finalize",
            "Done"
        ]
    );
    let job = d.job(&id).await;
    let events = d.history(&id).await;
    assert_event_contract(&events);
    let bundle = d.bundle(&job).await;
    assert!(
        job.bundle_location
            .as_deref()
            .unwrap()
            .starts_with(&format!("s3://{}/bundles/", d.work)),
        "the bundle stays in the work bucket"
    );
    assert!(d.objects(&d.raw).await.is_empty() && d.objects(&d.golden).await.is_empty());

    // The same input through the one-process runner on the embedded adapters.
    let policy = SignaturePolicy {
        required: true,
        key: Some(
            certus_verify::PublicKey::from_pem(&std::fs::read_to_string(&d.manifest_key).unwrap())
                .unwrap(),
        ),
        ..Default::default()
    };
    let mut local = harness(
        policy,
        ScannerSet::new(vec![
            Arc::new(SbomScanner::default()),
            Arc::new(SecretsScanner::new(None)),
        ]),
    );
    // The same operator ceiling on tool timeouts as the Lambda wiring, and the deployment's fingerprint key.
    local.services.settings.max_tool_timeout = certus_core::manifest::DEFAULT_TOOL_TIMEOUT * 4;
    local.services.fingerprint_key = Some(
        certus_core::fingerprint::FingerprintKey::new(d.fingerprint_key_text.as_bytes()).unwrap(),
    );
    let queued = pipeline::submit(&local.services.records(), d.submission(&repo))
        .await
        .unwrap();
    let one = pipeline::run(&local.services, &queued.test_id)
        .await
        .unwrap();
    let comparable = |j: &Job| {
        json!({
            "status": j.status, "commit": j.commit, "branch": j.branch,
            "manifest_digest": j.manifest_digest, "manifest_metadata": j.manifest_metadata,
            "verified": j.manifest_verification.as_ref().map(|v| v.method.clone()),
            "findings": j.findings_summary, "artifacts": j.artifacts,
            "errors": j.errors, "warnings": j.warnings, "upload_status": j.upload_status,
        })
    };
    assert_eq!(
        job.status,
        JobStatus::Failed,
        "the planted secret breaches critical: 0"
    );
    assert_eq!(comparable(&job), comparable(&one));
    let local_dir = Path::new(one.bundle_location.as_deref().unwrap());
    let paths = |dir: &Path| {
        read_index(dir)
            .unwrap()
            .files
            .into_iter()
            .map(|e| e.path)
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&bundle), paths(local_dir));
    for tool in ["sbom", "secrets"] {
        let results = |dir: &Path| {
            let log: Value =
                serde_json::from_slice(&std::fs::read(dir.join(bundle::sarif_path(tool))).unwrap())
                    .unwrap();
            log["runs"][0]["results"].clone()
        };
        assert_eq!(results(&bundle), results(local_dir), "{tool} findings");
    }
    let local_events = local.store.history(&one.test_id, 0).await.unwrap();
    assert_eq!(phases(&events), phases(&local_events));
    let trail = d.audit().trail(&id).await.unwrap();
    assert!(trail.len() >= 3, "submitted, running, final: {trail:?}");
    assert_eq!(d.leftovers(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_and_a_timed_out_scanner_are_recorded_and_the_run_still_ends() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let mut d = Deployment::new(endpoint, json!({})).await;
    let rules = d.dir.path().join("broken-rules.toml");
    std::fs::write(&rules, "this is [[[ not a rule file").unwrap();
    d.extra_env.push((
        "CERTUS_ASSURANCE_SECRETS_RULES".into(),
        rules.display().to_string(),
    ));
    let id = d.submit(&d.repo.display().to_string()).await;
    // The sbom tool hangs beyond its state's timeout (shortened to 2 s here); secrets fails on its rules.
    let wrapper = d.task_command(Some(
        "input=$(cat)\ncase \"$1:$input\" in\n  run-scanner:*'\"sbom\"'*'\"failure\"'*) ;;\n  run-scanner:*'\"sbom\"'*) exec sleep 30 ;;\nesac\nprintf '%s' \"$input\" | exec \"$STEP\" \"$@\"",
    ));
    let summary = d.execute(
        "certus-assurance.asl.json",
        json!({"test_id": id}),
        &wrapper,
        &["--task-timeout", "ScanWithLambda=2"],
    );
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    let job = d.job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    let errors = job.errors.join("\n");
    assert!(errors.contains("tool 'sbom' timed_out"), "{errors}");
    assert!(errors.contains("tool 'secrets' failed"), "{errors}");
    assert_event_contract(&d.history(&id).await);
    d.bundle(&job).await;
    assert_eq!(d.leftovers(), Vec::<String>::new());
}

#[tokio::test]
async fn a_crashed_step_ends_the_job_failed_with_its_cause_and_one_scan_complete() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let d = Deployment::new(endpoint, json!({})).await;
    // An unreachable repository: prepare-source answers NonRetryable.
    let missing = d.dir.path().join("no-such-repo").display().to_string();
    let id = d.submit(&missing).await;
    let summary = d.scan(&id);
    assert_eq!(summary["status"], "FAILED", "{summary}");
    let visited = states(&summary);
    assert_eq!(visited.first().map(String::as_str), Some("PrepareSource"));
    assert!(visited.contains(&"MarkFailed".to_string()), "{visited:?}");
    let job = d.job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors.iter().any(|e| e.contains("source")),
        "{:?}",
        job.errors
    );
    assert_event_contract(&d.history(&id).await);

    // A process that dies without an answer (killed) in build-bundle: caught, FAILED, one scan_complete.
    let id = d.submit(&d.repo.display().to_string()).await;
    let wrapper = d.task_command(Some(
        "if [ \"$1\" = build-bundle ]; then kill -9 $$; fi\nexec \"$STEP\" \"$@\"",
    ));
    let summary = d.execute(
        "certus-assurance.asl.json",
        json!({"test_id": id}),
        &wrapper,
        &[],
    );
    assert_eq!(summary["status"], "FAILED", "{summary}");
    let job = d.job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(!job.errors.is_empty());
    let events = d.history(&id).await;
    assert_event_contract(&events);
    assert!(events
        .iter()
        .any(|e| matches!(e.body, EventBody::Error { .. })));
}

/// What the `ExecutionEnded` EventBridge rule hands finalize for a scan execution that ended `status`: the
/// template's own InputTemplate (infra/tests/fixtures/execution-ended.input-template, compared with the
/// translated template by infra/tests/test_template.py), rendered as EventBridge renders it.
fn execution_ended(test_id: &str, status: &str) -> Value {
    let template =
        std::fs::read_to_string(root().join("infra/tests/fixtures/execution-ended.input-template"))
            .unwrap();
    let execution =
        format!("arn:aws:states:us-east-1:123456789012:execution:certus-scan:{test_id}");
    // A placeholder outside quotes becomes a JSON string; inside a string it is inserted as it is.
    let rendered = template
        .trim()
        .replace(
            "\"test_id\": <name>",
            &format!("\"test_id\": \"{test_id}\""),
        )
        .replace("<status>", status)
        .replace("<execution>", &execution);
    serde_json::from_str(&rendered).unwrap()
}

/// Runs one step the way Lambda would (the `certus-step` binary, payload on stdin).
fn invoke_step(d: &Deployment, step: &str, payload: &Value) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_certus-step"))
        .arg(step)
        .envs(d.step_env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn an_execution_that_ends_without_marking_the_job_ends_it_failed_once() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let d = Deployment::new(endpoint, json!({})).await;
    let id = d.submit(&d.repo.display().to_string()).await;
    // build-bundle dies and so does MarkFailed (finalize): the execution FAILS, the job is left RUNNING —
    // as after the execution timeout or an abort, which no Catch sees either.
    let wrapper = d.task_command(Some(
        "case \"$1\" in build-bundle|finalize) kill -9 $$;; esac\nexec \"$STEP\" \"$@\"",
    ));
    let summary = d.execute(
        "certus-assurance.asl.json",
        json!({"test_id": id}),
        &wrapper,
        &[],
    );
    assert_eq!(summary["status"], "FAILED", "{summary}");
    assert_eq!(d.job(&id).await.status, JobStatus::Running);
    assert!(d.history(&id).await.iter().all(|e| !e.body.is_terminal()));

    // The status-change event reaches finalize: FAILED with the reason, one scan_complete.
    let out = invoke_step(&d, "finalize", &execution_ended(&id, "TIMED_OUT"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let job = d.job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors.iter().any(|e| e.contains("ended TIMED_OUT")),
        "{:?}",
        job.errors
    );
    assert_event_contract(&d.history(&id).await);

    // The same event again (EventBridge delivers at least once), and the FAILED event that follows every
    // MarkFailed: nothing changes, still one scan_complete.
    for status in ["TIMED_OUT", "FAILED", "ABORTED"] {
        let out = invoke_step(&d, "finalize", &execution_ended(&id, status));
        assert!(out.status.success(), "{status}");
    }
    assert_eq!(d.job(&id).await.status, JobStatus::Failed);
    assert_event_contract(&d.history(&id).await);

    // A job aborted before it started (QUEUED) ends FAILED with one scan_complete too.
    let queued = d.submit(&d.repo.display().to_string()).await;
    let out = invoke_step(&d, "finalize", &execution_ended(&queued, "ABORTED"));
    assert!(out.status.success());
    assert_eq!(d.job(&queued).await.status, JobStatus::Failed);
    assert_event_contract(&d.history(&queued).await);
}

#[tokio::test]
async fn a_lost_response_is_retried_without_acting_twice() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let d = Deployment::new(endpoint, json!({})).await;
    let id = d.submit(&d.repo.display().to_string()).await;
    // fetch-manifest and finalize do their work, then their answers are lost once (Retryable).
    let wrapper = d.task_command(Some(
        "input=$(cat)\nout=$(printf '%s' \"$input\" | \"$STEP\" \"$@\") || { printf '%s' \"$out\"; exit 1; }\ncase \"$1\" in fetch-manifest|finalize)\n  if [ ! -e \"$MARKS/lost-$1\" ]; then touch \"$MARKS/lost-$1\"; echo '{\"errorType\":\"Retryable\",\"errorMessage\":\"response lost\"}'; exit 1; fi;;\nesac\nprintf '%s' \"$out\"",
    ));
    let summary = d.execute(
        "certus-assurance.asl.json",
        json!({"test_id": id}),
        &wrapper,
        &[],
    );
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert!(d.dir.path().join("lost-fetch-manifest").exists());
    assert!(d.dir.path().join("lost-finalize").exists());
    let events = d.history(&id).await;
    assert_event_contract(&events);
    let mut seen = BTreeMap::new();
    for phase in phases(&events) {
        *seen.entry(phase).or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "no phase twice: {seen:?}");
    assert_eq!(d.job(&id).await.status, JobStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_go_through_trust_deny_publishes_nothing_and_permit_promotes_once() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let mut d = Deployment::new(endpoint, json!({})).await;
    let id = d.submit(&d.repo.display().to_string()).await;
    let summary = d.scan(&id);
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert_eq!(d.job(&id).await.status, JobStatus::Succeeded);

    // Trust pins another signer: denied, nothing in raw or golden.
    let denying = Arc::new(
        LocalTrustGate::new()
            .pin_keys([format!("sha256:{}", "0".repeat(64))])
            .unwrap(),
    );
    let server = trust_dev_server("127.0.0.1:0".parse().unwrap(), denying, None)
        .await
        .unwrap();
    d.extra_env
        .push(("CERTUS_ASSURANCE_TRUST_BASE_URL".into(), server.base_url()));
    let summary = d.upload(&id);
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert!(!states(&summary).contains(&"Promote".to_string()));
    let job = d.job(&id).await;
    assert_eq!(job.upload_status, UploadStatus::Denied);
    assert_eq!(job.upload_audit.len(), 1, "the exchange is kept");
    assert!(d.objects(&d.raw).await.is_empty() && d.objects(&d.golden).await.is_empty());
    server.shutdown().await.unwrap();

    // A second job, Trust permitting: raw then golden, every bundle file once; asking again changes nothing.
    let id = d.submit(&d.repo.display().to_string()).await;
    d.extra_env
        .retain(|(k, _)| k != "CERTUS_ASSURANCE_TRUST_BASE_URL");
    d.scan(&id);
    let server = trust_dev_server(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(LocalTrustGate::new().raw_bucket(d.raw.clone())),
        None,
    )
    .await
    .unwrap();
    d.extra_env
        .push(("CERTUS_ASSURANCE_TRUST_BASE_URL".into(), server.base_url()));
    for _ in 0..2 {
        let summary = d.upload(&id);
        assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    }
    let job = d.job(&id).await;
    assert_eq!(
        job.upload_status,
        UploadStatus::Uploaded,
        "{:?}",
        job.upload_audit
    );
    let trust_calls = job
        .upload_audit
        .iter()
        .filter(|a| a.exchange().is_some())
        .count();
    assert_eq!(trust_calls, 1, "asking twice asks Trust once");
    let bundle = d.bundle(&job).await;
    let files = read_index(&bundle).unwrap().files.len() + 1;
    assert_eq!(
        d.objects(&d.golden).await.len(),
        files,
        "every file and the index, once"
    );
    assert_eq!(d.objects(&d.raw).await.len(), files);
    let published = d
        .history(&id)
        .await
        .iter()
        .filter(|e| matches!(e.body, EventBody::Published { .. }))
        .count();
    assert_eq!(published, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upload_machine_asks_the_real_certus_trust() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let mut d = Deployment::new(endpoint, json!({})).await;
    // The service names its raw bucket from its own configuration: this deployment's.
    let Some(trust) = real_trust::real_trust(&d.raw) else {
        return;
    };
    let id = d.submit(&d.repo.display().to_string()).await;
    let summary = d.scan(&id);
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    d.extra_env
        .push(("CERTUS_ASSURANCE_TRUST_BASE_URL".into(), trust.base_url()));

    // request-upload asks the real service (basic), promote publishes raw then golden.
    let summary = d.upload(&id);
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert!(states(&summary).contains(&"Promote".to_string()));
    let job = d.job(&id).await;
    assert_eq!(
        job.upload_status,
        UploadStatus::Uploaded,
        "{:#?}",
        job.upload_audit
    );
    let exchange = serde_json::to_value(
        job.upload_audit
            .iter()
            .find_map(UploadStep::exchange)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(exchange["attempts"][0]["outcome"], "http 202");
    assert_eq!(
        exchange["answer"]["storage_config"]["raw_s3_bucket"],
        d.raw.as_str()
    );
    assert_eq!(
        exchange["request"]["inner_signature"]["signer"],
        "certus-assurance@certus.cloud"
    );
    assert_eq!(
        job.verification_proof
            .as_ref()
            .unwrap()
            .signer_outer
            .as_deref(),
        Some("certus-trust@certus.cloud")
    );
    let files = read_index(&d.bundle(&job).await).unwrap().files.len() + 1;
    assert_eq!(d.objects(&d.raw).await.len(), files);
    assert_eq!(d.objects(&d.golden).await.len(), files);

    // `verified` asked as another identity: denied invalid_signer, nothing more published.
    let id = d.submit(&d.repo.display().to_string()).await;
    d.extra_env
        .retain(|(k, _)| k != "CERTUS_ASSURANCE_TRUST_BASE_URL");
    d.scan(&id);
    d.extra_env.extend([
        ("CERTUS_ASSURANCE_TRUST_BASE_URL".into(), trust.base_url()),
        (
            "CERTUS_ASSURANCE_SIGNER_IDENTITY".into(),
            "assurance-dev@example.invalid".into(),
        ),
    ]);
    let summary = d.execute(
        "certus-upload.asl.json",
        json!({"test_id": id, "tier": "verified"}),
        &d.task_command(None),
        &[],
    );
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert!(!states(&summary).contains(&"Promote".to_string()));
    let job = d.job(&id).await;
    assert_eq!(job.upload_status, UploadStatus::Denied);
    let exchange = serde_json::to_value(job.upload_audit[0].exchange().unwrap()).unwrap();
    assert_eq!(exchange["answer"]["reason"], "invalid_signer");
    assert_eq!(d.objects(&d.raw).await.len(), files);
    assert_eq!(d.objects(&d.golden).await.len(), files);
}

#[tokio::test]
async fn a_manifest_object_changed_in_the_work_bucket_stops_the_state_machine() {
    let Some(endpoint) = prerequisites() else {
        return;
    };
    let d = Deployment::new(endpoint.clone(), json!({"critical": 0})).await;
    let id = d.submit(&d.repo.display().to_string()).await;
    // Between fetch-manifest and verify-manifest, someone with write access to the work bucket replaces the
    // manifest object (a signed PUT with the test credentials).
    let wrapper = d.task_command(Some(&format!(
        "input=$(cat)\nif [ \"$1\" = verify-manifest ]; then\n  curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 --user testing:testing -X PUT --data-binary '{{\"profiles\":[{{\"name\":\"light\",\"tools\":[\"sbom\"],\"thresholds\":{{}}}}]}}' \"{endpoint}/{}/runs/{id}/bundle/manifest.json\" >/dev/null 2>\"$MARKS/tamper.err\" || exit 3\nfi\nprintf '%s' \"$input\" | exec \"$STEP\" \"$@\"",
        d.work
    )));
    let summary = d.execute(
        "certus-assurance.asl.json",
        json!({"test_id": id}),
        &wrapper,
        &[],
    );
    assert_eq!(summary["status"], "FAILED", "{summary}");
    let tamper_err = std::fs::read_to_string(d.dir.path().join("tamper.err")).unwrap_or_default();
    assert!(
        tamper_err.is_empty(),
        "the object could not be replaced: {tamper_err}"
    );
    let visited = states(&summary);
    assert!(
        visited.contains(&"VerifyManifest".to_string()),
        "{visited:?}"
    );
    assert!(
        !visited.contains(&"LaunchScanners".to_string()),
        "{visited:?}"
    );
    let job = d.job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.errors
            .iter()
            .any(|e| e.contains("the manifest in the run store does not match the digest")),
        "{:?}",
        job.errors
    );
    assert!(job.manifest_verification.is_none(), "nothing was verified");
    assert_event_contract(&d.history(&id).await);
}
