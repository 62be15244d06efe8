//! `certus` built with the `aws` feature against a real moto server (S3 and KMS on loopback, started by
//! `scripts/test.sh`): a manifest, its signature and the verification key all read from `s3://`; bundles
//! signed by a KMS key; `verify-bundle s3://…` on a bundle stored in S3, and a tampered copy refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::{Command, Output};

use certus_aws::{AwsClients, S3ArtifactStore};
use certus_core::ports::ArtifactStore;

fn endpoint() -> Option<String> {
    certus_testkit::moto_endpoint()
}

fn clients(endpoint: &str) -> AwsClients {
    let config = certus_testkit::emulator_sdk_config(endpoint);
    AwsClients::from_sdk_config(&config)
}

fn certus(args: &[&str], data: &Path, endpoint: &str, extra: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certus"));
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .env("CERTUS_ASSURANCE_S3_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("certus runs")
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unique(tag: &str) -> String {
    certus_testkit::unique_name(&format!("cli-{tag}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_manifest_signature_and_key_then_a_kms_signed_bundle_verified_from_s3() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint);
    let bucket = unique("m");
    aws.s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(work.path().join("src")).unwrap();
    std::fs::write(work.path().join("src/requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(
        work.path().join("m.json"),
        r#"{"profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    sh(
        work.path(),
        "openssl ecparam -genkey -name prime256v1 -noout -out k.pem && openssl ec -pubout -in k.pem -out k.pub 2>/dev/null \
         && openssl dgst -sha256 -sign k.pem m.json | base64 -w0 > m.sig",
    );
    for name in ["m.json", "m.sig", "k.pub"] {
        let bytes = std::fs::read(work.path().join(name)).unwrap();
        aws.s3()
            .put_object()
            .bucket(&bucket)
            .key(name)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }
    let key = aws
        .kms()
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();

    let out_dir = work.path().join("bundle");
    let s3 = |name: &str| format!("s3://{bucket}/{name}");
    let scanned = certus(
        &[
            "scan",
            work.path().join("src").to_str().unwrap(),
            "--manifest",
            &s3("m.json"),
            "--signature",
            &s3("m.sig"),
            "--key",
            &s3("k.pub"),
            "--require-signature",
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ],
        &data,
        &endpoint,
        &[(
            "CERTUS_ASSURANCE_SIGNING_KEY_REF",
            format!("awskms://{key_id}"),
        )],
    );
    assert_eq!(
        scanned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&scanned.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&scanned.stdout).unwrap();
    assert_eq!(
        job["manifest_verification"]["method"],
        "cosign-keyed-ecdsa-p256"
    );
    let test_id = job["test_id"].as_str().unwrap().to_string();

    // The bundle was signed by KMS: its published key is the KMS key's public key.
    let kms_public = aws
        .kms()
        .get_public_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let der = kms_public.public_key().unwrap().as_ref().to_vec();
    let pem = certus_verify::PublicKey::from_spki_der(&der).unwrap();
    let published =
        std::fs::read_to_string(out_dir.join("reports/signing/signing-key.pub.pem")).unwrap();
    assert_eq!(
        certus_verify::PublicKey::from_pem(&published)
            .unwrap()
            .fingerprint(),
        pem.fingerprint()
    );

    // Store it in S3 and verify it from there, pinning the KMS key.
    let store = S3ArtifactStore::new(&aws, &format!("s3://{bucket}/work")).unwrap();
    let index = certus_core::bundle::read_index(&out_dir).unwrap();
    let location = store
        .store_bundle(&test_id, &out_dir, &index)
        .await
        .unwrap();
    std::fs::write(work.path().join("kms.pub"), &published).unwrap();
    let kms_pub = work.path().join("kms.pub");
    let verified = certus(
        &[
            "verify-bundle",
            &location,
            "--key",
            kms_pub.to_str().unwrap(),
            "--manifest-key",
            work.path().join("k.pub").to_str().unwrap(),
        ],
        &data,
        &endpoint,
        &[],
    );
    let report = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(0), "{report}");
    assert!(report.contains("PASS  manifest signature"), "{report}");

    let key_of = |rel: &str| format!("work/{test_id}/bundle/{rel}");
    aws.s3()
        .put_object()
        .bucket(&bucket)
        .key(key_of("summary.json"))
        .body(b"{\"tampered\": true}".to_vec().into())
        .send()
        .await
        .unwrap();
    let tampered = certus(
        &[
            "verify-bundle",
            &location,
            "--key",
            kms_pub.to_str().unwrap(),
        ],
        &data,
        &endpoint,
        &[],
    );
    assert_eq!(tampered.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tampered.stdout).contains("summary.json"));

    // A bad signature object fails the scan before any scanner starts.
    aws.s3()
        .put_object()
        .bucket(&bucket)
        .key("bad.sig")
        .body(b"MEUCIQ==\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let refused = certus(
        &[
            "scan",
            work.path().join("src").to_str().unwrap(),
            "--manifest",
            &s3("m.json"),
            "--signature",
            &s3("bad.sig"),
            "--key",
            &s3("k.pub"),
            "--json",
        ],
        &data,
        &endpoint,
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    let job: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert!(
        job["errors"][0]
            .as_str()
            .unwrap()
            .contains("manifest verification failed"),
        "{job}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_kept_in_s3_are_published_to_raw_and_golden_buckets_by_upload_request() {
    let Some(endpoint) = endpoint() else { return };
    let aws = clients(&endpoint);
    let [work_bucket, raw, golden] = [unique("w"), unique("r"), unique("g")];
    for bucket in [&work_bucket, &raw, &golden] {
        aws.s3()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(work.path().join("src")).unwrap();
    std::fs::write(work.path().join("src/requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(
        work.path().join("m.json"),
        r#"{"profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    let env = [
        (
            "CERTUS_ASSURANCE_WORK_BUCKET",
            format!("s3://{work_bucket}/bundles"),
        ),
        ("CERTUS_ASSURANCE_S3_UPLOAD", "true".to_string()),
        ("CERTUS_ASSURANCE_RAW_BUCKET", raw.clone()),
        ("CERTUS_ASSURANCE_GOLDEN_BUCKET", golden.clone()),
    ];
    let scanned = certus(
        &[
            "scan",
            work.path().join("src").to_str().unwrap(),
            "--manifest",
            work.path().join("m.json").to_str().unwrap(),
            "--json",
        ],
        &data,
        &endpoint,
        &env,
    );
    assert_eq!(
        scanned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&scanned.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&scanned.stdout).unwrap();
    let test_id = job["test_id"].as_str().unwrap().to_string();
    assert_eq!(
        job["bundle_location"],
        format!("s3://{work_bucket}/bundles/{test_id}/bundle")
    );

    let uploaded = certus(&["upload-request", &test_id], &data, &endpoint, &env);
    assert_eq!(
        uploaded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&uploaded.stdout)
    );
    let listed = aws
        .s3()
        .list_objects_v2()
        .bucket(&golden)
        .prefix(format!("security-scans/{test_id}/golden/"))
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert!(
        keys.iter().any(|k| k.ends_with("/golden/scan.json")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.ends_with("/golden/bundle-index.json")),
        "{keys:?}"
    );
    let result: serde_json::Value = serde_json::from_slice(&uploaded.stdout).unwrap();
    assert_eq!(
        result["remote_artifacts"]["golden"]
            .as_object()
            .unwrap()
            .len(),
        keys.len()
    );
}
