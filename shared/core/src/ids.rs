//! Job identifiers: `test_` followed by 12 lowercase hex digits, from the OS random source or derived from a
//! key (so that the same event always names the same job).

use sha2::{Digest, Sha256};

use crate::error::{CoreError, FieldError, Result};

const PREFIX: &str = "test_";
const HEX_LEN: usize = 12;
/// Separates derived ids from every other SHA-256 use of the same key text.
const DERIVED_DOMAIN: &[u8] = b"certus-assurance/derived-test-id/v1\0";

/// A new random `test_id`.
pub fn new_test_id() -> Result<String> {
    let mut bytes = [0u8; HEX_LEN / 2];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Storage(format!("no OS randomness for a test_id: {e}")))?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
}

/// The `test_id` named by `key`: `test_` + the first 12 hex digits of SHA-256 over a domain tag and the key.
/// The same key always gives the same id, so a job created under it is found again (`JobExists`) when the
/// same key comes back; callers put everything that identifies the job (and nothing else) in the key.
pub fn derived_test_id(key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(DERIVED_DOMAIN)
        .chain_update(key.as_bytes())
        .finalize();
    let hex = hex::encode(digest);
    format!("{PREFIX}{}", &hex[..HEX_LEN])
}

/// Accepts only the exact `test_` + 12 lowercase hex form, so ids are safe in paths, keys and URLs.
pub fn parse_test_id(candidate: &str) -> Result<&str> {
    let valid = candidate.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == HEX_LEN
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if valid {
        Ok(candidate)
    } else {
        Err(CoreError::Validation(vec![FieldError::new(
            "test_id",
            format!(
                "'{}' is not a test id (expected test_ followed by 12 lowercase hex digits)",
                truncate(candidate)
            ),
        )]))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_the_contract_form_and_differ() {
        let a = new_test_id().unwrap();
        let b = new_test_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(parse_test_id(&a).unwrap(), a);
        assert_eq!(a.len(), 17);
    }

    #[test]
    fn derived_ids_are_a_function_of_the_key_and_have_the_contract_form() {
        let a = derived_test_id("push\ngithub\nreg\nacme/app\nabc");
        assert_eq!(a, derived_test_id("push\ngithub\nreg\nacme/app\nabc"));
        assert_eq!(parse_test_id(&a).unwrap(), a);
        assert_ne!(a, derived_test_id("push\ngithub\nreg\nacme/app\nabd"));
        assert_ne!(derived_test_id(""), derived_test_id("\0"));
    }

    #[test]
    fn derived_ids_are_domain_separated_from_a_plain_hash_of_the_key() {
        let key = "acme/app";
        let plain = hex::encode(Sha256::digest(key.as_bytes()));
        assert_ne!(
            derived_test_id(key),
            format!("{PREFIX}{}", &plain[..HEX_LEN])
        );
        let expected = hex::encode(Sha256::digest([DERIVED_DOMAIN, key.as_bytes()].concat()));
        assert_eq!(
            derived_test_id(key),
            format!("{PREFIX}{}", &expected[..HEX_LEN])
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "test_ABCDEF123456",
            "test_123",
            "x_0123456789ab",
            "test_0123456789ab/../x",
            "",
        ] {
            assert!(parse_test_id(bad).is_err(), "{bad} accepted");
        }
    }
}
