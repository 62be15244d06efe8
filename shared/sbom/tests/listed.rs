//! Choosing lockfiles from a list of a tree's files gives exactly what walking the tree gives: the same
//! components, lockfiles, problems and SBOM documents, on a tree with every ecosystem and every pruning rule.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::path::Path;

use certus_sbom::{inventory, select_lockfiles, Inventory, SbomMeta};
use common::write;
use common::{cyclonedx_json, spdx_json};

/// Every regular file under `root` (not following links, skipping `.git`), as a prepared file table lists them.
fn listed(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if entry.file_name() == ".git" {
            continue;
        }
        if kind.is_dir() {
            listed(root, &entry.path(), out);
        } else if kind.is_file() {
            let relative = entry.path().strip_prefix(root).unwrap().to_owned();
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn files_of(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    listed(root, root, &mut out);
    // Deliberately not in path order: the selection sorts what it keeps as the walk does.
    out.reverse();
    out
}

const CARGO: &str = "version = 3\n[[package]]\nname = \"itoa\"\nversion = \"1.0.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"af150ab688ff2122fcef229be89cb50dd66af9e01a4ff320cc137eecc9bacc38\"\n";
const NPM: &str = r#"{"lockfileVersion":3,"packages":{"":{"name":"web","version":"1.0.0","dependencies":{"left-pad":"^1"}},"node_modules/left-pad":{"version":"1.3.0"}}}"#;
const POETRY: &str = "[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\noptional = false\npython-versions = \">=3.7\"\nfiles = []\n\n[metadata]\nlock-version = \"2.0\"\npython-versions = \"^3.11\"\ncontent-hash = \"0000\"\n";

fn every_ecosystem(root: &Path) {
    write(root, "Cargo.lock", CARGO);
    write(root, "web/package-lock.json", NPM);
    write(root, "web/node_modules/x/package-lock.json", NPM);
    write(root, "legacy/npm-shrinkwrap.json", NPM);
    write(
        root,
        "requirements.txt",
        "flask==3.0.0\n-r common/base.txt\n",
    );
    write(root, "common/base.txt", "attrs===23.1.0\n");
    write(
        root,
        "requirements/prod.txt",
        "gunicorn==21.2.0\nnot a requirement line ((\n",
    );
    write(root, "svc/poetry.lock", POETRY);
    write(
        root,
        "svc/pyproject.toml",
        "[tool.poetry]\nname = \"svc\"\n\n[tool.poetry.dependencies]\nrequests = \"^2.31\"\n",
    );
    write(
        root,
        "go/go.mod",
        "module example.com/svc\nrequire golang.org/x/text v0.13.0\n",
    );
    write(
        root,
        "go/go.sum",
        "golang.org/x/text v0.13.0 h1:ablQoSUd0tRdKxZewP80B+BaqeKJuVhuRxj/dkrun3k=\n",
    );
    // Pruned: vendor beside a go.mod; kept: a vendor folder without one, and a lone go.sum.
    write(
        root,
        "go/vendor/github.com/a/b/go.mod",
        "module github.com/a/b\n",
    );
    write(
        root,
        "js/vendor/Cargo.lock",
        CARGO.replace("1.0.9", "1.0.8").as_str(),
    );
    write(
        root,
        "lone/go.sum",
        "github.com/pkg/errors v0.9.1 h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=\n",
    );
    write(root, "broken/Cargo.lock", "this is [not toml");
    write(root, ".git/Cargo.lock", CARGO);
    // Past the walk's depth bound: a lockfile that is left out, and a directory that is reported.
    let deep: String = (0..18).map(|level| format!("d{level}/")).collect();
    write(root, &format!("{deep}requirements.txt"), "deep==1.0\n");
    write(root, "readme.md", "not a lockfile\n");
}

fn errors(inventory: &Inventory) -> Vec<String> {
    inventory.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn a_list_of_the_files_selects_and_reads_what_the_walk_does() {
    let dir = tempfile::tempdir().unwrap();
    every_ecosystem(dir.path());
    // A symlinked lockfile: neither walked nor listed.
    #[cfg(unix)]
    {
        std::fs::create_dir_all(dir.path().join("linked")).unwrap();
        std::os::unix::fs::symlink("../Cargo.lock", dir.path().join("linked/Cargo.lock")).unwrap();
    }
    let walked = inventory(dir.path()).unwrap();
    let files = files_of(dir.path());
    let selection = select_lockfiles(dir.path(), files.iter().map(String::as_str)).unwrap();
    for (path, &at) in selection.files().iter().zip(selection.positions()) {
        assert_eq!(&files[at], path);
    }
    assert!(selection.files().contains(&"go/go.sum".to_string()));
    assert!(!selection
        .files()
        .iter()
        .any(|f| f.contains("node_modules") || f.starts_with("go/vendor") || f.starts_with("d0/")));
    let from_list = selection.read();

    assert!(walked.components.len() > 6, "{:?}", walked.components);
    assert_eq!(from_list.components, walked.components);
    assert_eq!(from_list.lockfiles, walked.lockfiles);
    assert_eq!(errors(&from_list), errors(&walked));
    assert!(
        errors(&walked)
            .iter()
            .any(|e| e.contains("deeper than 16 levels"))
            && errors(&walked)
                .iter()
                .any(|e| e.contains("broken/Cargo.lock")),
        "{:?}",
        errors(&walked)
    );
    assert_eq!(from_list.inputs, walked.inputs);
    assert_eq!(
        walked.inputs,
        ["common/base.txt", "svc/pyproject.toml"],
        "siblings and includes that are not chosen lockfiles are the inputs"
    );
    let meta = SbomMeta::new("acme/shop", Some("abc123"), "2026-01-02T03:04:05Z");
    assert_eq!(
        cyclonedx_json(&from_list, &meta),
        cyclonedx_json(&walked, &meta)
    );
    assert_eq!(spdx_json(&from_list, &meta), spdx_json(&walked, &meta));
}

#[test]
fn a_list_naming_a_vendor_folder_of_a_go_module_leaves_it_out_even_when_go_mod_is_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "svc/vendor/Cargo.lock", CARGO);
    // go.mod as a symlink: not a listed regular file, but an entry the walk sees.
    #[cfg(unix)]
    std::os::unix::fs::symlink("elsewhere", dir.path().join("svc/go.mod")).unwrap();
    let walked = inventory(dir.path()).unwrap();
    let from_list = select_lockfiles(dir.path(), ["svc/vendor/Cargo.lock"])
        .unwrap()
        .read();
    assert_eq!(from_list.components, walked.components);
    #[cfg(unix)]
    assert!(walked.components.is_empty(), "{:?}", walked.components);
}

/// A directory of the tree swapped for a link to a directory outside it after the lockfiles were chosen (a
/// directory source being changed while it is scanned): the lockfile under it is refused and reported, and
/// nothing outside the tree reaches the inventory.
#[cfg(unix)]
#[test]
fn a_lockfile_under_a_directory_swapped_for_a_link_is_never_read_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let (root, outside) = (dir.path().join("tree"), dir.path().join("outside"));
    write(&root, "app/Cargo.lock", CARGO);
    write(&root, "requirements.txt", "flask==3.0.0\n");
    write(
        &outside,
        "Cargo.lock",
        &CARGO.replace("itoa", "planted-outside"),
    );
    let files = files_of(&root);
    let selection = select_lockfiles(&root, files.iter().map(String::as_str)).unwrap();
    assert!(selection.files().contains(&"app/Cargo.lock".to_string()));
    std::fs::rename(root.join("app"), dir.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("app")).unwrap();

    let read = selection.read();
    let names: Vec<&str> = read.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["flask"], "{names:?}");
    assert!(
        errors(&read).iter().any(|e| e.contains("app/Cargo.lock")),
        "{:?}",
        errors(&read)
    );
    // Walked afresh, the link is not entered either.
    let walked = inventory(&root).unwrap();
    let names: Vec<&str> = walked.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["flask"], "{names:?}");
}

/// A `go.sum` beside a `go.mod` is read through the same confined open as every lockfile: a link in its place
/// (to a file outside, or to nothing) is reported and never read; no `go.sum` at all is no problem.
#[test]
fn a_go_sum_that_is_a_link_is_reported_and_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let (root, outside) = (dir.path().join("tree"), dir.path().join("outside"));
    let go_mod = "module example.com/m\n\ngo 1.21\n\nrequire github.com/gorilla/mux v1.8.0\n";
    write(&root, "linked/go.mod", go_mod);
    write(&root, "dangling/go.mod", go_mod);
    write(&root, "none/go.mod", go_mod);
    write(
        &outside,
        "go.sum",
        "github.com/planted/outside v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    );
    std::os::unix::fs::symlink(outside.join("go.sum"), root.join("linked/go.sum")).unwrap();
    std::os::unix::fs::symlink(outside.join("gone"), root.join("dangling/go.sum")).unwrap();

    let read = inventory(&root).unwrap();
    let errors = errors(&read);
    for reported in ["linked/go.sum", "dangling/go.sum"] {
        assert!(
            errors.iter().any(|e| e.contains(reported)),
            "{reported}: {errors:?}"
        );
    }
    assert!(!errors.iter().any(|e| e.contains("none/")), "{errors:?}");
    assert!(
        !read.components.iter().any(|c| c.name.contains("planted")),
        "{:?}",
        read.components
    );
    assert!(!read.lockfiles.iter().any(|l| l.ends_with("go.sum")));
}
