//! Media types of the pushed bundle artifact: the manifest, its empty config, and each file's layer type
//! chosen by its name.

/// The OCI image manifest media type.
pub const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The `artifactType` of a pushed bundle.
pub const BUNDLE_ARTIFACT: &str = "application/vnd.certus.bundle.v1";
/// The media type of the empty config blob.
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The empty config blob itself.
pub const EMPTY_CONFIG_BYTES: &[u8] = b"{}";

/// The layer media type of a bundle file, from its bundle-relative path.
pub fn layer_media_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let by_suffix = [
        (".sarif.json", "application/sarif+json"),
        (".cyclonedx.json", "application/vnd.cyclonedx+json"),
        (".spdx.json", "application/spdx+json"),
        (".intoto.json", "application/vnd.dsse.envelope.v1+json"),
        (".json", "application/json"),
        (".jsonl", "application/x-ndjson"),
        (".md", "text/markdown"),
        (".log", "text/plain"),
        (".pem", "application/x-pem-file"),
    ];
    by_suffix
        .iter()
        .find(|(suffix, _)| name.ends_with(suffix))
        .map_or("application/octet-stream", |(_, media_type)| media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_media_types_by_the_most_specific_suffix() {
        assert_eq!(
            layer_media_type("reports/sast/merged.sarif.json"),
            "application/sarif+json"
        );
        assert_eq!(
            layer_media_type("reports/sbom/sbom.spdx.json"),
            "application/spdx+json"
        );
        assert_eq!(layer_media_type("bundle-index.json"), "application/json");
        assert_eq!(layer_media_type("stream.jsonl"), "application/x-ndjson");
        assert_eq!(layer_media_type("logs/runner.log"), "text/plain");
        assert_eq!(layer_media_type("manifest.sig"), "application/octet-stream");
        assert_eq!(layer_media_type("json"), "application/octet-stream");
    }
}
