//! The detection engine for one file: keyword prefilter, rule regexes, secret group, entropy,
//! allowlists, `gitleaks:allow`, path rules; then line numbers and redacted findings.

use std::ops::Range;

use memchr::{memchr, memchr_iter, memmem, memrchr};

use crate::allowlist::Candidate;
use crate::entropy;
use crate::redact;
use crate::report::SecretFinding;
use crate::rules::{Rule, RuleSet};

/// Findings kept per file; further ones are only counted.
pub(crate) const MAX_FINDINGS_PER_FILE: usize = 1000;
/// Marker that silences every finding on its line.
const INLINE_ALLOW: &[u8] = b"gitleaks:allow";

/// Findings of one file.
#[derive(Debug, Default)]
pub(crate) struct FileFindings {
    pub(crate) findings: Vec<SecretFinding>,
    pub(crate) omitted: u64,
}

/// A raw detection before it is located and redacted.
struct Hit {
    rule: usize,
    /// Byte range of the secret; empty for path-only rules.
    secret: Range<usize>,
    entropy: f64,
}

/// Whether a global allowlist excludes this path entirely.
pub(crate) fn path_allowlisted(rules: &RuleSet, path: &str) -> bool {
    rules.global_allowlists.iter().any(|a| a.allows_path(path))
}

/// Runs every applicable rule on one file. `content` is `None` when the file is not scanned for
/// content (binary, too large): only path-only rules can then match.
pub(crate) fn scan_file(rules: &RuleSet, path: &str, content: Option<&[u8]>) -> FileFindings {
    let present = content.map(|data| keywords_present(rules, data));
    let mut hits = Vec::new();
    let mut omitted = 0u64;
    for (index, rule) in rules.rules.iter().enumerate() {
        if rule.allowlists.iter().any(|a| a.allows_path(path)) {
            continue;
        }
        if let Some(path_re) = &rule.path {
            if !path_re.is_match(path.as_bytes()) {
                continue;
            }
            if rule.regex.is_none() {
                push_capped(
                    &mut hits,
                    &mut omitted,
                    Hit {
                        rule: index,
                        secret: 0..0,
                        entropy: 0.0,
                    },
                );
                continue;
            }
        }
        let (Some(data), Some(present)) = (content, present.as_deref()) else {
            continue;
        };
        if !rule.keywords.is_empty() && !rule.keywords.iter().any(|&k| present[k]) {
            continue;
        }
        for hit in rule_hits(rules, index, rule, path, data) {
            push_capped(&mut hits, &mut omitted, hit);
        }
    }
    FileFindings {
        findings: locate(rules, path, content.unwrap_or_default(), hits),
        omitted,
    }
}

fn push_capped(hits: &mut Vec<Hit>, omitted: &mut u64, hit: Hit) {
    if hits.len() < MAX_FINDINGS_PER_FILE {
        hits.push(hit);
    } else {
        *omitted += 1;
    }
}

/// Which keywords (by index) occur in `data`, ignoring ASCII case.
fn keywords_present(rules: &RuleSet, data: &[u8]) -> Vec<bool> {
    let mut present = vec![false; rules.keyword_count];
    let Some(prefilter) = &rules.prefilter else {
        return present;
    };
    let mut missing = rules.keyword_count;
    for m in prefilter.find_overlapping_iter(data) {
        let slot = &mut present[m.pattern().as_usize()];
        if !*slot {
            *slot = true;
            missing -= 1;
            if missing == 0 {
                break;
            }
        }
    }
    present
}

/// Matches of one content rule that survive entropy, inline-allow and allowlist checks.
fn rule_hits<'a>(
    rules: &'a RuleSet,
    index: usize,
    rule: &'a Rule,
    path: &'a str,
    data: &'a [u8],
) -> impl Iterator<Item = Hit> + 'a {
    rule.regex.iter().flat_map(move |regex| {
        regex.captures_iter(data).filter_map(move |caps| {
            let whole = caps.get(0)?;
            let matched = trim_newlines(data, whole.range());
            if matched.is_empty() {
                return None;
            }
            let secret = (rule.secret_group > 0)
                .then(|| caps.get(rule.secret_group))
                .flatten()
                .filter(|m| !m.is_empty())
                .or_else(|| (1..caps.len()).find_map(|g| caps.get(g).filter(|m| !m.is_empty())))
                .map_or(matched.clone(), |m| m.range());
            let line = line_around(data, matched.clone());
            if memmem::find(&data[line.clone()], INLINE_ALLOW).is_some() {
                return None;
            }
            let entropy = entropy::shannon(&data[secret.clone()]);
            if rule.entropy.is_some_and(|min| entropy <= min) {
                return None;
            }
            let candidate = Candidate {
                path,
                secret: &data[secret.clone()],
                matched: &data[matched],
                line: &data[line],
            };
            let allowed = rules
                .global_allowlists
                .iter()
                .chain(&rule.allowlists)
                .any(|a| a.allows(&candidate));
            (!allowed).then_some(Hit {
                rule: index,
                secret,
                entropy,
            })
        })
    })
}

/// `range` without leading and trailing `\n` bytes (as gitleaks trims its matches).
fn trim_newlines(data: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.start < range.end && data[range.start] == b'\n' {
        range.start += 1;
    }
    while range.end > range.start && data[range.end - 1] == b'\n' {
        range.end -= 1;
    }
    range
}

/// The full line(s) spanned by `range`, without the final newline.
fn line_around(data: &[u8], range: Range<usize>) -> Range<usize> {
    let start = memrchr(b'\n', &data[..range.start]).map_or(0, |i| i + 1);
    let end = memchr(b'\n', &data[range.end..]).map_or(data.len(), |i| range.end + i);
    start..end
}

/// Turns hits into findings: line/column, redaction, fingerprint and snippet.
fn locate(rules: &RuleSet, path: &str, data: &[u8], mut hits: Vec<Hit>) -> Vec<SecretFinding> {
    hits.sort_by_key(|h| (h.secret.start, h.rule));
    let spans: Vec<Range<usize>> = hits.iter().map(|h| h.secret.clone()).collect();
    let mut line = 1u64;
    let mut scanned_to = 0usize;
    let mut findings = Vec::with_capacity(hits.len());
    for hit in &hits {
        let rule = &rules.rules[hit.rule];
        let secret = &data[hit.secret.clone()];
        line += count_newlines(&data[scanned_to..hit.secret.start]);
        scanned_to = hit.secret.start;
        let line_range = line_around(data, hit.secret.start..hit.secret.start);
        let body = secret.strip_suffix(b"\n").unwrap_or(secret);
        let same_line: Vec<&[u8]> = hits
            .iter()
            .filter(|h| h.secret.start >= line_range.start && h.secret.start <= line_range.end)
            .map(|h| &data[h.secret.clone()])
            .collect();
        let visible_line = trim_cr(data, line_range);
        findings.push(SecretFinding {
            rule_id: rule.id.clone(),
            description: rule.description.clone(),
            path: path.to_string(),
            line,
            column: to_u64(hit.secret.start - visible_line.start) + 1,
            end_line: line + count_newlines(body),
            redacted: if secret.is_empty() {
                String::new()
            } else {
                redact::redact(secret)
            },
            fingerprint: redact::fingerprint(&rule.id, path, secret),
            entropy: hit.entropy,
            tags: rule.tags.clone(),
            snippet: if secret.is_empty() {
                String::new()
            } else {
                redact::snippet(data, visible_line, hit.secret.clone(), &same_line, &spans)
            },
        });
    }
    findings
}

fn trim_cr(data: &[u8], line: Range<usize>) -> Range<usize> {
    if line.end > line.start && data[line.end - 1] == b'\r' {
        line.start..line.end - 1
    } else {
        line
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    to_u64(memchr_iter(b'\n', bytes).count())
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
