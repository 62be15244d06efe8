//! The manifest verification matrix: every manifest source (inline, repository path, `file://`, `https://`,
//! `oci://`, `s3://`) × verification required or not × signature valid, absent or bad, through the real
//! pipeline with real servers on loopback (a TLS server with a test CA, Debian's OCI registry, moto's S3).
//! A bad signature always fails; an absent one fails only when verification is required; a failed
//! verification never lets a scanner start.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use certus_core::digest::canonical_json;
use certus_core::event::EventBody;
use certus_core::job::JobStatus;
use certus_core::pipeline::{self, ScannerSet};
use certus_core::ports::{EventLog, ManifestFetcher};
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_fetch::{FetchPolicy, RemoteFetcher};
use certus_integration::{cosign_sign, harness, p256_keypair};
use certus_scanners::SampleScanner;

#[allow(dead_code)]
#[path = "../shared/fetch/tests/fetch/support/mod.rs"]
mod fetch_support;

/// `s3://` to moto, everything else through the production remote fetcher.
struct MatrixFetcher {
    remote: RemoteFetcher,
    s3: Option<certus_aws::S3Fetcher>,
}

#[async_trait]
impl ManifestFetcher for MatrixFetcher {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        match (&self.s3, uri.starts_with("s3://")) {
            (Some(s3), true) => s3.fetch(uri, max_bytes).await,
            _ => self.remote.fetch(uri, max_bytes).await,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sig {
    Valid,
    Absent,
    Bad,
}

/// Where one source keeps the manifest and its (valid or bad) signature.
struct Placed {
    label: &'static str,
    manifest: ManifestSource,
    valid_sig: SignatureSource,
    bad_sig: SignatureSource,
}

fn moto_clients() -> Option<certus_aws::AwsClients> {
    let endpoint = certus_testkit::moto_endpoint()?;
    let config = certus_testkit::emulator_sdk_config(&endpoint);
    Some(certus_aws::AwsClients::from_sdk_config(&config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_source_times_policy_times_signature() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work = tempfile::tempdir().unwrap();
    let (key, public) = p256_keypair(work.path());
    let manifest_text =
        r#"{"product":"matrix","profiles":[{"name":"light","tools":["sample"],"thresholds":{}}]}"#;
    let manifest_value: serde_json::Value = serde_json::from_str(manifest_text).unwrap();

    // The signed bytes: the file as written, and the canonical form for the inline manifest.
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("m.json"), manifest_text).unwrap();
    cosign_sign(&key, &files.join("m.json"), &files.join("m.sig"));
    std::fs::write(files.join("other.json"), r#"{"profiles":[]}"#).unwrap();
    cosign_sign(&key, &files.join("other.json"), &files.join("bad.sig"));
    std::fs::write(
        files.join("canonical.json"),
        canonical_json(&manifest_value).unwrap(),
    )
    .unwrap();
    cosign_sign(
        &key,
        &files.join("canonical.json"),
        &files.join("inline.sig"),
    );
    let read = |name: &str| std::fs::read(files.join(name)).unwrap();
    let text = |name: &str| String::from_utf8(read(name)).unwrap();

    // The scanned tree also carries the manifest and signatures (repository-path source).
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for name in ["m.json", "m.sig", "bad.sig"] {
        std::fs::copy(files.join(name), src.join(name)).unwrap();
    }

    let pki = fetch_support::pki::generate();
    let served: Arc<std::collections::HashMap<String, Vec<u8>>> = Arc::new(
        ["m.json", "m.sig", "bad.sig"]
            .iter()
            .map(|n| (format!("/{n}"), read(n)))
            .collect(),
    );
    let https = fetch_support::server::start(
        "127.0.0.1:0",
        Some(pki.server_config.clone()),
        move |head| match served.get(head.path()) {
            Some(bytes) => fetch_support::server::Reply::ok(bytes.clone()),
            None => fetch_support::server::Reply::status(404),
        },
    )
    .await
    .unwrap();

    let mut placements = vec![
        Placed {
            label: "inline",
            manifest: ManifestSource::Inline(manifest_value.clone()),
            valid_sig: SignatureSource::Inline(text("inline.sig")),
            bad_sig: SignatureSource::Inline(text("bad.sig")),
        },
        Placed {
            label: "repo path",
            manifest: ManifestSource::RepoPath("m.json".into()),
            valid_sig: SignatureSource::RepoPath("m.sig".into()),
            bad_sig: SignatureSource::RepoPath("bad.sig".into()),
        },
        Placed {
            label: "file://",
            manifest: ManifestSource::Uri(format!("file://{}", files.join("m.json").display())),
            valid_sig: SignatureSource::Uri(format!("file://{}", files.join("m.sig").display())),
            bad_sig: SignatureSource::Uri(format!("file://{}", files.join("bad.sig").display())),
        },
        Placed {
            label: "https://",
            manifest: ManifestSource::Uri(format!("https://localhost:{}/m.json", https.port())),
            valid_sig: SignatureSource::Uri(format!("https://localhost:{}/m.sig", https.port())),
            bad_sig: SignatureSource::Uri(format!("https://localhost:{}/bad.sig", https.port())),
        },
    ];

    let registry = fetch_support::registry::start().await;
    let mut plain_http = Vec::new();
    match &registry {
        Some(registry) => {
            registry
                .push_artifact(
                    "certus/manifests",
                    "v1",
                    &[
                        ("m.json", &read("m.json")),
                        ("m.sig", &read("m.sig")),
                        ("bad.sig", &read("bad.sig")),
                    ],
                )
                .await;
            plain_http.push("127.0.0.1".to_string());
            let at =
                |layer: &str| format!("oci://{}/certus/manifests:v1#{layer}", registry.authority());
            placements.push(Placed {
                label: "oci://",
                manifest: ManifestSource::Uri(at("m.json")),
                valid_sig: SignatureSource::Uri(at("m.sig")),
                bad_sig: SignatureSource::Uri(at("bad.sig")),
            });
        }
        None => println!("oci:// rows left out"),
    }

    let aws = moto_clients();
    match &aws {
        Some(aws) => {
            let bucket = certus_testkit::unique_name("matrix");
            aws.s3()
                .create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            for name in ["m.json", "m.sig", "bad.sig"] {
                aws.s3()
                    .put_object()
                    .bucket(&bucket)
                    .key(name)
                    .body(read(name).into())
                    .send()
                    .await
                    .unwrap();
            }
            placements.push(Placed {
                label: "s3://",
                manifest: ManifestSource::Uri(format!("s3://{bucket}/m.json")),
                valid_sig: SignatureSource::Uri(format!("s3://{bucket}/m.sig")),
                bad_sig: SignatureSource::Uri(format!("s3://{bucket}/bad.sig")),
            });
        }
        None => println!("s3:// rows left out"),
    }

    let key_pem = std::fs::read_to_string(&public).unwrap();
    let mut rows = 0;
    for placed in &placements {
        for required in [false, true] {
            let policy = SignaturePolicy {
                required,
                key: Some(certus_verify::PublicKey::from_pem(&key_pem).unwrap()),
                ..Default::default()
            };
            let mut h = harness(policy, ScannerSet::new(vec![Arc::new(SampleScanner)]));
            h.services.fetcher = Some(Arc::new(MatrixFetcher {
                remote: RemoteFetcher::new(FetchPolicy {
                    allow_hosts: vec!["localhost".into(), "127.0.0.1".into()],
                    allow_plain_http_for: plain_http.clone(),
                    extra_ca_pem: Some(pki.ca_pem.as_bytes().to_vec()),
                    file_roots: vec![Path::new("/").to_path_buf()],
                    ..FetchPolicy::default()
                })
                .unwrap(),
                s3: aws.as_ref().map(certus_aws::S3Fetcher::new),
            }));
            for sig in [Sig::Valid, Sig::Absent, Sig::Bad] {
                let signature = match sig {
                    Sig::Valid => Some(placed.valid_sig.clone()),
                    Sig::Absent => None,
                    Sig::Bad => Some(placed.bad_sig.clone()),
                };
                let submission = ValidatedSubmission {
                    ids: ScanIds {
                        workspace_id: "ws".into(),
                        component_id: "c".into(),
                        assessment_id: "a".into(),
                    },
                    source: SourceSpec::Directory {
                        directory_path: src.display().to_string(),
                    },
                    manifest: placed.manifest.clone(),
                    signature,
                    profile: "light".into(),
                    requested_by: None,
                    baseline: None,
                    full_scan: false,
                };
                let job = pipeline::submit(&h.services.records(), submission)
                    .await
                    .unwrap();
                let job = pipeline::run(&h.services, &job.test_id).await.unwrap();
                let case = format!("{} / required={required} / {sig:?}", placed.label);
                let started = h
                    .store
                    .history(&job.test_id, 0)
                    .await
                    .unwrap()
                    .iter()
                    .any(|e| matches!(e.body, EventBody::ToolStart { .. }));
                match (sig, required) {
                    (Sig::Valid, _) => {
                        assert_eq!(job.status, JobStatus::Succeeded, "{case}: {:?}", job.errors);
                        let v = job.manifest_verification.as_ref().unwrap();
                        assert_eq!(v.method, "cosign-keyed-ecdsa-p256", "{case}");
                        assert!(started, "{case}");
                    }
                    (Sig::Absent, false) => {
                        assert_eq!(job.status, JobStatus::Succeeded, "{case}: {:?}", job.errors);
                        assert!(
                            job.warnings.iter().any(|w| w.contains("not signed")),
                            "{case}"
                        );
                    }
                    (Sig::Absent, true) => {
                        assert_eq!(job.status, JobStatus::Failed, "{case}");
                        assert!(
                            job.errors[0].contains("required but no signature"),
                            "{case}: {:?}",
                            job.errors
                        );
                        assert!(!started, "{case}: a scanner started");
                    }
                    (Sig::Bad, _) => {
                        assert_eq!(job.status, JobStatus::Failed, "{case}");
                        assert!(
                            job.errors[0].contains("bad signature"),
                            "{case}: {:?}",
                            job.errors
                        );
                        assert!(!started, "{case}: a scanner started");
                    }
                }
                rows += 1;
            }
        }
    }
    println!(
        "verification matrix: {rows} cases over {} sources",
        placements.len()
    );
    assert!(rows >= 24);
    drop(https);
}
