//! cosign-compatible signatures of a pushed artifact: the "simple signing" payload naming the manifest
//! digest, and the `sha256-<hex>.sig` tag the signature manifest is stored under.

use serde::Serialize;

/// The media type of the simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Serialize)]
struct Payload<'a> {
    critical: Critical<'a>,
    optional: Option<()>,
}

#[derive(Serialize)]
struct Critical<'a> {
    identity: Identity<'a>,
    image: Image<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Identity<'a> {
    #[serde(rename = "docker-reference")]
    docker_reference: &'a str,
}

#[derive(Serialize)]
struct Image<'a> {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: &'a str,
}

/// The payload cosign signs for `docker_reference` (`registry/repository`) at `manifest_digest`.
pub fn simple_signing_payload(
    docker_reference: &str,
    manifest_digest: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Payload {
        critical: Critical {
            identity: Identity { docker_reference },
            image: Image {
                docker_manifest_digest: manifest_digest,
            },
            kind: SIGNATURE_TYPE,
        },
        optional: None,
    })
}

/// `sha256-<hex>.sig`, the tag cosign looks up for the signature of `manifest_digest`.
pub fn signature_tag(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replacen(':', "-", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_tag_have_the_cosign_layout() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let payload = simple_signing_payload("registry.example/certus/bundles", &digest).unwrap();
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            format!(
                "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"registry.example/certus/bundles\"}},\
                 \"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\
                 \"type\":\"cosign container image signature\"}},\"optional\":null}}"
            )
        );
        assert_eq!(
            signature_tag(&digest),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
    }
}
