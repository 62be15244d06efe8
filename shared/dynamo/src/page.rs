//! Page tokens: the key of the last job returned, bound to the index and partition of the query that
//! issued it, base64url-encoded. A token that was not issued for this query — forged, edited, truncated or
//! from another query — is refused as a validation error naming `page_token`.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certus_core::ids::parse_test_id;
use certus_core::{CoreError, FieldError, Result};
use serde_json::{json, Map, Value};

use crate::attrs::{get_s, job_partition, s, Item, PK, SK};
use crate::jobs::{CREATED_KEY, JOB_SORT_KEY};

const MAX_TOKEN_CHARS: usize = 4096;

/// The index a query reads and the partition value it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub index: &'static str,
    pub attribute: &'static str,
    pub value: String,
}

impl Partition {
    fn key_names(&self) -> [&'static str; 4] {
        [PK, SK, CREATED_KEY, self.attribute]
    }
}

/// The token resuming after `item`, the last job of a page.
pub fn encode(partition: &Partition, item: &Item) -> Result<String> {
    let mut key = Map::new();
    for name in partition.key_names() {
        key.insert(
            name.to_string(),
            Value::String(get_s(item, name, "page key")?.to_string()),
        );
    }
    let token = json!({"index": partition.index, "key": key});
    Ok(URL_SAFE_NO_PAD.encode(token.to_string()))
}

fn refused() -> CoreError {
    CoreError::Validation(vec![FieldError::new(
        "page_token",
        "is not a token this service issued for this query",
    )])
}

/// The `ExclusiveStartKey` a token stands for, after checking every part of it against the query.
pub fn decode(partition: &Partition, token: &str) -> Result<Item> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(refused());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| refused())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| refused())?;
    let object = value
        .as_object()
        .filter(|o| o.len() == 2)
        .ok_or_else(refused)?;
    if object.get("index").and_then(Value::as_str) != Some(partition.index) {
        return Err(refused());
    }
    let key = object
        .get("key")
        .and_then(Value::as_object)
        .filter(|k| k.len() == partition.key_names().len())
        .ok_or_else(refused)?;
    let text = |name: &str| key.get(name).and_then(Value::as_str).ok_or_else(refused);
    let (pk, sk, created_key) = (text(PK)?, text(SK)?, text(CREATED_KEY)?);
    if text(partition.attribute)? != partition.value || sk != JOB_SORT_KEY {
        return Err(refused());
    }
    let (created_at, test_id) = created_key.split_once('#').ok_or_else(refused)?;
    parse_test_id(test_id).map_err(|_| refused())?;
    chrono::DateTime::parse_from_rfc3339(created_at).map_err(|_| refused())?;
    if pk != job_partition(test_id) {
        return Err(refused());
    }
    Ok(partition
        .key_names()
        .into_iter()
        .map(|name| (name.to_string(), s(text(name).unwrap_or_default())))
        .collect::<std::collections::HashMap<String, AttributeValue>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition() -> Partition {
        Partition {
            index: "by_workspace",
            attribute: "workspace_id",
            value: "w".into(),
        }
    }

    fn item(workspace: &str) -> Item {
        [
            (PK, s("JOB#test_0123456789ab")),
            (SK, s(JOB_SORT_KEY)),
            (CREATED_KEY, s("2026-11-29T01:00:00.000Z#test_0123456789ab")),
            ("workspace_id", s(workspace)),
            ("record", s("{}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn a_token_resumes_after_the_item_it_was_made_from() {
        let token = encode(&partition(), &item("w")).unwrap();
        let key = decode(&partition(), &token).unwrap();
        assert_eq!(key.len(), 4);
        assert_eq!(key[PK], s("JOB#test_0123456789ab"));
        assert!(!key.contains_key("record"));
    }

    #[test]
    fn forged_edited_or_foreign_tokens_are_validation_errors() {
        let good = encode(&partition(), &item("w")).unwrap();
        let other_workspace = encode(&partition(), &item("x")).unwrap();
        let other_index = Partition {
            index: "by_status",
            attribute: "workspace_id",
            value: "w".into(),
        };
        let forged = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let bad_id = forged(json!({"index": "by_workspace", "key": {
            "pk": "JOB#../x", "sk": "JOB", "created_key": "2026-11-29T01:00:00.000Z#../x", "workspace_id": "w"}}));
        let mismatched = forged(json!({"index": "by_workspace", "key": {
            "pk": "JOB#test_aaaaaaaaaaaa", "sk": "JOB",
            "created_key": "2026-11-29T01:00:00.000Z#test_0123456789ab", "workspace_id": "w"}}));
        for token in [
            "zz".to_string(),
            "!!!".to_string(),
            good[..good.len() - 3].to_string(),
            other_workspace,
            bad_id,
            mismatched,
            "a".repeat(MAX_TOKEN_CHARS + 1),
        ] {
            let err = decode(&partition(), &token).unwrap_err();
            assert!(
                matches!(&err, CoreError::Validation(f) if f[0].field == "page_token"),
                "{token}: {err}"
            );
        }
        assert!(decode(&other_index, &good).is_err());
    }
}
