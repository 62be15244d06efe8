//! CycloneDX 1.5 and SPDX 2.3 output: required fields, hashes, purls and determinism.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_sbom::{inventory, Inventory, SbomMeta};
use common::{cyclonedx_json, spdx_json, write};
use serde_json::Value;

const TIMESTAMP: &str = "2026-01-02T03:04:05Z";

fn sample_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web/package-lock.json",
        r#"{"lockfileVersion":3,"packages":{
            "":{"name":"web","version":"1.0.0","dependencies":{"@angular/core":"^16"}},
            "node_modules/@angular/core":{"version":"16.2.0",
              "integrity":"sha512-SBuTAjg91A3eKOvD+bPEz3LlhHZRNu1nFOVts9lzDJTXshHTjII0BAtDS3Y2DAkdZdDKWVZGVwkDfc4Clxn1dg=="}}}"#,
    );
    write(dir.path(), "requirements.txt", "flask==3.0.0\nrequests\n");
    write(
        dir.path(),
        "Cargo.lock",
        "version = 3\n[[package]]\nname = \"itoa\"\nversion = \"1.0.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"af150ab688ff2122fcef229be89cb50dd66af9e01a4ff320cc137eecc9bacc38\"\n",
    );
    write(
        dir.path(),
        "go.mod",
        "module example.com/svc\nrequire golang.org/x/text v0.13.0\n",
    );
    write(
        dir.path(),
        "go.sum",
        "golang.org/x/text v0.13.0 h1:ablQoSUd0tRdKxZewP80B+BaqeKJuVhuRxj/dkrun3k=\n",
    );
    dir
}

fn scanned() -> Inventory {
    let dir = sample_tree();
    let inventory = inventory(dir.path()).unwrap();
    assert!(inventory.errors.is_empty(), "{:?}", inventory.errors);
    inventory
}

fn meta() -> SbomMeta {
    SbomMeta::new("acme/shop", Some("abc123"), TIMESTAMP)
}

#[test]
fn cyclonedx_has_required_fields_and_components() {
    let bom = cyclonedx_json(&scanned(), &meta());
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["version"], 1);
    let serial = bom["serialNumber"].as_str().unwrap();
    let uuid = serial.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "8", "RFC 9562 version 8");
    assert!(
        matches!(&uuid[19..20], "8" | "9" | "a" | "b"),
        "RFC variant"
    );
    assert_eq!(bom["metadata"]["timestamp"], TIMESTAMP);
    assert_eq!(
        bom["metadata"]["tools"]["components"][0]["name"],
        "certus-sbom"
    );
    assert_eq!(bom["metadata"]["component"]["name"], "acme/shop");
    assert_eq!(bom["metadata"]["component"]["version"], "abc123");

    let components = bom["components"].as_array().unwrap();
    let refs: Vec<&str> = components
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let mut sorted = refs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(refs, sorted, "sorted and unique");
    assert_eq!(
        refs,
        vec![
            "pkg:cargo/itoa@1.0.9",
            "pkg:golang/example.com/svc",
            "pkg:golang/golang.org/x/text@v0.13.0",
            "pkg:npm/%40angular/core@16.2.0",
            "pkg:npm/web@1.0.0",
            "pkg:pypi/flask@3.0.0",
            "pkg:pypi/requests",
        ]
    );
    for component in components {
        assert_eq!(component["bom-ref"], component["purl"]);
    }
    let itoa = &components[0];
    assert_eq!(itoa["type"], "library");
    assert_eq!(itoa["version"], "1.0.9");
    assert_eq!(itoa["hashes"][0]["alg"], "SHA-256");
    assert_eq!(
        itoa["hashes"][0]["content"],
        "af150ab688ff2122fcef229be89cb50dd66af9e01a4ff320cc137eecc9bacc38"
    );
    let angular = &components[3];
    assert_eq!(angular["name"], "@angular/core");
    assert_eq!(angular["hashes"][0]["alg"], "SHA-512");
    let text = &components[2];
    assert!(
        text.get("hashes").is_none(),
        "go.sum h1 is not an archive digest"
    );
    let properties = text["properties"].as_array().unwrap();
    assert!(properties.contains(&serde_json::json!({"name":"certus:go-sum-h1","value":"h1:ablQoSUd0tRdKxZewP80B+BaqeKJuVhuRxj/dkrun3k="})));
    assert!(properties.contains(&serde_json::json!({"name":"certus:dependency","value":"direct"})));
    assert!(properties.contains(&serde_json::json!({"name":"certus:source-file","value":"go.mod"})));
    assert_eq!(components[4]["type"], "application");
    assert!(components[6].get("version").is_none());
}

#[test]
fn spdx_created_has_no_fraction_of_a_second() {
    let with_millis = SbomMeta::new("acme/shop", None, "2026-01-02T03:04:05.678Z");
    let doc = spdx_json(&scanned(), &with_millis);
    assert_eq!(doc["creationInfo"]["created"], "2026-01-02T03:04:05Z");
}

#[test]
fn spdx_has_required_fields_relationships_and_purls() {
    let doc = spdx_json(&scanned(), &meta());
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
    assert_eq!(doc["name"], "acme/shop");
    let namespace = doc["documentNamespace"].as_str().unwrap();
    assert!(
        namespace.starts_with("https://certus-assurance.invalid/spdx/acme-shop-"),
        "{namespace}"
    );
    assert_eq!(doc["creationInfo"]["created"], TIMESTAMP);
    assert_eq!(
        doc["creationInfo"]["creators"][0],
        format!("Tool: certus-sbom-{}", env!("CARGO_PKG_VERSION"))
    );

    let packages = doc["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 8, "root + 7 components");
    let ids: Vec<&str> = packages
        .iter()
        .map(|p| p["SPDXID"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    for id in &ids {
        assert!(id.starts_with("SPDXRef-"));
        assert!(
            id[8..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
    }
    for package in &packages[1..] {
        assert_eq!(package["downloadLocation"], "NOASSERTION");
        assert_eq!(package["filesAnalyzed"], false);
        let reference = &package["externalRefs"][0];
        assert_eq!(reference["referenceCategory"], "PACKAGE-MANAGER");
        assert_eq!(reference["referenceType"], "purl");
        assert!(reference["referenceLocator"]
            .as_str()
            .unwrap()
            .starts_with("pkg:"));
    }
    let itoa = packages.iter().find(|p| p["name"] == "itoa").unwrap();
    assert_eq!(itoa["versionInfo"], "1.0.9");
    assert_eq!(itoa["checksums"][0]["algorithm"], "SHA256");

    let relationships = doc["relationships"].as_array().unwrap();
    assert_eq!(relationships[0]["spdxElementId"], "SPDXRef-DOCUMENT");
    assert_eq!(relationships[0]["relationshipType"], "DESCRIBES");
    assert_eq!(
        relationships[0]["relatedSpdxElement"],
        "SPDXRef-RootPackage"
    );
    assert_eq!(relationships.len(), 8);
    for relationship in &relationships[1..] {
        assert_eq!(relationship["relationshipType"], "DEPENDS_ON");
        assert!(ids.contains(&relationship["relatedSpdxElement"].as_str().unwrap()));
    }
}

#[test]
fn output_is_deterministic_for_same_input_and_timestamp() {
    let first = (
        cyclonedx_json(&scanned(), &meta()),
        spdx_json(&scanned(), &meta()),
    );
    let second = (
        cyclonedx_json(&scanned(), &meta()),
        spdx_json(&scanned(), &meta()),
    );
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap(),
        "two scans of two identical trees must serialise identically"
    );
    let serial = |bom: &Value| bom["serialNumber"].as_str().unwrap().to_string();
    let later = SbomMeta::new("acme/shop", Some("abc123"), "2026-01-02T03:04:06Z");
    assert_ne!(
        serial(&first.0),
        serial(&cyclonedx_json(&scanned(), &later))
    );
    let mut relabelled = scanned();
    relabelled.components[0].relation = certus_sbom::Relation::Transitive;
    assert_ne!(
        serial(&first.0),
        serial(&cyclonedx_json(&relabelled, &meta()))
    );
    let mut fewer = scanned();
    fewer.components.pop();
    assert_ne!(serial(&first.0), serial(&cyclonedx_json(&fewer, &meta())));
    assert_ne!(
        first.1["documentNamespace"],
        spdx_json(&fewer, &meta())["documentNamespace"]
    );
}
