//! OCI image manifests (and Docker v2 schema 2): parsing with a size cap already applied, and choosing the
//! layer that holds the wanted file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::digest::check_sha256_digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The `Accept` header value for manifest requests.
pub const ACCEPT_MANIFESTS: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// A content descriptor (one layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: u32,
    media_type: Option<String>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// The layers of an image manifest whose media type (in the body, else the Content-Type) is supported.
pub fn parse_layers(bytes: &[u8], content_type: Option<&str>) -> Result<Vec<Descriptor>, String> {
    let manifest: RawManifest = serde_json::from_slice(bytes)
        .map_err(|error| format!("the manifest is not valid image manifest JSON: {error}"))?;
    if manifest.schema_version != 2 {
        return Err(format!(
            "manifest schemaVersion {} is not supported (only 2)",
            manifest.schema_version
        ));
    }
    let header_type = content_type.map(|value| value.split(';').next().unwrap_or("").trim());
    let media_type = manifest.media_type.as_deref().or(header_type).unwrap_or("");
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        return Err(format!(
            "media type '{media_type}' is not an image manifest (an index must be resolved to a manifest digest first)"
        ));
    }
    for layer in &manifest.layers {
        check_sha256_digest(&layer.digest)?;
    }
    Ok(manifest.layers)
}

/// The layer titled `title`, or the only layer when no title is asked for.
pub fn select_layer(layers: &[Descriptor], title: Option<&str>) -> Result<Descriptor, String> {
    match title {
        Some(title) => {
            let mut matching = layers.iter().filter(|layer| {
                layer.annotations.get(TITLE_ANNOTATION).map(String::as_str) == Some(title)
            });
            match (matching.next(), matching.next()) {
                (Some(layer), None) => Ok(layer.clone()),
                (Some(_), Some(_)) => Err(format!("more than one layer is titled '{title}'")),
                (None, _) => Err(format!("no layer is titled '{title}' ({TITLE_ANNOTATION})")),
            }
        }
        None => match layers {
            [layer] => Ok(layer.clone()),
            _ => Err(format!(
                "the manifest has {} layers; name the wanted one with #<{TITLE_ANNOTATION}>",
                layers.len()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn manifest(layers: &[(&str, char)]) -> Vec<u8> {
        let layers: Vec<_> = layers
            .iter()
            .map(|(title, c)| {
                serde_json::json!({
                    "mediaType": "application/octet-stream",
                    "digest": digest(*c),
                    "size": 3,
                    "annotations": {TITLE_ANNOTATION: title},
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest('c'), "size": 2},
            "layers": layers,
        }))
        .unwrap()
    }

    #[test]
    fn selects_single_layer_or_by_title() {
        let layers = parse_layers(&manifest(&[("a.json", 'a')]), None).unwrap();
        assert_eq!(select_layer(&layers, None).unwrap().digest, digest('a'));
        let layers = parse_layers(&manifest(&[("a.json", 'a'), ("b.sig", 'b')]), None).unwrap();
        assert_eq!(
            select_layer(&layers, Some("b.sig")).unwrap().digest,
            digest('b')
        );
        let error = select_layer(&layers, None).unwrap_err();
        assert!(error.contains("has 2 layers"), "{error}");
        let error = select_layer(&layers, Some("c")).unwrap_err();
        assert!(error.contains("no layer is titled 'c'"), "{error}");
    }

    #[test]
    fn refuses_indexes_and_bad_documents() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        let error = parse_layers(index, None).unwrap_err();
        assert!(error.contains("not an image manifest"), "{error}");
        assert!(parse_layers(b"[]", None).unwrap_err().contains("not valid"));
        let v1 = br#"{"schemaVersion":1}"#;
        assert!(parse_layers(v1, Some(OCI_MANIFEST))
            .unwrap_err()
            .contains("schemaVersion 1"));
        let untyped = br#"{"schemaVersion":2,"layers":[]}"#;
        assert!(parse_layers(
            untyped,
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8")
        )
        .is_ok());
        let bad_digest =
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "layers":[{"mediaType":"x","digest":"sha512:00","size":1}]}"#;
        assert!(parse_layers(bad_digest, None)
            .unwrap_err()
            .contains("not supported"));
    }
}
