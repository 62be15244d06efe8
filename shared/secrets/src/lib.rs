//! Certus's built-in secrets scanner.
//!
//! Rules use the gitleaks TOML format ([`RuleSet::from_gitleaks_toml`]); Certus ships its own rule set
//! ([`RuleSet::default_rules`]). The rules' keywords (ASCII case ignored; a SIMD search of the lowercased
//! bytes finds where they may start, an Aho-Corasick automaton confirms them) pick the rules that run on a
//! file, and a rule whose regex provably matches only around its keywords runs only on windows
//! around their occurrences, with the same findings; regexes have RE2-like semantics (`regex::bytes`
//! settings, ASCII classes, size limits). As gitleaks' `--max-decode-depth`, base64, hex and
//! percent-encoded segments are decoded (up to [`DEFAULT_MAX_DECODE_DEPTH`] nested encodings, see
//! [`ScanOptions::max_decode_depth`]) and the rules run on the decoded text; a secret found there is
//! reported at the encoded text, with its encodings in [`SecretFinding::decoded`]. Findings
//! never carry the secret in clear: only a redacted prefix, and an identity digest that is never serialised
//! (unkeyed, it would let anyone test guesses of the secret; Certus publishes only a keyed fingerprint of it).

mod allowlist;
mod anchor;
mod buckets;
mod decode;
mod detect;
mod entropy;
mod error;
mod go_regex;
mod keywords;
mod redact;
mod report;
mod rules;
mod runs;
mod scanner;
mod toml_format;
mod walk;

/// The integration tests' fake-secret generator, for the unit tests.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_common;

pub use error::{Result, SecretsError};
pub use report::{ScanReport, SecretFinding, SkipReason};
pub use rules::{RuleError, RuleSet, DEFAULT_RULES};
pub use scanner::{
    PathScan, ScanOptions, Scanner, DEFAULT_MAX_DECODE_DEPTH, DEFAULT_MAX_FILE_SIZE,
    MAX_DECODE_DEPTH, MAX_FINDINGS,
};
pub use walk::BINARY_SNIFF_LEN;
