//! Decoded-content scanning (gitleaks' `--max-decode-depth`): secrets written base64, hex or
//! percent-encoded, or nested, are found at the encoded text with the encoding chain. Every secret
//! is a fake generated at run time from a fixed seed (labelled as such in the scanned text).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_secrets::{RuleSet, ScanOptions, Scanner, SecretFinding, DEFAULT_MAX_DECODE_DEPTH};
use common::{base64, hex, percent, Fake, ALNUM, B64};

const PATH: &str = "deploy/values.yaml";

fn scanner(depth: usize) -> Scanner {
    Scanner::new(
        RuleSet::default_rules().expect("default rules"),
        ScanOptions {
            max_decode_depth: depth,
            ..ScanOptions::default()
        },
    )
}

fn scan(depth: usize, text: &str) -> Vec<SecretFinding> {
    scanner(depth).scan_bytes(PATH, text.as_bytes())
}

/// A fake GitHub token (rule `github-token`).
fn fake_token(seed: u64) -> String {
    ["gh", "p_", &Fake::new(seed).string(ALNUM, 36)].concat()
}

/// Line and column (1-based) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (u64, u64) {
    let at = text.find(needle).expect("needle present");
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (
        1 + text[..at].matches('\n').count() as u64,
        (at - line_start + 1) as u64,
    )
}

#[test]
fn secrets_in_base64_hex_percent_and_nested_encodings_are_found_at_the_encoded_text() {
    let tokens: Vec<String> = (1..=4).map(|n| fake_token(0x21d0 + n)).collect();
    let encoded = [
        base64(tokens[0].as_bytes()),
        hex(tokens[1].as_bytes()),
        percent(tokens[2].as_bytes()),
        base64(hex(tokens[3].as_bytes()).as_bytes()),
    ];
    let text = format!(
        "# fake tokens for a test, none is real\nplain: nothing here\n  b64: \"{}\"\nhex = {}\n\
         url: https://example.invalid/?t={}&x=1\n    nested: {}\n",
        encoded[0], encoded[1], encoded[2], encoded[3]
    );
    let findings = scan(DEFAULT_MAX_DECODE_DEPTH, &text);
    let chains: [&[&str]; 4] = [&["base64"], &["hex"], &["percent"], &["base64", "hex"]];
    assert_eq!(findings.len(), 4, "{findings:#?}");
    for ((finding, encoded), chain) in findings.iter().zip(&encoded).zip(chains) {
        assert_eq!(finding.rule_id, "github-token");
        assert_eq!((finding.line, finding.column), position(&text, encoded));
        assert_eq!(finding.end_line, finding.line);
        assert_eq!(finding.decoded, chain);
        assert_eq!(finding.redacted, "ghp_****");
        assert!(!finding.snippet.contains(encoded.as_str()), "{finding:?}");
    }
    // The encoding chain is serialised with the finding.
    let json = serde_json::to_value(&findings[3]).expect("serialisable");
    assert_eq!(json["decoded"], serde_json::json!(["base64", "hex"]));
}

#[test]
fn a_decoded_secret_has_the_fingerprint_of_the_same_secret_written_plainly() {
    let token = fake_token(0x21d9);
    let text = format!(
        "# fake token for a test\nplain = {token}\nencoded = {}\n",
        base64(token.as_bytes())
    );
    let findings = scan(DEFAULT_MAX_DECODE_DEPTH, &text);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings[0].decoded.is_empty());
    assert_eq!((findings[0].line, findings[1].line), (2, 3));
    assert_eq!(findings[1].decoded, ["base64"]);
    assert_eq!(findings[0].fingerprint, findings[1].fingerprint);
    // A plain finding keeps its fingerprint whether decoding is on or off.
    let plain = scan(0, &text);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].fingerprint, findings[0].fingerprint);
}

#[test]
fn depth_zero_disables_decoding_and_depth_one_stops_before_nested_encodings() {
    let token = fake_token(0x21da);
    let once = base64(token.as_bytes());
    let twice = base64(once.as_bytes());
    let text = format!("# fake token for a test\nonce: {once}\ntwice: {twice}\n");
    assert!(scan(0, &text).is_empty());
    let depth_one = scan(1, &text);
    assert_eq!(depth_one.len(), 1, "{depth_one:#?}");
    assert_eq!(depth_one[0].line, 2);
    let depth_two = scan(2, &text);
    assert_eq!(depth_two.len(), 2, "{depth_two:#?}");
    assert_eq!(depth_two[1].decoded, ["base64", "base64"]);
    assert_eq!(
        position(&text, &twice),
        (depth_two[1].line, depth_two[1].column)
    );
}

#[test]
fn a_decoded_secret_on_a_gitleaks_allow_line_is_not_reported() {
    let token = fake_token(0x21db);
    let text = format!(
        "x = {}  # gitleaks:allow (fake)\n",
        base64(token.as_bytes())
    );
    assert!(scan(DEFAULT_MAX_DECODE_DEPTH, &text).is_empty());
}

#[test]
fn multi_megabyte_base64_blobs_are_scanned_and_a_secret_at_their_end_is_found() {
    let mut fake = Fake::new(0x21dc);
    // 3 MiB of base64-looking text that decodes to nothing printable, on one line.
    let noise = fake.string(B64, 3 << 20);
    // A 3 MiB base64 blob of printable filler with a fake token at its end.
    let token = fake_token(0x21dd);
    let mut payload = fake
        .string(" abcdefghijklmnopqrstuvwxyz", 9 << 18)
        .into_bytes();
    payload.extend_from_slice(format!(" token {token}").as_bytes());
    let blob = base64(&payload);
    let text = format!("noise: {noise}\nblob: {blob}\n");
    let findings = scan(DEFAULT_MAX_DECODE_DEPTH, &text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!((findings[0].line, findings[0].column), (2, 7));
    assert_eq!(findings[0].decoded, ["base64"]);
    assert!(findings[0].snippet.len() < 1000);
}

#[test]
fn a_file_of_many_small_encoded_segments_is_scanned_and_its_secret_found() {
    // 100,000 lines each holding a short percent-encoded segment, then a fake token, percent-encoded.
    let token = fake_token(0x21de);
    let mut text = "k=%41%42%43\n".repeat(100_000);
    let encoded = percent(token.as_bytes());
    text.push_str(&format!("fake: {encoded}\n"));
    let findings = scan(DEFAULT_MAX_DECODE_DEPTH, &text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!((findings[0].line, findings[0].column), (100_001, 7));
    assert_eq!(findings[0].decoded, ["percent"]);
}
