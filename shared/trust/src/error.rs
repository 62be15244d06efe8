//! The crate's one error type: each variant names the input that was refused and why.

use certus_core::CoreError;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The Trust base URL cannot be used (not a URL, plain http to a remote host, credentials in it…).
    #[error("Trust base URL {url:?} is refused: {reason}")]
    BaseUrl { url: String, reason: String },

    /// The extra CA certificate PEM holds no usable certificate.
    #[error("extra CA certificate PEM is unusable: {0}")]
    CaCertificate(String),

    /// The TLS or HTTP client could not be built from the configuration.
    #[error("cannot build the Trust HTTP client: {0}")]
    Client(String),

    /// A pinned key fingerprint is not `sha256:` followed by 64 lowercase hex digits.
    #[error("pinned key {0:?} is not `sha256:` followed by 64 lowercase hex digits")]
    PinnedKey(String),

    /// The dev server could not bind or serve.
    #[error("Trust dev server on {addr}: {reason}")]
    Server { addr: String, reason: String },

    /// A publication root or prefix is unusable.
    #[error("publication setting {setting} is unusable: {reason}")]
    PublishSetting {
        setting: &'static str,
        reason: String,
    },

    /// A staged or promoted object disagrees with the bundle index.
    #[error("{stage} set of job '{test_id}' does not match the bundle index: {problems}")]
    SetMismatch {
        stage: &'static str,
        test_id: String,
        problems: String,
    },

    /// An object path in raw or golden exists but is not a regular file (it is never written through).
    #[error("{path} exists but is not a regular file")]
    NotAFile { path: String },

    /// The bundle's own index file differs from the index publication was asked to publish.
    #[error(
        "the bundle at {location} carries an index that differs from the one given for publication"
    )]
    IndexDiffers { location: String },
}

/// A configuration that cannot be used is `Config` and an object that is not a regular file is corrupt stored
/// data (neither is retried); only a dev server that cannot serve is trouble a retry may cure.
impl From<TrustError> for CoreError {
    fn from(error: TrustError) -> Self {
        match error {
            TrustError::SetMismatch { .. } | TrustError::IndexDiffers { .. } => {
                CoreError::Bundle(error.to_string())
            }
            TrustError::BaseUrl { .. }
            | TrustError::CaCertificate(_)
            | TrustError::Client(_)
            | TrustError::PinnedKey(_)
            | TrustError::PublishSetting { .. } => CoreError::Config(error.to_string()),
            TrustError::NotAFile { ref path } => {
                CoreError::corrupt("published object", format!("{path} is not a regular file"))
            }
            TrustError::Server { .. } => CoreError::Storage(error.to_string()),
        }
    }
}

pub type Result<T, E = TrustError> = std::result::Result<T, E>;
