//! The sync against a real loopback HTTPS server (a CA and server certificate generated per run, trusted by
//! the client only here) and a real moto S3 (`CERTUS_MOTO_ENDPOINT`; skipped without it), and the scanner
//! reading what it stored: the bundle's advisory record names the snapshot's date and digest, a snapshot
//! that cannot be checked leaves the current one in place, and no snapshot fails the scan naming why.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certus_advisories::{sync, S3AdvisorySource, SyncConfig, POINTER_KEY};
use certus_aws::{AwsClients, S3Location};
use certus_core::bundle::ADVISORY_DATABASE;
use certus_core::ports::{ScanRequest, Scanner, ToolStatus};
use certus_fetch::{FetchPolicy, Timeouts};
use certus_scanners::{AdvisorySource, SbomScanner};
use certus_testkit::{moto_endpoint, unique_name};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

/// A loopback HTTPS server answering each path with the bytes set for it (404 otherwise).
struct Server {
    port: u16,
    ca_pem: String,
    bodies: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl Server {
    async fn start() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, unique_name("advisories-test-ca"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let served = bodies.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, served) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                        if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
                    let body = served.lock().unwrap().get(&path).cloned();
                    let (status, body) = match body {
                        Some(body) => ("200 OK", body),
                        None => ("404 Not Found", Vec::new()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self {
            port,
            ca_pem: ca_cert.pem(),
            bodies,
        }
    }

    fn serve(&self, path: &str, body: Vec<u8>) -> String {
        self.bodies.lock().unwrap().insert(path.into(), body);
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

fn moto_clients(endpoint: &str) -> AwsClients {
    let config = certus_testkit::emulator_sdk_config(endpoint);
    AwsClients::from_sdk_config(&config)
}

/// A `.tar.gz` holding `files` (name, bytes) below a top-level directory, as a repository archive does.
fn tar_gz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("advisory-db-main/{name}"), &bytes[..])
            .unwrap();
    }
    let mut gz = builder.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

/// One OSV advisory against smallvec < 1.6.1, published on `published`.
fn osv(id: &str, published: &str) -> (String, Vec<u8>) {
    let doc = serde_json::json!({"id": id, "summary": "buffer overflow in insert_many", "published": published,
        "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
                      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.1"}]}]}],
        "database_specific": {"severity": "CRITICAL"}});
    (format!("osv/{id}.json"), doc.to_string().into_bytes())
}

struct World {
    clients: AwsClients,
    bucket: String,
    server: Server,
    scratch: tempfile::TempDir,
}

impl World {
    async fn new() -> Option<Self> {
        let endpoint = moto_endpoint()?;
        let clients = moto_clients(&endpoint);
        let bucket = unique_name("advisories");
        clients
            .s3()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        Some(Self {
            clients,
            bucket,
            server: Server::start().await,
            scratch: tempfile::tempdir().unwrap(),
        })
    }

    fn store(&self) -> String {
        format!("s3://{}/advisories", self.bucket)
    }

    fn config(&self, url: String) -> SyncConfig {
        SyncConfig {
            url,
            store: S3Location::prefix(&self.store()).unwrap(),
            fetch: FetchPolicy {
                allow_hosts: vec!["127.0.0.1".into()],
                extra_ca_pem: Some(self.server.ca_pem.clone().into_bytes()),
                timeouts: Timeouts {
                    connect: Duration::from_secs(5),
                    total: Duration::from_secs(30),
                },
                ..FetchPolicy::default()
            },
            max_download_bytes: 1024 * 1024,
            scratch: self.scratch.path().to_path_buf(),
        }
    }

    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let got = self
            .clients
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(format!("advisories/{key}"))
            .send()
            .await
            .ok()?;
        Some(got.body.collect().await.unwrap().into_bytes().to_vec())
    }

    async fn keys(&self) -> Vec<String> {
        let listed = self
            .clients
            .s3()
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        keys.sort();
        keys
    }

    fn source(&self, cache: &Path) -> S3AdvisorySource {
        S3AdvisorySource::new(&self.clients, &self.store(), cache.to_path_buf()).unwrap()
    }
}

fn request(root: &Path) -> ScanRequest {
    ScanRequest {
        subject: "demo".into(),
        source_root: root.to_path_buf(),
        scratch_dir: root.to_path_buf(),
        config: None,
        timeout: Duration::from_secs(30),
        log: Arc::new(|_, _| {}),
        incremental: None,
    }
}

fn advisory_record(out: &certus_core::ports::ToolOutput) -> serde_json::Value {
    let found = out
        .attachments
        .iter()
        .find(|a| a.bundle_path == ADVISORY_DATABASE)
        .unwrap_or_else(|| panic!("no {ADVISORY_DATABASE} in {out:?}"));
    serde_json::from_slice(&found.bytes).unwrap()
}

#[tokio::test]
async fn a_synced_snapshot_is_stored_content_addressed_and_the_scanner_matches_against_it() {
    let Some(world) = World::new().await else {
        return;
    };
    let (name, bytes) = osv("TEST-0001", "2026-11-20T00:00:00Z");
    let archive = tar_gz(&[(&name, bytes)]);
    let url = world.server.serve("/db/main.tar.gz", archive.clone());
    let pointer = sync(world.clients.s3(), &world.config(url)).await.unwrap();

    let sha256 = hex::encode(Sha256::digest(&archive));
    assert_eq!(pointer.sha256, sha256);
    assert_eq!(pointer.snapshot_date, "2026-11-20");
    assert_eq!(pointer.advisories, 1);
    assert_eq!(
        world.object(&format!("snapshots/{sha256}.tar.gz")).await,
        Some(archive)
    );
    let stored: serde_json::Value =
        serde_json::from_slice(&world.object(POINTER_KEY).await.unwrap()).unwrap();
    assert_eq!(stored["sha256"], sha256);
    assert_eq!(stored["snapshot_date"], "2026-11-20");

    let cache = tempfile::tempdir().unwrap();
    let scanner = SbomScanner {
        advisory_source: Some(Arc::new(world.source(cache.path()))),
        ..SbomScanner::default()
    };
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("Cargo.lock"), LOCK).unwrap();
    let out = scanner.scan(request(source.path())).await;
    assert_eq!(out.status, ToolStatus::Completed, "{out:?}");
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    assert_eq!(out.findings[0].rule_id, "TEST-0001");
    let record = advisory_record(&out);
    assert_eq!(record["snapshot"]["digest"], format!("sha256:{sha256}"));
    assert_eq!(record["snapshot"]["snapshot_date"], "2026-11-20");
    assert_eq!(
        record["snapshot"]["uri"],
        format!("{}/snapshots/{sha256}.tar.gz", world.store())
    );

    // A newer snapshot becomes current; the scanner follows it and drops the old unpacked copy.
    let (name2, bytes2) = osv("TEST-0002", "2026-11-28T00:00:00Z");
    let (name1, bytes1) = osv("TEST-0001", "2026-11-20T00:00:00Z");
    let newer = tar_gz(&[(&name1, bytes1), (&name2, bytes2)]);
    let url = world.server.serve("/db/newer.tar.gz", newer.clone());
    let pointer = sync(world.clients.s3(), &world.config(url)).await.unwrap();
    assert_eq!(pointer.snapshot_date, "2026-11-28");
    let out = scanner.scan(request(source.path())).await;
    assert_eq!(out.findings.len(), 2, "{:?}", out.findings);
    assert_eq!(
        advisory_record(&out)["snapshot"]["digest"],
        format!("sha256:{}", hex::encode(Sha256::digest(&newer)))
    );
    let unpacked: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(
        unpacked.len(),
        1,
        "only the current snapshot stays unpacked"
    );
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_fetched_or_checked_leaves_the_current_one() {
    let Some(world) = World::new().await else {
        return;
    };
    let (name, bytes) = osv("TEST-0001", "2026-11-20T00:00:00Z");
    let good = tar_gz(&[(&name, bytes)]);
    let url = world.server.serve("/db/good.tar.gz", good.clone());
    sync(world.clients.s3(), &world.config(url)).await.unwrap();
    let current = world.object(POINTER_KEY).await.unwrap();
    let keys = world.keys().await;

    let truncated = good[..good.len() / 2].to_vec();
    let not_advisories = tar_gz(&[("README.md", b"# nothing here".to_vec())]);
    let undated = {
        let doc = serde_json::json!({"id": "TEST-0009", "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]});
        tar_gz(&[("osv/TEST-0009.json", doc.to_string().into_bytes())])
    };
    let escaping = {
        // A member whose path climbs out of the unpacking directory.
        let mut raw = tar::Builder::new(Vec::new());
        let (name, bytes) = osv("TEST-0003", "2026-11-20T00:00:00Z");
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        let path = format!("../../{name}");
        header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        raw.append(&header, &bytes[..]).unwrap();
        raw.into_inner().unwrap()
    };
    let too_big = vec![0u8; 2 * 1024 * 1024];
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated",
            world.server.serve("/db/truncated.tar.gz", truncated),
            "refused",
        ),
        (
            "no advisories",
            world.server.serve("/db/empty.tar.gz", not_advisories),
            "no advisory",
        ),
        (
            "undated",
            world.server.serve("/db/undated.tar.gz", undated),
            "carries a date",
        ),
        (
            "escaping member",
            world.server.serve("/db/escape.tar", escaping),
            "refused",
        ),
        (
            "larger than the limit",
            world.server.serve("/db/big.tar.gz", too_big),
            "download",
        ),
        (
            "missing",
            format!("https://127.0.0.1:{}/db/missing.tar.gz", world.server.port),
            "download",
        ),
        (
            "plain http",
            format!("http://127.0.0.1:{}/db/good.tar.gz", world.server.port),
            "https",
        ),
        (
            "not an archive name",
            world.server.serve("/db/snapshot.json", b"{}".to_vec()),
            ".tar.gz",
        ),
    ];
    for (what, url, expected) in cases {
        let error = sync(world.clients.s3(), &world.config(url))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{what}: {error}");
        assert_eq!(
            world.object(POINTER_KEY).await.unwrap(),
            current,
            "{what}: pointer unchanged"
        );
        assert_eq!(world.keys().await, keys, "{what}: nothing stored");
    }

    // An untrusted certificate is a refused download too.
    let mut config = world.config(world.server.serve("/db/again.tar.gz", good));
    config.fetch.extra_ca_pem = None;
    let error = sync(world.clients.s3(), &config)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("download"), "{error}");
    assert_eq!(world.object(POINTER_KEY).await.unwrap(), current);
}

#[tokio::test]
async fn without_a_snapshot_or_with_a_tampered_one_the_scan_fails_naming_why() {
    let Some(world) = World::new().await else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("Cargo.lock"), LOCK).unwrap();
    let scanner = SbomScanner {
        advisory_source: Some(Arc::new(world.source(cache.path()))),
        ..SbomScanner::default()
    };
    let out = scanner.scan(request(source.path())).await;
    assert_eq!(out.status, ToolStatus::Failed);
    let error = out.error.clone().unwrap_or_default();
    assert!(error.contains("no advisory snapshot"), "{error}");
    assert!(error.contains("current.json"), "{error}");

    // The manifest may still turn matching off: then no snapshot is read.
    let off = scanner
        .scan(ScanRequest {
            config: Some(serde_json::json!({"advisories": "off"})),
            ..request(source.path())
        })
        .await;
    assert_eq!(off.status, ToolStatus::Completed, "{off:?}");

    let (name, bytes) = osv("TEST-0001", "2026-11-20T00:00:00Z");
    let archive = tar_gz(&[(&name, bytes)]);
    let url = world.server.serve("/db/main.tar.gz", archive);
    let pointer = sync(world.clients.s3(), &world.config(url)).await.unwrap();
    // Someone replaces the stored archive: its digest no longer matches the pointer.
    let tampered = tar_gz(
        &[osv("TEST-0666", "2026-11-21T00:00:00Z")]
            .iter()
            .map(|(n, b)| (n.as_str(), b.clone()))
            .collect::<Vec<_>>(),
    );
    world
        .clients
        .s3()
        .put_object()
        .bucket(&world.bucket)
        .key(format!("advisories/{}", pointer.key))
        .body(tampered.into())
        .send()
        .await
        .unwrap();
    let error = world.source(cache.path()).current().await.unwrap_err();
    assert!(error.contains("not the"), "{error}");
}
