//! in-toto Statement v1 carrying a SLSA Provenance v1 predicate: construction, deterministic JSON,
//! signing into a DSSE envelope and reading back out of one.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dsse::Envelope;
use crate::error::{AttestError, Result};
use crate::provenance::{DigestSet, Provenance};
use crate::signer::Signer;
use crate::validate::validate_statement;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// DSSE `payloadType` of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest statement JSON accepted by [`Statement::from_json`].
pub const MAX_STATEMENT_BYTES: usize = 16 * 1024 * 1024;

/// One attested artifact: its name (bundle-relative path) and content digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Artifact name, e.g. `reports/sast/bandit.sarif.json`.
    pub name: String,
    /// Digest algorithm to lowercase hex value; Certus uses `sha256`.
    pub digest: DigestSet,
}

impl Subject {
    /// A subject named `name` whose `sha256` digest is computed from `content`.
    pub fn from_content(name: &str, content: &[u8]) -> Subject {
        Subject::with_sha256(name, &hex::encode(Sha256::digest(content)))
    }

    /// A subject named `name` with an already computed lowercase hex SHA-256.
    pub fn with_sha256(name: &str, sha256_hex: &str) -> Subject {
        Subject {
            name: name.to_string(),
            digest: DigestSet::from([("sha256".to_string(), sha256_hex.to_string())]),
        }
    }
}

/// An in-toto Statement v1 whose predicate is SLSA Provenance v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE_V1`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The attested artifacts.
    pub subject: Vec<Subject>,
    /// Always [`SLSA_PROVENANCE_V1`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The provenance of the subjects.
    pub predicate: Provenance,
}

impl Statement {
    /// A SLSA Provenance v1 statement about `subject`.
    pub fn new(subject: Vec<Subject>, predicate: Provenance) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE_V1.to_string(),
            subject,
            predicate_type: SLSA_PROVENANCE_V1.to_string(),
            predicate,
        }
    }

    /// Checks the in-toto and SLSA requirements; the error names the first failing field.
    pub fn validate(&self) -> Result<()> {
        validate_statement(self)
    }

    /// Compact JSON with a fixed field order: the same statement always gives the same bytes.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|source| AttestError::Json {
            what: "in-toto statement",
            source,
        })
    }

    /// Parses statement JSON (size-capped). Call [`Statement::validate`] before trusting the content.
    pub fn from_json(json: &[u8]) -> Result<Statement> {
        if json.len() > MAX_STATEMENT_BYTES {
            return Err(AttestError::TooLarge {
                what: "in-toto statement",
                size: json.len(),
                limit: MAX_STATEMENT_BYTES,
            });
        }
        serde_json::from_slice(json).map_err(|source| AttestError::Json {
            what: "in-toto statement",
            source,
        })
    }

    /// Validates the statement, then signs its JSON into a DSSE envelope of type [`IN_TOTO_PAYLOAD_TYPE`].
    pub fn sign(&self, signer: &dyn Signer) -> Result<Envelope> {
        self.validate()?;
        Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &self.to_json()?, signer)
    }

    /// Reads the statement carried by `envelope` and validates it. This does NOT check any signature:
    /// verify `envelope.pae_bytes()` against the trusted key first.
    pub fn from_envelope(envelope: &Envelope) -> Result<Statement> {
        if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(AttestError::InvalidEnvelope {
                reason: format!(
                    "payloadType is '{}', expected '{IN_TOTO_PAYLOAD_TYPE}'",
                    envelope.payload_type
                ),
            });
        }
        let statement = Statement::from_json(&envelope.decode_payload()?)?;
        statement.validate()?;
        Ok(statement)
    }
}
