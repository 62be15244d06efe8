//! The evidence of a demo scan checked with validators nobody here wrote: every SPDX document with
//! pyspdxtools (spdx-tools), every CycloneDX document with cyclonedx-python-lib's strict JSON schema
//! validator, and every SARIF rule for the fields viewers explain a finding with. The validators live in the
//! venv `scripts/install-validators.sh` builds (`CERTUS_VALIDATORS_VENV`); without it the test is skipped,
//! and fails in CI. Scanned: `examples/clean-app` and `examples/demo-app` (Python dependencies, planted
//! secrets, the demo OSV advisories), and a Rust lockfile matched against the RustSec snapshot in
//! `../shared` (advisories with URLs, so rules carry `helpUri`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn validators() -> Option<PathBuf> {
    certus_testkit::require(
        std::env::var_os("CERTUS_VALIDATORS_VENV")
            .map(PathBuf::from)
            .filter(|venv| venv.join("bin/pyspdxtools").is_file()),
        "validators venv missing (CERTUS_VALIDATORS_VENV unset; scripts/install-validators.sh builds it)",
    )
}

/// Scans `source` under the demo manifest's `builtin` profile (secrets and sbom) with `advisories`, and
/// returns the bundle directory.
fn scan(source: &Path, advisories: &Path, data: &Path) -> PathBuf {
    let root = certus_testkit::workspace_root();
    let out = Command::new(env!("CARGO_BIN_EXE_certus"))
        .arg("scan")
        .arg(source)
        .arg("--manifest")
        .arg(root.join("examples/demo-app/certus-manifest.json"))
        .args(["--profile", "builtin", "--json"])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env("CERTUS_ASSURANCE_ADVISORY_DB", advisories)
        .env_remove("CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env_remove("CERTUS_ASSURANCE_DYNAMODB_JOBS_TABLE")
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .output()
        .expect("certus runs");
    // Exit 1 is a scan whose findings break the thresholds (the demo app's): its bundle is complete.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    PathBuf::from(job["bundle_location"].as_str().expect("a bundle"))
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_ending(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found.sort();
    found
}

fn assert_ran(what: &str, out: std::process::Output) {
    assert!(
        out.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks every SBOM and SARIF file of the bundle; returns the SARIF rules by tool.
fn validate_bundle(venv: &Path, bundle: &Path) -> Vec<(String, Value)> {
    let spdx = files_ending(bundle, ".spdx.json");
    let cyclonedx = files_ending(bundle, ".cyclonedx.json");
    assert!(
        !spdx.is_empty() && !cyclonedx.is_empty(),
        "SBOMs in {bundle:?}"
    );
    for doc in &spdx {
        let out = Command::new(venv.join("bin/pyspdxtools"))
            .arg("-i")
            .arg(doc)
            .output()
            .unwrap();
        assert_ran(&format!("pyspdxtools {}", doc.display()), out);
        let parsed: Value = serde_json::from_slice(&std::fs::read(doc).unwrap()).unwrap();
        assert!(
            parsed["packages"].as_array().unwrap().len() > 1,
            "{doc:?} lists the dependencies"
        );
    }
    for doc in &cyclonedx {
        let out = Command::new(venv.join("bin/python"))
            .args(["-c", CYCLONEDX_CHECK])
            .arg(doc)
            .output()
            .unwrap();
        assert_ran(&format!("cyclonedx-python-lib {}", doc.display()), out);
    }
    let mut rules = Vec::new();
    for log in files_ending(bundle, ".sarif.json") {
        let parsed: Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
        for run in parsed["runs"].as_array().unwrap() {
            let tool = run["tool"]["driver"]["name"].as_str().unwrap().to_string();
            for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
                for text in [
                    &rule["shortDescription"]["text"],
                    &rule["fullDescription"]["text"],
                    &rule["help"]["text"],
                    &rule["help"]["markdown"],
                ] {
                    assert!(
                        text.as_str().is_some_and(|t| !t.trim().is_empty()),
                        "{log:?}: rule {} lacks a description or help",
                        rule["id"]
                    );
                }
                rules.push((tool.clone(), rule.clone()));
            }
        }
    }
    rules
}

/// Validates one CycloneDX JSON file against the schema of its own `specVersion`, strictly.
const CYCLONEDX_CHECK: &str = r#"
import json, sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
text = open(sys.argv[1], encoding="utf-8").read()
version = SchemaVersion.from_version(json.loads(text)["specVersion"])
error = JsonStrictValidator(version).validate_str(text)
if error is not None:
    sys.exit(f"invalid CycloneDX {version}: {error}")
"#;

#[test]
fn every_sbom_of_the_demo_scans_passes_outside_validators_and_every_rule_explains_itself() {
    let Some(venv) = validators() else {
        return;
    };
    let root = certus_testkit::workspace_root();
    let work = tempfile::tempdir().unwrap();
    let demo_advisories = root.join("examples/advisories");
    let mut all_rules = Vec::new();
    for app in ["clean-app", "demo-app"] {
        let copy = work.path().join(app);
        certus_testkit::copy_dir(&root.join("examples").join(app), &copy);
        let bundle = scan(
            &copy,
            &demo_advisories,
            &work.path().join(format!("data-{app}")),
        );
        all_rules.extend(validate_bundle(&venv, &bundle));
    }
    assert!(
        all_rules.iter().any(|(tool, _)| tool == "secrets"),
        "the demo app's planted secrets give rules"
    );
    assert!(
        all_rules.iter().any(|(tool, _)| tool == "sbom"),
        "the demo app's pinned dependencies match advisories"
    );

    let Some(shared) = certus_testkit::shared_dir("data/rustsec-advisory-db") else {
        return;
    };
    let crate_app = work.path().join("mixed-app");
    std::fs::create_dir_all(crate_app.join("web")).unwrap();
    for (path, text) in MIXED_LOCKFILES {
        std::fs::write(crate_app.join(path), text).unwrap();
    }
    let bundle = scan(
        &crate_app,
        &shared.join("data/rustsec-advisory-db"),
        &work.path().join("data-rust"),
    );
    let rules = validate_bundle(&venv, &bundle);
    let advisories: Vec<&Value> = rules
        .iter()
        .filter(|(tool, _)| tool == "sbom")
        .map(|(_, rule)| rule)
        .collect();
    assert!(
        advisories.iter().any(|r| r["id"] == "RUSTSEC-2021-0003"),
        "{advisories:?}"
    );
    for rule in advisories {
        let uri = rule["helpUri"].as_str().unwrap_or_default();
        assert!(
            uri.starts_with("https://"),
            "{} has helpUri {uri:?}",
            rule["id"]
        );
        assert!(rule["help"]["markdown"].as_str().unwrap().contains(uri));
        assert_ne!(
            rule["fullDescription"]["text"], rule["shortDescription"]["text"],
            "{}: the advisory's body describes it",
            rule["id"]
        );
    }
}

/// Lockfiles of four ecosystems, with the shapes an SBOM must render validly: a scoped npm name with a
/// SHA-512 integrity, an unpinned requirement (no version), a Go module with an `h1:` hash, and a Rust
/// project pinned to a `smallvec` that RUSTSEC-2021-0003 covers.
const MIXED_LOCKFILES: [(&str, &str); 5] = [
    ("Cargo.lock", CARGO_LOCK),
    (
        "web/package-lock.json",
        r#"{"lockfileVersion":3,"packages":{
            "":{"name":"web","version":"1.0.0","dependencies":{"@angular/core":"^16"}},
            "node_modules/@angular/core":{"version":"16.2.0",
              "integrity":"sha512-SBuTAjg91A3eKOvD+bPEz3LlhHZRNu1nFOVts9lzDJTXshHTjII0BAtDS3Y2DAkdZdDKWVZGVwkDfc4Clxn1dg=="}}}"#,
    ),
    ("requirements.txt", "flask==3.0.0\nrequests\n"),
    (
        "go.mod",
        "module example.com/svc\nrequire golang.org/x/text v0.13.0\n",
    ),
    (
        "go.sum",
        "golang.org/x/text v0.13.0 h1:ablQoSUd0tRdKxZewP80B+BaqeKJuVhuRxj/dkrun3k=\n",
    ),
];

const CARGO_LOCK: &str = r#"# This file is automatically @generated by Cargo.
version = 3

[[package]]
name = "demo"
version = "0.1.0"
dependencies = [
 "smallvec",
]

[[package]]
name = "smallvec"
version = "1.6.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "fe0f37c9e8f3c5a4a66ad655a93c74daac4ad00c441533bf5c6e7990bb42604e"
"#;
