//! Every occurrence of the rules' keywords in a buffer, ASCII case ignored, overlapping ones included. An
//! automaton reading every byte runs at well under a gigabyte a second; when the keywords allow it, a SIMD
//! search of the lowercased bytes first finds where occurrences start, and the automaton reads only there.

use std::cell::RefCell;
use std::ops::Range;

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, Input, Span};
use memchr::memmem;

/// Keywords shorter than this are searched for one by one: the SIMD search of many patterns is fast only
/// when each has at least this many bytes.
const SHORT: usize = 3;

/// The keywords, compiled.
#[derive(Debug)]
pub(crate) struct Keywords {
    /// Every keyword, ASCII case ignored: the reference, and what confirms each start.
    automaton: AhoCorasick,
    /// Where occurrences may start; `None` when the keywords do not allow it (too many for the SIMD search,
    /// an empty one): the automaton then reads every byte.
    starts: Option<Starts>,
    longest: usize,
}

#[derive(Debug)]
struct Starts {
    /// The lowercased keywords of at least [`SHORT`] bytes, if any.
    long: Option<packed::Searcher>,
    /// The others, lowercased.
    short: Vec<memmem::Finder<'static>>,
}

impl Keywords {
    /// `keywords` indexed by position: an occurrence names its keyword by that index.
    pub(crate) fn new(keywords: &[&str]) -> Result<Self, String> {
        // A full DFA is the fastest automaton; too many keywords fall back to the one the library picks.
        let build = |kind| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(kind)
                .build(keywords)
        };
        let automaton = build(Some(AhoCorasickKind::DFA))
            .or_else(|_| build(None))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            automaton,
            starts: Starts::new(keywords),
            longest: keywords.iter().map(|k| k.len()).max().unwrap_or(0),
        })
    }

    /// Calls `found(keyword, occurrence)` for every occurrence in `data`.
    pub(crate) fn each(&self, data: &[u8], mut found: impl FnMut(usize, Range<usize>)) {
        let Some(starts) = &self.starts else {
            for m in self.automaton.find_overlapping_iter(data) {
                found(m.pattern().as_usize(), m.range());
            }
            return;
        };
        thread_local! {
            /// This thread's lowercased copy of the buffer and the starts found in it, reused.
            static SCRATCH: RefCell<(Vec<u8>, Vec<usize>)> = const { RefCell::new((Vec::new(), Vec::new())) };
        }
        SCRATCH.with_borrow_mut(|(lower, at)| {
            lower.clear();
            lower.extend(data.iter().map(u8::to_ascii_lowercase));
            at.clear();
            starts.find(lower, at);
            at.sort_unstable();
            at.dedup();
            for &start in at.iter() {
                let end = data.len().min(start.saturating_add(self.longest));
                let window = Input::new(data).span(start..end);
                for m in self.automaton.find_overlapping_iter(window) {
                    if m.start() == start {
                        found(m.pattern().as_usize(), m.range());
                    }
                }
            }
        });
    }
}

impl Starts {
    /// The SIMD search for `keywords`, lowercased; `None` when they do not allow it (an empty keyword, or
    /// more long ones than it holds).
    fn new(keywords: &[&str]) -> Option<Self> {
        let lower: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.as_bytes().to_ascii_lowercase())
            .collect();
        if lower.iter().any(Vec::is_empty) {
            return None;
        }
        let (short, long): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            lower.into_iter().partition(|k| k.len() < SHORT);
        let long = match long.is_empty() {
            true => None,
            false => Some(packed::Config::new().builder().extend(&long).build()?),
        };
        let short = short
            .iter()
            .map(|k| memmem::Finder::new(k).into_owned())
            .collect();
        Some(Self { long, short })
    }

    /// Every position of `lower` where a keyword starts (some more than once), into `at`.
    fn find(&self, lower: &[u8], at: &mut Vec<usize>) {
        if let Some(long) = &self.long {
            let mut from = 0;
            while let Some(m) = long.find_in(lower, Span::from(from..lower.len())) {
                at.push(m.start());
                from = m.start() + 1;
            }
        }
        for finder in &self.short {
            let mut from = 0;
            while let Some(found) = lower.get(from..).and_then(|rest| finder.find(rest)) {
                at.push(from + found);
                from += found + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence as the automaton alone finds it, sorted.
    fn reference(keywords: &Keywords, data: &[u8]) -> Vec<(usize, Range<usize>)> {
        let mut all: Vec<(usize, Range<usize>)> = keywords
            .automaton
            .find_overlapping_iter(data)
            .map(|m| (m.pattern().as_usize(), m.range()))
            .collect();
        all.sort_by_key(|(k, r)| (r.start, r.end, *k));
        all
    }

    fn found(keywords: &Keywords, data: &[u8]) -> Vec<(usize, Range<usize>)> {
        let mut all = Vec::new();
        keywords.each(data, |k, r| all.push((k, r)));
        all.sort_by_key(|(k, r)| (r.start, r.end, *k));
        all
    }

    /// Random text made of the keywords' own bytes in both cases, pieces of keywords and other bytes, so that
    /// occurrences overlap, nest and abut.
    fn texts<'a>(keywords: &'a [&'a str], seed: u64) -> impl Iterator<Item = Vec<u8>> + 'a {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..400).map(move |_| {
            let mut text = Vec::new();
            let len = 20 + next() % 300;
            while (text.len() as u64) < len {
                let r = next();
                match r % 4 {
                    0 | 1 => {
                        let k = keywords[(r >> 8) as usize % keywords.len()].as_bytes();
                        let cut = 1 + (r >> 24) as usize % k.len();
                        text.extend(k[..cut].iter().map(|&c| match (r >> 40) & 1 {
                            0 => c.to_ascii_uppercase(),
                            _ => c,
                        }));
                    }
                    2 => {
                        let others = b" \n_-=\0\xffxyz";
                        text.push(others[(r >> 8) as usize % others.len()]);
                    }
                    _ => text.push((r >> 16) as u8),
                }
            }
            text
        })
    }

    #[test]
    fn the_starts_give_exactly_the_occurrences_the_automaton_finds() {
        let sets: [&[&str]; 3] = [
            // Short ones beside long ones, nested and overlapping: "sk" in "sk_live_", "ss" in "sss".
            &[
                "sk", "sk_live_", "key", "keykey", "ss", "sss", "q~", "://", "aws", "AKIA",
            ],
            // Long ones only.
            &["secret", "token", "passw", "credential", "-----begin"],
            // Short ones only.
            &["sk", "q~", "k"],
        ];
        for (n, set) in sets.iter().enumerate() {
            let keywords = Keywords::new(set).unwrap();
            assert!(keywords.starts.is_some(), "set {n} takes the fast path");
            let mut occurrences = 0;
            for text in texts(set, 0x9e37_79b9_7f4a_7c15 + n as u64) {
                let expected = reference(&keywords, &text);
                occurrences += expected.len();
                assert_eq!(found(&keywords, &text), expected, "set {n}: {text:?}");
            }
            assert!(occurrences > 1000, "set {n}: {occurrences} occurrences");
        }
    }

    #[test]
    fn keywords_the_simd_search_cannot_take_fall_back_to_the_automaton() {
        // More keywords than the SIMD search holds.
        let many: Vec<String> = (0..300).map(|n| format!("kw{n:03}x")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let keywords = Keywords::new(&many).unwrap();
        assert!(keywords.starts.is_none());
        let text = b"..KW007X..kw299x kw12";
        assert_eq!(found(&keywords, text), vec![(7, 2..8), (299, 10..16)]);
        assert!(Keywords::new(&["", "key"]).unwrap().starts.is_none());
    }
}
