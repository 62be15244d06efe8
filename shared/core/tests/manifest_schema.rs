//! docs/manifest.schema.json against the parser: the repository's manifests are valid for both, and every
//! refusal of the parser (tests/fixtures/manifest-refusals.json) is refused by the schema too — except the
//! few the schema says it cannot express, which it must then accept (so its description stays true).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};

use certus_core::manifest::Manifest;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/manifest.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::draft202012::new(&schema).expect("the schema is a valid 2020-12 schema")
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

#[test]
fn the_repository_manifests_keep_the_contract() {
    let validator = schema();
    let manifests = [
        "examples/demo-app/certus-manifest.json",
        "bench/cost/manifest.json",
        "bench/scan-large/manifest.json",
    ];
    for rel in manifests {
        let bytes = std::fs::read(root().join(rel)).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            schema_errors(&validator, &value),
            Vec::<String>::new(),
            "{rel}"
        );
        if let Err(e) = Manifest::parse(&bytes) {
            panic!("{rel}: {e}");
        }
    }
}

#[test]
fn a_manifest_using_every_field_is_valid_for_both() {
    let text = r##"{
        "$schema": "https://example.invalid/manifest.schema.json",
        "product": "p", "version": "1", "owners": [{"team": "t"}], "presets": {"base": "x"},
        "notify": ["#appsec"], "compliance": {"soc2": ["CC7.1"]}, "annotations": {"a": "b"},
        "bundle": {"runtimeCeilingMinutes": 30},
        "profiles": [
            {"name": "light", "tools": ["secrets", {"id": "sbom", "config": {"advisories": "required"}},
                                        {"id": "semgrep", "optional": true, "config": {}}],
             "thresholds": {"critical": 0, "high": 0, "medium": 10, "low": 50},
             "thresholdScope": "new", "requiresStack": false, "stackBaseUrl": "https://stack.example.invalid"},
            {"name": "inventory", "tools": [{"id": "syft", "config": {"advisories": "off"}}], "thresholds": "none"},
            {"name": "sample", "tools": ["sample"], "thresholds": {}}
        ],
        "suppressions": [
            {"tool": "gitleaks", "rule": "generic-api-key", "path": "tests/**", "reason": "fixtures", "expires": "2030-01-31"},
            {"fingerprint": "abc", "reason": "accepted"}
        ],
        "appliesTo": {"repositories": ["github.com/acme/*"], "components": ["c"], "workspaces": ["w"],
                      "notAfter": "2030-01-31", "profiles": ["LIGHT", "inventory"]}
    }"##;
    let value: Value = serde_json::from_str(text).unwrap();
    assert_eq!(schema_errors(&schema(), &value), Vec::<String>::new());
    if let Err(e) = Manifest::parse(text.as_bytes()) {
        panic!("{e}");
    }
}

#[test]
fn every_refusal_of_the_parser_is_refused_by_the_schema() {
    let validator = schema();
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifest-refusals.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut parser_only = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let manifest = &case["manifest"];
        let err = Manifest::parse(manifest.to_string().as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{name}: the parser accepted {manifest}"));
        assert!(
            err.to_string().contains(case["error"].as_str().unwrap()),
            "{name}: {err}"
        );
        let found = schema_errors(&validator, manifest);
        if case["schema"] == "rejects" {
            assert!(!found.is_empty(), "{name}: the schema accepted {manifest}");
        } else {
            parser_only += 1;
            assert_eq!(found, Vec::<String>::new(), "{name}");
        }
    }
    assert_eq!(
        parser_only, 4,
        "the schema's description names what it cannot say"
    );
}
