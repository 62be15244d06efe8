//! Secrets hygiene through the real pipeline: `examples/demo-app` carries planted fake credentials; after a
//! scan with every scanner available here (the built-in secrets scanner always; semgrep, bandit and
//! detect-secrets when `CERTUS_TOOLS_BIN_DIR` or `PATH` has them) no planted value may appear in any bundle
//! file, the job record, the persisted events, the runner log, or anywhere in the data directory (the SQLite
//! file included) — only redacted forms.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};

use certus_core::bundle::RUNNER_LOG;
use certus_core::job::JobStatus;
use certus_core::pipeline;
use certus_core::ports::{EventLog, JobStore};
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_core::verification::SignaturePolicy;
use certus_integration::harness;
use certus_scanners::ScannerConfig;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The planted values: the quoted right-hand sides of the credential assignments in the demo's settings.
fn planted_secrets(demo: &Path) -> Vec<String> {
    let settings = std::fs::read_to_string(demo.join("app/settings.py")).unwrap();
    let secrets: Vec<String> = settings
        .lines()
        .filter(|l| l.contains("KEY") || l.contains("TOKEN"))
        .filter_map(|l| l.split('"').nth(1))
        .map(str::to_string)
        .collect();
    assert!(secrets.len() >= 4, "planted secrets: {secrets:?}");
    assert!(secrets.iter().all(|s| s.len() >= 20), "{secrets:?}");
    secrets
}

/// Every file under `dir` whose bytes contain one of `secrets`, with the secret found.
fn leaks(dir: &Path, secrets: &[String]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                for secret in secrets {
                    if contains(&bytes, secret.as_bytes()) {
                        found.push((path.clone(), secret.clone()));
                    }
                }
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_appear_nowhere_but_redacted() {
    let root = repo_root();
    let demo = root.join("examples/demo-app");
    let secrets = planted_secrets(&demo);
    let scanners = certus_scanners::available(&ScannerConfig {
        advisory_db: Some(root.join("examples/advisories")),
        tools_bin_dir: std::env::var_os("CERTUS_TOOLS_BIN_DIR").map(PathBuf::from),
        secrets_rules: None,
        advisory_db_max_age_days: None,
        advisory_source: None,
    });
    println!("scanners here: {:?}", scanners.ids());
    let h = harness(SignaturePolicy::default(), scanners);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("certus-manifest.json")).unwrap()).unwrap();
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "demo-app".into(),
            assessment_id: "hygiene".into(),
        },
        source: SourceSpec::Directory {
            directory_path: demo.display().to_string(),
        },
        manifest: ManifestSource::Inline(manifest),
        signature: None,
        profile: "standard".into(),
        requested_by: Some("hygiene".into()),
        baseline: None,
        full_scan: false,
    };
    let queued = pipeline::submit(&h.services.records(), submission)
        .await
        .unwrap();
    let job = pipeline::run(&h.services, &queued.test_id).await.unwrap();
    // The demo breaches its thresholds by design; what matters is that it ran and stored a bundle.
    assert_eq!(job.status, JobStatus::Failed, "{:?}", job.errors);
    let bundle = PathBuf::from(job.bundle_location.clone().expect("a bundle"));

    // The secrets were found (so there was something to leak)…
    let secrets_sarif =
        std::fs::read_to_string(bundle.join("reports/sast/secrets.sarif.json")).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&secrets_sarif).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() >= 4, "secrets found: {}", results.len());
    // …and are shown redacted: the start of each value at most, never the value.
    let text = secrets_sarif.to_string();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "clear secret in the SARIF");
        assert!(
            text.contains(&secret[..4]),
            "the redacted form of {}… is not in the SARIF",
            &secret[..4]
        );
    }

    let record = serde_json::to_string(&h.store.get(&job.test_id).await.unwrap().unwrap()).unwrap();
    let events = serde_json::to_string(&h.store.history(&job.test_id, 0).await.unwrap()).unwrap();
    let runner_log = std::fs::read_to_string(bundle.join(RUNNER_LOG)).unwrap();
    assert!(runner_log.lines().count() > 5, "{runner_log}");
    for secret in &secrets {
        assert!(
            !record.contains(secret.as_str()),
            "secret in the job record"
        );
        assert!(!events.contains(secret.as_str()), "secret in the events");
        assert!(
            !runner_log.contains(secret.as_str()),
            "secret in the runner log"
        );
    }
    // Everything the service wrote: bundles, the SQLite database and its journal, keys.
    let leaked = leaks(h.dir.path(), &secrets);
    assert!(leaked.is_empty(), "planted secrets written to: {leaked:?}");
}
