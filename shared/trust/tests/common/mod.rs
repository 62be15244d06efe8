//! Test support: a real finished job (a git repository scanned with the sample scanner on the embedded
//! services), a scripted Certus-Trust HTTP server on 127.0.0.1:0 (plain or TLS with a CA made here), a
//! publisher that fails mid-way, and checks of what was published and what Trust was sent.
#![allow(dead_code)]

pub mod real;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::audit::AuditedJobStore;
use certus_core::bundle::{read_index, BundleIndex, INDEX};
use certus_core::digest::{sha256_file, sha256_hex};
use certus_core::job::{Job, JobStatus, RemoteArtifacts, UploadStatus};
use certus_core::pipeline::{self, PipelineSettings, ScannerSet, Services};
use certus_core::ports::Publisher;
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::trust::{Tier, TrustRequest};
use certus_core::upload::UploadGate;
use certus_core::verification::SignaturePolicy;
use certus_core::CoreError;
use certus_local::{LocalArtifactStore, Placement, SqliteStore};
use certus_scanners::SampleScanner;
use certus_source::{GitPolicy, LocalSourcePreparer, SourcePolicy};
use certus_trust::{
    is_sha256_ref, signed_artifact_bytes, HttpTrustClient, HttpTrustConfig, LocalPublisher,
    LocalPublisherConfig, LocalTrustGate, RetryPolicy,
};
use serde_json::json;

pub const TOKEN: &str = "test-token-7c1e0b9d";

pub use certus_testkit::git;

/// A job scanned to SUCCEEDED on the embedded services, in its own temporary data directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub services: Services,
    pub job: Job,
    /// The commit declared to Trust: what the repository's branch pointed at (a git source) or the content
    /// digest (a directory source).
    pub head: String,
}

impl Fixture {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn publisher(&self) -> LocalPublisher {
        LocalPublisher::new(&LocalPublisherConfig::under(&self.data_dir())).expect("publisher")
    }

    pub fn bundle_dir(&self) -> PathBuf {
        PathBuf::from(self.job.bundle_location.clone().expect("bundle"))
    }

    pub fn index(&self) -> BundleIndex {
        read_index(&self.bundle_dir()).expect("index")
    }

    /// Every file name Trust must be told about: the index's files and the index.
    pub fn bundle_names(&self) -> BTreeSet<String> {
        self.index()
            .files
            .iter()
            .map(|e| e.path.clone())
            .chain([INDEX.to_string()])
            .collect()
    }

    pub async fn request_upload(&self, gate: &UploadGate) -> Job {
        gate.request_upload(&self.services, &self.job.test_id, Tier::Verified)
            .await
            .expect("request_upload")
    }
}

/// The fixture's manifest, signed (cosign's blob format) with a P-256 key made for the test.
const MANIFEST: &str = "certus.json";

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Writes `certus.json` and its signature into `repo` with a fresh key under `dir`; the key to verify with.
fn sign_manifest(dir: &Path, repo: &Path) -> certus_verify::PublicKey {
    let key = dir.join("manifest.key");
    let key_arg = key.to_str().expect("utf-8 path");
    openssl(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-noout",
        "-out",
        key_arg,
    ]);
    let public = openssl(&["ec", "-in", key_arg, "-pubout"]);
    let manifest = repo.join(MANIFEST);
    let manifest_text = json!({
        "product": "demo", "version": "1",
        "profiles": [{"name": "light", "tools": ["sample"], "thresholds": {}}],
    })
    .to_string();
    std::fs::write(&manifest, manifest_text).expect("write manifest");
    let der = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key_arg,
        manifest.to_str().expect("utf-8 path"),
    ]);
    let signature = base64::engine::general_purpose::STANDARD.encode(der);
    std::fs::write(repo.join(format!("{MANIFEST}.sig")), signature).expect("write signature");
    certus_verify::PublicKey::from_pem(&String::from_utf8(public).expect("pem"))
        .expect("public key")
}

/// A git source (branch `main`) scanned to SUCCEEDED.
pub async fn finished_job() -> Fixture {
    finished(false).await
}

/// The same tree as a directory source.
pub async fn finished_directory_job() -> Fixture {
    finished(true).await
}

async fn finished(directory: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("repo dir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app.py"), "print('hello')\n").expect("write");
    let manifest_key = sign_manifest(dir.path(), &repo);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);

    let store = Arc::new(SqliteStore::open(&dir.path().join("certus.db")).expect("db"));
    let signer =
        Arc::new(LocalSigner::load_or_generate(&dir.path().join("keys/signing.pem")).expect("key"));
    let services = Services {
        jobs: Arc::new(AuditedJobStore::new(store.clone(), store.clone())),
        events: store,
        sinks: Vec::new(),
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
        verifier: Some(Arc::new(SignaturePolicy {
            required: true,
            key: Some(manifest_key),
            ..SignaturePolicy::default()
        })),
        signer: Some(signer),
        scanners: Some(ScannerSet::new(vec![Arc::new(SampleScanner)])),
        fingerprint_key: Some(
            certus_core::fingerprint::FingerprintKey::generate().expect("fingerprint key"),
        ),
        settings: PipelineSettings {
            workspace_root: dir.path().join("runs"),
            keep_workspace: false,
            max_parallel_tools: 2,
            max_log_lines_per_tool: 100,
            max_tool_timeout: Duration::from_secs(30),
            stream_base: "ws://127.0.0.1:8056".into(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/test".into(),
                version: "test".into(),
            },
            runner_id: format!("pid:{}", std::process::id()),
        },
    };
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws-1".into(),
            component_id: "demo".into(),
            assessment_id: "a-1".into(),
        },
        source: if directory {
            SourceSpec::Directory {
                directory_path: repo.display().to_string(),
            }
        } else {
            SourceSpec::Git {
                git_url: repo.display().to_string(),
                branch: Some("main".into()),
                commit: None,
                git_credentials_ref: None,
            }
        },
        manifest: ManifestSource::RepoPath(MANIFEST.into()),
        signature: Some(SignatureSource::RepoPath(format!("{MANIFEST}.sig"))),
        profile: "light".into(),
        requested_by: Some("trust-tests".into()),
        baseline: None,
        full_scan: false,
    };
    let queued = pipeline::submit(&services.records(), submission)
        .await
        .expect("submit");
    let job = pipeline::run(&services, &queued.test_id)
        .await
        .expect("run");
    assert_eq!(job.status, JobStatus::Succeeded, "errors: {:?}", job.errors);
    let head = if directory {
        job.source_digest
            .expect("a directory source has a content digest")
            .to_string()
    } else {
        assert_eq!(job.commit.as_deref(), Some(head.as_str()));
        head
    };
    Fixture {
        dir,
        services,
        job,
        head,
    }
}

/// Every regular file under `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

pub fn assert_nothing_published(fx: &Fixture) {
    let data = fx.data_dir();
    assert_eq!(files_under(&data.join("raw")), Vec::<PathBuf>::new());
    assert_eq!(files_under(&data.join("golden")), Vec::<PathBuf>::new());
}

pub fn raw_dir(fx: &Fixture) -> PathBuf {
    fx.data_dir()
        .join("raw/security-scans")
        .join(&fx.job.test_id)
        .join("incoming")
}

pub fn golden_dir(fx: &Fixture) -> PathBuf {
    fx.data_dir()
        .join("golden/security-scans")
        .join(&fx.job.test_id)
        .join("golden")
}

/// Every bundle file and the index are under raw and golden with the bundle's bytes, nothing else is,
/// and the job names them.
pub fn assert_published(fx: &Fixture, job: &Job) {
    assert_eq!(
        job.upload_status,
        UploadStatus::Uploaded,
        "{:#?}",
        job.upload_audit
    );
    let names = fx.bundle_names();
    for (dir, uris) in [
        (raw_dir(fx), &job.remote_artifacts.raw),
        (golden_dir(fx), &job.remote_artifacts.golden),
    ] {
        let listed: BTreeSet<String> = files_under(&dir)
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(listed, names, "exactly the bundle under {}", dir.display());
        assert_eq!(uris.keys().cloned().collect::<BTreeSet<_>>(), names);
        for name in &names {
            let published = dir.join(name);
            assert_eq!(
                sha256_file(&published).unwrap(),
                sha256_file(&fx.bundle_dir().join(name)).unwrap(),
                "{name}"
            );
            assert_eq!(uris[name], format!("file://{}", published.display()));
        }
    }
}

/// The request Trust received honours the contract for this job.
pub fn assert_request_contract(fx: &Fixture, request: &TrustRequest) {
    assert_eq!(request.scan_id, fx.job.test_id);
    let declared: BTreeSet<String> = request.artifacts.iter().map(|a| a.name.clone()).collect();
    assert_eq!(declared, fx.bundle_names(), "every bundle file declared");
    assert_eq!(declared.len(), request.artifacts.len(), "no duplicates");
    for artifact in &request.artifacts {
        assert!(is_sha256_ref(&artifact.hash), "{}", artifact.hash);
        let (digest, size) = sha256_file(&fx.bundle_dir().join(&artifact.name)).unwrap();
        assert_eq!(artifact.hash, format!("sha256:{digest}"));
        assert_eq!(artifact.size, size);
    }
    assert_eq!(request.metadata.commit, fx.head);
    assert_eq!(request.metadata.source_type, fx.job.source_type);
    if fx.job.source_type == "git" {
        assert_eq!(Some(&request.metadata.git_url), fx.job.git_url.as_ref());
        assert_eq!(request.metadata.branch, "main");
    } else {
        assert_eq!(
            (
                request.metadata.git_url.as_str(),
                request.metadata.branch.as_str()
            ),
            ("", "")
        );
    }
    assert_eq!(request.manifest_digest, fx.job.manifest_digest);
    let head = request
        .audit_trail_head
        .as_ref()
        .expect("the request carries the trail's head");
    let sealed = fx
        .job
        .audit_head
        .as_ref()
        .expect("the bundle sealed a head");
    assert!(head.count >= sealed.count, "{head:?} after {sealed:?}");
    let destinations = &request.storage_destinations;
    assert!(destinations.raw_s3 && !destinations.oci_registry);
    assert_eq!(destinations.raw_bucket, "raw");
    assert_eq!(
        destinations.raw_uri,
        format!("file://{}/", raw_dir(fx).display())
    );
    let pem = request.inner_signature.certificate.as_deref().unwrap();
    let key = certus_verify::PublicKey::from_pem(pem).unwrap();
    assert_eq!(
        request.inner_signature.key_fingerprint,
        format!("sha256:{}", key.fingerprint())
    );
    assert_eq!(request.inner_signature.signed_content, "rfc8785:artifacts");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&request.inner_signature.signature)
        .unwrap();
    key.verify(
        &signed_artifact_bytes(&request.artifacts).unwrap(),
        &signature,
    )
    .expect("inner signature verifies over the canonical artifacts");
}

/// The audit record of the last Trust exchange of a job.
pub fn last_exchange(job: &Job) -> serde_json::Value {
    job.upload_audit
        .iter()
        .rev()
        .find_map(|entry| entry.exchange())
        .map(|exchange| serde_json::to_value(exchange).unwrap())
        .expect("a trust exchange is recorded")
}

pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(80),
        max_retry_after: Duration::from_secs(2),
    }
}

pub fn http_client(base_url: &str, retry: RetryPolicy) -> HttpTrustClient {
    let mut config = HttpTrustConfig::new(base_url);
    config.bearer_token = Some(TOKEN.into());
    config.request_timeout = Duration::from_secs(5);
    config.retry = retry;
    HttpTrustClient::new(&config).expect("client")
}

/// How the scripted Trust server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// A real verification by a local gate checking the stored bundle.
    Permit,
    DenyInvalidSigner,
    /// 500 for the first `n` requests, then as `Permit`.
    FailThenPermit(usize),
    AlwaysFail,
    /// Answers as `Permit` after sleeping this many milliseconds.
    Slow(u64),
    MalformedJson,
    MissingPermitted,
    WrongScanId,
    Forbidden,
    /// 429 with `Retry-After: <seconds>` on the first request, then as `Permit`.
    RateLimited(u64),
}

/// What the scripted server saw.
pub struct Script {
    pub behaviour: Behaviour,
    gate: LocalTrustGate,
    pub hits: AtomicUsize,
    pub requests: Mutex<Vec<TrustRequest>>,
    pub authorizations: Mutex<Vec<Option<String>>>,
}

impl Script {
    pub fn new(behaviour: Behaviour, fx: &Fixture) -> Arc<Self> {
        Arc::new(Self {
            behaviour,
            gate: LocalTrustGate::new().check_bundles(fx.services.artifacts().unwrap().clone()),
            hits: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
        })
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<TrustRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn scripted(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = script.hits.fetch_add(1, Ordering::SeqCst) + 1;
    script.authorizations.lock().unwrap().push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    );
    let request: TrustRequest = serde_json::from_slice(&body).expect("a Trust request");
    script.requests.lock().unwrap().push(request.clone());
    let json = |status: StatusCode, value: serde_json::Value| {
        (
            status,
            [("content-type", "application/json")],
            value.to_string(),
        )
            .into_response()
    };
    let permit = || async {
        let answer = script.gate.evaluate(&request).await.expect("gate decides");
        json(StatusCode::OK, serde_json::to_value(answer).unwrap())
    };
    match script.behaviour {
        Behaviour::Permit => permit().await,
        Behaviour::DenyInvalidSigner => json(
            StatusCode::OK,
            json!({"scan_id": request.scan_id, "permitted": false, "reason": "invalid_signer",
                   "detail": "signer not recognised"}),
        ),
        Behaviour::FailThenPermit(n) if hit <= n => {
            json(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "boom"}))
        }
        Behaviour::FailThenPermit(_) => permit().await,
        Behaviour::AlwaysFail => json(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "boom"})),
        Behaviour::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            permit().await
        }
        Behaviour::MalformedJson => (StatusCode::OK, "{\"permitted\": tru").into_response(),
        Behaviour::MissingPermitted => json(
            StatusCode::OK,
            json!({"scan_id": request.scan_id, "upload_permission_id": "perm_x"}),
        ),
        Behaviour::WrongScanId => json(
            StatusCode::OK,
            json!({"scan_id": "test_000000000000", "permitted": true,
                   "upload_permission_id": "perm_x"}),
        ),
        Behaviour::Forbidden => json(StatusCode::FORBIDDEN, json!({"error": "forbidden"})),
        Behaviour::RateLimited(seconds) if hit == 1 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", seconds.to_string())],
            "slow down",
        )
            .into_response(),
        Behaviour::RateLimited(_) => permit().await,
    }
}

fn router(script: Arc<Script>) -> Router {
    Router::new()
        .route("/v1/verify-and-permit-upload", post(scripted))
        .with_state(script)
}

/// Serves the script over plain HTTP on 127.0.0.1:0; returns the base URL.
pub async fn serve(script: Arc<Script>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(script)).await });
    format!("http://{addr}")
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it, made now.
pub struct TestPki {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

pub fn test_pki() -> TestPki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "certus trust test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&server_key, &ca).unwrap();

    let key_der = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key_der)
    .unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server_config: Arc::new(server_config),
    }
}

struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects our certificate fails the handshake: wait for the next one.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves the script over TLS on 127.0.0.1:0; returns the base URL.
pub async fn serve_tls(script: Arc<Script>, config: Arc<rustls::ServerConfig>) -> String {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(config),
    };
    tokio::spawn(async move { axum::serve(listener, router(script)).await });
    format!("https://{addr}")
}

/// Fails the first publication at one golden object (a directory is put where it must go), so raw is
/// complete and golden is partial; later publications go through.
pub struct FailOnceMidway {
    pub inner: LocalPublisher,
    pub golden_dir: PathBuf,
    pub blocked: String,
    pub calls: AtomicUsize,
}

#[async_trait]
impl Publisher for FailOnceMidway {
    fn raw_destination(&self, test_id: &str) -> String {
        self.inner.raw_destination(test_id)
    }

    fn raw_bucket(&self) -> String {
        self.inner.raw_bucket()
    }

    async fn publish(
        &self,
        job: &Job,
        bundle_location: &str,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts, CoreError> {
        let blocker = self.golden_dir.join(&self.blocked);
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::fs::create_dir_all(&blocker).unwrap();
        } else if blocker.is_dir() {
            std::fs::remove_dir(&blocker).unwrap();
        }
        self.inner.publish(job, bundle_location, index).await
    }
}

pub fn digest_of(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}
