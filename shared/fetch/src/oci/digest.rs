//! Content digests: syntax of `sha256:<hex>` and verification of bytes against one.

use sha2::{Digest, Sha256};

use crate::error::FetchError;

/// `sha256:<lowercase hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Accepts only `sha256:` followed by 64 lowercase hex digits.
pub fn check_sha256_digest(digest: &str) -> Result<(), String> {
    let Some(hex_part) = digest.strip_prefix("sha256:") else {
        return Err(format!(
            "digest '{digest}' is not supported (only sha256:<64 hex> is)"
        ));
    };
    let valid = hex_part.len() == 64
        && hex_part
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "digest '{digest}' is not sha256:<64 lowercase hex>"
        ))
    }
}

/// Refuses `bytes` unless they hash to `expected`.
pub fn verify_digest(expected: &str, bytes: &[u8], what: &str) -> Result<(), FetchError> {
    let actual = sha256_digest(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(FetchError::DigestMismatch {
            what: what.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_known_digest_and_refuses_others() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256_digest(b""), empty);
        assert!(verify_digest(empty, b"", "blob").is_ok());
        let error = verify_digest(empty, b"x", "blob").unwrap_err();
        assert!(
            matches!(error, FetchError::DigestMismatch { .. }),
            "{error}"
        );
    }

    #[test]
    fn checks_digest_syntax() {
        assert!(check_sha256_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(check_sha256_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(check_sha256_digest(&format!("sha512:{}", "a".repeat(128))).is_err());
        assert!(check_sha256_digest("sha256:abc").is_err());
    }
}
