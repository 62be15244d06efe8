//! Test support for end-to-end runs: real git repositories, openssl-made keys and signatures, and the
//! embedded services wired as `certus scan` wires them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::event::Event;
use certus_core::pipeline::{PipelineSettings, ScannerSet, Services};
use certus_core::ports::EventSink;
use certus_core::verification::SignaturePolicy;
use certus_local::{LocalArtifactStore, Placement, SqliteStore};
use certus_source::{GitPolicy, LocalSourcePreparer, SourcePolicy};

/// Runs a command and returns its stdout, failing the test with its stderr otherwise.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub use certus_testkit::git;

/// A git repository with the given files committed on `main`; returns its HEAD SHA.
pub fn git_repo(dir: &Path, files: &[(&str, &str)]) -> String {
    std::fs::create_dir_all(dir).expect("repo dir");
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("dirs");
        std::fs::write(full, content).expect("write");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// An ECDSA P-256 key pair made by openssl: (private PEM path, public PEM path).
pub fn p256_keypair(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("signing.key");
    let public = dir.join("signing.pub");
    run(Command::new("openssl")
        .args([
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
        ])
        .arg(&key));
    run(Command::new("openssl")
        .args(["ec", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public));
    (key, public)
}

/// A cosign-format signature (base64 of DER ECDSA over SHA-256) of `file`, made by openssl, written to `out`.
pub fn cosign_sign(key: &Path, file: &Path, out: &Path) {
    let der = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(file)
        .output()
        .expect("openssl dgst");
    assert!(der.status.success());
    let b64 = Command::new("sh")
        .arg("-c")
        .arg("base64 -w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(&der.stdout)?;
            child.wait_with_output()
        })
        .expect("base64");
    let mut text = b64.stdout;
    text.push(b'\n');
    std::fs::write(out, text).expect("write signature");
}

/// Records every delivered event, and at `scan_complete` what the store and bundle looked like.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub at_terminal: Mutex<Option<TerminalSnapshot>>,
    store: Mutex<Option<Arc<SqliteStore>>>,
}

#[derive(Debug, Clone)]
pub struct TerminalSnapshot {
    pub job_status: Option<String>,
    pub bundle_index_exists: bool,
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("lock").clone()
    }
}

#[async_trait]
impl EventSink for Recorder {
    async fn deliver(&self, event: &Event) {
        if let certus_core::event::EventBody::ScanComplete { bundle, .. } = &event.body {
            let store = self.store.lock().expect("lock").clone();
            let job_status = match store {
                Some(store) => certus_core::ports::JobStore::get(store.as_ref(), &event.test_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|j| j.status.to_string()),
                None => None,
            };
            let bundle_index_exists = bundle
                .as_ref()
                .is_some_and(|b| Path::new(b).join(certus_core::bundle::INDEX).is_file());
            *self.at_terminal.lock().expect("lock") = Some(TerminalSnapshot {
                job_status,
                bundle_index_exists,
            });
        }
        self.events.lock().expect("lock").push(event.clone());
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub services: Services,
    pub store: Arc<SqliteStore>,
    pub recorder: Arc<Recorder>,
}

/// The embedded services in a temporary data directory, as `certus scan` wires them.
pub fn harness(policy: SignaturePolicy, scanners: ScannerSet) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("certus.db")).expect("db"));
    let recorder = Arc::new(Recorder::default());
    *recorder.store.lock().expect("lock") = Some(store.clone());
    let signer = Arc::new(
        LocalSigner::load_or_generate(&dir.path().join("keys/signing.pem")).expect("signing key"),
    );
    let services = Services {
        jobs: store.clone(),
        events: store.clone(),
        sinks: vec![recorder.clone()],
        artifacts: Some(Arc::new(LocalArtifactStore::new(Placement::PerJob(
            dir.path().join("bundles"),
        )))),
        sources: Some(Arc::new(LocalSourcePreparer::new(SourcePolicy {
            git: GitPolicy {
                allow_local: true,
                ..GitPolicy::default()
            },
            ..SourcePolicy::default()
        }))),
        fetcher: Some(Arc::new(
            certus_fetch::FileFetcher::new(&[std::path::PathBuf::from("/")]).expect("file fetcher"),
        )),
        verifier: Some(Arc::new(policy)),
        signer: Some(signer),
        scanners: Some(scanners),
        fingerprint_key: Some(
            certus_core::fingerprint::FingerprintKey::generate().expect("fingerprint key"),
        ),
        settings: PipelineSettings {
            workspace_root: dir.path().join("runs"),
            keep_workspace: false,
            max_parallel_tools: 4,
            max_log_lines_per_tool: 100,
            max_tool_timeout: std::time::Duration::from_secs(5),
            stream_base: "ws://127.0.0.1:8056".into(),
            runner_id: certus_core::runner::local_runner_id(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/test".into(),
                version: "test".into(),
            },
        },
    };
    Harness {
        dir,
        services,
        store,
        recorder,
    }
}
