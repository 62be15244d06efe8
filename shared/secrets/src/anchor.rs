//! Keyword anchoring: proves from a rule's parsed regex that every match contains one of the rule's
//! keywords (ignoring ASCII case) and is at most a bounded number of bytes long. Such a rule's regex
//! only needs to run on windows around the keyword occurrences, with the same matches as a run over
//! the whole file (see `detect`); a rule without that proof runs over the whole file.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Exact string sets larger than this are not expanded (the proof then looks elsewhere).
const MAX_EXACT_STRINGS: usize = 256;

/// How a rule's matches relate to its keyword occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// Nothing proven: the regex runs over the whole file.
    None,
    /// Every match has a keyword occurrence ending at most `head_len` bytes after the match start, and is
    /// at most `max_len` bytes long.
    Bounded { head_len: usize, max_len: usize },
    /// Every match (of unbounded length) has a keyword occurrence ending at most `head_len` bytes
    /// after the match start, and holds at most `newlines` line feeds.
    Head { head_len: usize, newlines: usize },
}

/// What can be proven about `hir` and `keywords` (lowercase).
pub(crate) fn anchor(hir: &Hir, keywords: &[&str]) -> Anchor {
    if keywords.is_empty() || keywords.iter().any(|k| k.is_empty()) {
        return Anchor::None;
    }
    let keywords: Vec<&[u8]> = keywords.iter().map(|k| k.as_bytes()).collect();
    match (head_len(hir, &keywords), hir.properties().maximum_len()) {
        (None, _) => Anchor::None,
        (Some(head_len), Some(max_len)) => Anchor::Bounded { head_len, max_len },
        (Some(head_len), None) => match max_newlines(hir) {
            Some(newlines) => Anchor::Head { head_len, newlines },
            None => Anchor::None,
        },
    }
}

/// The most line feeds a match of `hir` can hold, if bounded.
fn max_newlines(hir: &Hir) -> Option<usize> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(0),
        HirKind::Literal(lit) => Some(lit.0.iter().filter(|&&b| b == b'\n').count()),
        HirKind::Class(Class::Bytes(class)) => Some(usize::from(
            class
                .ranges()
                .iter()
                .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        )),
        HirKind::Class(Class::Unicode(class)) => Some(usize::from(
            class
                .ranges()
                .iter()
                .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        )),
        HirKind::Capture(capture) => max_newlines(&capture.sub),
        HirKind::Repetition(rep) => match (max_newlines(&rep.sub)?, rep.max) {
            (0, _) => Some(0),
            (n, Some(max)) => n.checked_mul(usize::try_from(max).ok()?),
            (_, None) => None,
        },
        HirKind::Concat(items) => items
            .iter()
            .try_fold(0usize, |acc, item| acc.checked_add(max_newlines(item)?)),
        HirKind::Alternation(branches) => branches
            .iter()
            .try_fold(0usize, |acc, b| Some(acc.max(max_newlines(b)?))),
    }
}

/// A bound `n` such that every match of `hir` holds a keyword occurrence (ASCII case folded) ending at
/// most `n` bytes after the match start; `None` when that cannot be shown.
fn head_len(hir: &Hir, keywords: &[&[u8]]) -> Option<usize> {
    if let Some(strings) = exact(hir) {
        return if covered(&strings, keywords) {
            hir.properties().maximum_len()
        } else {
            None
        };
    }
    match hir.kind() {
        HirKind::Capture(capture) => head_len(&capture.sub, keywords),
        HirKind::Repetition(rep) if rep.min >= 1 => head_len(&rep.sub, keywords),
        HirKind::Alternation(branches) => branches
            .iter()
            .map(|b| head_len(b, keywords))
            .try_fold(0, |acc, h| h.map(|h| acc.max(h))),
        HirKind::Concat(items) => concat_head_len(items, keywords),
        _ => None,
    }
}

/// [`head_len`] of a concatenation: the first item, or run of consecutive items with exact string
/// sets (such as the letters of a case-insensitive word), that holds a keyword, plus the longest
/// possible text before it.
fn concat_head_len(items: &[Hir], keywords: &[&[u8]]) -> Option<usize> {
    // Longest text matched by the items before the current one.
    let mut offset = 0usize;
    let mut run: Option<Vec<Vec<u8>>> = None;
    for item in items {
        match exact(item) {
            Some(strings) => {
                run = Some(match run.take() {
                    None => strings,
                    Some(prefixes) => match product(&prefixes, &strings) {
                        Some(joined) => joined,
                        None if covered(&prefixes, keywords) => return Some(offset),
                        None => strings,
                    },
                });
            }
            None => {
                if run.take().is_some_and(|r| covered(&r, keywords)) {
                    return Some(offset);
                }
                if let Some(head) = head_len(item, keywords) {
                    return offset.checked_add(head);
                }
            }
        }
        offset = offset.checked_add(item.properties().maximum_len()?)?;
    }
    run.is_some_and(|r| covered(&r, keywords)).then_some(offset)
}

/// Whether every string contains one of the keywords.
fn covered(strings: &[Vec<u8>], keywords: &[&[u8]]) -> bool {
    !strings.is_empty()
        && strings
            .iter()
            .all(|s| keywords.iter().any(|k| s.windows(k.len()).any(|w| w == *k)))
}

/// Every string `hir` can match, ASCII-lowercased, when that set is small and known.
fn exact(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(lit) => Some(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(class) => class_byte(class).map(|b| vec![vec![b]]),
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Repetition(rep) => match rep.max {
            // Small counted repetitions, such as an optional letter or word: each count in turn.
            Some(max) if max <= 4 => {
                let once = exact(&rep.sub)?;
                let mut all = Vec::new();
                let mut power = vec![Vec::new()];
                for count in 0..=max {
                    if count >= rep.min {
                        all.extend(power.iter().cloned());
                    }
                    power = product(&power, &once)?;
                }
                all.sort();
                all.dedup();
                (all.len() <= MAX_EXACT_STRINGS).then_some(all)
            }
            _ => None,
        },
        HirKind::Concat(items) => items
            .iter()
            .try_fold(vec![Vec::new()], |acc, item| product(&acc, &exact(item)?)),
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(exact(branch)?);
                if all.len() > MAX_EXACT_STRINGS {
                    return None;
                }
            }
            all.sort();
            all.dedup();
            Some(all)
        }
    }
}

/// The single lowercase byte a class stands for (`[aA]`, `[x]`), if it is one.
fn class_byte(class: &Class) -> Option<u8> {
    let mut folded: Option<u8> = None;
    let mut check = |lo: u32, hi: u32| -> Option<()> {
        for c in lo..=hi {
            let b = u8::try_from(c).ok()?.to_ascii_lowercase();
            match folded {
                None => folded = Some(b),
                Some(f) if f == b => {}
                Some(_) => return None,
            }
        }
        Some(())
    };
    match class {
        Class::Bytes(bytes) => {
            for r in bytes.ranges() {
                check(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
        Class::Unicode(unicode) => {
            for r in unicode.ranges() {
                check(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
    }
    folded
}

/// Every concatenation of a string of `left` with one of `right`, unless there would be too many.
fn product(left: &[Vec<u8>], right: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if left.len().saturating_mul(right.len()) > MAX_EXACT_STRINGS {
        return None;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in left {
        for r in right {
            let mut s = l.clone();
            s.extend_from_slice(r);
            out.push(s);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("test pattern parses")
    }

    #[test]
    fn bounded_rules_whose_matches_hold_a_keyword_are_anchored() {
        let re =
            hir(r"(?i)[\w.-]{0,50}?(?:token|secret)(?:[ \t\w.-]{0,20})=[ ]{0,3}([a-z0-9]{32})\b");
        let max_len = re.properties().maximum_len().expect("bounded");
        // 50 bytes before the longer keyword, which ends then: 56 for "secret" (and for "token", one shorter).
        assert_eq!(
            anchor(&re, &["token", "secret"]),
            Anchor::Bounded {
                head_len: 56,
                max_len
            }
        );
        assert_eq!(
            anchor(&re, &["tok", "secret"]),
            Anchor::Bounded {
                head_len: 56,
                max_len
            },
            "a keyword inside a word"
        );
        assert_eq!(
            anchor(&re, &["token"]),
            Anchor::None,
            "a word without a keyword"
        );
        let aws = hir(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA)[A-Z2-7]{16})\b");
        assert_eq!(
            anchor(&aws, &["a3t", "akia", "asia"]),
            Anchor::Bounded {
                head_len: 4,
                max_len: 20
            }
        );
    }

    #[test]
    fn unbounded_rules_with_a_bounded_head_are_head_anchored() {
        let re = hir(r"(?i)[\w.-]{0,50}?(?:key|passw(?:or)?d)[ \t]*=\s{0,2}([a-z0-9]{11,})");
        let head = Anchor::Head {
            head_len: 58,
            newlines: 2,
        };
        assert_eq!(anchor(&re, &["key", "passwd", "password"]), head);
        // Unbounded and able to cross any number of lines: nothing to bound the search.
        assert_eq!(anchor(&hir(r"key(?s:.)+"), &["key"]), Anchor::None);
        // A keyword after an unbounded part gives no head bound.
        assert_eq!(anchor(&hir(r"[a-z]+token"), &["token"]), Anchor::None);
    }

    #[test]
    fn unprovable_rules_are_not_anchored() {
        // A branch without the keyword.
        let re = hir(r"(?:token|bearer)[a-z]{8}");
        assert_eq!(anchor(&re, &["token"]), Anchor::None);
        // Optional keyword.
        assert_eq!(
            anchor(&hir(r"(?:token)?[a-z]{8}"), &["token"]),
            Anchor::None
        );
        // No keywords at all.
        assert_eq!(anchor(&hir(r"token"), &[]), Anchor::None);
        // The keyword is split by a class that is more than one letter.
        assert_eq!(anchor(&hir(r"to[kx]en"), &["token"]), Anchor::None);
    }
}
