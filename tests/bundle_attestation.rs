//! The signed bundle proves itself: an untouched bundle verifies; one changed byte in any file, a dropped or
//! added file, an edited envelope payload or a swapped key each fail naming what broke. The DSSE signature
//! is also checked independently with `openssl dgst -verify` over the PAE bytes, and the statement against
//! the in-toto Statement v1 / SLSA Provenance v1 field requirements.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use certus_attest::{pae, Envelope, SigningKey};
use certus_core::bundle::{self, read_index};
use certus_core::bundle_check::{verify_bundle, BundleReport, Pins, Verdict};
use certus_core::job::Job;
use certus_core::pipeline::{self, ScannerSet};
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_integration::{cosign_sign, git_repo, harness, p256_keypair, Harness};
use certus_scanners::{SampleScanner, SbomScanner};
use certus_verify::PublicKey;

struct Scanned {
    _work: tempfile::TempDir,
    h: Harness,
    job: Job,
    manifest_key: PathBuf,
}

async fn signed_scan() -> Scanned {
    let work = tempfile::tempdir().unwrap();
    let (key, public) = p256_keypair(work.path());
    let repo = work.path().join("repo");
    git_repo(
        &repo,
        &[
            ("requirements.txt", "flask==2.0.0\n"),
            (
                "m.json",
                r#"{"profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}},"sample"],"thresholds":{}}]}"#,
            ),
        ],
    );
    cosign_sign(&key, &repo.join("m.json"), &work.path().join("m.sig"));
    let policy = SignaturePolicy {
        required: true,
        key: Some(PublicKey::from_pem(&std::fs::read_to_string(&public).unwrap()).unwrap()),
        ..Default::default()
    };
    let h = harness(
        policy,
        ScannerSet::new(vec![
            Arc::new(SampleScanner),
            Arc::new(SbomScanner::default()),
        ]),
    );
    let submission = ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "repo".into(),
            assessment_id: "a".into(),
        },
        source: SourceSpec::Git {
            git_url: repo.display().to_string(),
            branch: None,
            commit: None,
            git_credentials_ref: None,
        },
        manifest: ManifestSource::RepoPath("m.json".into()),
        signature: Some(SignatureSource::Uri(format!(
            "file://{}",
            work.path().join("m.sig").display()
        ))),
        profile: "light".into(),
        requested_by: None,
        baseline: None,
        full_scan: false,
    };
    let job = pipeline::submit(&h.services.records(), submission)
        .await
        .unwrap();
    let job = pipeline::run(&h.services, &job.test_id).await.unwrap();
    assert!(job.bundle_location.is_some(), "{:?}", job.errors);
    Scanned {
        _work: work,
        h,
        job,
        manifest_key: public,
    }
}

fn bundle_dir(s: &Scanned) -> PathBuf {
    PathBuf::from(s.job.bundle_location.as_deref().unwrap())
}

fn assurance_key(s: &Scanned) -> PublicKey {
    let key = SigningKey::load(&s.h.dir.path().join("keys/signing.pem")).unwrap();
    PublicKey::from_pem(key.public_key_pem()).unwrap()
}

fn failures(report: &BundleReport) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect()
}

#[tokio::test]
async fn an_untouched_bundle_verifies_with_pinned_keys() {
    let s = signed_scan().await;
    let key = assurance_key(&s);
    let manifest_key =
        PublicKey::from_pem(&std::fs::read_to_string(&s.manifest_key).unwrap()).unwrap();
    let report = verify_bundle(
        &bundle_dir(&s),
        &Pins {
            attestation_key: Some(&key),
            manifest_key: Some(&manifest_key),
        },
    );
    assert!(report.passed(), "{:?}", failures(&report));
    let verdicts: Vec<_> = report.checks.iter().map(|c| (c.name, c.verdict)).collect();
    assert!(verdicts.contains(&("signature", Verdict::Pass)));
    assert!(verdicts.contains(&("manifest signature", Verdict::Pass)));
    assert!(verdicts.contains(&("subjects", Verdict::Pass)));
}

#[tokio::test]
async fn one_changed_byte_in_any_file_is_named() {
    let s = signed_scan().await;
    let key = assurance_key(&s);
    let original = bundle_dir(&s);
    let index = read_index(&original).unwrap();
    let mut names: Vec<String> = index.files.iter().map(|e| e.path.clone()).collect();
    names.push(bundle::INDEX.into());
    for name in names {
        let copy = tempfile::tempdir().unwrap();
        certus_testkit::copy_dir(&original, copy.path());
        let path = copy.path().join(&name);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let report = verify_bundle(
            copy.path(),
            &Pins {
                attestation_key: Some(&key),
                manifest_key: None,
            },
        );
        assert!(!report.passed(), "tampering {name} went unnoticed");
        let named = failures(&report).iter().any(|f| f.contains(&name)) || name == bundle::INDEX;
        assert!(named, "tampering {name}: {:?}", failures(&report));
    }
}

#[tokio::test]
async fn dropped_and_added_files_are_named() {
    let s = signed_scan().await;
    let key = assurance_key(&s);
    let pins = Pins {
        attestation_key: Some(&key),
        manifest_key: None,
    };
    let copy = tempfile::tempdir().unwrap();
    certus_testkit::copy_dir(&bundle_dir(&s), copy.path());
    std::fs::remove_file(copy.path().join(bundle::SUMMARY)).unwrap();
    let report = verify_bundle(copy.path(), &pins);
    assert!(failures(&report)
        .iter()
        .any(|f| f.contains("summary.json: listed in the index but missing")));

    let copy = tempfile::tempdir().unwrap();
    certus_testkit::copy_dir(&bundle_dir(&s), copy.path());
    std::fs::write(copy.path().join("reports/extra.txt"), "x").unwrap();
    let report = verify_bundle(copy.path(), &pins);
    assert!(failures(&report)
        .iter()
        .any(|f| f.contains("reports/extra.txt: present but not listed")));
}

#[tokio::test]
async fn an_edited_payload_or_a_swapped_key_fails_the_signature() {
    let s = signed_scan().await;
    let key = assurance_key(&s);
    let original = bundle_dir(&s);

    // Payload edited (a subject digest changed) and the index rewritten to match: only the signature catches it.
    let copy = tempfile::tempdir().unwrap();
    certus_testkit::copy_dir(&original, copy.path());
    let env_path = copy.path().join(bundle::ATTESTATION);
    let env = Envelope::from_json(&std::fs::read(&env_path).unwrap()).unwrap();
    let payload = String::from_utf8(env.decode_payload().unwrap()).unwrap();
    let first_digest = payload.split("\"sha256\":\"").nth(1).unwrap()[..64].to_string();
    let forged_payload = payload.replacen(&first_digest, &"0".repeat(64), 1);
    let sig = env.signatures[0].decode_sig().unwrap();
    let forged = Envelope::from_signature(
        &env.payload_type,
        forged_payload.as_bytes(),
        &env.signatures[0].keyid,
        &sig,
    );
    std::fs::write(&env_path, forged.to_json().unwrap()).unwrap();
    let writer = bundle::BundleWriter::new(copy.path().to_path_buf()).unwrap();
    writer.write_index().unwrap();
    let report = verify_bundle(
        copy.path(),
        &Pins {
            attestation_key: Some(&key),
            manifest_key: None,
        },
    );
    assert!(
        failures(&report)
            .iter()
            .any(|f| f.starts_with("signature:")),
        "{:?}",
        failures(&report)
    );

    // Key swapped: re-signed with another key and that key published — a pinned key refuses it.
    let copy = tempfile::tempdir().unwrap();
    certus_testkit::copy_dir(&original, copy.path());
    let other = SigningKey::generate(certus_attest::Algorithm::EcdsaP256Sha256).unwrap();
    let env = Envelope::from_json(&std::fs::read(copy.path().join(bundle::ATTESTATION)).unwrap())
        .unwrap();
    let resigned =
        Envelope::sign(&env.payload_type, &env.decode_payload().unwrap(), &other).unwrap();
    std::fs::write(
        copy.path().join(bundle::ATTESTATION),
        resigned.to_json().unwrap(),
    )
    .unwrap();
    std::fs::write(
        copy.path().join(bundle::SIGNING_KEY),
        other.public_key_pem(),
    )
    .unwrap();
    let report = verify_bundle(
        copy.path(),
        &Pins {
            attestation_key: Some(&key),
            manifest_key: None,
        },
    );
    assert!(
        failures(&report)
            .iter()
            .any(|f| f.contains("is not the pinned key")),
        "{:?}",
        failures(&report)
    );
}

#[tokio::test]
async fn openssl_verifies_the_dsse_signature_and_the_statement_meets_the_specs() {
    let s = signed_scan().await;
    let dir = bundle_dir(&s);
    let env = Envelope::from_json(&std::fs::read(dir.join(bundle::ATTESTATION)).unwrap()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let payload = env.decode_payload().unwrap();
    std::fs::write(
        scratch.path().join("pae.bin"),
        pae(&env.payload_type, &payload),
    )
    .unwrap();
    std::fs::write(
        scratch.path().join("sig.der"),
        env.signatures[0].decode_sig().unwrap(),
    )
    .unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(dir.join(bundle::SIGNING_KEY))
        .arg("-signature")
        .arg(scratch.path().join("sig.der"))
        .arg(scratch.path().join("pae.bin"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");

    assert_eq!(env.payload_type, "application/vnd.in-toto+json");
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let index = read_index(&dir).unwrap();
    let subjects = statement["subject"].as_array().unwrap();
    assert_eq!(
        subjects.len(),
        index.files.len() - 1,
        "every file but the attestation itself"
    );
    for subject in subjects {
        let name = subject["name"].as_str().unwrap();
        let entry = index.get(name).expect("subject is a bundle file");
        assert_eq!(subject["digest"]["sha256"], entry.sha256.to_string());
    }
    let predicate = &statement["predicate"];
    assert!(predicate["buildDefinition"]["buildType"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(
        predicate["buildDefinition"]["externalParameters"]["manifest_digest"],
        s.job.manifest_digest.unwrap().to_string()
    );
    let deps = predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(deps
        .iter()
        .any(|d| d["digest"]["gitCommit"] == s.job.commit.as_deref().unwrap()));
    assert!(deps
        .iter()
        .any(|d| d["name"] == "scanner:sbom"
            && d["uri"].as_str().unwrap().starts_with("pkg:generic/")));
    assert!(predicate["runDetails"]["builder"]["id"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(
        predicate["runDetails"]["metadata"]["invocationId"],
        s.job.test_id.as_str()
    );
    assert!(predicate["runDetails"]["metadata"]["finishedOn"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}

#[tokio::test]
async fn an_ed25519_signing_key_works_end_to_end() {
    use std::os::unix::fs::PermissionsExt;
    let s = signed_scan().await;
    let keys = tempfile::tempdir().unwrap();
    let key_path = keys.path().join("ed25519.pem");
    certus_integration::run(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&key_path),
    );
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut services = s.h.services.clone();
    services.signer = Some(Arc::new(
        certus_core::attestation::LocalSigner::load_or_generate(&key_path).unwrap(),
    ));
    assert_eq!(services.signer().unwrap().algorithm(), "ed25519");
    let job = pipeline::submit(&services.records(), s.job.submission.clone())
        .await
        .unwrap();
    let job = pipeline::run(&services, &job.test_id).await.unwrap();
    let public = PublicKey::from_pem(&services.signer().unwrap().public_key_pem()).unwrap();
    let report = verify_bundle(
        Path::new(job.bundle_location.as_deref().unwrap()),
        &Pins {
            attestation_key: Some(&public),
            manifest_key: None,
        },
    );
    assert!(report.passed(), "{:?}", failures(&report));
    assert!(report
        .checks
        .iter()
        .any(|c| c.name == "signature" && c.verdict == Verdict::Pass));
}
