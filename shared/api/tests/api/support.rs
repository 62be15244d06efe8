//! Test support: a real `certus serve` on 127.0.0.1:0 with the embedded services (SQLite store, local
//! bundles, directory sources), the sample scanner and a gated scanner the test releases by hand, plus
//! API keys made at test time.

use certus_core::upload::UploadGate;
use certus_trust::{LocalPublisher, LocalPublisherConfig, LocalTrustGate};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_api::{hash_key, serve_on, ApiKeys, AuthConfig, JwtVerifier, ServeConfig};
use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::audit::AuditedJobStore;
use certus_core::event::Event;
use certus_core::ids::new_test_id;
use certus_core::job::Job;
use certus_core::pipeline::{PipelineSettings, ScannerSet, Services};
use certus_core::ports::{EventLog, JobStore, LogStream, ScanRequest, Scanner, ToolOutput};
use certus_core::verification::SignaturePolicy;
use certus_local::{LocalArtifactStore, Placement, SqliteStore};
use certus_scanners::SampleScanner;
use certus_source::{LocalSourcePreparer, SourcePolicy};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore};

/// A scanner that logs, waits until the test adds a permit to its gate, then logs some more. It stands in
/// for an external tool under that tool's id, since manifests may name only tools that exist.
pub struct GatedScanner {
    pub gate: Arc<Semaphore>,
}

pub const GATED_LINES_AFTER: usize = 40;
/// The tool id the gated scanner answers to.
pub const GATED: &str = "checkov";

#[async_trait]
impl Scanner for GatedScanner {
    fn id(&self) -> &str {
        GATED
    }
    fn version(&self) -> String {
        "1".into()
    }
    fn command(&self, _request: &ScanRequest) -> String {
        "gated".into()
    }
    async fn scan(&self, request: ScanRequest) -> ToolOutput {
        (request.log)(LogStream::Stdout, "waiting for the gate");
        self.gate.acquire().await.expect("gate open").forget();
        for i in 0..GATED_LINES_AFTER {
            (request.log)(LogStream::Stdout, &format!("line {i}"));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        ToolOutput::completed(Vec::new())
    }
}

pub struct Tenant {
    pub key: String,
}

pub struct Server {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub store: Arc<SqliteStore>,
    pub gate: Arc<Semaphore>,
    pub source: PathBuf,
    pub upload_dir: PathBuf,
    pub acme: Tenant,
    pub globex: Tenant,
    pub multi: Tenant,
    pub ops: Tenant,
    pub auditor: Tenant,
    pub initech: Tenant,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<certus_api::Result<()>>>,
}

pub struct Options {
    pub jwt: Option<JwtVerifier>,
    pub auth_disabled: bool,
    pub max_concurrent_scans: usize,
    /// Scans one tenant may run at once; the server's default (half, rounded up) when `None`.
    pub max_scans_per_tenant: Option<usize>,
    pub max_body: usize,
    pub max_upload: u64,
    /// Job records already in the store when the server starts (left behind by an earlier server).
    pub seed: Vec<Job>,
    /// Serve `upload-request` through the embedded Trust gate and local publication.
    pub uploads: bool,
    /// Push-trigger registrations for the webhook routes.
    pub triggers: Option<Arc<certus_triggers::Triggers>>,
    /// Let git sources name local repositories (the webhook tests push to one made on disk).
    pub git_allow_local: bool,
    /// Git remote hosts allowed although they are loopback (a tarpit the test runs).
    pub git_allow_hosts: Vec<String>,
    /// Connection caps and header timeout; the server's defaults when `None`.
    pub connections: Option<certus_api::ConnectionLimits>,
    /// WebSocket watcher limits; the server's defaults when `None`.
    pub watchers: Option<certus_api::WatcherLimits>,
    /// The per-tenant upload quota; the server's default when `None`.
    pub upload_quota: Option<certus_api::UploadQuota>,
    /// Request rate limits; `None`: not limited (other tests send hundreds of requests with one key).
    pub rate_limits: Option<certus_api::RateLimits>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jwt: None,
            auth_disabled: false,
            max_concurrent_scans: 4,
            max_scans_per_tenant: None,
            max_body: 64 * 1024,
            max_upload: 256 * 1024,
            seed: Vec::new(),
            uploads: false,
            triggers: None,
            git_allow_local: false,
            git_allow_hosts: Vec::new(),
            connections: None,
            watchers: None,
            upload_quota: None,
            rate_limits: None,
        }
    }
}

fn random_key(name: &str) -> String {
    format!("{name}-{}", new_test_id().expect("randomness"))
}

pub async fn start(options: Options) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("src");
    std::fs::create_dir_all(&source).expect("source dir");
    std::fs::write(source.join("app.py"), "print('hello')\n").expect("source file");
    let tenants = [
        ("acme", vec!["ws-acme"]),
        ("globex", vec!["ws-globex"]),
        // acme's keys for several workspaces and for all of them.
        ("acme", vec!["ws-acme", "ws-other"]),
        ("acme", vec!["*"]),
        // acme's auditor: reads ws-acme, changes nothing.
        ("acme", vec!["ws-acme"]),
        // Another tenant whose keys name acme's workspace id (the red-team's V5 set-up).
        ("initech", vec!["ws-acme"]),
    ];
    let keys: Vec<String> = tenants.iter().map(|(name, _)| random_key(name)).collect();
    let file: Vec<Value> = tenants
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(index, ((tenant, workspaces), key))| {
            let mut entry =
                json!({"key_sha256": hash_key(key), "tenant": tenant, "workspaces": workspaces});
            if index == 4 {
                entry["role"] = json!("auditor");
            }
            entry
        })
        .collect();
    let keys_path = dir.path().join("keys.json");
    std::fs::write(&keys_path, serde_json::to_string(&file).unwrap()).unwrap();
    let auth = if options.auth_disabled {
        AuthConfig::disabled()
    } else {
        AuthConfig::new(ApiKeys::load(&keys_path).expect("keys file"), options.jwt)
            .expect("auth config")
    };

    let store = Arc::new(SqliteStore::open(&dir.path().join("certus.db")).expect("db"));
    for job in &options.seed {
        store.create(job).await.expect("seed job");
    }
    let gate = Arc::new(Semaphore::new(0));
    let services = Services {
        jobs: Arc::new(AuditedJobStore::new(store.clone(), store.clone())),
        events: store.clone(),
        sinks: Vec::new(),
        artifacts: Some(Arc::new(LocalArtifactStore::new(Placement::PerJob(
            dir.path().join("bundles"),
        )))),
        sources: Some(Arc::new(LocalSourcePreparer::new(SourcePolicy {
            git: certus_source::GitPolicy {
                allow_local: options.git_allow_local,
                allow_hosts: options.git_allow_hosts.clone(),
                ..Default::default()
            },
            ..Default::default()
        }))),
        fetcher: Some(Arc::new(
            certus_fetch::FileFetcher::new(&[std::path::PathBuf::from("/")]).expect("file fetcher"),
        )),
        verifier: Some(Arc::new(SignaturePolicy::default())),
        signer: Some(Arc::new(
            LocalSigner::load_or_generate(&dir.path().join("keys/signing.pem")).expect("key"),
        )),
        scanners: Some(ScannerSet::new(vec![
            Arc::new(SampleScanner),
            Arc::new(GatedScanner { gate: gate.clone() }),
        ])),
        fingerprint_key: Some(
            certus_core::fingerprint::FingerprintKey::generate().expect("fingerprint key"),
        ),
        settings: PipelineSettings {
            workspace_root: dir.path().join("runs"),
            keep_workspace: false,
            max_parallel_tools: 2,
            max_log_lines_per_tool: 1000,
            max_tool_timeout: Duration::from_secs(60),
            stream_base: String::new(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/api-test".into(),
                version: "test".into(),
            },
            runner_id: certus_core::runner::local_runner_id(),
        },
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let upload_dir = dir.path().join("uploads");
    let mut config = ServeConfig::new(addr, dir.path().to_path_buf(), auth);
    config.max_concurrent_scans = options.max_concurrent_scans;
    config.max_scans_per_tenant = options.max_scans_per_tenant;
    config.max_body = options.max_body;
    config.max_upload = options.max_upload;
    config.upload_dir = Some(upload_dir.clone());
    config.shutdown_grace = Duration::from_secs(5);
    config.allowed_roots = vec![source.clone()];
    config.triggers = options.triggers.clone();
    config.audit = Some(store.clone());
    if let Some(limits) = options.connections {
        config.connections = limits;
    }
    if let Some(limits) = options.watchers {
        config.watchers = limits;
    }
    config.rate_limits = options.rate_limits;
    if let Some(quota) = options.upload_quota {
        config.upload_quota = quota;
    }
    if options.uploads {
        let publisher =
            LocalPublisher::new(&LocalPublisherConfig::under(dir.path())).expect("publisher");
        let trust = LocalTrustGate::new().check_bundles(services.artifacts().unwrap().clone());
        config.uploads = Some(Arc::new(UploadGate::new(
            Arc::new(trust),
            Arc::new(publisher),
            None,
        )));
    }
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_on(listener, config, services, async {
        let _ = signal.await;
    }));
    let mut keys = keys.into_iter().map(|key| Tenant { key });
    Server {
        addr,
        http: {
            // Other workspace crates select reqwest's rustls backend without a default crypto provider.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
        }
        .no_proxy()
        .build()
        .expect("client"),
        store,
        gate,
        source,
        upload_dir: upload_dir.canonicalize().unwrap_or(upload_dir),
        acme: keys.next().unwrap(),
        globex: keys.next().unwrap(),
        multi: keys.next().unwrap(),
        ops: keys.next().unwrap(),
        auditor: keys.next().unwrap(),
        initech: keys.next().unwrap(),
        dir,
        shutdown: Some(shutdown),
        task: Some(task),
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, test_id: &str) -> String {
        format!("ws://{}/v1/security-scans/{test_id}/stream", self.addr)
    }

    /// A valid directory submission for a workspace, using the given scanner.
    pub fn body(&self, workspace: &str, tool: &str) -> Value {
        json!({
            "workspace_id": workspace, "component_id": "demo", "assessment_id": "a-1",
            "source_type": "directory", "directory_path": self.source.display().to_string(),
            "manifest": {"product": "demo", "version": "1",
                         "profiles": [{"name": "light", "tools": [tool], "thresholds": {}}]},
        })
    }

    pub async fn submit_as(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/security-scans"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("submit")
    }

    /// Submits and returns the test id, asserting 202.
    pub async fn submit(&self, key: &str, workspace: &str, tool: &str) -> String {
        let response = self.submit_as(key, &self.body(workspace, tool)).await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        body["test_id"].as_str().unwrap().to_string()
    }

    pub async fn get_as(&self, key: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("x-api-key", key)
            .send()
            .await
            .expect("get")
    }

    /// Waits until the job's record is terminal.
    pub async fn wait_terminal(&self, test_id: &str) -> Job {
        for _ in 0..600 {
            if let Some(job) = self.store.get(test_id).await.unwrap() {
                if job.status.is_terminal() {
                    return job;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {test_id} did not end");
    }

    /// The stored record of a job that exists.
    pub async fn store_job(&self, test_id: &str) -> Job {
        self.store
            .get(test_id)
            .await
            .unwrap()
            .expect("job recorded")
    }

    pub async fn wait_status(&self, test_id: &str, status: &str) {
        for _ in 0..600 {
            if let Some(job) = self.store.get(test_id).await.unwrap() {
                if job.status.as_str() == status {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("job {test_id} never became {status}");
    }

    pub async fn history(&self, test_id: &str) -> Vec<Event> {
        self.store.history(test_id, 0).await.unwrap()
    }

    /// The persisted history as API clients receive it: the server's data directory shown as `<data>`.
    pub async fn history_as_clients_see_it(&self, test_id: &str) -> Vec<Event> {
        self.history(test_id)
            .await
            .iter()
            .map(|event| {
                let line = event
                    .to_json_line()
                    .replace(&self.dir.path().display().to_string(), "<data>");
                serde_json::from_str(&line).unwrap()
            })
            .collect()
    }

    /// A path the API shows as `<data>/…`, on this server's disk.
    pub fn on_disk(&self, shown: &str) -> std::path::PathBuf {
        let relative = shown.strip_prefix("<data>/").expect("a path under <data>");
        self.dir.path().join(relative)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ends cleanly");
        }
    }
}

/// Runs a command and returns its stdout, failing the test with its stderr otherwise.
pub fn run(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
