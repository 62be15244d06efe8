//! Encoded segments of a text, as gitleaks' decoder defines them: runs of percent-encoded bytes
//! (`(%XX)+`), hex runs of at least 32 characters, and base64 runs of at least 16 characters of
//! `[A-Za-z0-9_/+-]` followed by at most 3 `=`, found leftmost-first in that order of preference.
//! A segment is decoded only when the whole of it decodes and the result is printable ASCII
//! (tab to `~`); a segment that touches a neighbour of a more specific encoding (percent, then hex,
//! then base64) waits for the next pass. Finding the segments is one linear pass over the text
//! ([`crate::runs`] finds the base64 and hex runs), so ordinary text costs little and long runs of
//! base64-looking text cost no more than reading them.

use std::ops::Range;

use memchr::memchr;

use crate::runs::{Runs, MIN_RUN};

/// Shortest hex run treated as hex.
const MIN_HEX: usize = 32;
/// Shortest base64 run (without padding) treated as base64: the shortest run found.
const MIN_BASE64: usize = MIN_RUN;
/// Padding characters kept after a base64 run.
const MAX_PADDING: usize = 3;

/// An encoding the decoder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Percent,
    Hex,
    Base64,
}

impl Encoding {
    /// The name reported in findings.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Percent => "percent",
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        }
    }

    /// More specific encodings first: a segment touching a higher one waits for the next pass.
    fn precedence(self) -> u8 {
        match self {
            Encoding::Percent => 3,
            Encoding::Hex => 2,
            Encoding::Base64 => 1,
        }
    }
}

/// A decoded segment: where it was, how it was encoded, and what it decodes to.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) range: Range<usize>,
    pub(crate) encoding: Encoding,
    pub(crate) decoded: Vec<u8>,
}

/// Byte classes: hex digit, decimal digit, "likely base64" character.
const HEX: u8 = 1;
const DIGIT: u8 = 2;
const LIKELY_B64: u8 = 4;

const CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if c.is_ascii_hexdigit() {
            class |= HEX;
        }
        if c.is_ascii_digit() {
            class |= DIGIT | LIKELY_B64;
        }
        if c == b'+' || c == b'/' || c == b'-' || c == b'_' {
            class |= LIKELY_B64;
        }
        table[b] = class;
        b += 1;
    }
    table
}

fn is(c: u8, class: u8) -> bool {
    CLASSES[usize::from(c)] & class != 0
}

/// The decodable segments of `text` among those `keep` accepts, decoding at most `budget` bytes
/// in all (the budget is reduced by what is decoded; a segment that would exceed it is left alone).
pub(crate) fn segments(
    text: &[u8],
    keep: impl Fn(&Range<usize>) -> bool,
    budget: &mut usize,
) -> Vec<Segment> {
    let found = candidates(text);
    let mut out = Vec::new();
    for (i, (range, encoding)) in found.iter().enumerate() {
        let outranked = |other: Option<&(Range<usize>, Encoding)>,
                         touches: &dyn Fn(&Range<usize>) -> bool| {
            other.is_some_and(|(r, e)| touches(r) && e.precedence() > encoding.precedence())
        };
        let before = i.checked_sub(1).and_then(|j| found.get(j));
        if outranked(before, &|r| r.end == range.start)
            || outranked(found.get(i + 1), &|r| r.start == range.end)
            || !keep(range)
        {
            continue;
        }
        let encoded = &text[range.clone()];
        if decoded_len(*encoding, encoded) > *budget {
            break;
        }
        if let Some(decoded) = decode(*encoding, encoded) {
            *budget -= decoded.len();
            out.push(Segment {
                range: range.clone(),
                encoding: *encoding,
                decoded,
            });
        }
    }
    out
}

/// Upper bound of the decoded size of a segment.
fn decoded_len(encoding: Encoding, encoded: &[u8]) -> usize {
    match encoding {
        Encoding::Percent => encoded.len() / 3,
        Encoding::Hex => encoded.len() / 2,
        Encoding::Base64 => encoded.len() / 4 * 3 + 2,
    }
}

/// Candidate segments in order, without overlaps (not yet decoded).
fn candidates(text: &[u8]) -> Vec<(Range<usize>, Encoding)> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut runs = Runs::new(text);
    let mut run = runs.at_or_after(at);
    let mut percent = next_percent(text, at);
    loop {
        match (&percent, &run) {
            (Some(p), r) if r.as_ref().is_none_or(|r| p.start < r.start) => {
                at = p.end;
                out.push((p.clone(), Encoding::Percent));
                percent = next_percent(text, at);
                if r.as_ref().is_some_and(|r| r.start < at) {
                    run = runs.at_or_after(at);
                }
            }
            (_, Some(r)) => {
                at = split_run(text, r.clone(), &mut out);
                run = runs.at_or_after(at);
                if percent.as_ref().is_some_and(|p| p.start < at) {
                    percent = next_percent(text, at);
                }
            }
            _ => return out,
        }
    }
}

/// Splits a run of base64 characters leftmost-first into a hex segment (a hex prefix of at least
/// [`MIN_HEX`]) and a base64 segment (the rest, if at least [`MIN_BASE64`] long, with its padding).
/// Returns where scanning resumes.
fn split_run(text: &[u8], run: Range<usize>, out: &mut Vec<(Range<usize>, Encoding)>) -> usize {
    let mut at = run.start;
    loop {
        let hex = text[at..run.end]
            .iter()
            .take_while(|&&c| is(c, HEX))
            .count();
        if hex >= MIN_HEX {
            out.push((at..at + hex, Encoding::Hex));
            at += hex;
            continue;
        }
        if run.end - at >= MIN_BASE64 {
            let padding = text[run.end..]
                .iter()
                .take(MAX_PADDING)
                .take_while(|&&c| c == b'=')
                .count();
            out.push((at..run.end + padding, Encoding::Base64));
            return run.end + padding;
        }
        return run.end;
    }
}

/// The first run of `%XX` triplets at or after `from`.
fn next_percent(text: &[u8], mut from: usize) -> Option<Range<usize>> {
    let triplet = |at: usize| {
        text.get(at..at + 3)
            .is_some_and(|t| t[0] == b'%' && is(t[1], HEX) && is(t[2], HEX))
    };
    loop {
        let start = from + memchr(b'%', text.get(from..)?)?;
        if !triplet(start) {
            from = start + 1;
            continue;
        }
        let mut end = start + 3;
        while triplet(end) {
            end += 3;
        }
        return Some(start..end);
    }
}

/// Decodes a whole segment, or `None` when it does not decode to printable ASCII.
fn decode(encoding: Encoding, encoded: &[u8]) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Percent => printable(
            encoded
                .chunks_exact(3)
                .map(|t| Some(nibble(t[1])? << 4 | nibble(t[2])?)),
            encoded.len() / 3,
        ),
        Encoding::Hex => {
            if !encoded.len().is_multiple_of(2) || !encoded.iter().any(|&c| is(c, DIGIT)) {
                return None;
            }
            printable(
                encoded
                    .chunks_exact(2)
                    .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)),
                encoded.len() / 2,
            )
        }
        Encoding::Base64 => {
            if !encoded.iter().any(|&c| is(c, LIKELY_B64)) {
                return None;
            }
            base64(encoded, false).or_else(|| base64(encoded, true))
        }
    }
}

/// The decoded bytes if every one decodes and is printable ASCII (tab to `~`). Checked before
/// anything is allocated: most candidates fail within their first bytes.
fn printable(bytes: impl Iterator<Item = Option<u8>> + Clone, capacity: usize) -> Option<Vec<u8>> {
    let ok = |b: Option<u8>| b.is_some_and(|b| (b'\t'..=b'~').contains(&b));
    if !bytes.clone().all(ok) {
        return None;
    }
    let mut out = Vec::with_capacity(capacity);
    out.extend(bytes.flatten());
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Base64 with the standard alphabet and `=` padding (`url = false`), or the URL-safe alphabet
/// without padding (`url = true`). Bits left over in the last character are ignored.
fn base64(encoded: &[u8], url: bool) -> Option<Vec<u8>> {
    let body_len = encoded.len() - encoded.iter().rev().take_while(|&&c| c == b'=').count();
    let (body, padding) = encoded.split_at(body_len);
    let expected_padding = (4 - body.len() % 4) % 4;
    if body.len() % 4 == 1 || (url && !padding.is_empty()) {
        return None;
    }
    if !url && padding.len() != expected_padding {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' if !url => 62,
            b'/' if !url => 63,
            b'-' if url => 62,
            b'_' if url => 63,
            _ => return None,
        }))
    };
    let bytes = body.chunks(4).flat_map(|chunk| {
        let mut bits = 0u32;
        let mut valid = true;
        for (i, &c) in chunk.iter().enumerate() {
            match value(c) {
                Some(v) => bits |= v << (18 - 6 * i),
                None => valid = false,
            }
        }
        let produced = chunk.len() * 6 / 8;
        (0..produced).map(move |i| valid.then(|| (bits >> (16 - 8 * i)) as u8))
    });
    printable(bytes, body.len() / 4 * 3 + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, &'static str, String)> {
        segments(text.as_bytes(), |_| true, &mut usize::MAX.clone())
            .into_iter()
            .map(|s| {
                (
                    text[s.range].to_string(),
                    s.encoding.name(),
                    String::from_utf8(s.decoded).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn base64_hex_and_percent_segments_decode_to_printable_text() {
        // "fake value, not a secret" in each encoding.
        let b64 = "ZmFrZSB2YWx1ZSwgbm90IGEgc2VjcmV0";
        let hex = "66616b652076616c75652c206e6f74206120736563726574";
        let pct = "%66%61%6b%65%20%76%61%6c%75%65";
        let text = format!("a = \"{b64}\"\nb = {hex};\nc={pct}&d\n");
        let segs = found(&text);
        assert_eq!(
            segs,
            vec![
                (b64.into(), "base64", "fake value, not a secret".into()),
                (hex.into(), "hex", "fake value, not a secret".into()),
                (pct.into(), "percent", "fake value".into()),
            ]
        );
    }

    #[test]
    fn base64_padding_and_the_url_alphabet_are_accepted() {
        // "fake value, ok" (one padding character) and "fake value?>?" (URL alphabet).
        assert_eq!(found("x ZmFrZSB2YWx1ZSwgb2s= y")[0].2, "fake value, ok");
        assert_eq!(found("x ZmFrZSB2YWx1ZT8-Pw y")[0].2, "fake value?>?");
    }

    #[test]
    fn short_runs_binary_results_and_unlikely_runs_are_not_decoded() {
        // 15 characters: too short. Identifiers without digits or +/-_: not tried.
        assert!(found("ZmFrZSB2YWx1ZSE").is_empty());
        assert!(found("thisIsAVeryLongIdentifierName").is_empty());
        // Decodes, but to bytes that are not printable.
        assert!(found("AAECAwQFBgcICQoLDA0ODxAR").is_empty());
        // %02 is hex, but decodes to a control byte.
        assert!(found("printf(\"%02x\")").is_empty());
    }

    #[test]
    fn long_hex_runs_are_hex_and_shorter_ones_base64_candidates() {
        let segs = candidates(b"0123456789abcdef0123456789abcdef x 0123456789abcdef0123");
        assert_eq!(
            segs,
            vec![(0..32, Encoding::Hex), (35..55, Encoding::Base64)]
        );
    }

    #[test]
    fn a_segment_touching_a_more_specific_one_waits() {
        // The base64 run right after a percent run is left for the next pass.
        let text = "%41%42ZmFrZSB2YWx1ZSwgbm90IGEgc2VjcmV0";
        let segs = found(text);
        assert_eq!(segs.len(), 1, "{segs:?}");
        assert_eq!(segs[0].1, "percent");
    }

    #[test]
    fn runs_are_found_at_every_alignment() {
        for pad in 0..40 {
            let text = format!("{}ZmFrZSB2YWx1ZSwgbm90IGEgc2VjcmV0.", " ".repeat(pad));
            assert_eq!(found(&text).len(), 1, "offset {pad}");
            let text = format!("{}ZmFrZSB2YWx1ZSwgb2s=", ";".repeat(pad));
            assert_eq!(found(&text).len(), 1, "offset {pad}");
        }
    }

    /// The linear finder agrees with gitleaks' pattern, percent | hex | base64 leftmost-first, on
    /// random text made of the characters that matter.
    #[test]
    fn candidates_are_the_matches_of_the_leftmost_first_pattern() {
        let pattern = regex::bytes::Regex::new(
            r"(?-u)(%[0-9A-Fa-f]{2})+|([0-9A-Fa-f]{32,})|([\w/+-]{16,}={0,3})",
        )
        .expect("pattern compiles");
        let alphabet = b"0123456789abcdefABCDEFxyzXYZ_/+-%%=== \n.;";
        let mut state = 0x21d_u64;
        for _ in 0..3000 {
            let mut text = Vec::new();
            let len = (state % 400) as usize;
            // Long stretches of one kind of character, so long runs of each kind occur.
            let mut kind = 0usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state.is_multiple_of(13) {
                    kind = (state >> 8) as usize % 4;
                }
                let pick = (state >> 20) as usize;
                text.push(match kind {
                    0 => alphabet[pick % alphabet.len()],
                    1 => alphabet[pick % 16],
                    2 => alphabet[pick % 32],
                    _ => [b'%', alphabet[pick % 22], alphabet[(pick >> 5) % 16]][(pick >> 10) % 3],
                });
            }
            let expected: Vec<(Range<usize>, Encoding)> = pattern
                .captures_iter(&text)
                .map(|c| {
                    let encoding = if c.get(1).is_some() {
                        Encoding::Percent
                    } else if c.get(2).is_some() {
                        Encoding::Hex
                    } else {
                        Encoding::Base64
                    };
                    (c.get(0).map_or(0..0, |m| m.range()), encoding)
                })
                .collect();
            assert_eq!(
                candidates(&text),
                expected,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn the_budget_bounds_the_decoded_bytes() {
        let b64 = "ZmFrZSB2YWx1ZSwgbm90IGEgc2VjcmV0";
        let text = format!("{b64} {b64} {b64}");
        let mut budget = 50;
        let segs = segments(text.as_bytes(), |_| true, &mut budget);
        assert_eq!(segs.len(), 2);
        assert_eq!(budget, 50 - 48);
    }
}
