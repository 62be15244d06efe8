//! SPDX 2.3 JSON rendering of an inventory. The document borrows from the inventory and is serialised straight
//! to JSON: no tree of values is built. Fields are declared in the order they are written, which is
//! alphabetical.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cyclonedx::relation_name;
use super::{document_uuid, SbomMeta};
use crate::model::{Component, Inventory};

const ROOT_ID: &str = "SPDXRef-RootPackage";
const NOASSERTION: &str = "NOASSERTION";

/// Renders an SPDX 2.3 document: the document DESCRIBES the scanned source, which DEPENDS_ON
/// every component (each carrying its purl as a PACKAGE-MANAGER external reference).
pub fn spdx<'a>(inventory: &'a Inventory, meta: &'a SbomMeta) -> Spdx<'a> {
    let uuid = document_uuid(inventory, meta);
    let mut packages = vec![Package {
        primary_package_purpose: Some("SOURCE"),
        ..Package::new(ROOT_ID.to_string(), &meta.name, meta.version.as_deref())
    }];
    let mut relationships = vec![Relationship {
        related: ROOT_ID.to_string(),
        kind: "DESCRIBES",
        element: "SPDXRef-DOCUMENT",
    }];
    for component in &inventory.components {
        let package = Package::of(component);
        relationships.push(Relationship {
            related: package.spdx_id.clone(),
            kind: "DEPENDS_ON",
            element: ROOT_ID,
        });
        packages.push(package);
    }
    Spdx {
        spdx_id: "SPDXRef-DOCUMENT",
        creation_info: CreationInfo {
            created: spdx_created(&meta.timestamp),
            creators: [format!("Tool: {}-{}", meta.tool_name, meta.tool_version)],
        },
        data_license: "CC0-1.0",
        document_namespace: format!(
            "https://certus-assurance.invalid/spdx/{}-{uuid}",
            id_safe(&meta.name)
        ),
        name: &meta.name,
        packages,
        relationships,
        spdx_version: "SPDX-2.3",
    }
}

/// An SPDX 2.3 document, ready to serialise.
#[derive(Debug, Serialize)]
pub struct Spdx<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    #[serde(rename = "creationInfo")]
    creation_info: CreationInfo,
    #[serde(rename = "dataLicense")]
    data_license: &'static str,
    #[serde(rename = "documentNamespace")]
    document_namespace: String,
    name: &'a str,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship>,
    #[serde(rename = "spdxVersion")]
    spdx_version: &'static str,
}

#[derive(Debug, Serialize)]
struct CreationInfo {
    created: String,
    creators: [String; 1],
}

#[derive(Debug, Serialize)]
struct Package<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksums: Option<[Checksum<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(rename = "copyrightText")]
    copyright_text: &'static str,
    #[serde(rename = "downloadLocation")]
    download_location: &'static str,
    #[serde(rename = "externalRefs", skip_serializing_if = "Option::is_none")]
    external_refs: Option<[ExternalRef<'a>; 1]>,
    #[serde(rename = "filesAnalyzed")]
    files_analyzed: bool,
    #[serde(rename = "licenseConcluded")]
    license_concluded: &'static str,
    #[serde(rename = "licenseDeclared")]
    license_declared: &'static str,
    name: &'a str,
    #[serde(
        rename = "primaryPackagePurpose",
        skip_serializing_if = "Option::is_none"
    )]
    primary_package_purpose: Option<&'static str>,
    #[serde(rename = "versionInfo", skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Checksum<'a> {
    algorithm: &'static str,
    #[serde(rename = "checksumValue")]
    checksum_value: &'a str,
}

#[derive(Debug, Serialize)]
struct ExternalRef<'a> {
    #[serde(rename = "referenceCategory")]
    reference_category: &'static str,
    #[serde(rename = "referenceLocator")]
    reference_locator: &'a str,
    #[serde(rename = "referenceType")]
    reference_type: &'static str,
}

#[derive(Debug, Serialize)]
struct Relationship {
    #[serde(rename = "relatedSpdxElement")]
    related: String,
    #[serde(rename = "relationshipType")]
    kind: &'static str,
    #[serde(rename = "spdxElementId")]
    element: &'static str,
}

impl<'a> Package<'a> {
    /// A package that asserts nothing beyond its name and version.
    fn new(spdx_id: String, name: &'a str, version: Option<&'a str>) -> Self {
        Package {
            spdx_id,
            checksums: None,
            comment: None,
            copyright_text: NOASSERTION,
            download_location: NOASSERTION,
            external_refs: None,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION,
            name,
            primary_package_purpose: None,
            version_info: version,
        }
    }

    fn of(component: &'a Component) -> Self {
        let checksums = component.checksum.as_ref().and_then(|checksum| {
            let algorithm = checksum.algorithm.sbom_names()?.spdx;
            Some([Checksum {
                algorithm,
                checksum_value: &checksum.value,
            }])
        });
        Package {
            checksums,
            comment: Some(format!(
                "dependency: {}; found in: {}",
                relation_name(component.relation),
                component.source_files.join(", ")
            )),
            external_refs: Some([ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_locator: &component.purl,
                reference_type: "purl",
            }]),
            ..Package::new(
                spdx_id(component),
                &component.name,
                component.version.as_deref(),
            )
        }
    }
}

/// SPDX 2.3 wants `created` as `YYYY-MM-DDThh:mm:ssZ`: a fraction of a second (`…05.123Z`) is dropped;
/// any other form is kept as given.
fn spdx_created(timestamp: &str) -> String {
    match (timestamp.find('.'), timestamp.strip_suffix('Z')) {
        (Some(dot), Some(_))
            if timestamp[dot + 1..timestamp.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit()) =>
        {
            format!("{}Z", &timestamp[..dot])
        }
        _ => timestamp.to_string(),
    }
}

/// `SPDXRef-<ecosystem>-<readable name>-<12 hex of the purl's SHA-256>`: unique and valid.
fn spdx_id(component: &Component) -> String {
    let digest = Sha256::digest(component.purl.as_bytes());
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "SPDXRef-{}-{}-{short}",
        component.ecosystem.as_str(),
        id_safe(&component.name)
    )
}

/// Keeps letters, digits, `.` and `-`; everything else becomes `-`.
fn id_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
