//! SPDX 2.3 JSON rendering of an inventory.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cyclonedx::relation_name;
use super::{document_uuid, SbomMeta};
use crate::model::{Component, HashAlgorithm, Inventory};

const ROOT_ID: &str = "SPDXRef-RootPackage";

/// Renders an SPDX 2.3 document: the document DESCRIBES the scanned source, which DEPENDS_ON
/// every component (each carrying its purl as a PACKAGE-MANAGER external reference).
pub fn spdx_json(inventory: &Inventory, meta: &SbomMeta) -> Value {
    let uuid = document_uuid(inventory, meta);
    let mut root = json!({
        "SPDXID": ROOT_ID,
        "name": meta.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "SOURCE",
    });
    if let Some(version) = &meta.version {
        root["versionInfo"] = json!(version);
    }
    let mut packages = vec![root];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": ROOT_ID,
    })];
    for component in &inventory.components {
        let id = spdx_id(component);
        relationships.push(json!({
            "spdxElementId": ROOT_ID,
            "relationshipType": "DEPENDS_ON",
            "relatedSpdxElement": id,
        }));
        packages.push(package(component, &id));
    }
    // The lists are moved into the document, never passed to `json!` (which copies them).
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": meta.name,
        "documentNamespace": format!(
            "https://certus-assurance.invalid/spdx/{}-{uuid}",
            id_safe(&meta.name)
        ),
        "creationInfo": {
            "created": spdx_created(&meta.timestamp),
            "creators": [format!("Tool: {}-{}", meta.tool_name, meta.tool_version)],
        },
    });
    document["packages"] = Value::Array(packages);
    document["relationships"] = Value::Array(relationships);
    document
}

fn package(component: &Component, id: &str) -> Value {
    let mut package = json!({
        "SPDXID": id,
        "name": component.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": component.purl,
        }],
        "comment": format!(
            "dependency: {}; found in: {}",
            relation_name(component.relation),
            component.source_files.join(", ")
        ),
    });
    if let Some(version) = &component.version {
        package["versionInfo"] = json!(version);
    }
    if let Some(checksum) = &component.checksum {
        let algorithm = match checksum.algorithm {
            HashAlgorithm::Sha1 => Some("SHA1"),
            HashAlgorithm::Sha256 => Some("SHA256"),
            HashAlgorithm::Sha384 => Some("SHA384"),
            HashAlgorithm::Sha512 => Some("SHA512"),
            HashAlgorithm::GoH1 => None,
        };
        if let Some(algorithm) = algorithm {
            package["checksums"] =
                json!([{ "algorithm": algorithm, "checksumValue": checksum.value }]);
        }
    }
    package
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
