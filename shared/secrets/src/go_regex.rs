//! Compiles gitleaks (Go RE2) patterns with `regex::bytes`: ASCII-only classes, size limits, and the
//! small syntax differences between Go and Rust rewritten (literal `{`, `[` and set operators in classes).

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_automata::meta;
use regex_automata::util::syntax;
use regex_syntax::hir::Hir;

/// Upper bound on the compiled program of one pattern.
const SIZE_LIMIT: usize = 16 * 1024 * 1024;
/// Upper bound on the lazy DFA cache of one pattern (per thread).
const DFA_SIZE_LIMIT: usize = 2 * 1024 * 1024;
/// Upper bound on the lazy DFA cache of one rule regex (per thread).
const RULE_DFA_SIZE_LIMIT: usize = 16 * 1024 * 1024;
/// Patterns longer than this are rejected before parsing.
const MAX_PATTERN_LEN: usize = 16 * 1024;

/// Compiles a Go/RE2 pattern with RE2-like semantics, or explains why it cannot be compiled.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "pattern is {} bytes long, more than the {MAX_PATTERN_LEN} allowed",
            pattern.len()
        ));
    }
    RegexBuilder::new(&translate(pattern))
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Compiles Go/RE2 patterns, each already accepted by [`compile`], as one set that tells in one pass over a
/// haystack whether any of them matches.
pub(crate) fn compile_set(patterns: &[String]) -> Result<RegexSet, String> {
    RegexSetBuilder::new(patterns.iter().map(|p| translate(p)))
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Compiles a rule's content pattern like [`compile`] (same syntax, limits and match semantics as
/// `regex::bytes`), as the lower-level regex that can search a span of a haystack with its context,
/// together with its parsed form.
pub(crate) fn compile_rule(pattern: &str) -> Result<(meta::Regex, Hir, String), String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "pattern is {} bytes long, more than the {MAX_PATTERN_LEN} allowed",
            pattern.len()
        ));
    }
    let translated = translate(pattern);
    let hir = syntax::parse_with(&translated, &syntax_config()).map_err(|e| e.to_string())?;
    let regex = build_meta(&hir)?;
    Ok((regex, hir, translated))
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// The lower-level regex with the settings `regex::bytes::RegexBuilder` uses, and this crate's limits.
fn build_meta(hir: &Hir) -> Result<meta::Regex, String> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(regex_automata::MatchKind::LeftmostFirst)
                .utf8_empty(false)
                .nfa_size_limit(Some(SIZE_LIMIT))
                .hybrid_cache_capacity(RULE_DFA_SIZE_LIMIT),
        )
        .syntax(syntax_config())
        .build_from_hir(hir)
        .map_err(|e| e.to_string())
}

/// Rewrites the Go syntax that Rust's parser reads differently; the matching semantics are unchanged.
pub(crate) fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            out.push(c);
            if let Some(&next) = chars.get(i + 1) {
                out.push(next);
            }
            i += 2;
            continue;
        }
        if in_class {
            i = translate_class_char(&chars, i, class_start, &mut out, &mut in_class);
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = i;
            }
            '{' if !starts_repetition(&chars[i..]) => {
                out.push_str("\\{");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Handles one character inside a bracket class; returns the next index.
fn translate_class_char(
    chars: &[char],
    i: usize,
    class_start: usize,
    out: &mut String,
    in_class: &mut bool,
) -> usize {
    let c = chars[i];
    match c {
        ']' if i == class_start => {
            out.push_str("\\]");
            i + 1
        }
        ']' => {
            *in_class = false;
            out.push(']');
            i + 1
        }
        '[' if chars.get(i + 1) == Some(&':') => match find_ascii_class_end(chars, i) {
            Some(end) => {
                out.extend(&chars[i..end]);
                end
            }
            None => {
                out.push_str("\\[");
                i + 1
            }
        },
        '[' | '&' | '~' => {
            out.push('\\');
            out.push(c);
            i + 1
        }
        '-' if chars.get(i + 1) == Some(&'-') => {
            out.push_str("-\\-");
            i + 2
        }
        _ => {
            out.push(c);
            i + 1
        }
    }
}

/// For `[:name:]` at `start`, the index just past the closing `]`.
fn find_ascii_class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 2;
    while j < chars.len() && (chars[j].is_ascii_alphabetic() || chars[j] == '^') {
        j += 1;
    }
    (chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&']')).then_some(j + 2)
}

/// Whether `{…` is a Go counted repetition: `{n}`, `{n,}` or `{n,m}`.
fn starts_repetition(rest: &[char]) -> bool {
    let mut j = 1;
    let digits_start = j;
    while rest.get(j).is_some_and(char::is_ascii_digit) {
        j += 1;
    }
    if j == digits_start {
        return false;
    }
    if rest.get(j) == Some(&',') {
        j += 1;
        while rest.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
    }
    rest.get(j) == Some(&'}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_braces_are_escaped_but_repetitions_kept() {
        assert_eq!(translate(r"^\$(?:\d+|{\d+})$"), r"^\$(?:\d+|\{\d+})$");
        assert_eq!(translate(r"a{2,5}b{3}c{4,}"), r"a{2,5}b{3}c{4,}");
        assert_eq!(translate(r"x{,3}"), r"x\{,3}");
        assert_eq!(translate(r"[{}]\{"), r"[{}]\{");
    }

    #[test]
    fn class_syntax_differences_are_rewritten() {
        assert_eq!(translate(r"[[:alnum:]]"), r"[[:alnum:]]");
        assert_eq!(translate(r"[]a]"), r"[\]a]");
        assert_eq!(translate(r"[a[]"), r"[a\[]");
        assert_eq!(translate(r"[&&~]"), r"[\&\&\~]");
        assert!(compile(r"[[]x").is_ok());
    }

    #[test]
    fn classes_are_ascii_only_and_oversized_patterns_rejected() {
        let re = compile(r"^\w+$").map_err(|e| e.to_string());
        assert!(re.as_ref().is_ok_and(|r| r.is_match(b"abc_1")));
        assert!(re.is_ok_and(|r| !r.is_match("é".as_bytes())));
        let err = compile(&"a".repeat(MAX_PATTERN_LEN + 1)).err();
        assert!(err.is_some_and(|e| e.contains("more than")));
        assert!(compile(r"(unclosed").is_err());
    }
}
