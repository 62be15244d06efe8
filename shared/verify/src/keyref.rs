//! Key references (`path`, `file://`, `env://VAR`, `s3://bucket/key`, `awskms://...`) and local loading.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

use crate::encoding::{check_size, MAX_KEY_BYTES};
use crate::error::{Result, VerifyError};
use crate::key::PublicKey;

/// Where a verification public key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A PEM file on the local file system.
    File(PathBuf),
    /// An environment variable holding the PEM text.
    Env(String),
    /// An S3 object holding the PEM text (resolved by the caller).
    S3 { bucket: String, key: String },
    /// An AWS KMS key (`awskms://` URI, resolved by the caller).
    AwsKms(String),
}

impl FromStr for KeyRef {
    type Err = VerifyError;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = |reason: &str| VerifyError::InvalidKeyRef {
            key_ref: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.trim().is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(var) = text.strip_prefix("env://") {
            let valid = var
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(invalid(
                    "env:// needs a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                ));
            }
            return Ok(Self::Env(var.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Self::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }),
                _ => Err(invalid(
                    "s3:// needs a bucket and an object key (s3://bucket/key)",
                )),
            };
        }
        if let Some(rest) = text.strip_prefix("awskms://") {
            if rest.trim_matches('/').is_empty() {
                return Err(invalid("awskms:// needs a key id, alias or ARN"));
            }
            return Ok(Self::AwsKms(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                return Err(invalid("file:// needs a path"));
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(invalid(&format!(
                "unknown scheme {scheme:?} (use a path, file://, env://, s3:// or awskms://)"
            )));
        }
        Ok(Self::File(PathBuf::from(text)))
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Env(var) => write!(f, "env://{var}"),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Self::AwsKms(uri) => f.write_str(uri),
        }
    }
}

impl KeyRef {
    /// True for references the caller must resolve itself (S3, KMS).
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::S3 { .. } | Self::AwsKms(_))
    }

    /// Loads a file or environment key; remote references fail with
    /// [`VerifyError::NeedsRemoteResolution`].
    pub fn load_local(&self) -> Result<PublicKey> {
        match self {
            Self::File(path) => PublicKey::from_pem(&read_key_file(path)?),
            Self::Env(var) => {
                let pem = std::env::var(var).map_err(|_| VerifyError::KeyEnv(var.clone()))?;
                PublicKey::from_pem(&pem)
            }
            Self::S3 { .. } | Self::AwsKms(_) => Err(VerifyError::NeedsRemoteResolution {
                key_ref: self.to_string(),
            }),
        }
    }
}

fn read_key_file(path: &PathBuf) -> Result<String> {
    let file_error = |reason: String| VerifyError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_KEY_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| file_error(e.to_string()))?;
    check_size("public key file", text.len(), MAX_KEY_BYTES)?;
    Ok(text)
}
