//! A real OCI registry (Debian's `docker-registry`, distribution 2.8) started on loopback with filesystem
//! storage in a temp dir, plus pushing artifacts through the distribution API.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::process::{Child, Command};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

pub struct Registry {
    pub port: u16,
    storage: PathBuf,
    client: reqwest::Client,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Starts a registry, or `None` after the skip notice (a failure in CI) when none is installed.
pub async fn start() -> Option<Registry> {
    let binary = certus_testkit::installed(
        &["docker-registry", "registry"],
        &["/usr/bin/docker-registry"],
    )?;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        ),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut registry = Registry {
        port,
        storage,
        client: plain_client(),
        child,
        _dir: dir,
    };
    registry.wait_ready().await;
    Some(registry)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A reqwest client for pushing (plain http on loopback only).
fn plain_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Registry {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`, as used in `oci://` URIs.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits for `/v2/` to answer, making sure it is this process that answers (not one that won a port race).
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = self.client.get(format!("{}/v2/", self.base())).send().await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                assert!(
                    self.child.try_wait().unwrap().is_none(),
                    "the registry exited (port {} taken?)",
                    self.port
                );
                return;
            }
            assert!(Instant::now() < deadline, "the registry did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Uploads one blob (monolithic POST then PUT) and returns its digest.
    pub async fn push_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let response = self
            .client
            .post(format!("{}/v2/{repository}/blobs/uploads/", self.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202, "blob upload start");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let mut url = reqwest::Url::parse(&self.base())
            .unwrap()
            .join(&location)
            .unwrap();
        url.query_pairs_mut().append_pair("digest", &digest);
        let response = self
            .client
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "blob upload finish");
        digest
    }

    /// Pushes an OCI artifact whose layers are `files` (title, bytes) under `tag`; returns the manifest
    /// digest.
    pub async fn push_artifact(
        &self,
        repository: &str,
        tag: &str,
        files: &[(&str, &[u8])],
    ) -> String {
        let config = b"{}";
        let config_digest = self.push_blob(repository, config).await;
        let mut layers = Vec::new();
        for (title, bytes) in files {
            let digest = self.push_blob(repository, bytes).await;
            layers.push(serde_json::json!({
                "mediaType": "application/vnd.certus.manifest.v1+json",
                "digest": digest,
                "size": bytes.len(),
                "annotations": {"org.opencontainers.image.title": title},
            }));
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": layers,
        }))
        .unwrap();
        let response = self
            .client
            .put(format!("{}/v2/{repository}/manifests/{tag}", self.base()))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 201, "manifest push: {text}");
        sha256(&manifest)
    }

    /// The manifest bytes stored under `reference` (a tag or digest), or `None` when there is none.
    pub async fn manifest(&self, repository: &str, reference: &str) -> Option<Vec<u8>> {
        let response = self
            .client
            .get(format!(
                "{}/v2/{repository}/manifests/{reference}",
                self.base()
            ))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => Some(response.bytes().await.unwrap().to_vec()),
            404 => None,
            status => panic!("manifest lookup answered HTTP {status}"),
        }
    }

    /// Where filesystem storage keeps the bytes of `digest`.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Changes the stored bytes of `digest` in place, keeping their size: `from` becomes `to` (same length).
    pub fn tamper(&self, digest: &str, from: &str, to: &str) {
        assert_eq!(from.len(), to.len());
        let path = self.blob_path(digest);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} not in stored blob");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}
