//! OciPublisher against a real registry on loopback (behind a request-counting relay): the pushed artifact
//! reads back file by file, its cosign signature verifies, a re-run pushes no blob twice, and nothing is
//! pushed when the inner publication or the bundle is at fault. Skipped when docker-registry is absent.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use certus_core::attestation::LocalSigner;
use certus_core::bundle::{BundleIndex, BundleWriter, INDEX};
use certus_core::error::CoreError;
use certus_core::job::{Job, RemoteArtifacts};
use certus_core::ports::{BundleSigner, Publisher};
use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
use certus_fetch::{FetchPolicy, OciFetcher, OciPublisher};
use certus_local::{LocalArtifactStore, Placement};
use certus_verify::PublicKey;

use crate::support::loopback_policy;
use crate::support::proxy::CountingProxy;
use crate::support::registry::{self, sha256, Registry};
use crate::support::server::{self, Reply};

const REPOSITORY: &str = "certus/bundles";
const TEST_ID: &str = "test_00000000002a";
const LIMIT: usize = 1024 * 1024;

/// A stand-in for the raw → golden publication: counts calls, succeeds or fails as told.
struct FakeInner {
    calls: AtomicUsize,
    fail: bool,
}

impl FakeInner {
    fn new(fail: bool) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            fail,
        })
    }
}

#[async_trait]
impl Publisher for FakeInner {
    fn raw_destination(&self, test_id: &str) -> String {
        format!("file:///raw/{test_id}/incoming/")
    }

    fn raw_bucket(&self) -> String {
        "raw".into()
    }

    async fn publish(
        &self,
        job: &Job,
        _bundle_location: &str,
        index: &BundleIndex,
    ) -> certus_core::error::Result<RemoteArtifacts> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(CoreError::Storage("golden bucket unreachable".into()));
        }
        let golden = index
            .files
            .iter()
            .map(|entry| {
                let uri = format!("file:///golden/{}/{}", job.test_id, entry.path);
                (entry.path.clone(), uri)
            })
            .collect();
        Ok(RemoteArtifacts {
            raw: BTreeMap::new(),
            golden,
            oci: None,
        })
    }
}

/// A bundle on disk, its store, and the signer.
struct Fixture {
    dir: tempfile::TempDir,
    index: BundleIndex,
    store: Arc<LocalArtifactStore>,
    signer: Arc<LocalSigner>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let writer = BundleWriter::new(dir.path().join("bundle")).unwrap();
        writer
            .write("scan.json", br#"{"test_id":"test_00000000002a"}"#)
            .unwrap();
        writer
            .write("report.md", b"# Report\n\nNo findings.\n")
            .unwrap();
        writer
            .write("stream.jsonl", b"{\"seq\":1}\n{\"seq\":2}\n")
            .unwrap();
        writer
            .write("logs/runner.log", b"started\nfinished\n")
            .unwrap();
        writer
            .write(
                "reports/sast/merged.sarif.json",
                br#"{"version":"2.1.0","runs":[]}"#,
            )
            .unwrap();
        let index = writer.write_index().unwrap();
        let store = Arc::new(LocalArtifactStore::new(Placement::Fixed(
            writer.root().to_path_buf(),
        )));
        let signer =
            Arc::new(LocalSigner::load_or_generate(&dir.path().join("keys/signing.pem")).unwrap());
        Self {
            dir,
            index,
            store,
            signer,
        }
    }

    fn location(&self) -> String {
        self.dir.path().join("bundle").display().to_string()
    }

    fn publisher(
        &self,
        inner: Arc<FakeInner>,
        authority: &str,
        policy: FetchPolicy,
    ) -> OciPublisher {
        OciPublisher::new(
            inner,
            &format!("oci://{authority}/{REPOSITORY}"),
            policy,
            self.store.clone(),
            self.signer.clone(),
        )
        .unwrap()
    }
}

fn registry_policy() -> FetchPolicy {
    let mut policy = loopback_policy(&["127.0.0.1"], None);
    policy.allow_plain_http_for = vec!["127.0.0.1".into()];
    policy
}

fn job() -> Job {
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "w".into(),
            component_id: "c".into(),
            assessment_id: "a".into(),
        },
        source: SourceSpec::Directory {
            directory_path: "/src".into(),
        },
        manifest: ManifestSource::RepoPath("m.json".into()),
        signature: None,
        profile: "light".into(),
        requested_by: None,
        baseline: None,
        full_scan: false,
    };
    Job::queued(
        TEST_ID.into(),
        submission,
        "ws://x".into(),
        certus_core::time::now(),
    )
}

/// A started registry with a counting relay in front of it.
async fn registry_behind_proxy() -> Option<(Registry, CountingProxy)> {
    let registry = registry::start().await?;
    let proxy = CountingProxy::start(registry.port).await;
    Some((registry, proxy))
}

fn digest_of(location: &str, authority: &str) -> String {
    location
        .strip_prefix(&format!("oci://{authority}/{REPOSITORY}@"))
        .unwrap_or_else(|| panic!("unexpected OCI location {location}"))
        .to_owned()
}

#[tokio::test]
async fn pushes_a_signed_artifact_that_reads_back_file_by_file() {
    let Some((registry, proxy)) = registry_behind_proxy().await else {
        return;
    };
    let fixture = Fixture::new();
    let inner = FakeInner::new(false);
    let publisher = fixture.publisher(inner.clone(), &proxy.authority(), registry_policy());

    let remote = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap();
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        remote.golden.len(),
        fixture.index.files.len(),
        "inner result kept"
    );
    let location = remote.oci.clone().expect("an OCI location");
    let digest = digest_of(&location, &proxy.authority());

    // Every file, the index included, reads back by tag and title with the exact bytes.
    let fetcher = OciFetcher::new(registry_policy()).unwrap();
    let base = format!("oci://{}/{REPOSITORY}:{TEST_ID}", registry.authority());
    let paths = fixture
        .index
        .files
        .iter()
        .map(|entry| entry.path.as_str())
        .chain([INDEX]);
    for path in paths {
        let pulled = fetcher
            .fetch_bytes(&format!("{base}#{path}"), LIMIT)
            .await
            .unwrap();
        let on_disk = std::fs::read(Path::new(&fixture.location()).join(path)).unwrap();
        assert_eq!(pulled, on_disk, "{path}");
    }

    // The tag's manifest is the recorded digest, shaped as the bundle artifact.
    let manifest = registry.manifest(REPOSITORY, TEST_ID).await.unwrap();
    assert_eq!(sha256(&manifest), digest);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.certus.bundle.v1");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(manifest["config"]["size"], 2);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), fixture.index.files.len() + 1);
    let sarif = layers
        .iter()
        .find(|layer| {
            layer["annotations"]["org.opencontainers.image.title"]
                == "reports/sast/merged.sarif.json"
        })
        .unwrap();
    assert_eq!(sarif["mediaType"], "application/sarif+json");

    // The cosign signature: payload names the artifact, signature verifies with the signer's key.
    let sig_tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let sig_manifest = registry
        .manifest(REPOSITORY, &sig_tag)
        .await
        .expect("a .sig manifest");
    let sig_manifest: serde_json::Value = serde_json::from_slice(&sig_manifest).unwrap();
    let layer = &sig_manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let signature = base64::engine::general_purpose::STANDARD
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let payload = fetcher
        .fetch_bytes(
            &format!("oci://{}/{REPOSITORY}:{sig_tag}", registry.authority()),
            LIMIT,
        )
        .await
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        claims["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(
        claims["critical"]["identity"]["docker-reference"],
        format!("{}/{REPOSITORY}", proxy.authority())
    );
    let key = PublicKey::from_pem(&fixture.signer.public_key_pem()).unwrap();
    key.verify(&payload, &signature).unwrap();

    // The signature does not verify over other bytes, nor with another key.
    let mut tampered = payload.clone();
    tampered[0] = b' ';
    assert!(key.verify(&tampered, &signature).is_err());
    let other = LocalSigner::load_or_generate(&fixture.dir.path().join("other.pem")).unwrap();
    let other_key = PublicKey::from_pem(&other.public_key_pem()).unwrap();
    assert!(other_key.verify(&payload, &signature).is_err());
}

#[tokio::test]
async fn a_second_publish_pushes_no_blob_and_yields_the_same_digest() {
    let Some((_registry, proxy)) = registry_behind_proxy().await else {
        return;
    };
    let fixture = Fixture::new();
    let publisher = fixture.publisher(FakeInner::new(false), &proxy.authority(), registry_policy());

    let first = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap();
    let uploads = proxy.count("POST");
    // Every bundle file, the index, the empty config and the signature payload.
    assert_eq!(uploads, fixture.index.files.len() + 3);

    let second = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap();
    assert_eq!(second.oci, first.oci);
    assert_eq!(proxy.count("POST"), uploads, "no blob uploaded twice");
    assert!(
        proxy.count("HEAD") >= 2 * uploads,
        "every blob probed on both runs"
    );
}

#[tokio::test]
async fn nothing_is_pushed_when_the_inner_publication_fails() {
    let Some((registry, proxy)) = registry_behind_proxy().await else {
        return;
    };
    let fixture = Fixture::new();
    let inner = FakeInner::new(true);
    let publisher = fixture.publisher(inner.clone(), &proxy.authority(), registry_policy());

    let error = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Storage(reason) if reason == "golden bucket unreachable"),
        "{error:?}"
    );
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.total_bytes(), 0, "the registry was not contacted");
    assert!(registry.manifest(REPOSITORY, TEST_ID).await.is_none());
}

#[tokio::test]
async fn a_bundle_file_that_differs_from_its_index_is_refused_before_any_push() {
    let Some((registry, proxy)) = registry_behind_proxy().await else {
        return;
    };
    let fixture = Fixture::new();
    std::fs::write(
        Path::new(&fixture.location()).join("report.md"),
        b"# Report\n\nEdited!!\n",
    )
    .unwrap();
    let publisher = fixture.publisher(FakeInner::new(false), &proxy.authority(), registry_policy());

    let error = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Upload(reason) if reason.contains("bundle file 'report.md'") && reason.contains("does not match its index entry")),
        "{error:?}"
    );
    assert_eq!(proxy.total_bytes(), 0);
    assert!(registry.manifest(REPOSITORY, TEST_ID).await.is_none());
}

#[tokio::test]
async fn the_ssrf_policy_applies_to_pushes() {
    let fixture = Fixture::new();
    // 127.0.0.1 may be plain http here, but it is not allowlisted as a non-public address.
    let policy = FetchPolicy {
        allow_plain_http_for: vec!["127.0.0.1".into()],
        ..FetchPolicy::default()
    };
    let publisher = fixture.publisher(FakeInner::new(false), "127.0.0.1:9", policy);
    let error = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Upload(reason)
            if reason.contains("OCI push to '127.0.0.1:9' failed")
            && reason.contains("refusing to connect to '127.0.0.1:9'")
            && reason.contains("loopback")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_registry_is_a_retryable_storage_error() {
    let fixture = Fixture::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let authority = format!("127.0.0.1:{port}");
    let publisher = fixture.publisher(FakeInner::new(false), &authority, registry_policy());
    let error = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Storage(reason)
            if reason.contains(&format!("OCI push to '{authority}' failed: cannot connect"))),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_repository_uris_with_a_tag_and_job_ids_that_are_not_tags() {
    let fixture = Fixture::new();
    let Err(error) = OciPublisher::new(
        FakeInner::new(false),
        "oci://registry.example/certus/bundles:v1",
        registry_policy(),
        fixture.store.clone(),
        fixture.signer.clone(),
    ) else {
        panic!("a repository URI with a tag was accepted");
    };
    assert!(error.to_string().contains("names no tag"), "{error}");

    let publisher = fixture.publisher(FakeInner::new(false), "registry.example", registry_policy());
    let mut bad = job();
    bad.test_id = "../escape".into();
    let error = publisher
        .publish(&bad, &fixture.location(), &fixture.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Upload(reason) if reason.contains("tag '../escape' is not a valid OCI tag")),
        "{error:?}"
    );
}

#[tokio::test]
async fn answers_the_push_scoped_token_challenge_and_reports_a_refused_upload() {
    const TOKEN: &str = "push-token-5c1a7e";
    let fixture = Fixture::new();
    let realm = Arc::new(std::sync::Mutex::new(String::new()));
    let challenge_realm = Arc::clone(&realm);
    let registry = server::start("127.0.0.1:0", None, move |head| {
        let authorized = head.header("authorization") == Some(&format!("Bearer {TOKEN}"));
        let challenge = format!(
            "Bearer realm=\"{}\",service=\"test-registry\",scope=\"repository:{REPOSITORY}:pull,push\"",
            challenge_realm.lock().unwrap()
        );
        match head.path() {
            "/token" => Reply::ok(format!("{{\"token\":\"{TOKEN}\"}}")),
            _ if !authorized => Reply::status(401).with_header("WWW-Authenticate", &challenge),
            path if path.ends_with("/blobs/uploads/") => Reply::status(403),
            _ => Reply::status(404),
        }
    })
    .await
    .unwrap();
    *realm.lock().unwrap() = format!("http://127.0.0.1:{}/token", registry.port());
    let authority = format!("127.0.0.1:{}", registry.port());
    let publisher = fixture.publisher(FakeInner::new(false), &authority, registry_policy());

    let error = publisher
        .publish(&job(), &fixture.location(), &fixture.index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Upload(reason)
            if reason.contains(&format!("authentication with '{authority}' failed"))
            && reason.contains("refused access to upload of blob sha256:")
            && reason.contains("HTTP 403")),
        "{error:?}"
    );
    assert!(!error.to_string().contains(TOKEN), "{error}");
    let requests = registry.requests();
    let token_request = requests
        .iter()
        .find(|head| head.path() == "/token")
        .expect("a token request");
    assert!(
        token_request
            .target
            .contains("scope=repository%3Acertus%2Fbundles%3Apull%2Cpush"),
        "{}",
        token_request.target
    );
    let upload = requests
        .iter()
        .find(|head| head.path().ends_with("/blobs/uploads/"))
        .expect("an upload request");
    assert_eq!(
        upload.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn refuses_a_bundle_larger_than_the_push_limit_before_reading_it() {
    let fixture = Fixture::new();
    let mut index = fixture.index.clone();
    index.files[0].size = u64::MAX;
    let publisher = fixture.publisher(FakeInner::new(false), "127.0.0.1:9", registry_policy());
    let error = publisher
        .publish(&job(), &fixture.location(), &index)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::Upload(reason) if reason.contains("is larger than the 1073741824 bytes an OCI push accepts")),
        "{error:?}"
    );
}
