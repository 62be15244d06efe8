//! RFC 3339 `date-time` syntax check (e.g. `2026-01-31T12:00:00Z`, `2026-01-31T12:00:00.5+01:00`).

/// True when `text` is an RFC 3339 date-time with valid field ranges.
pub(crate) fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.is_ascii() {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &text[range];
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let separators_ok = bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't')
        && bytes[13] == b':'
        && bytes[16] == b':';
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        number(0..4),
        number(5..7),
        number(8..10),
        number(11..13),
        number(14..16),
        number(17..19),
    ) else {
        return false;
    };
    let fields_ok = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !separators_ok || !fields_ok {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => {
            matches!((number(text.len() - 5..text.len() - 3), number(text.len() - 2..text.len())),
                (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::is_rfc3339;

    #[test]
    fn accepts_valid_timestamps() {
        for ok in [
            "2026-11-28T22:42:46Z",
            "2026-11-28T22:42:46.123456Z",
            "2024-02-29T00:00:00+05:30",
            "2026-12-31t23:59:60z",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_invalid_timestamps() {
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28 22:42:46Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T22:42:46",
            "2026-11-28T22:42:46.Z",
            "2026-11-28T22:42:46+0100",
            "2026-11-28T22:42:46+01:60",
            "2026-11-28T22:42:46Zjunk",
            "２026-11-28T22:42:46Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
