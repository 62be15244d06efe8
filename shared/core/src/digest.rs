//! Digests: lowercase hex SHA-256 of exact bytes, streaming file hashing, and RFC 8785 (JCS) canonical JSON
//! for inline manifests, so that authors sign exactly the bytes we verify.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, FieldError, Result};

/// Lowercase hex SHA-256, no prefix.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Streams a file through SHA-256 with a fixed buffer; returns (hex digest, size in bytes).
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let (digest, size) = Sha256Digest::of_file(path)?;
    Ok((digest.to_string(), size))
}

impl Sha256Digest {
    /// Streams a file through SHA-256 with a fixed buffer; returns the digest and the size in bytes.
    pub fn of_file(path: &Path) -> Result<(Self, u64)> {
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
        Ok((Self(hasher.finalize().into()), size))
    }
}

/// The RFC 8785 canonical bytes of a JSON value.
pub fn canonical_json(value: &serde_json::Value) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CoreError::json("canonical form", e))
}

/// `sha256:<hex>`, adding the prefix exactly once whatever the input carries.
pub fn prefixed(digest: &str) -> String {
    format!("sha256:{}", digest.trim_start_matches("sha256:"))
}

/// A SHA-256 digest, parsed once: written as its 64 lowercase hex digits, without a prefix, which is how
/// job records, audit records and bundle indexes have always stored digests. [`Sha256Digest::prefixed`]
/// gives the `sha256:<hex>` form the Trust contract and OCI references use.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

impl From<[u8; 32]> for Sha256Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `sha256:<hex>`.
    pub fn prefixed(&self) -> String {
        format!("sha256:{self}")
    }

    /// Parses `text`, naming `field` when it is not a digest.
    pub fn parse_field(field: &str, text: &str) -> Result<Self> {
        text.parse()
            .map_err(|message| CoreError::Validation(vec![FieldError::new(field, message)]))
    }
}

impl FromStr for Sha256Digest {
    /// What is wrong with the text, in words.
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let shown: String = text.chars().take(80).collect();
        if text.starts_with("sha256:") {
            return Err(format!(
                "'{shown}' carries a 'sha256:' prefix: a SHA-256 digest is stored as its 64 hex digits alone"
            ));
        }
        if text.len() != 64 {
            return Err(format!(
                "'{shown}' is {} characters long: a SHA-256 digest is 64 lowercase hex digits",
                text.chars().count()
            ));
        }
        if let Some((at, c)) = text
            .char_indices()
            .find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(format!(
                "'{shown}' has {c:?} at position {at}: a SHA-256 digest is 64 lowercase hex digits"
            ));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| format!("'{shown}': {e}"))?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_digest_is_written_as_it_was_stored_and_parsed_back() {
        let digest = Sha256Digest::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest.to_string(), hex);
        assert_eq!(digest.prefixed(), format!("sha256:{hex}"));
        assert_eq!(serde_json::to_value(digest).unwrap(), json!(hex));
        assert_eq!(hex.parse::<Sha256Digest>().unwrap(), digest);
        assert_eq!(
            serde_json::from_value::<Sha256Digest>(json!(hex)).unwrap(),
            digest
        );
    }

    #[test]
    fn what_is_not_a_digest_is_refused_saying_why() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for (text, why) in [
            (format!("sha256:{hex}"), "prefix"),
            (hex[..63].to_string(), "63 characters"),
            (format!("{hex}0"), "65 characters"),
            (hex.to_uppercase(), "'B' at position 0"),
            (format!("{}g", &hex[..63]), "'g' at position 63"),
            (String::new(), "0 characters"),
        ] {
            let err = text.parse::<Sha256Digest>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        let err = Sha256Digest::parse_field("manifest_digest", "d1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("manifest_digest") && err.contains("2 characters"),
            "{err}"
        );
        let err = serde_json::from_value::<Sha256Digest>(json!("x")).unwrap_err();
        assert!(err.to_string().contains("1 characters"), "{err}");
    }

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
