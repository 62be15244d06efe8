//! RFC 3339 UTC timestamps (as in `trusted_root.json`) to unix seconds.

use crate::error::{Result, VerifyError};

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` into unix seconds (fraction dropped).
pub fn parse_rfc3339_utc(text: &str) -> Result<i64> {
    let invalid = || VerifyError::MalformedTrustedRoot(format!("invalid UTC timestamp {text:?}"));
    let body = text.strip_suffix('Z').ok_or_else(invalid)?;
    let (date_time, fraction) = body.split_once('.').unwrap_or((body, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || date_time.len() != 19 {
        return Err(invalid());
    }
    let bytes = date_time.as_bytes();
    let separators_ok = bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !separators_ok {
        return Err(invalid());
    }
    let field = |range: std::ops::Range<usize>| -> Result<u16> {
        date_time
            .get(range)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(invalid)
    };
    let to_u8 = |v: u16| u8::try_from(v).map_err(|_| invalid());
    let date = der::DateTime::new(
        field(0..4)?,
        to_u8(field(5..7)?)?,
        to_u8(field(8..10)?)?,
        to_u8(field(11..13)?)?,
        to_u8(field(14..16)?)?,
        to_u8(field(17..19)?)?,
    )
    .map_err(|_| invalid())?;
    i64::try_from(date.unix_duration().as_secs()).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_fractional_timestamps() {
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339_utc("2022-12-31T23:59:59.999Z").unwrap(),
            1_672_531_199
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2022-12-31",
            "2022-12-31T23:59:59",
            "2022-13-01T00:00:00Z",
            "2022-1-01T00:00:00Z",
            "２０22-12-31T23:59:59Z",
        ] {
            assert!(
                matches!(
                    parse_rfc3339_utc(bad),
                    Err(VerifyError::MalformedTrustedRoot(_))
                ),
                "{bad}"
            );
        }
    }
}
