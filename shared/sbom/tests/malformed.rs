//! Hostile or broken inputs: each bad file yields a clear per-file error and the rest still parse.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_sbom::{inventory, SbomError};
use common::write;

fn messages(errors: &[SbomError]) -> Vec<String> {
    let mut messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    messages.sort();
    messages
}

#[test]
fn one_bad_lockfile_per_format_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good/requirements.txt", "attrs==23.1.0\n");
    write(
        dir.path(),
        "cargo/Cargo.lock",
        "[[package]]\nname = \"x\"\n",
    );
    write(dir.path(), "cargo5/Cargo.lock", "version = 5\n");
    write(
        dir.path(),
        "npm/package-lock.json",
        "{\"lockfileVersion\": 3, \"packages\": [",
    );
    write(
        dir.path(),
        "npm9/package-lock.json",
        "{\"lockfileVersion\": 9}",
    );
    write(dir.path(), "npmtype/package-lock.json", "[1, 2]");
    write(dir.path(), "py/requirements.txt", "ok==1.0\n==2.0\n");
    write(dir.path(), "py2/requirements.txt", "bad-spec~1.0\n");
    write(dir.path(), "poetry/poetry.lock", "[[package]]\nname = 3\n");
    write(
        dir.path(),
        "go/go.mod",
        "module m\nrequire (\n\tgithub.com/a/b\n)\n",
    );
    write(
        dir.path(),
        "go2/go.mod",
        "module m\nrequire (\n\tgithub.com/a/b v1.0.0\n",
    );
    write(
        dir.path(),
        "go3/go.mod",
        "module m\nrequire github.com/a/b v1.0.0\n",
    );
    write(dir.path(), "go3/go.sum", "only-two fields\n");
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    std::fs::write(dir.path().join("bin/requirements.txt"), [0xff, 0xfe, 0x00]).unwrap();

    let inv = inventory(dir.path()).unwrap();
    let purls: Vec<&str> = inv.components.iter().map(|c| c.purl.as_str()).collect();
    assert_eq!(
        purls,
        vec![
            "pkg:golang/github.com/a/b@v1.0.0",
            "pkg:golang/m",
            "pkg:pypi/attrs@23.1.0",
            "pkg:pypi/ok@1.0"
        ],
        "good files still parsed; a bad line of a line-based lockfile drops only that line"
    );
    assert_eq!(
        inv.lockfiles,
        vec![
            "go/go.mod",
            "go2/go.mod",
            "go3/go.mod",
            "go3/go.sum",
            "good/requirements.txt",
            "py/requirements.txt",
            "py2/requirements.txt"
        ]
    );
    let messages = messages(&inv.errors);
    let expected_prefixes = [
        "bin/requirements.txt is not a valid requirements file: not UTF-8 text",
        "cargo/Cargo.lock is not a valid Cargo.lock: missing field `version`",
        "cargo5/Cargo.lock uses Cargo.lock version 5, which is not supported",
        "go/go.mod line 3: expected `require MODULE VERSION` (this line was skipped; the rest of the go.mod was read)",
        "go2/go.mod line 3: `require (` block is never closed (this line was skipped",
        "go3/go.sum line 1: expected `MODULE VERSION HASH` (this line was skipped",
        "npm/package-lock.json is not a valid package-lock.json: ",
        "npm9/package-lock.json uses package-lock.json version 9, which is not supported",
        "npmtype/package-lock.json is not a valid package-lock.json: top level is not a JSON object",
        "poetry/poetry.lock is not a valid poetry.lock: invalid type: integer `3`, expected a string",
        "py/requirements.txt line 2: `==2.0` does not start with a package name (this line was skipped; the rest of the requirements file was read)",
        "py2/requirements.txt line 1: `~1.0` is not a version specifier in `bad-spec~1.0` (this line was skipped",
    ];
    assert_eq!(messages.len(), expected_prefixes.len(), "{messages:#?}");
    for (message, prefix) in messages.iter().zip(expected_prefixes) {
        assert!(
            message.starts_with(prefix),
            "{message:?} should start with {prefix:?}"
        );
    }
    assert!(inv
        .errors
        .iter()
        .any(|e| matches!(e, SbomError::UnsupportedLockfileVersion { version: 5, .. })));
}

#[test]
fn an_unparsable_requirements_line_hides_no_other_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app/requirements.txt",
        "flask==3.0.0\nnot a valid requirement line %%%\nPyYAML==5.3\n",
    );
    let inv = inventory(dir.path()).unwrap();
    let purls: Vec<&str> = inv.components.iter().map(|c| c.purl.as_str()).collect();
    assert_eq!(purls, vec!["pkg:pypi/flask@3.0.0", "pkg:pypi/pyyaml@5.3"]);
    assert_eq!(inv.lockfiles, vec!["app/requirements.txt"]);
    assert_eq!(inv.errors.len(), 1);
    assert!(
        matches!(&inv.errors[0], SbomError::SkippedLine { path, line: 2, .. } if path == "app/requirements.txt"),
        "{:?}",
        inv.errors
    );
}

#[test]
fn oversized_lockfile_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("Cargo.lock")).unwrap();
    file.set_len(16 * 1024 * 1024 + 1).unwrap(); // sparse: costs no disk
    write(dir.path(), "requirements.txt", "attrs==23.1.0\n");
    let inv = inventory(dir.path()).unwrap();
    assert_eq!(inv.components.len(), 1);
    assert!(matches!(
        inv.errors.as_slice(),
        [SbomError::TooLarge {
            size: 16777217,
            limit: 16777216,
            ..
        }]
    ));
    assert_eq!(
        inv.errors[0].to_string(),
        "Cargo.lock is 16777217 bytes, over the 16777216-byte limit for this kind of file"
    );
}

#[test]
fn deeply_nested_npm_v1_tree_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut nested = String::from("{\"version\":\"1.0.0\"}");
    for _ in 0..300 {
        nested = format!("{{\"version\":\"1.0.0\",\"dependencies\":{{\"x\":{nested}}}}}");
    }
    write(
        dir.path(),
        "package-lock.json",
        &format!("{{\"lockfileVersion\":1,\"dependencies\":{{\"x\":{nested}}}}}"),
    );
    let inv = inventory(dir.path()).unwrap();
    // serde_json's recursion limit (128) stops it with an error instead of a stack overflow.
    assert_eq!(inv.errors.len(), 1, "{:?}", inv.errors);
    assert!(inv.errors[0].to_string().starts_with(
        "package-lock.json is not a valid package-lock.json: recursion limit exceeded"
    ));
}

#[test]
fn requirements_include_cycles_terminate() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "requirements-a.txt",
        "-r requirements-b.txt\na==1.0\n",
    );
    write(
        dir.path(),
        "requirements-b.txt",
        "--requirement=requirements-a.txt\nb==2.0\n",
    );
    let inv = inventory(dir.path()).unwrap();
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    assert_eq!(inv.components.len(), 2);
}

#[test]
fn missing_root_is_an_error() {
    let error = inventory(std::path::Path::new("/nonexistent/source/tree")).unwrap_err();
    assert!(matches!(error, SbomError::NotADirectory { .. }));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "file.txt", "x");
    assert!(matches!(
        inventory(&dir.path().join("file.txt")),
        Err(SbomError::NotADirectory { .. })
    ));
}
