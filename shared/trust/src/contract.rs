//! The formats both sides of the Trust exchange must agree on: `sha256:<hex>` references (artifact hashes
//! and signer fingerprints) and the exact bytes the inner signature covers.

use certus_core::digest::canonical_json;
use certus_core::trust::DeclaredArtifact;
use certus_core::CoreError;

pub const SHA256_PREFIX: &str = "sha256:";

/// `sha256:` followed by exactly 64 lowercase hex digits — one prefix, nothing else.
pub fn is_sha256_ref(text: &str) -> bool {
    text.strip_prefix(SHA256_PREFIX).is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The RFC 8785 form of the `artifacts` array: the bytes Assurance's inner signature is over.
pub fn signed_artifact_bytes(artifacts: &[DeclaredArtifact]) -> Result<Vec<u8>, CoreError> {
    let value = serde_json::to_value(artifacts).map_err(|e| CoreError::json("artifacts", e))?;
    canonical_json(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn exactly_one_prefix_and_lowercase_hex() {
        assert!(is_sha256_ref(&format!("sha256:{HEX}")));
        for bad in [
            HEX.to_string(),
            format!("sha256:sha256:{HEX}"),
            format!("sha256:{}", HEX.to_uppercase()),
            format!("sha256:{}", &HEX[..63]),
            format!("sha256:{HEX}0"),
            format!("SHA256:{HEX}"),
            format!("sha256:{}g", &HEX[..63]),
        ] {
            assert!(!is_sha256_ref(&bad), "{bad} accepted");
        }
    }

    #[test]
    fn signed_bytes_are_canonical() {
        let artifacts = vec![DeclaredArtifact {
            name: "scan.json".into(),
            hash: format!("sha256:{HEX}"),
            size: 7,
        }];
        let text = String::from_utf8(signed_artifact_bytes(&artifacts).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(r#"[{{"hash":"sha256:{HEX}","name":"scan.json","size":7}}]"#)
        );
    }
}
