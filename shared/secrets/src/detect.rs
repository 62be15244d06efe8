//! The detection engine for one file: keyword prefilter, rule regexes, secret group, entropy,
//! allowlists, `gitleaks:allow`, path rules; then line numbers and redacted findings.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use memchr::{memchr, memchr_iter, memmem, memrchr};
use regex_automata::util::captures::Captures;
use regex_automata::Input;

use crate::allowlist::Candidate;
use crate::anchor::Anchor;
use crate::decode::{self, Encoding};
use crate::entropy;
use crate::keywords::LANES;
use crate::redact;
use crate::report::SecretFinding;
use crate::rules::{Rule, RuleSet};

/// Findings kept per file; further ones are only counted.
pub(crate) const MAX_FINDINGS_PER_FILE: usize = 1000;
/// Bytes decoded per file at most, over every pass (segments beyond are left encoded).
pub(crate) const MAX_DECODED_BYTES_PER_FILE: usize = 8 * 1024 * 1024;
/// Decoded text is searched on the lines around each decoded segment, at most this many bytes
/// on each side of it.
const DECODED_CONTEXT: usize = 1024;
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
    /// Where the whole match starts (0 for path-only rules).
    start: usize,
    entropy: f64,
}

/// Whether a global allowlist excludes this path entirely.
pub(crate) fn path_allowlisted(rules: &RuleSet, path: &str) -> bool {
    rules.global_allowlists.iter().any(|a| a.allows_path(path))
}

/// How content rules search a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// A keyword-anchored rule's regex runs only on windows around its keyword occurrences.
    Windows,
    /// Every rule's regex runs over the whole file (the reference the windows must agree with).
    #[cfg(test)]
    WholeFile,
}

/// Runs every applicable rule on one file, then on its encoded segments decoded up to
/// `decode_depth` times. `content` is `None` when the file is not scanned for content (binary, too
/// large): only path-only rules can then match.
pub(crate) fn scan_file(
    rules: &RuleSet,
    path: &str,
    content: Option<&[u8]>,
    decode_depth: usize,
) -> FileFindings {
    scan_file_with(rules, path, content, Strategy::Windows, decode_depth)
}

/// [`scan_file`] with an explicit search strategy.
pub(crate) fn scan_file_with(
    rules: &RuleSet,
    path: &str,
    content: Option<&[u8]>,
    strategy: Strategy,
    decode_depth: usize,
) -> FileFindings {
    let mut omitted = 0u64;
    // Secrets of the required parts of reported composite matches: masked in snippets too.
    let mut parts = Vec::new();
    let hits = rule_hits(
        rules,
        path,
        content,
        strategy,
        true,
        &mut omitted,
        &mut parts,
    );
    let Some(data) = content else {
        return FileFindings {
            findings: locate(rules, path, &[], hits, &parts),
            omitted,
        };
    };
    let room = MAX_FINDINGS_PER_FILE - hits.len();
    let mut decoded = decoded_hits(
        rules,
        path,
        data,
        strategy,
        decode_depth,
        &hits,
        &mut omitted,
    );
    if decoded.len() > room {
        omitted += to_u64(decoded.len() - room);
        decoded.truncate(room);
    }
    // The encoded forms of decoded secrets are masked in every snippet too.
    parts.extend(decoded.iter().map(|d| d.original.clone()));
    let spans: Vec<Range<usize>> = hits
        .iter()
        .map(|h| h.secret.clone())
        .chain(parts.iter().cloned())
        .collect();
    let mut findings = locate(rules, path, data, hits, &parts);
    findings.extend(locate_decoded(rules, path, data, decoded, &spans));
    FileFindings { findings, omitted }
}

/// The accepted hits of every applicable rule on `content` (path-only rules too when
/// `path_only_rules`), at most [`MAX_FINDINGS_PER_FILE`], the others counted in `omitted`.
fn rule_hits(
    rules: &RuleSet,
    path: &str,
    content: Option<&[u8]>,
    strategy: Strategy,
    path_only_rules: bool,
    omitted: &mut u64,
    parts: &mut Vec<Range<usize>>,
) -> Vec<Hit> {
    let keywords = content.map(|data| KeywordHits::find(rules, data));
    let mut hits = Vec::new();
    for (index, rule) in rules.rules.iter().enumerate() {
        if rule.skip_report {
            continue;
        }
        let gated_out = match (&keywords, rule.keywords.is_empty()) {
            (Some(found), false) => !rule.keywords.iter().any(|&k| found.present[k]),
            _ => false,
        };
        if gated_out && rule.path.is_none() {
            continue;
        }
        let (content_hits, path_only) = match rule_applies(rule, path) {
            Applies::No => continue,
            Applies::PathOnly if path_only_rules => (Vec::new(), true),
            Applies::PathOnly => continue,
            Applies::Content => match (content, keywords.as_ref()) {
                (Some(data), Some(found)) if !gated_out => (
                    content_hits(rules, index, path, data, found, strategy, omitted),
                    false,
                ),
                _ => continue,
            },
        };
        if path_only {
            push_capped(&mut hits, omitted, path_hit(index));
            continue;
        }
        let kept = match (content, keywords.as_ref()) {
            (Some(data), Some(found)) if !rule.required.is_empty() => composite(
                rules,
                rule,
                path,
                data,
                found,
                strategy,
                content_hits,
                parts,
            ),
            _ => content_hits,
        };
        for hit in kept {
            push_capped(&mut hits, omitted, hit);
        }
    }
    hits
}

/// A secret found in decoded content.
struct DecodedHit {
    rule: usize,
    /// The encoded text in the file that the secret was decoded from.
    original: Range<usize>,
    /// The decoded secret.
    secret: Vec<u8>,
    entropy: f64,
    /// The encodings decoded to reach it, the one in the file first.
    chain: Vec<Encoding>,
}

/// One decoding pass: each segment's encoded range in the previous pass's text, its decoded range in
/// this pass's text, and the encodings decoded to reach it. Sorted by position.
struct Pass {
    segments: Vec<(Range<usize>, Range<usize>, Vec<Encoding>)>,
}

impl Pass {
    /// The segment whose decoded range overlaps `range`, if any.
    fn overlapping(
        &self,
        range: &Range<usize>,
    ) -> Option<&(Range<usize>, Range<usize>, Vec<Encoding>)> {
        let i = self.segments.partition_point(|s| s.1.end <= range.start);
        self.segments.get(i).filter(|s| s.1.start < range.end)
    }

    /// Whether `range` overlaps or touches a decoded range of this pass.
    fn touches(&self, range: &Range<usize>) -> bool {
        let i = self.segments.partition_point(|s| s.1.end < range.start);
        self.segments.get(i).is_some_and(|s| s.1.start <= range.end)
    }

    /// Where a start position of this pass's text was in the previous one (inside a decoded range:
    /// the start of its encoded range).
    fn map_start(&self, at: usize) -> usize {
        match self.segments.partition_point(|s| s.1.start <= at) {
            0 => at,
            i => {
                let (encoded, decoded, _) = &self.segments[i - 1];
                if at < decoded.end {
                    encoded.start
                } else {
                    at - decoded.end + encoded.end
                }
            }
        }
    }

    /// Where an end position of this pass's text was in the previous one (inside a decoded range:
    /// the end of its encoded range).
    fn map_end(&self, at: usize) -> usize {
        match self.segments.partition_point(|s| s.1.start < at) {
            0 => at,
            i => {
                let (encoded, decoded, _) = &self.segments[i - 1];
                if at <= decoded.end {
                    encoded.end
                } else {
                    at - decoded.end + encoded.end
                }
            }
        }
    }
}

/// Secrets found by the rules in decoded segments, as gitleaks' `--max-decode-depth`: each pass
/// decodes the segments of the previous pass's text (the first: of the file; later ones: only those
/// touching what the previous pass decoded) and runs the rules on the decoded text around them. A
/// hit counts only when its secret overlaps decoded bytes (the others were found by an earlier pass),
/// and is located at the encoded text it came from in the file; a hit of the same rule at the same
/// place as an earlier one is dropped. At most [`MAX_DECODED_BYTES_PER_FILE`] bytes are decoded, and
/// at most [`MAX_FINDINGS_PER_FILE`] hits kept (the others counted in `omitted`).
fn decoded_hits(
    rules: &RuleSet,
    path: &str,
    data: &[u8],
    strategy: Strategy,
    depth: usize,
    plain: &[Hit],
    omitted: &mut u64,
) -> Vec<DecodedHit> {
    let mut out = Vec::new();
    let mut seen: Option<HashSet<(usize, usize)>> = None;
    let mut budget = MAX_DECODED_BYTES_PER_FILE;
    let mut passes: Vec<Pass> = Vec::new();
    let mut text: Cow<[u8]> = Cow::Borrowed(data);
    for _ in 0..depth {
        let previous = passes.last();
        let found = decode::segments(
            &text,
            |range| previous.is_none_or(|p| p.touches(range)),
            &mut budget,
        );
        if found.is_empty() {
            break;
        }
        let mut next = Vec::with_capacity(text.len());
        let mut segments = Vec::with_capacity(found.len());
        let mut copied = 0;
        for segment in found {
            next.extend_from_slice(&text[copied..segment.range.start]);
            let start = next.len();
            next.extend_from_slice(&segment.decoded);
            let mut chain = previous
                .and_then(|p| p.overlapping(&segment.range))
                .map(|s| s.2.clone())
                .unwrap_or_default();
            chain.push(segment.encoding);
            copied = segment.range.end;
            segments.push((segment.range, start..next.len(), chain));
        }
        next.extend_from_slice(&text[copied..]);
        let seen =
            seen.get_or_insert_with(|| plain.iter().map(|h| (h.rule, h.secret.start)).collect());
        passes.push(Pass { segments });
        let Some(pass) = passes.last() else {
            break;
        };
        for region in regions(&next, pass) {
            let mut parts = Vec::new();
            let sub = &next[region.clone()];
            for hit in rule_hits(rules, path, Some(sub), strategy, false, &mut 0, &mut parts) {
                let secret = region.start + hit.secret.start..region.start + hit.secret.end;
                let Some(segment) = pass.overlapping(&secret) else {
                    continue;
                };
                let chain = segment.2.clone();
                let original = passes.iter().rev().fold(secret.clone(), |at, p| {
                    p.map_start(at.start)..p.map_end(at.end)
                });
                let line = line_around(data, original.clone());
                if !seen.insert((hit.rule, original.start))
                    || memmem::find(&data[line], INLINE_ALLOW).is_some()
                {
                    continue;
                }
                if out.len() >= MAX_FINDINGS_PER_FILE {
                    *omitted += 1;
                    continue;
                }
                out.push(DecodedHit {
                    rule: hit.rule,
                    original,
                    secret: next[secret].to_vec(),
                    entropy: hit.entropy,
                    chain,
                });
            }
        }
        text = Cow::Owned(next);
    }
    out
}

/// Disjoint spans of `text` around the decoded ranges of `pass`: each range widened to its lines, by
/// at most [`DECODED_CONTEXT`] bytes on each side, and spans close to each other joined.
fn regions(text: &[u8], pass: &Pass) -> Vec<Range<usize>> {
    let spans = pass
        .segments
        .iter()
        .map(|(_, decoded, _)| {
            let floor = decoded.start.saturating_sub(DECODED_CONTEXT);
            let start =
                memrchr(b'\n', &text[floor..decoded.start]).map_or(floor, |i| floor + i + 1);
            let ceiling = decoded.end.saturating_add(DECODED_CONTEXT).min(text.len());
            let end =
                memchr(b'\n', &text[decoded.end..ceiling]).map_or(ceiling, |i| decoded.end + i);
            start..end
        })
        .collect();
    // Spans less than DECODED_CONTEXT apart are searched as one: a file of many small encoded
    // segments costs a few searches per KiB, not a search of every rule per segment.
    let mut merged: Vec<Range<usize>> = Vec::new();
    for span in merge(spans) {
        match merged.last_mut() {
            Some(last) if span.start <= last.end.saturating_add(DECODED_CONTEXT) => {
                last.end = span.end;
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// Whether a rule looks at a file, from its path alone.
enum Applies {
    No,
    /// A path-only rule whose path matches: one finding for the file.
    PathOnly,
    Content,
}

fn rule_applies(rule: &Rule, path: &str) -> Applies {
    if rule.allowlists.iter().any(|a| a.allows_path(path)) {
        return Applies::No;
    }
    match (&rule.path, &rule.regex) {
        (Some(path_re), _) if !path_re.is_match(path.as_bytes()) => Applies::No,
        (Some(_), None) => Applies::PathOnly,
        (None, None) => Applies::No,
        (_, Some(_)) => Applies::Content,
    }
}

fn path_hit(rule: usize) -> Hit {
    Hit {
        rule,
        secret: 0..0,
        start: 0,
        entropy: 0.0,
    }
}

/// Every accepted match of one content rule in `data` (at most [`MAX_FINDINGS_PER_FILE`], the
/// others counted in `omitted`).
fn content_hits(
    rules: &RuleSet,
    index: usize,
    path: &str,
    data: &[u8],
    found: &KeywordHits,
    strategy: Strategy,
    omitted: &mut u64,
) -> Vec<Hit> {
    let rule = &rules.rules[index];
    let mut hits = Vec::new();
    let Some(regex) = &rule.regex else {
        return hits;
    };
    // One set of capture slots for every window: a file holds thousands of keyword occurrences.
    let mut caps = regex.create_captures();
    let mut push = |hit| push_capped(&mut hits, omitted, hit);
    let mut search = |span| search_span(rules, index, path, data, span, &mut caps, &mut push);
    match (strategy, rule.anchor) {
        (Strategy::Windows, Anchor::Bounded { head_len, max_len }) => {
            // A match starts at most `head_len` before a keyword's end, and ends at most `max_len` after
            // its start.
            found
                .windows(&rule.keywords, head_len, max_len, data.len())
                .into_iter()
                .for_each(search);
        }
        (Strategy::Windows, Anchor::Head { head_len, newlines }) => {
            // A match starts at most `head_len` before a keyword's end, and ends before the line
            // feed after the `newlines` ones it may hold.
            found
                .line_windows(&rule.keywords, head_len, newlines, data)
                .into_iter()
                .for_each(search);
        }
        _ => search(0..data.len()),
    }
    hits
}

/// The matches of a composite rule that have, for each required rule, a match of it nearby (as
/// gitleaks: the required rules run whatever their keywords, and the distance is between the starts
/// of both matches, in lines and in byte columns). Their secrets are added to `parts`.
#[allow(clippy::too_many_arguments)]
fn composite(
    rules: &RuleSet,
    rule: &Rule,
    path: &str,
    data: &[u8],
    found: &KeywordHits,
    strategy: Strategy,
    primary: Vec<Hit>,
    parts: &mut Vec<Range<usize>>,
) -> Vec<Hit> {
    if primary.is_empty() {
        return primary;
    }
    let required: Vec<Vec<(Hit, (u64, u64))>> = rule
        .required
        .iter()
        .map(|req| {
            let hits = match rule_applies(&rules.rules[req.rule], path) {
                Applies::No => Vec::new(),
                Applies::PathOnly => vec![path_hit(req.rule)],
                Applies::Content => {
                    content_hits(rules, req.rule, path, data, found, strategy, &mut 0)
                }
            };
            hits.into_iter()
                .map(|h| {
                    let at = line_column(data, h.start);
                    (h, at)
                })
                .collect()
        })
        .collect();
    let mut kept = Vec::new();
    for hit in primary {
        let (line, column) = line_column(data, hit.start);
        let near: Vec<Vec<&Hit>> = rule
            .required
            .iter()
            .zip(&required)
            .map(|(req, hits)| {
                hits.iter()
                    .filter(|(_, (l, c))| {
                        req.within_lines.is_none_or(|n| l.abs_diff(line) <= n)
                            && req.within_columns.is_none_or(|n| c.abs_diff(column) <= n)
                    })
                    .map(|(h, _)| h)
                    .collect()
            })
            .collect();
        if near.iter().all(|hits| !hits.is_empty()) {
            parts.extend(near.iter().flatten().map(|h| h.secret.clone()));
            kept.push(hit);
        }
    }
    kept
}

/// 1-based line and byte column of a position.
fn line_column(data: &[u8], at: usize) -> (u64, u64) {
    let line_start = memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
    (
        1 + count_newlines(&data[..line_start]),
        to_u64(at - line_start) + 1,
    )
}

fn push_capped(hits: &mut Vec<Hit>, omitted: &mut u64, hit: Hit) {
    if hits.len() < MAX_FINDINGS_PER_FILE {
        hits.push(hit);
    } else {
        *omitted += 1;
    }
}

/// Every keyword occurrence in a buffer (ASCII case ignored), and which keywords occur. Occurrences of one
/// keyword that overlap or touch, in order, are kept as one run: the windows around them are contiguous and
/// the run's window is their union, so a file made of one keyword repeated costs one entry, not one per
/// occurrence.
struct KeywordHits {
    present: Vec<bool>,
    runs: Vec<Run>,
}

/// Occurrences of one keyword, each starting at or before the end of the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    keyword: usize,
    /// Where the first occurrence ends.
    first_end: usize,
    /// Where the last occurrence starts and ends.
    last: (usize, usize),
}

impl KeywordHits {
    fn find(rules: &RuleSet, data: &[u8]) -> Self {
        let mut present = vec![false; rules.keyword_count];
        let mut runs: Vec<Run> = Vec::new();
        // The keyword search may report from a few stretches of the buffer in turn (`keywords::LANES`):
        // each keyword's latest runs, one per stretch, to extend.
        let mut latest = vec![[usize::MAX; LANES]; rules.keyword_count];
        if let Some(prefilter) = &rules.prefilter {
            prefilter.each(data, |keyword, at| {
                present[keyword] = true;
                let slots = &mut latest[keyword];
                let extends = |&n: &usize| {
                    runs.get(n)
                        .is_some_and(|run| run.last.0 <= at.start && at.start <= run.last.1)
                };
                match slots.iter().find(|n| extends(n)).copied() {
                    Some(n) => runs[n].last = (at.start, at.end),
                    None => {
                        slots.rotate_right(1);
                        slots[0] = runs.len();
                        runs.push(Run {
                            keyword,
                            first_end: at.end,
                            last: (at.start, at.end),
                        });
                    }
                }
            });
        }
        Self { present, runs }
    }

    /// Disjoint, sorted spans around the occurrences of `keywords` (sorted indexes): from `before`
    /// bytes before an occurrence's end to `after` bytes after its start (for a run, from before its first
    /// occurrence's end to after its last one's start). With `before` the longest a match runs before the
    /// end of an occurrence it holds, and `after` the longest match, they hold every such match.
    fn windows(
        &self,
        keywords: &[usize],
        before: usize,
        after: usize,
        len: usize,
    ) -> Vec<Range<usize>> {
        let spans: Vec<Range<usize>> = self
            .runs
            .iter()
            .filter(|run| keywords.binary_search(&run.keyword).is_ok())
            .map(|run| {
                run.first_end.saturating_sub(before)..run.last.0.saturating_add(after).min(len)
            })
            .filter(|span| span.start <= span.end)
            .collect();
        merge(spans)
    }

    /// Disjoint, sorted spans holding every match that starts at most `head_len` bytes before the
    /// end of an occurrence of `keywords` and holds at most `newlines` line feeds.
    fn line_windows(
        &self,
        keywords: &[usize],
        head_len: usize,
        newlines: usize,
        data: &[u8],
    ) -> Vec<Range<usize>> {
        let spans = self
            .runs
            .iter()
            .filter(|run| keywords.binary_search(&run.keyword).is_ok())
            .map(|run| {
                let mut stop = run.last.0;
                for _ in 0..=newlines {
                    match memchr(b'\n', &data[stop..]) {
                        Some(at) => stop += at + 1,
                        None => {
                            stop = data.len();
                            break;
                        }
                    }
                }
                run.first_end.saturating_sub(head_len)..stop
            })
            .collect();
        merge(spans)
    }
}

/// Sorted, merged spans.
fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_unstable_by_key(|span| span.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Runs one content rule over `span` of `data` (the rest of `data` is context for look-arounds such
/// as `\b`), leftmost-first and without overlaps like a whole-haystack iteration, and hands on the
/// matches that survive entropy, inline-allow and allowlist checks.
fn search_span(
    rules: &RuleSet,
    index: usize,
    path: &str,
    data: &[u8],
    span: Range<usize>,
    caps: &mut Captures,
    push: &mut impl FnMut(Hit),
) {
    let rule = &rules.rules[index];
    let Some(regex) = &rule.regex else {
        return;
    };
    let mut at = span.start;
    // As `captures_iter`: the next search starts where the last match ended, and an empty match
    // right there is skipped by searching again one byte further.
    let mut last_end: Option<usize> = None;
    while at <= span.end {
        regex.search_captures(&Input::new(data).range(at..span.end), caps);
        let Some(mut whole) = caps.get_match() else {
            break;
        };
        if whole.is_empty() && last_end == Some(whole.end()) {
            if at >= span.end {
                break;
            }
            regex.search_captures(&Input::new(data).range(at + 1..span.end), caps);
            match caps.get_match() {
                Some(m) => whole = m,
                None => break,
            }
        }
        at = whole.end();
        last_end = Some(whole.end());
        if let Some(hit) = accept(rules, index, rule, path, data, caps, whole.range()) {
            push(hit);
        }
    }
}

/// A match of a content rule as a hit, unless trimmed empty, inline-allowed, below the entropy
/// threshold or allowlisted.
fn accept(
    rules: &RuleSet,
    index: usize,
    rule: &Rule,
    path: &str,
    data: &[u8],
    caps: &Captures,
    whole: Range<usize>,
) -> Option<Hit> {
    let matched = trim_newlines(data, whole);
    if matched.is_empty() {
        return None;
    }
    let group = |g: usize| caps.get_group(g).filter(|m| !m.is_empty());
    let secret = (rule.secret_group > 0)
        .then(|| group(rule.secret_group))
        .flatten()
        .or_else(|| (1..caps.group_len()).find_map(group))
        .map_or(matched.clone(), |m| m.range());
    let line = line_around(data, matched.clone());
    if memmem::find(&data[line.clone()], INLINE_ALLOW).is_some() {
        return None;
    }
    let entropy = entropy::shannon(&data[secret.clone()]);
    if rule.entropy.is_some_and(|min| entropy <= min) {
        return None;
    }
    let start = matched.start;
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
        start,
        entropy,
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
/// `parts`: further secret spans to mask (required parts of composite matches).
fn locate(
    rules: &RuleSet,
    path: &str,
    data: &[u8],
    mut hits: Vec<Hit>,
    parts: &[Range<usize>],
) -> Vec<SecretFinding> {
    hits.sort_by_key(|h| (h.secret.start, h.rule));
    let spans: Vec<Range<usize>> = hits
        .iter()
        .map(|h| h.secret.clone())
        .chain(parts.iter().cloned())
        .collect();
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
            decoded: Vec::new(),
        });
    }
    findings
}

/// Turns decoded hits into findings located at their encoded text, with the decoded secret's
/// redaction and fingerprint. `spans`: every secret span of the file, masked in snippets.
fn locate_decoded(
    rules: &RuleSet,
    path: &str,
    data: &[u8],
    mut hits: Vec<DecodedHit>,
    spans: &[Range<usize>],
) -> Vec<SecretFinding> {
    hits.sort_by_key(|h| (h.original.start, h.rule));
    let mut line = 1u64;
    let mut scanned_to = 0usize;
    let mut findings = Vec::with_capacity(hits.len());
    for hit in hits {
        let rule = &rules.rules[hit.rule];
        line += count_newlines(&data[scanned_to..hit.original.start]);
        scanned_to = hit.original.start;
        let visible_line = trim_cr(
            data,
            line_around(data, hit.original.start..hit.original.start),
        );
        findings.push(SecretFinding {
            rule_id: rule.id.clone(),
            description: rule.description.clone(),
            path: path.to_string(),
            line,
            column: to_u64(hit.original.start - visible_line.start) + 1,
            end_line: line + count_newlines(&data[hit.original.clone()]),
            redacted: redact::redact(&hit.secret),
            fingerprint: redact::fingerprint(&rule.id, path, &hit.secret),
            entropy: hit.entropy,
            tags: rule.tags.clone(),
            snippet: redact::snippet(data, visible_line, hit.original.clone(), &[], spans),
            decoded: hit.chain.iter().map(|e| e.name().to_string()).collect(),
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

#[cfg(test)]
mod tests {
    //! The windowed search must find exactly what the whole-file search finds.

    use super::*;

    use crate::test_common as common;

    /// Deterministic text built from the rules' keywords, secret-like tokens, separators and fake
    /// secrets of every default family (generated here, none is real).
    fn generated_file(fake: &mut common::Fake, words: &[String], seed: u64) -> String {
        const SEPARATORS: &[&str] = &[
            " ", " = ", ":", "\"", "'", "\n", "\t", ",", ";", " => ", "\\n", "\r\n", "(", ")", "`",
            "\n\n\n",
        ];
        const PREFIXES: &[&str] = &[
            "gh",
            "p_",
            "AK",
            "IA",
            "xo",
            "xb-",
            "sk",
            "_live_",
            "ey",
            "J",
            "hv",
            "s.",
            "s.",
            "-----BEGIN ",
            "PRIVATE KEY-----",
            "glp",
            "at-",
            "AI",
            "za",
            "np",
            "m_",
            "SG.",
            "SK",
            "https://",
        ];
        let mut text = String::new();
        let mut state = seed | 1;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..3000 {
            match next(6) {
                0 => {
                    let word = &words[next(words.len() as u64) as usize];
                    if next(2) == 0 {
                        text.push_str(&word.to_ascii_uppercase());
                    } else {
                        text.push_str(word);
                    }
                }
                1 => {
                    let len = 1 + next(60) as usize;
                    let alphabet =
                        [common::ALNUM, common::B64, common::HEX, common::DIGITS][next(4) as usize];
                    text.push_str(&fake.string(alphabet, len));
                }
                2 => text.push_str(PREFIXES[next(PREFIXES.len() as u64) as usize]),
                _ => text.push_str(SEPARATORS[next(SEPARATORS.len() as u64) as usize]),
            }
        }
        for (n, planted) in common::default_families(fake).into_iter().enumerate() {
            text.push('\n');
            text.push_str(&planted.text);
            // The same line encoded, once or nested, next to plain text.
            let line = planted.text.as_bytes();
            let encoded = match n % 4 {
                0 => common::base64(line),
                1 => common::hex(line),
                2 => common::percent(line),
                _ => common::base64(common::hex(line).as_bytes()),
            };
            text.push_str(&format!("\nvalue: {encoded} "));
        }
        text
    }

    /// Asserts both strategies agree; returns the count of findings and of decoded ones.
    fn assert_same_findings(rules: &RuleSet, files: &[(String, Vec<u8>)]) -> (usize, usize) {
        let mut total = 0;
        let mut decoded = 0;
        for (path, data) in files {
            let fast = scan_file_with(rules, path, Some(data), Strategy::Windows, 5);
            let whole = scan_file_with(rules, path, Some(data), Strategy::WholeFile, 5);
            assert_eq!(fast.findings, whole.findings, "{path}");
            assert_eq!(fast.omitted, whole.omitted, "{path}");
            total += fast.findings.len();
            decoded += fast
                .findings
                .iter()
                .filter(|f| !f.decoded.is_empty())
                .count();
        }
        (total, decoded)
    }

    fn generated_corpus(rules: &RuleSet) -> Vec<(String, Vec<u8>)> {
        // Keywords, and the first letters of each pattern (often a token prefix).
        let mut words: Vec<String> = rules.keywords().to_vec();
        for rule in &rules.rules {
            if let Some(pattern) = &rule.pattern {
                words.push(
                    pattern
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric())
                        .take(8)
                        .collect(),
                );
            }
        }
        let mut fake = common::Fake::new(0x5eed_0021);
        (0..24u64)
            .map(|n| {
                let text = generated_file(&mut fake, &words, n + 1);
                (format!("src/file{n}.py"), text.into_bytes())
            })
            .collect()
    }

    #[test]
    fn windows_find_what_the_whole_file_search_finds_with_the_default_rules() {
        let rules = RuleSet::default_rules().expect("default rules");
        let files = generated_corpus(&rules);
        let (findings, decoded) = assert_same_findings(&rules, &files);
        assert!(
            findings > 24 * 15,
            "the corpus plants secrets: {findings} findings"
        );
        assert!(
            decoded > 24 * 10,
            "the corpus plants encoded secrets: {decoded} decoded findings"
        );
    }

    #[test]
    fn windows_find_what_the_whole_file_search_finds_with_the_upstream_rules() {
        let Some(dir) = common::shared_dir() else {
            return;
        };
        let text = std::fs::read_to_string(dir.join("data/gitleaks/gitleaks.toml"))
            .expect("upstream rules readable");
        let rules = RuleSet::from_gitleaks_toml(&text).expect("upstream rules");
        let files = generated_corpus(&rules);
        let (findings, decoded) = assert_same_findings(&rules, &files);
        assert!(
            findings > 24 * 15,
            "the corpus plants secrets: {findings} findings"
        );
        assert!(
            decoded > 24 * 10,
            "the corpus plants encoded secrets: {decoded} decoded findings"
        );
    }

    /// Compares both searches on every file of a real tree (e.g. the `bench/secrets` corpus) with the
    /// default and, when present, upstream rules. Run by hand: `CERTUS_SECRETS_EQUIVALENCE_TREE=<dir>
    /// cargo test -p certus-secrets --lib -- --ignored on_a_given_tree`.
    #[test]
    #[ignore = "needs CERTUS_SECRETS_EQUIVALENCE_TREE=<dir>; run with --ignored"]
    fn windows_find_what_the_whole_file_search_finds_on_a_given_tree() {
        let root = std::env::var_os("CERTUS_SECRETS_EQUIVALENCE_TREE")
            .expect("CERTUS_SECRETS_EQUIVALENCE_TREE names the tree to compare on");
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable dir") {
                let entry = entry.expect("dir entry");
                let kind = entry.file_type().expect("file type");
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if kind.is_file() {
                    let data = std::fs::read(entry.path()).expect("readable file");
                    files.push((entry.path().display().to_string(), data));
                }
            }
        }
        let mut sets = vec![RuleSet::default_rules().expect("default rules")];
        if let Some(dir) = common::shared_dir() {
            let text = std::fs::read_to_string(dir.join("data/gitleaks/gitleaks.toml"))
                .expect("upstream rules readable");
            sets.push(RuleSet::from_gitleaks_toml(&text).expect("upstream rules"));
        }
        for rules in &sets {
            let (findings, decoded) = assert_same_findings(rules, &files);
            println!(
                "{} files, {findings} findings ({decoded} decoded), identical",
                files.len()
            );
        }
    }

    /// The windows of every occurrence on its own, as the runs must give them.
    fn windows_of_each(
        rules: &RuleSet,
        data: &[u8],
        keyword: usize,
        window: impl Fn(Range<usize>) -> Range<usize>,
    ) -> Vec<Range<usize>> {
        let mut spans = Vec::new();
        if let Some(prefilter) = &rules.prefilter {
            prefilter.each(data, |k, at| {
                if k == keyword {
                    spans.push(window(at));
                }
            });
        }
        merge(spans)
    }

    #[test]
    fn runs_of_a_keyword_give_the_windows_of_each_occurrence_and_a_repeated_keyword_costs_one_entry(
    ) {
        // The default rules (a SIMD search for the keywords) and a rule with more keywords than it holds (the
        // automaton, reading a buffer in stretches).
        let many: String = (0..300).map(|n| format!("\"kw{n:03}x\", ")).collect();
        let toml = format!(
            "[[rules]]\nid = \"many\"\nregex = '''(?:sk|kw[0-9]{{3}}x)=[a-z]{{8}}'''\nkeywords = [{many}\"sk\"]\n"
        );
        let sets = [
            RuleSet::default_rules().unwrap(),
            RuleSet::from_gitleaks_toml(&toml).unwrap(),
        ];
        let mut text = Vec::new();
        for n in 0..3000u32 {
            match n % 7 {
                0 => text.extend_from_slice(b"sksksk"),
                1 => text.extend_from_slice(b" SK=abc\nline "),
                2 => text.extend_from_slice(format!("kw{:03}x ", n % 300).as_bytes()),
                3 => text.extend_from_slice(b"kw007xkw007x"),
                _ => text.extend_from_slice(b"no keyword here; "),
            }
        }
        let dense = b"sk".repeat(100_000);
        let dense_lines = [b"sk".repeat(50), b"\n".to_vec()].concat().repeat(200);
        for rules in &sets {
            let sk = rules.keywords().iter().position(|k| k == "sk").unwrap();
            let runs = KeywordHits::find(rules, &dense).runs;
            assert!(
                (1..=LANES).contains(&runs.len()),
                "{} runs for 100 000 occurrences",
                runs.len()
            );
            let keywords: Vec<usize> = [
                Some(sk),
                rules.keywords().iter().position(|k| k == "kw007x"),
            ]
            .into_iter()
            .flatten()
            .collect();
            for data in [&text, &dense_lines] {
                let found = KeywordHits::find(rules, data);
                for &keyword in &keywords {
                    for reach in [6, 40] {
                        let each = windows_of_each(rules, data, keyword, |at| {
                            at.end.saturating_sub(reach)..(at.start + reach).min(data.len())
                        });
                        assert_eq!(found.windows(&[keyword], reach, reach, data.len()), each);
                    }
                    for newlines in [0, 2] {
                        let each = windows_of_each(rules, data, keyword, |at| {
                            let mut stop = at.start;
                            for _ in 0..=newlines {
                                stop = memchr(b'\n', &data[stop..])
                                    .map_or(data.len(), |n| stop + n + 1);
                            }
                            at.end.saturating_sub(20)..stop
                        });
                        assert_eq!(found.line_windows(&[keyword], 20, newlines, data), each);
                    }
                }
            }
        }
    }
}
