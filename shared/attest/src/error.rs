//! The crate's single error type: every variant names the input that was rejected and why.

use std::path::PathBuf;

/// Result alias used throughout `certus-attest`.
pub type Result<T, E = AttestError> = std::result::Result<T, E>;

/// Everything that can go wrong while handling keys, envelopes and statements.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// A filesystem operation on a key file (or its directory) failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// The key file is accessible by group or others; private keys must be mode 0600 (or stricter).
    #[error(
        "key file {} has mode {mode:04o}: a private key must not be accessible by group or others \
         (fix it with: chmod 600 {})",
        path.display(),
        path.display()
    )]
    InsecureKeyFile { path: PathBuf, mode: u32 },

    /// The private key text could not be used (not PEM, wrong block, unsupported algorithm, bad DER).
    #[error("invalid signing key in {origin}: {reason}")]
    InvalidKey { origin: String, reason: String },

    /// The operating system could not provide randomness for key generation.
    #[error("cannot generate a {algorithm} key: the OS random number generator failed: {reason}")]
    Randomness {
        algorithm: &'static str,
        reason: String,
    },

    /// A key could not be encoded (PKCS#8 or SPKI); this indicates a bug or a corrupted key.
    #[error("cannot encode the {what} of a {algorithm} key: {reason}")]
    KeyEncoding {
        what: &'static str,
        algorithm: &'static str,
        reason: String,
    },

    /// The signer refused or failed to produce a signature.
    #[error("signing with key {key_id} failed: {reason}")]
    Signing { key_id: String, reason: String },

    /// A base64 field of a DSSE envelope did not decode (neither standard nor URL-safe alphabet).
    #[error("DSSE envelope field '{field}' is not valid base64: {source}")]
    Base64 {
        field: &'static str,
        source: base64::DecodeError,
    },

    /// A JSON document could not be parsed or produced.
    #[error("invalid {what} JSON: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },

    /// An input exceeded the size cap for its kind.
    #[error("{what} is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },

    /// A DSSE envelope is structurally unusable (no signatures, unexpected payload type).
    #[error("invalid DSSE envelope: {reason}")]
    InvalidEnvelope { reason: String },

    /// An in-toto Statement or its SLSA provenance predicate violates the specification.
    #[error("invalid in-toto statement: field '{field}': {reason}")]
    InvalidStatement { field: String, reason: String },
}
