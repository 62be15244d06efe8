//! Scanning a directory tree: relative '/' paths, sorting, binary / oversize / symlink / allowlisted
//! skipping with reasons, confinement to the root, thread-count independence, report redaction.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::fs;
use std::path::Path;

use certus_secrets::{RuleSet, ScanOptions, ScanReport, Scanner, SecretsError, SkipReason};
use common::{Fake, ALNUM};

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

fn scanner(threads: usize, max_file_size: u64) -> Scanner {
    Scanner::new(
        RuleSet::default_rules().expect("default rules"),
        ScanOptions {
            max_file_size,
            threads,
            ..ScanOptions::default()
        },
    )
}

fn reason_of<'a>(report: &'a ScanReport, rel: &str) -> Option<&'a SkipReason> {
    report
        .skipped
        .iter()
        .find(|(p, _)| p == rel)
        .map(|(_, r)| r)
}

struct Tree {
    dir: tempfile::TempDir,
    outside: tempfile::TempDir,
    secrets: Vec<String>,
}

fn build_tree() -> Tree {
    let mut fake = Fake::new(0x7ee);
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let npm = ["np", "m_", &fake.string(ALNUM, 36)].concat();
    let ghp = ["gh", "p_", &fake.string(ALNUM, 36)].concat();
    let stripe = ["sk", "_live_", &fake.string(ALNUM, 24)].concat();
    write(root, "src/z.py", format!("a = 1\nt = {ghp}\n").as_bytes());
    write(root, "src/a.py", format!("\n\n{npm}\n{ghp}\n").as_bytes());
    write(
        root,
        "deep/er/still/b.txt",
        format!("{stripe}\n").as_bytes(),
    );
    let mut binary = b"\x00\x01ELF".to_vec();
    binary.extend_from_slice(npm.as_bytes());
    write(root, "bin/tool", &binary);
    let mut big = format!("{stripe}\n").into_bytes();
    big.resize(5000, b'a');
    write(root, "big.txt", &big);
    write(root, "yarn.lock", npm.as_bytes());
    write(root, "keys/site.pfx", b"\x00binary");
    write(outside.path(), "leak.txt", format!("{ghp}\n").as_bytes());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("leak.txt"), root.join("link.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink(outside.path(), root.join("linkdir")).expect("symlink");
    }
    Tree {
        dir,
        outside,
        secrets: vec![npm, ghp, stripe],
    }
}

#[test]
fn tree_scan_reports_sorted_relative_findings_and_skip_reasons() {
    let tree = build_tree();
    let report = scanner(2, 4096).scan_tree(tree.dir.path()).expect("scan");
    let got: Vec<(&str, u64, &str)> = report
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.line, f.rule_id.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("deep/er/still/b.txt", 1, "stripe-key"),
            ("keys/site.pfx", 1, "keystore-file"),
            ("src/a.py", 3, "npm-token"),
            ("src/a.py", 4, "github-token"),
            ("src/z.py", 2, "github-token"),
        ]
    );
    assert_eq!(report.files_scanned, 3);
    let text_bytes: u64 = ["src/z.py", "src/a.py", "deep/er/still/b.txt"]
        .iter()
        .map(|p| fs::metadata(tree.dir.path().join(p)).expect("meta").len())
        .sum();
    assert_eq!(report.bytes_scanned, text_bytes);
    assert_eq!(reason_of(&report, "bin/tool"), Some(&SkipReason::Binary));
    assert_eq!(
        reason_of(&report, "keys/site.pfx"),
        Some(&SkipReason::Binary)
    );
    assert_eq!(
        reason_of(&report, "big.txt"),
        Some(&SkipReason::TooLarge {
            size: 5000,
            limit: 4096
        })
    );
    assert_eq!(
        reason_of(&report, "yarn.lock"),
        Some(&SkipReason::AllowlistedPath)
    );
    #[cfg(unix)]
    {
        assert_eq!(reason_of(&report, "link.txt"), Some(&SkipReason::Symlink));
        assert_eq!(reason_of(&report, "linkdir"), Some(&SkipReason::Symlink));
    }
    assert_eq!(report.skipped_omitted, 0);
    assert_eq!(report.findings_omitted, 0);
    assert!(report.rule_errors.is_empty());
    assert!(tree.outside.path().join("leak.txt").exists());

    let json = serde_json::to_string(&report).expect("serialise");
    let debug = format!("{report:?}");
    for secret in &tree.secrets {
        assert!(!json.contains(secret.as_str()) && !debug.contains(secret.as_str()));
    }
    assert!(json.contains("\"kind\":\"too_large\""));
    assert_eq!(
        SkipReason::TooLarge {
            size: 5000,
            limit: 4096
        }
        .to_string(),
        "file too large (5000 bytes > 4096 byte limit)"
    );
}

#[test]
fn thread_count_does_not_change_the_report() {
    let tree = build_tree();
    let one = scanner(1, 4096).scan_tree(tree.dir.path()).expect("scan");
    let four = scanner(4, 4096).scan_tree(tree.dir.path()).expect("scan");
    let zero = scanner(0, 4096).scan_tree(tree.dir.path()).expect("scan");
    assert_eq!(one, four);
    assert_eq!(one, zero);
}

#[test]
fn big_files_are_scanned_when_under_the_cap() {
    let tree = build_tree();
    let report = scanner(2, 1 << 20)
        .scan_tree(tree.dir.path())
        .expect("scan");
    assert!(report
        .findings
        .iter()
        .any(|f| f.path == "big.txt" && f.rule_id == "stripe-key"));
    assert_eq!(reason_of(&report, "big.txt"), None);
}

#[test]
fn invalid_roots_are_errors() {
    let tree = build_tree();
    let file = tree.dir.path().join("src/a.py");
    let err = scanner(1, 1024).scan_tree(&file).expect_err("not a dir");
    assert!(
        matches!(err, SecretsError::InvalidRoot { ref reason, .. } if reason == "not a directory")
    );
    let missing = tree.dir.path().join("missing");
    assert!(matches!(
        scanner(1, 1024).scan_tree(&missing),
        Err(SecretsError::InvalidRoot { .. })
    ));
}

#[test]
fn very_deep_trees_stop_at_the_depth_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rel = String::new();
    for _ in 0..70 {
        rel.push_str("d/");
    }
    write(dir.path(), &format!("{rel}f.txt"), b"x");
    let report = scanner(1, 1024).scan_tree(dir.path()).expect("scan");
    assert_eq!(report.files_scanned, 0);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].1, SkipReason::TooDeep { limit: 64 });
    assert_eq!(report.skipped[0].0.matches('/').count(), 64);
}

#[test]
fn a_verdict_known_without_reading_is_the_one_a_read_gives() {
    let tree = build_tree();
    let scanner = scanner(1, 4096);
    let mut buf = Vec::new();
    for (rel, binary) in [
        ("bin/tool", true),
        ("keys/site.pfx", true),
        ("big.txt", false),
        ("yarn.lock", false),
        ("src/a.py", false),
    ] {
        let abs = tree.dir.path().join(rel);
        let size = fs::metadata(&abs).expect("meta").len();
        let read = scanner.scan_opened(rel, || fs::File::open(&abs), &mut buf);
        match scanner.scan_unread(rel, size, binary) {
            Some(unread) => {
                assert_eq!(unread.findings, read.findings, "{rel}");
                assert_eq!(unread.skipped, read.skipped, "{rel}");
                assert!(unread.stat.is_none(), "{rel} was not opened");
            }
            None => assert!(!binary && size <= 4096, "{rel} is judged without a read"),
        }
    }
    // Over the limit whatever its content, and never for a file known to be text within it.
    assert_eq!(
        scanner
            .scan_unread("src/a.py", 5000, false)
            .unwrap()
            .skipped,
        Some(SkipReason::TooLarge {
            size: 5000,
            limit: 4096
        })
    );
    assert!(scanner.scan_unread("src/a.py", 10, false).is_none());
}

#[test]
fn a_file_scanned_from_bytes_read_elsewhere_gets_the_verdict_its_own_read_gives() {
    let tree = build_tree();
    let scanner = scanner(1, 4096);
    let mut buf = Vec::new();
    let mut secrets = 0;
    for rel in [
        "src/a.py",
        "src/z.py",
        "bin/tool",
        "keys/site.pfx",
        "big.txt",
        "yarn.lock",
    ] {
        let abs = tree.dir.path().join(rel);
        let opened = scanner.scan_opened(rel, || fs::File::open(&abs), &mut buf);
        let read = scanner.scan_read(rel, &fs::read(&abs).expect("read"));
        assert_eq!(read.findings, opened.findings, "{rel}");
        assert_eq!(read.skipped, opened.skipped, "{rel}");
        assert!(read.stat.is_none(), "{rel} was not opened");
        secrets += read.findings.len();
    }
    assert!(secrets >= 3, "the planted secrets are found: {secrets}");
}

/// While one thread swaps a directory of the tree for a link to a directory outside it and back, as fast as
/// it can, scans of the tree never report what lies outside: each directory is listed, and each file opened,
/// through the descriptors of the directories above it, and a link in the way is refused wherever it appears.
#[cfg(unix)]
#[test]
fn a_directory_swapped_for_a_link_during_the_walk_is_never_read_through() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut fake = Fake::new(0x5a9);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tree");
    let outside = dir.path().join("outside");
    // Many files under `app/`, so the walk and the workers take time between listing and opening them.
    for n in 0..200 {
        write(&root, &format!("app/f{n:03}.txt"), b"nothing here\n");
        let planted = ["gh", "p_", &fake.string(ALNUM, 36)].concat();
        write(
            &outside,
            &format!("f{n:03}.txt"),
            format!("t = {planted}\n").as_bytes(),
        );
    }
    let scanner = scanner(2, 1 << 20);
    let stop = AtomicBool::new(false);
    let (mut through_link, mut read_in_app) = (0, 0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let (app, kept) = (root.join("app"), dir.path().join("kept"));
            while !stop.load(Ordering::Relaxed) {
                fs::rename(&app, &kept).expect("move app away");
                std::os::unix::fs::symlink(&outside, &app).expect("link app");
                std::thread::sleep(std::time::Duration::from_micros(300));
                fs::remove_file(&app).expect("unlink app");
                fs::rename(&kept, &app).expect("move app back");
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
        });
        for _ in 0..300 {
            let report = scanner.scan_tree(&root).expect("scan");
            through_link += report.findings.len();
            read_in_app += report.files_scanned;
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(through_link, 0, "secrets outside the tree were reported");
    // The race was run: scans read files of `app/` while it was being swapped.
    assert!(read_in_app > 0);
}
