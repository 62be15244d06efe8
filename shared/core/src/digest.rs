//! Digests: lowercase hex SHA-256 of exact bytes, streaming file hashing, and RFC 8785 (JCS) canonical JSON
//! for inline manifests, so that authors sign exactly the bytes we verify.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// Lowercase hex SHA-256, no prefix.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Streams a file through SHA-256 with a fixed buffer; returns (hex digest, size in bytes).
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| CoreError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// The RFC 8785 canonical bytes of a JSON value.
pub fn canonical_json(value: &serde_json::Value) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CoreError::json("canonical form", e))
}

/// `sha256:<hex>`, adding the prefix exactly once whatever the input carries.
pub fn prefixed(digest: &str) -> String {
    format!("sha256:{}", digest.trim_start_matches("sha256:"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn file_hash_streams_and_matches_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (digest, size) = sha256_file(&path).unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(digest, sha256_hex(&data));
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, 2.5, "x"], "a": {"z": true, "c": null}, "é": "\u{20ac}"});
        let bytes = canonical_json(&v).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":{"c":null,"z":true},"b":[1,2.5,"x"],"é":"€"}"#
        );
    }

    #[test]
    fn canonical_json_numbers_follow_rfc8785() {
        // RFC 8785 serialises numbers the ECMAScript way: 1e21 and 1.0 have fixed forms.
        let v = json!({"n": [1.0, 1e21, 0.000001, -0.0]});
        let text = String::from_utf8(canonical_json(&v).unwrap()).unwrap();
        assert_eq!(text, r#"{"n":[1,1e+21,0.000001,0]}"#);
    }

    #[test]
    fn canonical_digest_is_independent_of_key_order_and_spacing() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"product":"p","profiles":[{"name":"light"}]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(
            "{ \"profiles\" : [ { \"name\" : \"light\" } ],\n \"product\" : \"p\" }",
        )
        .unwrap();
        assert_eq!(
            sha256_hex(&canonical_json(&a).unwrap()),
            sha256_hex(&canonical_json(&b).unwrap())
        );
        assert_eq!(
            sha256_hex(&canonical_json(&a).unwrap()),
            sha256_hex(br#"{"product":"p","profiles":[{"name":"light"}]}"#)
        );
    }

    #[test]
    fn prefix_is_never_doubled() {
        assert_eq!(prefixed("abc"), "sha256:abc");
        assert_eq!(prefixed("sha256:abc"), "sha256:abc");
    }
}
