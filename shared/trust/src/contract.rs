//! The formats both sides of the Trust exchange must agree on: `sha256:<hex>` references (artifact hashes
//! and key fingerprints), the exact bytes the inner signature covers, and the type checks the real
//! Certus-Trust applies to an upload request before anything else (its pydantic `UploadRequestModel` in the
//! default lax mode, answered by FastAPI as HTTP 422 with a `detail` list). The gate and the dev server run
//! the same checks, so a request the real service refuses with 422 is refused here too.

use certus_core::digest::canonical_json;
use certus_core::trust::DeclaredArtifact;
use certus_core::CoreError;
use serde::Serialize;
use serde_json::{json, Map, Value};

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

/// The tier pattern of the service's model.
pub const TIER_PATTERN: &str = "^(basic|verified)$";

/// One item of a 422 answer's `detail`, as FastAPI writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
}

impl WireError {
    /// `body.metadata.branch: Input should be a valid string (input: null)`
    pub fn describe(&self) -> String {
        let loc: Vec<String> = self
            .loc
            .iter()
            .map(|part| match part {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let input: String = self.input.to_string().chars().take(120).collect();
        format!("{}: {} (input: {input})", loc.join("."), self.msg)
    }
}

/// Checks an upload request body as the real service does before deciding anything. `Ok` is the request with
/// the lax forms the service accepts made canonical (`"12"` → `12`, `"yes"` → `true`), ready to be read as a
/// `TrustRequest`; `Err` is the 422 `detail` list (for a body that is not JSON the offset in `loc` is this
/// parser's, which may differ from the service's).
pub fn check_upload_request(body: &[u8]) -> Result<Value, Vec<WireError>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![WireError {
            kind: "missing",
            loc: vec![json!("body")],
            msg: "Field required".into(),
            input: Value::Null,
        }]);
    }
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        vec![WireError {
            kind: "json_invalid",
            loc: vec![json!("body"), json!(e.column().saturating_sub(1))],
            msg: "JSON decode error".into(),
            input: json!({}),
        }]
    })?;
    let mut checker = Checker::default();
    checker.model(&mut value, &mut vec![json!("body")], UPLOAD_REQUEST);
    if checker.errors.is_empty() {
        Ok(value)
    } else {
        Err(checker.errors)
    }
}

/// A field of the service's models: name and kind.
type Fields = &'static [(&'static str, Kind)];

#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// `Optional[str] = None`
    OptStr,
    Tier,
    Int,
    /// `bool = True`
    BoolDefaultTrue,
    Model(Fields),
    /// A model field with a default (`storage_destinations`).
    OptModel(Fields),
    ListOf(Fields),
}

const INNER_SIGNATURE: Fields = &[
    ("signer", Kind::Str),
    ("timestamp", Kind::Str),
    ("signature", Kind::Str),
    ("algorithm", Kind::Str),
    ("certificate", Kind::OptStr),
];
const ARTIFACT: Fields = &[
    ("name", Kind::Str),
    ("hash", Kind::Str),
    ("size", Kind::Int),
];
const METADATA: Fields = &[
    ("git_url", Kind::Str),
    ("branch", Kind::Str),
    ("commit", Kind::Str),
    ("requested_by", Kind::OptStr),
];
const DESTINATIONS: Fields = &[
    ("raw_s3", Kind::BoolDefaultTrue),
    ("oci_registry", Kind::BoolDefaultTrue),
];
const UPLOAD_REQUEST: Fields = &[
    ("scan_id", Kind::Str),
    ("tier", Kind::Tier),
    ("inner_signature", Kind::Model(INNER_SIGNATURE)),
    ("artifacts", Kind::ListOf(ARTIFACT)),
    ("metadata", Kind::Model(METADATA)),
    ("storage_destinations", Kind::OptModel(DESTINATIONS)),
];

#[derive(Default)]
struct Checker {
    errors: Vec<WireError>,
}

impl Checker {
    fn fail(&mut self, kind: &'static str, loc: &[Value], msg: &str, input: &Value) {
        self.errors.push(WireError {
            kind,
            loc: loc.to_vec(),
            msg: msg.to_string(),
            input: input.clone(),
        });
    }

    fn model(&mut self, value: &mut Value, loc: &mut Vec<Value>, fields: Fields) {
        let Value::Object(object) = value else {
            self.fail(
                "model_attributes_type",
                loc,
                "Input should be a valid dictionary or object to extract fields from",
                value,
            );
            return;
        };
        let parent = Value::Object(object.clone());
        for (name, kind) in fields {
            loc.push(json!(name));
            self.field(object, name, *kind, loc, &parent);
            loc.pop();
        }
    }

    fn field(
        &mut self,
        object: &mut Map<String, Value>,
        name: &str,
        kind: Kind,
        loc: &mut Vec<Value>,
        parent: &Value,
    ) {
        let Some(value) = object.get_mut(name) else {
            match kind {
                Kind::OptStr | Kind::BoolDefaultTrue | Kind::OptModel(_) => {}
                _ => self.fail("missing", loc, "Field required", parent),
            }
            return;
        };
        match kind {
            Kind::Str => {
                self.string(value, loc);
            }
            Kind::OptStr => {
                if !value.is_null() {
                    self.string(value, loc);
                }
            }
            Kind::Tier => {
                if self.string(value, loc) && !matches!(value.as_str(), Some("basic" | "verified"))
                {
                    self.fail(
                        "string_pattern_mismatch",
                        loc,
                        &format!("String should match pattern '{TIER_PATTERN}'"),
                        value,
                    );
                }
            }
            Kind::Int => self.int(value, loc),
            Kind::BoolDefaultTrue => self.boolean(value, loc),
            Kind::Model(fields) | Kind::OptModel(fields) => self.model(value, loc, fields),
            Kind::ListOf(fields) => {
                let Value::Array(items) = value else {
                    self.fail("list_type", loc, "Input should be a valid list", value);
                    return;
                };
                for (i, item) in items.iter_mut().enumerate() {
                    loc.push(json!(i));
                    self.model(item, loc, fields);
                    loc.pop();
                }
            }
        }
    }

    fn string(&mut self, value: &Value, loc: &[Value]) -> bool {
        if value.is_string() {
            return true;
        }
        self.fail("string_type", loc, "Input should be a valid string", value);
        false
    }

    /// Lax integers: JSON integers, booleans, integral floats, and strings of an integer (spaces trimmed).
    fn int(&mut self, value: &mut Value, loc: &[Value]) {
        let canonical = match &*value {
            Value::Number(n) if n.is_i64() || n.is_u64() => return,
            Value::Bool(b) => json!(u8::from(*b)),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
                _ => {
                    return self.fail(
                        "int_from_float",
                        loc,
                        "Input should be a valid integer, got a number with a fractional part",
                        value,
                    )
                }
            },
            Value::String(text) => match text.trim().parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => {
                    return self.fail(
                        "int_parsing",
                        loc,
                        "Input should be a valid integer, unable to parse string as an integer",
                        value,
                    )
                }
            },
            _ => return self.fail("int_type", loc, "Input should be a valid integer", value),
        };
        *value = canonical;
    }

    /// Lax booleans: JSON booleans, 0 and 1, and the words pydantic knows (any case, not trimmed).
    fn boolean(&mut self, value: &mut Value, loc: &[Value]) {
        const PARSING: &str = "Input should be a valid boolean, unable to interpret input";
        let canonical = match &*value {
            Value::Bool(_) => return,
            Value::Number(n) => match n.as_f64() {
                Some(0.0) => false,
                Some(1.0) => true,
                _ => return self.fail("bool_parsing", loc, PARSING, value),
            },
            Value::String(text) => match text.to_ascii_lowercase().as_str() {
                "0" | "off" | "f" | "false" | "n" | "no" => false,
                "1" | "on" | "t" | "true" | "y" | "yes" => true,
                _ => return self.fail("bool_parsing", loc, PARSING, value),
            },
            _ => return self.fail("bool_type", loc, "Input should be a valid boolean", value),
        };
        *value = Value::Bool(canonical);
    }
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

    fn valid() -> Value {
        json!({
            "scan_id": "s", "tier": "basic",
            "inner_signature": {"signer": "x", "timestamp": "t", "signature": "s", "algorithm": "a"},
            "artifacts": [{"name": "a", "hash": "h", "size": 1}],
            "metadata": {"git_url": "u", "branch": "b", "commit": "c"},
        })
    }

    fn locs(errors: &[WireError]) -> Vec<String> {
        errors
            .iter()
            .map(|e| format!("{}@{:?}", e.kind, e.loc))
            .collect()
    }

    #[test]
    fn the_types_the_service_refuses_are_refused_with_its_locations() {
        let mut bad = valid();
        bad["metadata"]["branch"] = Value::Null;
        bad["storage_destinations"] = json!({"raw_s3": "file:///raw/x/", "oci_registry": null});
        let errors = check_upload_request(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            locs(&errors),
            [
                r#"string_type@[String("body"), String("metadata"), String("branch")]"#,
                r#"bool_parsing@[String("body"), String("storage_destinations"), String("raw_s3")]"#,
                r#"bool_type@[String("body"), String("storage_destinations"), String("oci_registry")]"#,
            ]
        );
        assert_eq!(
            errors[0].describe(),
            "body.metadata.branch: Input should be a valid string (input: null)"
        );
        let mut tier = valid();
        tier["tier"] = json!("gold");
        let errors = check_upload_request(tier.to_string().as_bytes()).unwrap_err();
        assert_eq!(errors[0].kind, "string_pattern_mismatch");
        assert_eq!(check_upload_request(b"").unwrap_err()[0].kind, "missing");
        assert_eq!(
            check_upload_request(b"nope").unwrap_err()[0].kind,
            "json_invalid"
        );
        assert_eq!(
            check_upload_request(b"[]").unwrap_err()[0].kind,
            "model_attributes_type"
        );
    }

    #[test]
    fn lax_forms_the_service_accepts_are_made_canonical() {
        let mut lax = valid();
        lax["artifacts"][0]["size"] = json!(" 7 ");
        lax["storage_destinations"] = json!({"raw_s3": "YES", "oci_registry": 0.0});
        let value = check_upload_request(lax.to_string().as_bytes()).unwrap();
        assert_eq!(value["artifacts"][0]["size"], 7);
        assert_eq!(
            value["storage_destinations"],
            json!({"raw_s3": true, "oci_registry": false})
        );
        let mut refused = valid();
        refused["storage_destinations"] = json!({"raw_s3": " true", "oci_registry": 2});
        refused["artifacts"][0]["size"] = json!(1.5);
        let kinds: Vec<_> = check_upload_request(refused.to_string().as_bytes())
            .unwrap_err()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["int_from_float", "bool_parsing", "bool_parsing"]);
    }
}
