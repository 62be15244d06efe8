//! Job identifiers: `test_` followed by 12 lowercase hex digits from the OS random source.

use crate::error::{CoreError, FieldError, Result};

const PREFIX: &str = "test_";
const HEX_LEN: usize = 12;

/// A new random `test_id`.
pub fn new_test_id() -> Result<String> {
    let mut bytes = [0u8; HEX_LEN / 2];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Storage(format!("no OS randomness for a test_id: {e}")))?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
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
