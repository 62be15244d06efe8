//! Everything that turns a secret into something safe to show: redacted prefix, fingerprint and a
//! context snippet in which every copy of every found secret is masked.

use std::ops::Range;

use memchr::memmem;
use sha2::{Digest, Sha256};

/// Mask appended to (or replacing) a secret.
const MASK: &str = "****";
/// Secrets shorter than this (in characters) show no characters at all.
const MIN_CHARS_TO_SHOW_PREFIX: usize = 12;
/// Characters of a long secret kept in clear.
const PREFIX_CHARS: usize = 4;
/// Bytes of context kept on each side of the secret in a snippet.
const SNIPPET_CONTEXT: usize = 60;

/// The first 4 characters then `****`, or only `****` for secrets shorter than 12 characters.
pub(crate) fn redact(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    if text.chars().count() < MIN_CHARS_TO_SHOW_PREFIX {
        return MASK.to_string();
    }
    let mut out: String = text.chars().take(PREFIX_CHARS).collect();
    out.push_str(MASK);
    out
}

/// Lowercase hex SHA-256 over `rule_id NUL path NUL secret`.
pub(crate) fn fingerprint(rule_id: &str, path: &str, secret: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(path.as_bytes());
    hasher.update([0u8]);
    hasher.update(secret);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A bounded excerpt of `line` around `focus` where every occurrence of any of `secrets` and every
/// range of `spans` (secret spans of this file) is replaced by its redaction.
pub(crate) fn snippet(
    data: &[u8],
    line: Range<usize>,
    focus: Range<usize>,
    secrets: &[&[u8]],
    spans: &[Range<usize>],
) -> String {
    let mut masked: Vec<Range<usize>> = spans
        .iter()
        .filter(|s| s.start < line.end && s.end > line.start)
        .map(|s| s.start.max(line.start)..s.end.min(line.end))
        .collect();
    let focus_end = focus.end.min(line.end);
    let reach = SNIPPET_CONTEXT + secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    let region = focus.start.saturating_sub(reach).max(line.start)
        ..focus_end.saturating_add(reach).min(line.end);
    let region_bytes = &data[region.clone()];
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        masked.extend(
            memmem::find_iter(region_bytes, secret)
                .map(|at| region.start + at..region.start + at + secret.len()),
        );
    }
    let masked = merge(masked);

    let mut start = focus.start.saturating_sub(SNIPPET_CONTEXT).max(line.start);
    let mut end = focus_end.saturating_add(SNIPPET_CONTEXT).min(line.end);
    for m in &masked {
        if m.start < start && start < m.end {
            start = m.end.min(focus.start);
        }
        if m.start < end && end < m.end {
            end = m.start.max(focus_end);
        }
    }

    let mut out = String::new();
    let mut pos = start;
    for m in masked.iter().filter(|m| m.start < end && m.end > start) {
        let from = m.start.max(pos);
        out.push_str(&String::from_utf8_lossy(&data[pos..from]));
        out.push_str(&redact(&data[m.clone()]));
        pos = m.end.max(pos);
    }
    if pos < end {
        out.push_str(&String::from_utf8_lossy(&data[pos..end]));
    }
    out
}

/// Sorts ranges and merges the overlapping ones.
fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_four_chars_only_for_long_secrets() {
        assert_eq!(redact(b"abcdefghijk"), "****");
        assert_eq!(redact(b"abcdefghijkl"), "abcd****");
        assert_eq!(redact("ééééééééééééé".as_bytes()), "éééé****");
    }

    #[test]
    fn fingerprint_is_lowercase_sha256_hex_and_depends_on_all_parts() {
        let a = fingerprint("r", "p", b"s");
        assert_eq!(a.len(), 64);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, fingerprint("r2", "p", b"s"));
        assert_ne!(a, fingerprint("r", "p2", b"s"));
        assert_ne!(a, fingerprint("r", "p", b"s2"));
        assert_ne!(fingerprint("ab", "c", b""), fingerprint("a", "bc", b""));
    }

    #[test]
    fn snippet_masks_every_copy_and_other_spans_and_never_cuts_a_secret() {
        let secret = b"S3CR3TVALUE0123456789";
        let other = b"OTHERSECRETxyz";
        let mut line = b"x = \"".to_vec();
        let start = line.len();
        line.extend_from_slice(secret);
        let end = line.len();
        line.extend_from_slice(b"\" again ");
        line.extend_from_slice(secret);
        line.extend_from_slice(b" and ");
        let o_start = line.len();
        line.extend_from_slice(other);
        let o_end = line.len();
        let text = snippet(
            &line,
            0..line.len(),
            start..end,
            &[secret],
            std::slice::from_ref(&(o_start..o_end)),
        );
        assert_eq!(text, "x = \"S3CR****\" again S3CR**** and OTHE****");

        let long_secret: Vec<u8> = (0..80u8).map(|i| b'A' + i % 26).collect();
        let mut long = long_secret.clone();
        let focus = long.len()..long.len() + 3;
        long.extend_from_slice(b"END");
        let text = snippet(&long, 0..long.len(), focus, &[b"END", &long_secret], &[]);
        assert_eq!(text, "****", "a partial secret must not be shown");
    }
}
