//! API keys: kept only as SHA-256 hashes in a keys file, matched in constant time.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::principal::Principal;
use crate::error::{ApiError, Result};

const MAX_KEYS_FILE_BYTES: u64 = 1024 * 1024;

/// One entry of the keys file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key_sha256: String,
    tenant: String,
    workspaces: Vec<String>,
    /// `"auditor"`: the key may only read. Absent: a full client of its workspaces.
    #[serde(default)]
    role: Option<String>,
}

struct StoredKey {
    hash: [u8; 32],
    principal: Principal,
}

/// The API keys this server accepts.
#[derive(Default)]
pub struct ApiKeys {
    keys: Vec<StoredKey>,
}

/// Lowercase hex SHA-256 of an API key: what the keys file stores (`certus serve --hash-key`).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl ApiKeys {
    /// Reads a keys file: `[{"key_sha256": "<hex>", "tenant": "t", "workspaces": ["ws1", "*"]}]`, with
    /// `"role": "auditor"` for a key that may only read.
    pub fn load(path: &Path) -> Result<Self> {
        let refuse = |reason: String| ApiError::KeysFile {
            path: path.display().to_string(),
            reason,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| refuse(e.to_string()))?
            .len();
        if size > MAX_KEYS_FILE_BYTES {
            return Err(refuse(format!(
                "larger than the limit of {MAX_KEYS_FILE_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
        Self::from_json(&text).map_err(refuse)
    }

    /// Parses the keys file's text; the error says which entry is wrong and why.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let entries: Vec<KeyEntry> =
            serde_json::from_str(text).map_err(|e| format!("not a list of key entries: {e}"))?;
        let mut keys: Vec<StoredKey> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            let hash = parse_hash(&entry.key_sha256)
                .ok_or_else(|| format!("entry {index}: key_sha256 must be 64 hex digits"))?;
            if entry.tenant.trim().is_empty() {
                return Err(format!("entry {index}: tenant must not be empty"));
            }
            if entry.workspaces.is_empty() || entry.workspaces.iter().any(|w| w.is_empty()) {
                return Err(format!(
                    "entry {index}: workspaces must be a non-empty list of workspace ids (or \"*\")"
                ));
            }
            if keys.iter().any(|k| k.hash == hash) {
                return Err(format!("entry {index}: the same key is listed twice"));
            }
            let principal = Principal::with_workspaces(entry.tenant, entry.workspaces);
            let principal = match entry.role.as_deref() {
                None => principal,
                Some("auditor") => principal.reading_only(),
                Some(other) => {
                    return Err(format!(
                        "entry {index}: role '{other}' is unknown (the only role is \"auditor\")"
                    ))
                }
            };
            keys.push(StoredKey { hash, principal });
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The principal of a presented key. Every stored hash is compared, in constant time.
    pub fn find(&self, presented: &str) -> Option<&Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&digest)) && found.is_none() {
                found = Some(&key.principal);
            }
        }
        found
    }
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim().to_ascii_lowercase()).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_matches_only_its_hash() {
        let file = format!(
            r#"[{{"key_sha256": "{}", "tenant": "acme", "workspaces": ["ws1"]}}]"#,
            hash_key("k-one")
        );
        let keys = ApiKeys::from_json(&file).unwrap();
        let principal = keys.find("k-one").unwrap();
        assert_eq!(principal.tenant, "acme");
        assert!(principal.may_use("ws1"));
        assert!(!principal.may_use("ws2"));
        assert!(keys.find("k-two").is_none());
    }

    #[test]
    fn malformed_entries_are_named() {
        let err =
            ApiKeys::from_json(r#"[{"key_sha256": "abc", "tenant": "t", "workspaces": ["w"]}]"#)
                .err()
                .unwrap();
        assert_eq!(err, "entry 0: key_sha256 must be 64 hex digits");
        let h = hash_key("x");
        let err = ApiKeys::from_json(&format!(
            r#"[{{"key_sha256": "{h}", "tenant": "t", "workspaces": []}}]"#
        ))
        .err()
        .unwrap();
        assert!(err.starts_with("entry 0: workspaces must be"), "{err}");
        let err = ApiKeys::from_json(&format!(
            r#"[{{"key_sha256": "{h}", "tenant": "t", "workspaces": ["w"]}},
                {{"key_sha256": "{h}", "tenant": "u", "workspaces": ["w"]}}]"#
        ))
        .err()
        .unwrap();
        assert_eq!(err, "entry 1: the same key is listed twice");
        let err = ApiKeys::from_json(r#"[{"key": "plain"}]"#).err().unwrap();
        assert!(err.contains("unknown field `key`"), "{err}");
    }

    #[test]
    fn star_means_every_workspace() {
        let file = format!(
            r#"[{{"key_sha256": "{}", "tenant": "ops", "workspaces": ["*"]}}]"#,
            hash_key("root")
        );
        let keys = ApiKeys::from_json(&file).unwrap();
        assert!(keys.find("root").unwrap().may_use("anything"));
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
