//! Incremental scans on AWS: the `run-scanner` step, wired as the Lambda (and the Fargate task) wires it, lists
//! the restored source's files and keeps the secrets tool's results in the work bucket's `scan-cache/`. A
//! second job over the same repository takes every file's results from there, and each tool run costs one
//! GetObject and one PutObject under `scan-cache/` whatever the size of the tree; a job that asks for a full
//! scan sends none. Runs the steps in this process against moto (`CERTUS_MOTO_ENDPOINT`); without it the test
//! says why it is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use certus_aws::AwsClients;
use certus_core::incremental::CacheUse;
use certus_core::job::Job;
use certus_core::report::ToolRecord;
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_dynamo::{create_tables, TableNames};
use certus_integration::git_repo;
use certus_lambda::{stages_for, Clients, StepEnv};
use certus_stages::Stage;
use certus_testkit::S3RequestCounter;

struct Deployment {
    dir: tempfile::TempDir,
    env: StepEnv,
    clients: Clients,
    /// S3 requests under `scan-cache/`.
    requests: S3RequestCounter,
}

impl Deployment {
    async fn new(endpoint: &str) -> Self {
        let config = certus_testkit::emulator_sdk_config(endpoint);
        let plain = AwsClients::from_sdk_config(&config);
        let requests = S3RequestCounter::new("/scan-cache/");
        let s3 = aws_sdk_s3::Client::from_conf(
            plain
                .s3()
                .config()
                .to_builder()
                .interceptor(requests.clone())
                .build(),
        );
        let clients = Clients {
            aws: AwsClients::new(s3, plain.kms().clone()),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            credentials: config.credentials_provider(),
        };
        let unique = |tag: &str| certus_testkit::unique_name(&format!("sc-{tag}"));
        let tables = TableNames {
            jobs: unique("jobs"),
            events: unique("events"),
            audit: unique("audit"),
        };
        create_tables(&clients.dynamodb, &tables).await.unwrap();
        let work = unique("work");
        clients
            .aws
            .s3()
            .create_bucket()
            .bucket(&work)
            .send()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            ("CERTUS_ASSURANCE_JOBS_TABLE", tables.jobs.clone()),
            ("CERTUS_ASSURANCE_AUDIT_TABLE", tables.audit.clone()),
            ("CERTUS_ASSURANCE_EVENTS_TABLE", tables.events.clone()),
            ("CERTUS_ASSURANCE_RUNS_ROOT", format!("s3://{work}/runs")),
            (
                "CERTUS_ASSURANCE_WORK_BUCKET",
                format!("s3://{work}/bundles"),
            ),
            (
                "CERTUS_ASSURANCE_FINGERPRINT_KEY_REF",
                dir.path().join("fingerprint.key").display().to_string(),
            ),
            (
                "CERTUS_ASSURANCE_WORKSPACE_ROOT",
                dir.path().join("lambda-tmp").display().to_string(),
            ),
            (
                "CERTUS_ASSURANCE_LOCAL_SOURCE_ROOTS",
                dir.path().display().to_string(),
            ),
        ];
        let env = StepEnv::from_vars(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        Self {
            dir,
            env,
            clients,
            requests,
        }
    }

    /// A repository holding the manifest (secrets only) and `files` more files, one with a planted key.
    fn repo(&self, name: &str, files: usize) -> String {
        let manifest = serde_json::json!({
            "product": "demo", "version": "1",
            "profiles": [{"name": "light", "tools": ["secrets"], "thresholds": {}}],
        })
        .to_string();
        let mut contents = vec![
            ("certus.json".to_string(), manifest),
            (
                "config/settings.py".to_string(),
                "aws_secret = \"AKIAQX4NT7RZ2M5WCJ3E\"\n".to_string(),
            ),
        ];
        for n in 0..files {
            contents.push((format!("src/file{n}.txt"), format!("line {n}\n")));
        }
        let borrowed: Vec<(&str, &str)> = contents
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let repo = self.dir.path().join(name);
        git_repo(&repo, &borrowed);
        repo.display().to_string()
    }

    /// A job over `git_url` (asking for a full scan or not) taken through the steps up to the secrets tool's
    /// `run-scanner`: how its tool record says the cache was used, and the requests that step sent under
    /// `scan-cache/`.
    /// The secrets tool's record and log of its count of files, and the scan-cache requests of its step.
    async fn scan(&self, git_url: &str, full_scan: bool) -> (Option<CacheUse>, usize, String) {
        let id = certus_core::ids::new_test_id().unwrap();
        let submission = ValidatedSubmission {
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
            signature: None,
            profile: "light".into(),
            requested_by: Some("tests".into()),
            baseline: None,
            full_scan,
        };
        let job = Job::queued(
            id.clone(),
            submission,
            format!("wss://example.invalid/v1/security-scans/{id}/stream"),
            certus_core::time::now(),
        );
        let stages = |stage| stages_for(stage, &self.env, &self.clients);
        let first = stages(Stage::PrepareSource).await.unwrap();
        first.services.jobs.create(&job).await.unwrap();
        first.prepare_source(&id).await.unwrap();
        stages(Stage::FetchManifest)
            .await
            .unwrap()
            .fetch_manifest(&id)
            .await
            .unwrap();
        stages(Stage::VerifyManifest)
            .await
            .unwrap()
            .verify_manifest(&id)
            .await
            .unwrap();
        stages(Stage::LaunchScanners)
            .await
            .unwrap()
            .launch_scanners(&id)
            .await
            .unwrap();
        let runner = stages(Stage::RunScanner).await.unwrap();
        let before = self.requests.count();
        let output = runner.run_scanner(&id, "secrets").await.unwrap();
        let requests = self.requests.count() - before;
        assert_eq!(output.status.as_deref(), Some("completed"), "{output:?}");
        let bytes = runner
            .runs
            .get(&id, "tools/secrets.json", 1 << 20)
            .await
            .unwrap()
            .unwrap();
        let record: ToolRecord = serde_json::from_slice(&bytes).unwrap();
        let counted = runner
            .services
            .events
            .history(&id, 0)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|event| match event.body {
                certus_core::event::EventBody::Log { line, .. } if line.contains(" file(s): ") => {
                    Some(line)
                }
                _ => None,
            })
            .collect();
        (record.cache, requests, counted)
    }
}

#[tokio::test]
async fn a_second_scan_of_the_same_repository_reuses_every_result_in_three_requests_unless_a_full_scan_is_asked(
) {
    let Some(endpoint) = certus_testkit::moto_endpoint() else {
        return;
    };
    let d = Deployment::new(&endpoint).await;
    let mut sizes = Vec::new();
    for (name, files) in [("small", 2), ("large", 60)] {
        let repo = d.repo(name, files);
        let (cold, requests, counted) = d.scan(&repo, false).await;
        let cold = cold.expect("the secrets record says how the cache was used");
        // The text files were scanned as run-scanner read the restored tree for its table (one read each);
        // only git's own compressed objects (binary) were left to the tool.
        let text = files as u64 + 2;
        assert!(
            counted.contains(&format!(" scanned ({text} as the source was read)")),
            "{name}: {counted}"
        );
        assert_eq!(
            requests, 3,
            "{name}: the base and its delta asked for together (both missing), one PutObject"
        );
        assert_eq!(cold.from_cache, 0, "{name}: {cold:?}");
        assert!(cold.files >= files as u64 + 2, "{name}: {cold:?}");
        assert_eq!(cold.scanned, cold.files, "{name}: {cold:?}");

        let (warm, requests, _) = d.scan(&repo, false).await;
        let warm = warm.expect("the secrets record says how the cache was used");
        assert_eq!(
            requests, 3,
            "{name}: a GetObject of the base and one of its delta (missing), one PutObject of the delta"
        );
        assert_eq!(warm.files, cold.files, "{name}: {warm:?}");
        assert_eq!(warm.from_cache, warm.files, "{name}: {warm:?}");
        assert_eq!(warm.scanned, 0, "{name}: {warm:?}");
        sizes.push(warm.files);

        // A job that asks for a full scan neither reads nor writes the cache, and its record says none.
        let (full, requests, _) = d.scan(&repo, true).await;
        assert_eq!((full, requests), (None, 0), "{name}");
    }
    assert!(
        sizes[1] > sizes[0] + 50,
        "two trees of different sizes: {sizes:?}"
    );
}
