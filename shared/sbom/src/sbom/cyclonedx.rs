//! CycloneDX 1.5 JSON rendering of an inventory.

use serde_json::{json, Value};

use super::{document_uuid, SbomMeta};
use crate::model::{Component, HashAlgorithm, Inventory, Relation};

/// Renders a CycloneDX 1.5 BOM; components are sorted by purl, which is also their `bom-ref`.
pub fn cyclonedx_json(inventory: &Inventory, meta: &SbomMeta) -> Value {
    let mut subject = json!({
        "type": "application",
        "bom-ref": format!("certus:source:{}", meta.name),
        "name": meta.name,
    });
    if let Some(version) = &meta.version {
        subject["version"] = json!(version);
    }
    // Values built here are moved into the document, never passed to `json!` (which copies them).
    let mut bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", document_uuid(inventory, meta)),
        "version": 1,
        "metadata": {
            "timestamp": meta.timestamp,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": meta.tool_name,
                    "version": meta.tool_version,
                }]
            },
        },
    });
    bom["metadata"]["component"] = subject;
    bom["components"] = Value::Array(inventory.components.iter().map(component).collect());
    bom
}

fn component(component: &Component) -> Value {
    let kind = if component.relation == Relation::Project {
        "application"
    } else {
        "library"
    };
    let mut value = json!({
        "type": kind,
        "bom-ref": component.purl,
        "name": component.name,
        "purl": component.purl,
    });
    value["properties"] = Value::Array(properties(component));
    if let Some(version) = &component.version {
        value["version"] = json!(version);
    }
    if let Some(checksum) = &component.checksum {
        let algorithm = match checksum.algorithm {
            HashAlgorithm::Sha1 => Some("SHA-1"),
            HashAlgorithm::Sha256 => Some("SHA-256"),
            HashAlgorithm::Sha384 => Some("SHA-384"),
            HashAlgorithm::Sha512 => Some("SHA-512"),
            HashAlgorithm::GoH1 => None,
        };
        if let Some(algorithm) = algorithm {
            value["hashes"] = json!([{ "alg": algorithm, "content": checksum.value }]);
        }
    }
    value
}

fn properties(component: &Component) -> Vec<Value> {
    let mut properties = vec![json!({
        "name": "certus:dependency",
        "value": relation_name(component.relation),
    })];
    if let Some(checksum) = &component.checksum {
        if checksum.algorithm == HashAlgorithm::GoH1 {
            properties.push(json!({ "name": "certus:go-sum-h1", "value": checksum.value }));
        }
    }
    properties.extend(
        component
            .source_files
            .iter()
            .map(|file| json!({ "name": "certus:source-file", "value": file })),
    );
    properties
}

/// Lowercase relation name used in both SBOM formats.
pub(crate) fn relation_name(relation: Relation) -> &'static str {
    match relation {
        Relation::Unknown => "unknown",
        Relation::Transitive => "transitive",
        Relation::Direct => "direct",
        Relation::Project => "project",
    }
}
