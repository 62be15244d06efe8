//! Integers that protobuf-JSON writes as strings (`"logIndex": "123"`) or plain numbers.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Text(String),
}

/// Deserialises an `i64` from a JSON number or a decimal string.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match IntOrString::deserialize(deserializer)? {
        IntOrString::Int(value) => Ok(value),
        IntOrString::Text(text) => text
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an integer"))),
    }
}

/// Like [`deserialize`], for an optional field (use with `#[serde(default)]`).
pub fn deserialize_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    deserialize(deserializer).map(Some)
}
