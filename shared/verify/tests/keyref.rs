//! Key reference parsing and local loading; remote references ask the caller to resolve them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::path::PathBuf;

use certus_verify::{KeyRef, VerifyError};

#[test]
fn parses_every_reference_kind() {
    assert_eq!(
        "keys/cosign.pub".parse::<KeyRef>().unwrap(),
        KeyRef::File(PathBuf::from("keys/cosign.pub"))
    );
    assert_eq!(
        "file:///etc/cosign.pub".parse::<KeyRef>().unwrap(),
        KeyRef::File(PathBuf::from("/etc/cosign.pub"))
    );
    assert_eq!(
        "env://COSIGN_PUBLIC_KEY".parse::<KeyRef>().unwrap(),
        KeyRef::Env("COSIGN_PUBLIC_KEY".into())
    );
    assert_eq!(
        "s3://bucket/keys/cosign.pub".parse::<KeyRef>().unwrap(),
        KeyRef::S3 {
            bucket: "bucket".into(),
            key: "keys/cosign.pub".into()
        }
    );
    let kms = "awskms:///arn:aws:kms:eu-west-1:111122223333:key/abcd";
    assert_eq!(kms.parse::<KeyRef>().unwrap(), KeyRef::AwsKms(kms.into()));
    assert_eq!(kms.parse::<KeyRef>().unwrap().to_string(), kms);
    assert_eq!(
        "s3://b/k".parse::<KeyRef>().unwrap().to_string(),
        "s3://b/k"
    );
}

#[test]
fn rejects_malformed_references() {
    for bad in [
        "",
        "  ",
        "env://",
        "env://1BAD",
        "env://A-B",
        "s3://bucket",
        "s3:///key",
        "s3://bucket/",
        "awskms://",
        "file://",
        "https://example.com/key.pub",
    ] {
        match bad.parse::<KeyRef>() {
            Err(VerifyError::InvalidKeyRef { key_ref, .. }) => assert_eq!(key_ref, bad),
            other => panic!("{bad:?}: expected InvalidKeyRef, got {other:?}"),
        }
    }
}

#[test]
fn remote_references_need_resolution_by_the_caller() {
    for remote in ["s3://bucket/cosign.pub", "awskms://alias/manifest"] {
        let key_ref: KeyRef = remote.parse().unwrap();
        assert!(key_ref.is_remote());
        match key_ref.load_local() {
            Err(err @ VerifyError::NeedsRemoteResolution { .. }) => {
                assert!(err.to_string().contains("needs remote resolution"), "{err}");
            }
            other => panic!("expected NeedsRemoteResolution, got {other:?}"),
        }
    }
}

#[test]
#[allow(unsafe_code)] // sets a process variable that only this test reads
fn loads_keys_from_files_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pem) = common::p256_key(dir.path(), "signer");
    let path = dir.path().join("signer.pub");
    let from_file = KeyRef::File(path.clone()).load_local().unwrap();
    let from_url = format!("file://{}", path.display())
        .parse::<KeyRef>()
        .unwrap()
        .load_local()
        .unwrap();
    assert_eq!(from_file.fingerprint(), from_url.fingerprint());

    let var = "CERTUS_VERIFY_TEST_KEY_PEM";
    // Only this test sets this variable.
    unsafe { std::env::set_var(var, &pem) };
    let from_env = format!("env://{var}")
        .parse::<KeyRef>()
        .unwrap()
        .load_local()
        .unwrap();
    assert_eq!(from_env.fingerprint(), from_file.fingerprint());

    let missing = KeyRef::Env("CERTUS_VERIFY_TEST_UNSET_VARIABLE".into()).load_local();
    assert!(
        matches!(missing, Err(VerifyError::KeyEnv(_))),
        "{missing:?}"
    );
    let absent = KeyRef::File(dir.path().join("absent.pub")).load_local();
    assert!(
        matches!(absent, Err(VerifyError::KeyFile { .. })),
        "{absent:?}"
    );
}

#[test]
fn oversized_key_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pub");
    std::fs::write(&path, vec![b'A'; 200 * 1024]).unwrap();
    let result = KeyRef::File(path).load_local();
    assert!(
        matches!(result, Err(VerifyError::TooLarge { .. })),
        "{result:?}"
    );
}
