//! CycloneDX 1.5 JSON rendering of an inventory. The document borrows from the inventory and is serialised
//! straight to JSON: no tree of values is built (an inventory of a large tree runs to megabytes). Fields are
//! declared in the order they are written, which is alphabetical.

use serde::Serialize;

use super::{document_uuid, SbomMeta};
use crate::model::{Component, HashAlgorithm, Inventory, Relation};

/// Renders a CycloneDX 1.5 BOM; components are sorted by purl, which is also their `bom-ref`.
pub fn cyclonedx<'a>(inventory: &'a Inventory, meta: &'a SbomMeta) -> CycloneDx<'a> {
    CycloneDx {
        schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
        bom_format: "CycloneDX",
        components: inventory.components.iter().map(BomComponent::of).collect(),
        metadata: Metadata {
            component: Subject {
                bom_ref: format!("certus:source:{}", meta.name),
                name: &meta.name,
                kind: "application",
                version: meta.version.as_deref(),
            },
            timestamp: &meta.timestamp,
            tools: Tools {
                components: [Tool {
                    name: &meta.tool_name,
                    kind: "application",
                    version: &meta.tool_version,
                }],
            },
        },
        serial_number: format!("urn:uuid:{}", document_uuid(inventory, meta)),
        spec_version: "1.5",
        version: 1,
    }
}

/// A CycloneDX 1.5 BOM, ready to serialise.
#[derive(Debug, Serialize)]
pub struct CycloneDx<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    components: Vec<BomComponent<'a>>,
    metadata: Metadata<'a>,
    #[serde(rename = "serialNumber")]
    serial_number: String,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    version: u32,
}

#[derive(Debug, Serialize)]
struct Metadata<'a> {
    component: Subject<'a>,
    timestamp: &'a str,
    tools: Tools<'a>,
}

/// The scanned source.
#[derive(Debug, Serialize)]
struct Subject<'a> {
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Tools<'a> {
    components: [Tool<'a>; 1],
}

#[derive(Debug, Serialize)]
struct Tool<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'a str,
}

#[derive(Debug, Serialize)]
struct BomComponent<'a> {
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hashes: Option<[Hash<'a>; 1]>,
    name: &'a str,
    properties: Vec<Property<'a>>,
    purl: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Hash<'a> {
    alg: &'static str,
    content: &'a str,
}

#[derive(Debug, Serialize)]
struct Property<'a> {
    name: &'static str,
    value: &'a str,
}

impl<'a> BomComponent<'a> {
    fn of(component: &'a Component) -> Self {
        let kind = if component.relation == Relation::Project {
            "application"
        } else {
            "library"
        };
        let hashes = component.checksum.as_ref().and_then(|checksum| {
            let alg = checksum.algorithm.sbom_names()?.cyclonedx;
            Some([Hash {
                alg,
                content: &checksum.value,
            }])
        });
        BomComponent {
            bom_ref: &component.purl,
            hashes,
            name: &component.name,
            properties: properties(component),
            purl: &component.purl,
            kind,
            version: component.version.as_deref(),
        }
    }
}

fn properties(component: &Component) -> Vec<Property<'_>> {
    let mut properties = vec![Property {
        name: "certus:dependency",
        value: relation_name(component.relation),
    }];
    if let Some(checksum) = &component.checksum {
        if checksum.algorithm == HashAlgorithm::GoH1 {
            properties.push(Property {
                name: "certus:go-sum-h1",
                value: &checksum.value,
            });
        }
    }
    properties.extend(component.source_files.iter().map(|file| Property {
        name: "certus:source-file",
        value: file,
    }));
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
