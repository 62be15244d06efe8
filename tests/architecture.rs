//! The layers of the workspace, checked on the real crate graph (`cargo metadata`): the domain core depends on
//! no adapter, nothing depends on a function crate or the CLI, no function depends on another, scanners never
//! reach the AWS adapters, the HTTP crate does not pull the SQLite adapter into the Lambdas, and test support
//! is only ever a dev-dependency. Every workspace crate has a layer in [`LAYERS`] (a new crate must be placed);
//! the rules are data in [`RULES`]. `docs/architecture.md` draws the layers; this test is the rule.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Where a crate sits. An edge may only point the way `docs/architecture.md` draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    /// The domain core: types, ports, the pipeline written against the ports.
    Domain,
    /// Pure computation the domain may use (signature verification, DSSE/in-toto): no I/O.
    DomainLib,
    /// Adapters that run on any machine: SQLite, directories, HTTP, git, fetching, Trust, triggers, stages.
    Adapter,
    /// The scanners and what they are built from.
    Scanner,
    /// The AWS adapters and the wiring of the Lambdas onto them.
    Aws,
    /// One thin crate per Lambda (`functions/*`).
    Function,
    /// The `certus` binary.
    Cli,
    /// Shared test support and the end-to-end test crate.
    TestSupport,
    /// Benchmark drivers.
    Bench,
}
use Layer::*;

/// Every workspace crate outside `functions/` and its layer, by package name.
const LAYERS: &[(&str, Layer)] = &[
    ("certus-core", Domain),
    ("certus-verify", DomainLib),
    ("certus-attest", DomainLib),
    ("certus-local", Adapter),
    ("certus-source", Adapter),
    ("certus-fetch", Adapter),
    ("certus-trust", Adapter),
    ("certus-triggers", Adapter),
    ("certus-stages", Adapter),
    ("certus-api", Adapter),
    ("certus-scanners", Scanner),
    ("certus-tools", Scanner),
    ("certus-secrets", Scanner),
    ("certus-beneath", Scanner),
    ("certus-sbom", Scanner),
    ("certus-aws", Aws),
    ("certus-dynamo", Aws),
    ("certus-apigw", Aws),
    ("certus-lambda", Aws),
    ("certus-runtime", Aws),
    ("certus-advisories", Aws),
    ("certus", Cli),
    ("certus-testkit", TestSupport),
    ("certus-integration", TestSupport),
    ("certus-bench-hashing", Bench),
];
/// Crates under this directory are function crates, whatever their name.
const FUNCTIONS_DIR: &str = "functions/";

/// Which end of an edge a rule matches.
#[derive(Clone, Copy)]
enum Side {
    Any,
    In(&'static [Layer]),
    NotIn(&'static [Layer]),
    Crate(&'static str),
}

/// Which dependency kinds a rule covers: what ships (normal and build), or every edge (dev too).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kinds {
    Shipped,
    All,
}

/// A forbidden edge: `from -> to` over `kinds`, and why. The first rule that matches an edge names it.
struct Rule {
    from: Side,
    to: Side,
    kinds: Kinds,
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        from: Side::In(&[Domain, DomainLib]),
        to: Side::NotIn(&[DomainLib]),
        kinds: Kinds::Shipped,
        why: "the domain core depends on no adapter (only on certus-verify and certus-attest)",
    },
    Rule {
        from: Side::In(&[Function]),
        to: Side::In(&[Function]),
        kinds: Kinds::All,
        why: "no function depends on another",
    },
    Rule {
        from: Side::Any,
        to: Side::In(&[Function, Cli]),
        kinds: Kinds::All,
        why: "nothing depends on a function crate or the CLI",
    },
    Rule {
        from: Side::In(&[Scanner]),
        to: Side::In(&[Aws]),
        kinds: Kinds::Shipped,
        why: "scanners never reach the AWS adapters",
    },
    Rule {
        from: Side::Crate("certus-api"),
        to: Side::Crate("certus-local"),
        kinds: Kinds::Shipped,
        why: "the HTTP API does not pull the SQLite adapter into the Lambdas",
    },
    Rule {
        from: Side::NotIn(&[TestSupport]),
        to: Side::In(&[TestSupport]),
        kinds: Kinds::Shipped,
        why: "test support is only a dev-dependency",
    },
];

/// How one crate depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Normal,
    Build,
    Dev,
}

/// A workspace crate, where it lives, and the workspace crates it depends on.
struct Crate {
    path: String,
    deps: Vec<(String, Kind)>,
}

type Graph = BTreeMap<String, Crate>;

/// `cargo metadata` of the workspace's own packages.
fn workspace_metadata() -> Value {
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
    serde_json::from_slice(&output.stdout).unwrap()
}

fn workspace_graph() -> Graph {
    let metadata = workspace_metadata();
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
                .map(|d| {
                    let kind = match d["kind"].as_str() {
                        None => Kind::Normal,
                        Some("build") => Kind::Build,
                        Some("dev") => Kind::Dev,
                        Some(other) => panic!("unknown dependency kind {other:?}"),
                    };
                    (d["name"].as_str().unwrap().to_string(), kind)
                })
                .collect();
            (
                p["name"].as_str().unwrap().to_string(),
                Crate { path, deps },
            )
        })
        .collect()
}

/// The layer of a workspace crate, or `None` when nobody placed it.
fn layer_of(graph: &Graph, name: &str) -> Option<Layer> {
    if graph
        .get(name)
        .is_some_and(|c| c.path.starts_with(FUNCTIONS_DIR))
    {
        return Some(Function);
    }
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

fn side_matches(side: Side, name: &str, layer: Layer) -> bool {
    match side {
        Side::Any => true,
        Side::In(layers) => layers.contains(&layer),
        Side::NotIn(layers) => !layers.contains(&layer),
        Side::Crate(crate_name) => crate_name == name,
    }
}

/// Crates without a layer (in the graph but not placed) and names in [`LAYERS`] no crate has.
fn unplaced(graph: &Graph) -> Vec<String> {
    let mut found: Vec<String> = graph
        .keys()
        .filter(|name| layer_of(graph, name).is_none())
        .map(|name| format!("{name}: no layer in LAYERS"))
        .collect();
    found.extend(
        LAYERS
            .iter()
            .filter(|(name, _)| !graph.contains_key(*name))
            .map(|(name, _)| format!("{name}: in LAYERS but not a workspace crate")),
    );
    found
}

/// Every edge that breaks a rule, as `from -> to (kind): why`.
fn violations(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for (name, krate) in graph {
        let Some(from_layer) = layer_of(graph, name) else {
            continue;
        };
        for (dep, kind) in &krate.deps {
            let Some(to_layer) = layer_of(graph, dep) else {
                continue;
            };
            let broken = RULES.iter().find(|rule| {
                (rule.kinds == Kinds::All || *kind != Kind::Dev)
                    && side_matches(rule.from, name, from_layer)
                    && side_matches(rule.to, dep, to_layer)
            });
            if let Some(rule) = broken {
                found.push(format!("{name} -> {dep} ({kind:?}): {}", rule.why));
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
    assert_eq!(unplaced(&graph), Vec::<String>::new());
    assert_eq!(violations(&graph), Vec::<String>::new());
}

#[test]
fn each_rule_catches_an_added_forbidden_edge() {
    let real = workspace_graph();
    for (from, to, kind, rule) in [
        (
            "certus-core",
            "certus-local",
            Kind::Normal,
            "the domain core",
        ),
        ("certus-core", "certus-aws", Kind::Build, "the domain core"),
        ("certus-core", "certus-api", Kind::Normal, "the domain core"),
        (
            "certus-verify",
            "certus-fetch",
            Kind::Normal,
            "the domain core",
        ),
        (
            "push-trigger",
            "api",
            Kind::Normal,
            "no function depends on another",
        ),
        (
            "ws",
            "finalize",
            Kind::Dev,
            "no function depends on another",
        ),
        (
            "certus-stages",
            "build-bundle",
            Kind::Normal,
            "function crate",
        ),
        ("certus-lambda", "run-scanner", Kind::Dev, "function crate"),
        (
            "certus-integration",
            "certus",
            Kind::Dev,
            "function crate or the CLI",
        ),
        (
            "certus-scanners",
            "certus-aws",
            Kind::Normal,
            "scanners never reach",
        ),
        (
            "certus-secrets",
            "certus-lambda",
            Kind::Build,
            "scanners never reach",
        ),
        (
            "certus-sbom",
            "certus-dynamo",
            Kind::Normal,
            "scanners never reach",
        ),
        ("certus-api", "certus-local", Kind::Normal, "SQLite adapter"),
        (
            "certus-local",
            "certus-testkit",
            Kind::Normal,
            "only a dev-dependency",
        ),
    ] {
        let mut graph = workspace_graph();
        graph
            .get_mut(from)
            .unwrap()
            .deps
            .push((to.to_string(), kind));
        let found = violations(&graph);
        assert!(
            found
                .iter()
                .any(|v| v.starts_with(&format!("{from} -> {to} ({kind:?}):")) && v.contains(rule)),
            "{from} -> {to} ({kind:?}) was not refused: {found:?}"
        );
        assert_eq!(found.len(), violations(&real).len() + 1, "{found:?}");
    }
}

#[test]
fn dev_dependencies_on_shared_crates_are_allowed() {
    let real = workspace_graph();
    for (from, to) in [
        ("certus-core", "certus-local"),
        ("certus-api", "certus-local"),
        ("certus-scanners", "certus-aws"),
        ("certus-verify", "certus-testkit"),
    ] {
        let mut graph = workspace_graph();
        graph
            .get_mut(from)
            .unwrap()
            .deps
            .push((to.to_string(), Kind::Dev));
        assert_eq!(
            violations(&graph),
            violations(&real),
            "{from} -> {to} (Dev)"
        );
    }
}

#[test]
fn a_crate_nobody_placed_is_named() {
    let mut graph = workspace_graph();
    graph.insert(
        "certus-newthing".to_string(),
        Crate {
            path: "shared/newthing".to_string(),
            deps: Vec::new(),
        },
    );
    graph.insert(
        "new-function".to_string(),
        Crate {
            path: "functions/new-function".to_string(),
            deps: Vec::new(),
        },
    );
    assert_eq!(
        unplaced(&graph),
        vec!["certus-newthing: no layer in LAYERS".to_string()]
    );
    graph.remove("certus-sbom");
    assert!(
        unplaced(&graph).contains(&"certus-sbom: in LAYERS but not a workspace crate".to_string())
    );
}

/// Every member takes the workspace's lints and is never published (cargo deny reads an unpublished crate's
/// path dependencies as ours, not as wildcards): a new crate that forgets either is named here, before CI's
/// clippy or deny run finds it the slow way.
#[test]
fn every_member_takes_the_workspace_lints_and_is_never_published() {
    let metadata = workspace_metadata();
    let mut missing = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        if package["publish"] != serde_json::json!([]) {
            missing.push(format!("{name}: publish = false"));
        }
        let manifest = std::fs::read_to_string(package["manifest_path"].as_str().unwrap()).unwrap();
        let lints = manifest.split("\n[").any(|section| {
            section
                .trim_start_matches('[')
                .starts_with("lints]\nworkspace = true")
        });
        if !lints {
            missing.push(format!("{name}: [lints] workspace = true"));
        }
    }
    assert_eq!(missing, Vec::<String>::new());
}
