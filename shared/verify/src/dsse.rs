//! DSSE envelopes: pre-authentication encoding, the Rekor envelope hash, and in-toto subject matching.

use serde::Deserialize;
use serde_json::json;

use crate::encoding::{encode_base64, sha256, sha512};
use crate::error::{Result, VerifyError};

const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];

/// A decoded DSSE envelope with its single signature.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub keyid: String,
    pub signature: Vec<u8>,
}

impl Envelope {
    /// `PAE(type, body)`: the bytes a DSSE signature covers.
    pub fn pae(&self) -> Vec<u8> {
        let mut out = format!(
            "DSSEv1 {} {} {} ",
            self.payload_type.len(),
            self.payload_type,
            self.payload.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.payload);
        out
    }

    /// SHA-256 of the envelope as Rekor canonicalises it (sorted keys, empty keyid omitted).
    pub fn rekor_hash(&self) -> Result<[u8; 32]> {
        let mut signature = json!({ "sig": encode_base64(&self.signature) });
        if !self.keyid.is_empty() {
            signature["keyid"] = json!(self.keyid);
        }
        let envelope = json!({
            "payload": encode_base64(&self.payload),
            "payloadType": self.payload_type,
            "signatures": [signature],
        });
        let bytes = serde_json::to_vec(&envelope)
            .map_err(|e| VerifyError::MalformedBundle(format!("cannot encode envelope: {e}")))?;
        Ok(sha256(&bytes))
    }

    /// Checks that an in-toto statement payload names `blob` (by sha256 or sha512) as a subject.
    pub fn check_subject(&self, blob: &[u8]) -> Result<()> {
        self.check_subject_digests(&sha256(blob), Some(&sha512(blob)))
    }

    /// Checks that an in-toto statement payload names an artifact with this SHA-256 as a subject.
    pub fn check_subject_sha256(&self, digest: &[u8; 32]) -> Result<()> {
        self.check_subject_digests(digest, None)
    }

    fn check_subject_digests(&self, sha256: &[u8; 32], sha512: Option<&[u8; 64]>) -> Result<()> {
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(VerifyError::DigestMismatch(format!(
                "DSSE payload type {:?} is not an in-toto statement",
                self.payload_type
            )));
        }
        let statement: Statement = serde_json::from_slice(&self.payload).map_err(|e| {
            VerifyError::DigestMismatch(format!("DSSE payload is not an in-toto statement: {e}"))
        })?;
        if !STATEMENT_TYPES.contains(&statement.kind.as_str()) {
            return Err(VerifyError::DigestMismatch(format!(
                "unknown in-toto statement type {:?}",
                statement.kind
            )));
        }
        let sha256_hex = hex::encode(sha256);
        let sha512_hex = sha512.map(hex::encode);
        let matches = statement.subject.iter().any(|subject| {
            let equal = |name: &str, expected: &str| {
                subject
                    .digest
                    .get(name)
                    .is_some_and(|v| v.eq_ignore_ascii_case(expected))
            };
            equal("sha256", &sha256_hex)
                || sha512_hex
                    .as_deref()
                    .is_some_and(|hex| equal("sha512", hex))
        });
        if !matches {
            return Err(VerifyError::DigestMismatch(
                "no in-toto subject has the artifact's sha256 (or sha512) digest".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<Subject>,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(payload: &[u8]) -> Envelope {
        Envelope {
            payload: payload.to_vec(),
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            keyid: String::new(),
            signature: vec![1, 2, 3],
        }
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        let env = Envelope {
            payload_type: "http://example.com/HelloWorld".into(),
            ..envelope(b"hello world")
        };
        assert_eq!(
            env.pae(),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn subject_must_match_the_blob() {
        let blob = b"manifest bytes";
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"m","digest":{{"sha256":"{}"}}}}]}}"#,
            hex::encode(sha256(blob))
        );
        let env = envelope(statement.as_bytes());
        env.check_subject(blob).unwrap();
        assert!(matches!(
            env.check_subject(b"other"),
            Err(VerifyError::DigestMismatch(_))
        ));
    }
}
