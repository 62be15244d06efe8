//! `s3://bucket/key` and `s3://bucket/prefix` URIs, checked before any request is made.

use std::fmt;

use certus_core::{CoreError, Result};

const MAX_KEY_BYTES: usize = 1024;

/// A bucket and an object key (or key prefix, which may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

impl S3Location {
    /// Parses `s3://bucket/key`; the key must name an object.
    pub fn object(uri: &str) -> Result<Self> {
        let location = Self::parse(uri)?;
        if location.key.is_empty() || location.key.ends_with('/') {
            return Err(invalid(
                uri,
                "it names no object (expected s3://bucket/key)",
            ));
        }
        Ok(location)
    }

    /// Parses `s3://bucket` or `s3://bucket/prefix`; surrounding slashes of the prefix are dropped.
    pub fn prefix(uri: &str) -> Result<Self> {
        let mut location = Self::parse(uri)?;
        location.key = location.key.trim_matches('/').to_string();
        Ok(location)
    }

    /// `key` under this prefix (`prefix/key`, or `key` when the prefix is empty).
    pub fn join(&self, key: &str) -> String {
        if self.key.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.key)
        }
    }

    fn parse(uri: &str) -> Result<Self> {
        let rest = uri.strip_prefix("s3://").ok_or_else(|| {
            let scheme = uri.split_once("://").map_or("none", |(s, _)| s);
            invalid(
                uri,
                &format!("only s3:// URIs are handled here (scheme: {scheme})"),
            )
        })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(uri, bucket)?;
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid(uri, "the object key is longer than 1024 bytes"));
        }
        if key.chars().any(char::is_control) {
            return Err(invalid(uri, "the object key contains control characters"));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

fn check_bucket(uri: &str, bucket: &str) -> Result<()> {
    let valid_chars = bucket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let valid_ends = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&bucket.len()) && valid_chars && valid_ends {
        Ok(())
    } else {
        Err(invalid(
            uri,
            "the bucket name must be 3-63 letters, digits, '.', '-' or '_', starting and ending with a letter or digit",
        ))
    }
}

fn invalid(uri: &str, reason: &str) -> CoreError {
    CoreError::Manifest(format!(
        "invalid S3 URI '{}': {reason}",
        uri.chars().take(200).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_need_bucket_and_key() {
        let loc = S3Location::object("s3://my-bucket/a/b.json").unwrap();
        assert_eq!(
            (loc.bucket.as_str(), loc.key.as_str()),
            ("my-bucket", "a/b.json")
        );
        assert_eq!(loc.to_string(), "s3://my-bucket/a/b.json");
        for (uri, reason) in [
            ("s3://my-bucket", "names no object"),
            ("s3://my-bucket/dir/", "names no object"),
            (
                "https://my-bucket/x",
                "only s3:// URIs are handled here (scheme: https)",
            ),
            ("s3://ab/x", "bucket name"),
            ("s3://-bad-/x", "bucket name"),
            ("s3://bad bucket/x", "bucket name"),
            ("s3://my-bucket/a\nb", "control characters"),
        ] {
            let err = S3Location::object(uri).unwrap_err();
            assert!(
                matches!(&err, CoreError::Manifest(m) if m.contains(reason)),
                "{uri}: {err}"
            );
        }
        let long = format!("s3://my-bucket/{}", "k".repeat(1025));
        assert!(S3Location::object(&long)
            .unwrap_err()
            .to_string()
            .contains("1024 bytes"));
    }

    #[test]
    fn prefixes_may_be_empty_and_lose_their_slashes() {
        let loc = S3Location::prefix("s3://my-bucket/runs/").unwrap();
        assert_eq!(loc.key, "runs");
        assert_eq!(loc.join("t1/bundle"), "runs/t1/bundle");
        let bare = S3Location::prefix("s3://my-bucket").unwrap();
        assert_eq!(bare.key, "");
        assert_eq!(bare.join("t1/bundle"), "t1/bundle");
    }
}
