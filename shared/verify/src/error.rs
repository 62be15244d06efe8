//! The crate's single error type: every variant names the input that failed and why.

use thiserror::Error;

/// Why a key, signature, bundle or trusted root was rejected.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// An input is larger than the cap for its kind.
    #[error("{input} is too large: {size} bytes (limit {limit} bytes)")]
    TooLarge {
        input: &'static str,
        size: usize,
        limit: usize,
    },
    /// A list holds more items than its cap (certificates, proof hashes, log entries).
    #[error("{input} has too many items: {count} (limit {limit})")]
    TooMany {
        input: &'static str,
        count: usize,
        limit: usize,
    },
    /// A field that must be base64 is not (standard and URL-safe alphabets are tried).
    #[error("{input} is not valid base64 (standard or URL-safe)")]
    Base64 { input: &'static str },
    /// The public key is not a well-formed PEM `PUBLIC KEY` / SPKI.
    #[error("public key is malformed: {0}")]
    MalformedKey(String),
    /// The public key is well-formed but of a type this verifier does not accept.
    #[error("public key type not supported: {0} (only ECDSA P-256 and Ed25519 are accepted)")]
    UnsupportedKey(String),
    /// A key reference string could not be understood.
    #[error("key reference {key_ref:?} is invalid: {reason}")]
    InvalidKeyRef { key_ref: String, reason: String },
    /// The key reference points to S3 or AWS KMS: the caller must fetch the PEM (or ask KMS) itself.
    #[error("key reference {key_ref} needs remote resolution: fetch the PEM public key (or use KMS) and pass it in")]
    NeedsRemoteResolution { key_ref: String },
    /// A local key file could not be read.
    #[error("cannot read key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    /// The environment variable named by `env://VAR` is missing or not UTF-8.
    #[error("environment variable {0} is not set or is not valid UTF-8")]
    KeyEnv(String),
    /// The signature bytes cannot be decoded as a signature of the key's algorithm.
    #[error("signature is malformed: {0}")]
    MalformedSignature(String),
    /// The signature is well-formed but does not verify.
    #[error("signature verification failed: {0}")]
    BadSignature(String),
    /// The signature file is JSON but not a bundle this crate understands.
    #[error("bundle is malformed: {0}")]
    MalformedBundle(String),
    /// The bundle uses a feature this verifier does not support.
    #[error("bundle not supported: {0}")]
    UnsupportedBundle(String),
    /// The trusted root JSON is malformed.
    #[error("trusted root is malformed: {0}")]
    MalformedTrustedRoot(String),
    /// A certificate cannot be parsed or lacks a required field.
    #[error("certificate is malformed: {0}")]
    MalformedCertificate(String),
    /// No embedded signed certificate timestamp verifies against a CT log of the trusted root.
    #[error("certificate transparency check failed: {0}")]
    InvalidSct(String),
    /// The signing certificate does not chain to a Fulcio CA of the trusted root.
    #[error("certificate does not chain to a trusted Fulcio CA: {0}")]
    UntrustedChain(String),
    /// The certificate's subject alternative names do not include the expected identity.
    #[error("certificate identity mismatch: expected {expected:?}, certificate has {found:?}")]
    IdentityMismatch {
        expected: String,
        found: Vec<String>,
    },
    /// The certificate's OIDC issuer extension differs from the expected issuer.
    #[error("certificate issuer mismatch: expected {expected:?}, certificate has {found:?}")]
    IssuerMismatch {
        expected: String,
        found: Option<String>,
    },
    /// A verified signing time (log integrated time or RFC 3161 timestamp) is not within the
    /// certificate's validity period.
    #[error("{origin} {time} is outside the certificate validity {not_before}..={not_after} (unix seconds)")]
    OutsideValidity {
        /// Where the time comes from: "integrated time" or "RFC 3161 timestamp".
        origin: &'static str,
        time: i64,
        not_before: i64,
        not_after: i64,
    },
    /// What was signed does not correspond to the given blob.
    #[error("signed content does not match the blob: {0}")]
    DigestMismatch(String),
    /// The transparency log entry body disagrees with the bundle.
    #[error("transparency log entry body does not match the bundle: {0}")]
    RekorBodyMismatch(String),
    /// The signed entry timestamp (SET) does not verify.
    #[error("signed entry timestamp is invalid: {0}")]
    InvalidSet(String),
    /// The Merkle inclusion proof does not lead to the claimed root hash.
    #[error("inclusion proof is invalid: {0}")]
    InvalidInclusionProof(String),
    /// An RFC 3161 timestamp is malformed, not signed by a timestamp authority of the trusted
    /// root, or not over the bundle's signature.
    #[error("RFC 3161 timestamp is invalid: {0}")]
    InvalidTimestamp(String),
    /// The signed checkpoint is malformed, unsigned by the log, or disagrees with the proof.
    #[error("checkpoint is invalid: {0}")]
    InvalidCheckpoint(String),
    /// The entry names a transparency log that the trusted root does not contain.
    #[error("no transparency log in the trusted root has log id {0}")]
    UnknownLog(String),
    /// A keyed bundle's public key hint does not match the given key.
    #[error("bundle key hint {found:?} does not match the given key (hint {expected:?})")]
    KeyHintMismatch { expected: String, found: String },
    /// Verification needs something the caller did not supply.
    #[error("{0} is required to verify this signature")]
    Missing(&'static str),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, VerifyError>;
