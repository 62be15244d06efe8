//! The layers of the workspace, checked on the real crate graph (`cargo metadata`): the domain core depends on
//! no adapter, nothing depends on a function crate or the CLI, no function depends on another, scanners never
//! reach the AWS adapters, and the HTTP crate does not pull the SQLite adapter into the Lambdas.
//! `docs/architecture.md` draws the layers; this test is the rule.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// A workspace crate, where it lives, and the workspace crates it depends on (dev-dependencies marked).
struct Crate {
    path: String,
    deps: Vec<(String, bool)>,
}

type Graph = BTreeMap<String, Crate>;

/// Crates of pure computation that the domain core may use (no I/O adapters among them).
const CORE_MAY_USE: &[&str] = &["certus-verify", "certus-attest"];
/// The scanners and what they are built from.
const SCANNER_CRATES: &[&str] = &[
    "certus-scanners",
    "certus-tools",
    "certus-secrets",
    "certus-sbom",
];
/// The AWS adapters and their wiring.
const AWS_CRATES: &[&str] = &[
    "certus-aws",
    "certus-dynamo",
    "certus-apigw",
    "certus-lambda",
];

fn workspace_graph() -> Graph {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(certus_testkit::workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let root = metadata["workspace_root"].as_str().unwrap().to_string();
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    packages
        .iter()
        .map(|p| {
            let manifest = p["manifest_path"].as_str().unwrap();
            let path = manifest
                .strip_prefix(&root)
                .unwrap_or(manifest)
                .trim_start_matches('/')
                .trim_end_matches("Cargo.toml")
                .trim_end_matches('/')
                .to_string();
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| members.contains(d["name"].as_str().unwrap()))
                .map(|d| (d["name"].as_str().unwrap().to_string(), d["kind"] == "dev"))
                .collect();
            (
                p["name"].as_str().unwrap().to_string(),
                Crate { path, deps },
            )
        })
        .collect()
}

/// Every edge that breaks a layer rule, as `from -> to: rule`.
fn violations(graph: &Graph) -> Vec<String> {
    let is_function = |name: &str| {
        graph
            .get(name)
            .is_some_and(|c| c.path.starts_with("functions/"))
    };
    let is_cli = |name: &str| graph.get(name).is_some_and(|c| c.path == "cli");
    let mut found = Vec::new();
    for (name, krate) in graph {
        for (dep, dev) in &krate.deps {
            let mut broken = |rule: &str| found.push(format!("{name} -> {dep}: {rule}"));
            if name == "certus-core" && !dev && !CORE_MAY_USE.contains(&dep.as_str()) {
                broken("the domain core depends on no adapter");
            }
            if is_function(dep) && is_function(name) {
                broken("no function depends on another");
            } else if is_function(dep) || is_cli(dep) {
                broken("nothing depends on a function crate or the CLI");
            }
            if SCANNER_CRATES.contains(&name.as_str()) && AWS_CRATES.contains(&dep.as_str()) {
                broken("scanners never reach the AWS adapters");
            }
            if name == "certus-api" && dep == "certus-local" && !dev {
                broken("the HTTP API does not pull the SQLite adapter into the Lambdas");
            }
        }
    }
    found
}

#[test]
fn the_crate_graph_keeps_its_layers() {
    let graph = workspace_graph();
    assert!(
        graph.contains_key("certus-core") && graph.len() > 20,
        "the graph was not read"
    );
    assert_eq!(violations(&graph), Vec::<String>::new());
}

#[test]
fn each_rule_catches_an_added_forbidden_edge() {
    let real = workspace_graph();
    for (from, to, rule) in [
        ("certus-core", "certus-local", "the domain core"),
        ("certus-core", "certus-aws", "the domain core"),
        ("push-trigger", "api", "no function depends on another"),
        ("certus-stages", "build-bundle", "function crate"),
        ("certus-integration", "certus", "function crate or the CLI"),
        ("certus-scanners", "certus-aws", "scanners never reach"),
        ("certus-api", "certus-local", "SQLite adapter"),
    ] {
        let mut graph = workspace_graph();
        graph
            .get_mut(from)
            .unwrap()
            .deps
            .push((to.to_string(), false));
        let found = violations(&graph);
        assert!(
            found
                .iter()
                .any(|v| v.starts_with(&format!("{from} -> {to}:")) && v.contains(rule)),
            "{from} -> {to} was not refused: {found:?}"
        );
        assert_eq!(found.len(), violations(&real).len() + 1, "{found:?}");
    }
}
