//! Key files: load_or_generate creates 0600 files atomically, reloads the same key, survives races,
//! and refuses keys that group or others can access.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use certus_attest::{
    load_or_generate, load_or_generate_with, Algorithm, AttestError, SigningKey, MAX_KEY_PEM_BYTES,
};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn load_or_generate_creates_a_0600_p256_key_and_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signing.pem");
    let created = load_or_generate(&path).unwrap();
    assert_eq!(created.algorithm(), Algorithm::EcdsaP256Sha256);
    assert_eq!(mode(&path), 0o600);
    assert!(fs::read_to_string(&path)
        .unwrap()
        .starts_with("-----BEGIN\x20PRIVATE KEY-----\n"));
    assert_eq!(
        dir_entries(dir.path()),
        vec!["signing.pem".to_string()],
        "no temp file left"
    );

    let reloaded = load_or_generate(&path).unwrap();
    assert_eq!(reloaded.key_id(), created.key_id());
    assert_eq!(SigningKey::load(&path).unwrap().key_id(), created.key_id());
}

#[test]
fn load_or_generate_with_ed25519() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ed.pem");
    let created = load_or_generate_with(&path, Algorithm::Ed25519).unwrap();
    assert_eq!(created.algorithm(), Algorithm::Ed25519);
    assert_eq!(mode(&path), 0o600);
    // An existing key wins over the requested algorithm: the file is never replaced.
    let loaded = load_or_generate_with(&path, Algorithm::EcdsaP256Sha256).unwrap();
    assert_eq!(loaded.key_id(), created.key_id());
}

#[test]
fn refuses_key_files_readable_by_group_or_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    let key = load_or_generate(&path).unwrap();
    let before = fs::read(&path).unwrap();
    for insecure in [0o644, 0o640, 0o604, 0o620] {
        fs::set_permissions(&path, fs::Permissions::from_mode(insecure)).unwrap();
        for result in [SigningKey::load(&path), load_or_generate(&path)] {
            match result {
                Err(err @ AttestError::InsecureKeyFile { .. }) => {
                    let message = err.to_string();
                    assert!(
                        message.contains(&format!("mode {insecure:04o}")),
                        "{message}"
                    );
                    assert!(message.contains("chmod 600"), "{message}");
                }
                other => panic!("mode {insecure:o}: expected InsecureKeyFile, got {other:?}"),
            }
        }
    }
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "an insecure key file is never replaced"
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(SigningKey::load(&path).unwrap().key_id(), key.key_id());
}

#[test]
fn save_never_overwrites_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    fs::write(&path, b"existing").unwrap();
    let key = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    match key.save(&path) {
        Err(AttestError::Io {
            action: "create",
            source,
            ..
        }) => {
            assert_eq!(source.kind(), ErrorKind::AlreadyExists);
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(fs::read(&path).unwrap(), b"existing");
    assert_eq!(
        dir_entries(dir.path()),
        vec!["key.pem".to_string()],
        "no temp file left"
    );
}

#[test]
fn racing_creators_all_get_the_single_winning_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("shared.pem"));
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let path = Arc::clone(&path);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                load_or_generate(&path).unwrap().key_id().to_string()
            })
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let on_disk = SigningKey::load(&path).unwrap();
    assert!(ids.iter().all(|id| id == on_disk.key_id()), "{ids:?}");
    assert_eq!(dir_entries(dir.path()), vec!["shared.pem".to_string()]);
}

#[test]
fn load_reports_missing_unreadable_and_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    match SigningKey::load(&missing) {
        Err(err @ AttestError::Io { .. }) => {
            assert!(
                err.to_string().starts_with("cannot open key file "),
                "{err}"
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }

    let sub = dir.path().join("subdir");
    fs::create_dir(&sub).unwrap();
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(
        SigningKey::load(&sub),
        Err(AttestError::InvalidKey { reason, .. }) if reason == "not a regular file"
    ));

    let write_private = |name: &str, contents: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let garbage = write_private("garbage.pem", b"hello");
    match SigningKey::load(&garbage) {
        Err(AttestError::InvalidKey { origin, reason }) => {
            assert_eq!(origin, garbage.display().to_string());
            assert!(reason.contains("no PEM block found"));
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    let binary = write_private("binary.pem", &[0xff, 0xfe, 0x00]);
    assert!(matches!(
        SigningKey::load(&binary),
        Err(AttestError::InvalidKey { reason, .. }) if reason == "not UTF-8 PEM text"
    ));
    let huge = write_private("huge.pem", &vec![b'A'; MAX_KEY_PEM_BYTES + 1]);
    assert!(matches!(
        SigningKey::load(&huge),
        Err(AttestError::InvalidKey { reason, .. }) if reason.contains("larger than the limit")
    ));
    // A malformed existing file is reported, never replaced by a fresh key.
    assert!(matches!(
        load_or_generate(&garbage),
        Err(AttestError::InvalidKey { .. })
    ));
    assert_eq!(fs::read(&garbage).unwrap(), b"hello");
}

#[test]
fn save_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/key.pem");
    match load_or_generate(&path) {
        Err(AttestError::Io { source, .. }) => assert_eq!(source.kind(), ErrorKind::NotFound),
        other => panic!("expected Io NotFound, got {other:?}"),
    }
}
