//! Every occurrence of the rules' keywords in a buffer, ASCII case ignored, overlapping ones included. An
//! automaton reading every byte runs at well under a gigabyte a second; when the keywords allow it, a SIMD
//! search of the lowercased bytes first finds where occurrences start, and the automaton reads only there.
//! When it must read every byte, it reads the buffer as several interleaved lanes: each step of one lane
//! waits on the memory read of its last, and the processor overlaps those of independent lanes.

use std::cell::RefCell;
use std::ops::Range;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{packed, Anchored, MatchKind, Span, StartKind};
use memchr::memmem;

use crate::buckets::teddy_order;

/// Keywords shorter than this are searched for one by one: the SIMD search of many patterns is fast only
/// when each has at least this many bytes.
const SHORT: usize = 3;
/// How many lanes the automaton reads at once when it reads a whole buffer.
pub(crate) const LANES: usize = 4;
/// Below this many bytes a buffer is read as one lane.
const LANED: usize = 4096;

/// The keywords, compiled.
#[derive(Debug)]
pub(crate) struct Keywords {
    /// Every keyword, ASCII case ignored: what confirms each start, and reads every byte when there is no
    /// SIMD search.
    automaton: DFA,
    /// Where occurrences may start; `None` when the keywords do not allow it (more than the SIMD search
    /// holds): the automaton then reads every byte.
    starts: Option<Starts>,
    /// The automaton's unanchored start state.
    start: StateID,
    /// Its anchored start state: where it confirms what the SIMD search found.
    anchored: StateID,
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
    /// `keywords` indexed by position: an occurrence names its keyword by that index. None may be empty.
    pub(crate) fn new(keywords: &[&str]) -> Result<Self, String> {
        if keywords.iter().any(|k| k.is_empty()) {
            return Err("a keyword is empty".into());
        }
        let automaton = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Both)
            .prefilter(false)
            .build(keywords)
            .map_err(|e| e.to_string())?;
        let start = |anchored| automaton.start_state(anchored).map_err(|e| e.to_string());
        Ok(Self {
            start: start(Anchored::No)?,
            anchored: start(Anchored::Yes)?,
            automaton,
            starts: Starts::new(keywords),
            longest: keywords.iter().map(|k| k.len()).max().unwrap_or(0),
        })
    }

    /// Calls `found(keyword, occurrence)` for every occurrence in `data`.
    pub(crate) fn each(&self, data: &[u8], mut found: impl FnMut(usize, Range<usize>)) {
        let Some(starts) = &self.starts else {
            self.read_all(data, &mut found);
            return;
        };
        thread_local! {
            /// This thread's lowercased copy of the buffer, reused.
            static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        LOWER.with_borrow_mut(|lower| {
            lower.clear();
            lower.extend(data.iter().map(u8::to_ascii_lowercase));
            starts.each(lower, |start| self.read_at(data, start, &mut found));
        });
    }

    /// Every occurrence that starts at `start`: the automaton reads from there, anchored, until no keyword
    /// can go on (a match state also names keywords that end there but start later: those are left out).
    fn read_at(&self, data: &[u8], start: usize, found: &mut impl FnMut(usize, Range<usize>)) {
        let mut confirmed = |k, occurrence: Range<usize>| {
            if occurrence.start == start {
                found(k, occurrence);
            }
        };
        let from = (Anchored::Yes, self.anchored);
        self.read_from(from, data, start..data.len(), start, &mut confirmed);
    }

    /// Every occurrence, the automaton reading every byte: [`LANES`] stretches of the buffer in step, each
    /// reporting the occurrences that end in it. An automaton that has read a keyword's length of bytes is in
    /// the state that reading from the start gives, so each stretch after the first is read from that much
    /// earlier.
    fn read_all(&self, data: &[u8], found: &mut impl FnMut(usize, Range<usize>)) {
        if data.len() < LANED {
            self.read_from((Anchored::No, self.start), data, 0..data.len(), 0, found);
            return;
        }
        let dfa = &self.automaton;
        let stretch = data.len().div_ceil(LANES);
        // Stretch `n` begins at `report_after[n]`, and its lane reports the occurrences that end after it.
        let report_after: [usize; LANES] = std::array::from_fn(|n| n * stretch);
        let reads: [Range<usize>; LANES] = std::array::from_fn(|n| {
            report_after[n].saturating_sub(self.longest)..data.len().min(report_after[n] + stretch)
        });
        let common = reads.iter().map(ExactSizeIterator::len).min().unwrap_or(0);
        let firsts: [usize; LANES] = std::array::from_fn(|n| reads[n].start);
        let mut states = [self.start; LANES];
        for step in 0..common {
            for (n, state) in states.iter_mut().enumerate() {
                let at = firsts[n] + step;
                *state = dfa.next_state(Anchored::No, *state, data[at]);
                if dfa.is_special(*state) {
                    self.report(*state, at + 1, report_after[n], found);
                }
            }
        }
        for n in 0..LANES {
            self.read_from(
                (Anchored::No, states[n]),
                data,
                reads[n].start + common..reads[n].end,
                report_after[n],
                found,
            );
        }
    }

    /// Every occurrence that ends in `read` after `report_after`, the automaton reading `read` of `data` from
    /// `state` (anchored or not, as `from` says) until the end or, anchored, until no keyword can go on.
    fn read_from(
        &self,
        from: (Anchored, StateID),
        data: &[u8],
        read: Range<usize>,
        report_after: usize,
        found: &mut impl FnMut(usize, Range<usize>),
    ) {
        let dfa = &self.automaton;
        let (anchored, mut state) = from;
        let first = read.start;
        for (n, &byte) in data[read].iter().enumerate() {
            state = dfa.next_state(anchored, state, byte);
            if dfa.is_special(state) {
                if dfa.is_dead(state) {
                    return;
                }
                self.report(state, first + n + 1, report_after, found);
            }
        }
    }

    /// The occurrences the automaton's `state` reached at `end` stands for, when `end` is after
    /// `report_after`.
    #[cold]
    fn report(
        &self,
        state: StateID,
        end: usize,
        report_after: usize,
        found: &mut impl FnMut(usize, Range<usize>),
    ) {
        let dfa = &self.automaton;
        if !dfa.is_match(state) || end <= report_after {
            return;
        }
        for n in 0..dfa.match_len(state) {
            let keyword = dfa.match_pattern(state, n);
            found(keyword.as_usize(), end - dfa.pattern_len(keyword)..end);
        }
    }
}

impl Starts {
    /// The SIMD search for `keywords` (none empty), lowercased; `None` when they do not allow it (more long
    /// ones than it holds).
    fn new(keywords: &[&str]) -> Option<Self> {
        let lower: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.as_bytes().to_ascii_lowercase())
            .collect();
        let (short, long): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            lower.into_iter().partition(|k| k.len() < SHORT);
        let long = match long.is_empty() {
            true => None,
            false => Some(simd_search(&long)?),
        };
        let short = short
            .iter()
            .map(|k| memmem::Finder::new(k).into_owned())
            .collect();
        Some(Self { long, short })
    }

    /// Calls `start` with every position of `lower` where a keyword may start, in order, each once: the
    /// searches' positions merged as they are found, so nothing grows with the number of occurrences.
    fn each(&self, lower: &[u8], mut start: impl FnMut(usize)) {
        let long = usize::from(self.long.is_some());
        // The first position at or after `from` that search `n` finds: the SIMD search first, then the others.
        let find = |n: usize, from: usize| match (n, &self.long) {
            (0, Some(search)) => search
                .find_in(lower, Span::from(from..lower.len()))
                .map(|m| m.start()),
            _ => lower
                .get(from..)
                .and_then(|rest| self.short[n - long].find(rest))
                .map(|at| from + at),
        };
        let mut next: Vec<Option<usize>> =
            (0..long + self.short.len()).map(|n| find(n, 0)).collect();
        let mut last = None;
        while let Some((n, at)) = next
            .iter()
            .enumerate()
            .filter_map(|(n, at)| Some((n, (*at)?)))
            .min_by_key(|&(_, at)| at)
        {
            if last != Some(at) {
                start(at);
                last = Some(at);
            }
            next[n] = find(n, at + 1);
        }
    }
}

/// The SIMD search for `keywords` (lowercase, none shorter than [`SHORT`]): in the order that fills fat Teddy's
/// buckets with keywords alike when there is one and the processor has fat Teddy, else as the library picks.
fn simd_search(keywords: &[Vec<u8>]) -> Option<packed::Searcher> {
    let planned = teddy_order(keywords).and_then(|order| {
        packed::Config::new()
            .only_teddy_fat(Some(true))
            .builder()
            .extend(&order)
            .build()
    });
    planned.or_else(|| packed::Config::new().builder().extend(keywords).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence as the library's own overlapping search of `keywords` finds it, sorted.
    fn reference(keywords: &[&str], data: &[u8]) -> Vec<(usize, Range<usize>)> {
        let automaton = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(keywords)
            .unwrap();
        let mut all: Vec<(usize, Range<usize>)> = automaton
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
        let sets: [&[&str]; 4] = [
            // Short ones beside long ones, nested and overlapping: "sk" in "sk_live_", "ss" in "sss".
            &[
                "sk", "sk_live_", "key", "keykey", "ss", "sss", "q~", "://", "aws", "AKIA",
            ],
            // Long ones only.
            &["secret", "token", "passw", "credential", "-----begin"],
            // Short ones only.
            &["sk", "q~", "k"],
            // Enough long ones for the SIMD search to take them in the order that groups them.
            &[
                "akia",
                "asia",
                "abia",
                "acca",
                "aws",
                "ghp_",
                "gho_",
                "ghu_",
                "ghs_",
                "ghr_",
                "github_pat_",
                "glpat-",
                "gldt-",
                "glptt-",
                "xoxa-",
                "xoxb-",
                "xapp-",
                "sk_live_",
                "rk_live_",
                "aiza",
                "gocspx-",
                "-----begin",
                "eyj",
                "npm_",
                "accountkey=",
                "sg.",
                "t3blbkfj",
                "://",
                "key",
                "secret",
                "token",
                "passw",
                "pwd",
                "credential",
                "sk",
                "q~",
            ],
        ];
        let long: Vec<Vec<u8>> = sets[3]
            .iter()
            .filter(|k| k.len() >= SHORT)
            .map(|k| k.as_bytes().to_vec())
            .collect();
        assert!(crate::buckets::teddy_order(&long).is_some());
        for (n, set) in sets.iter().enumerate() {
            let keywords = Keywords::new(set).unwrap();
            assert!(keywords.starts.is_some(), "set {n} takes the fast path");
            let mut occurrences = 0;
            for text in texts(set, 0x9e37_79b9_7f4a_7c15 + n as u64) {
                let expected = reference(set, &text);
                occurrences += expected.len();
                assert_eq!(found(&keywords, &text), expected, "set {n}: {text:?}");
            }
            assert!(occurrences > 1000, "set {n}: {occurrences} occurrences");
        }
    }

    #[test]
    fn keywords_the_simd_search_cannot_take_are_read_byte_by_byte_in_lanes_that_miss_nothing() {
        // More keywords than the SIMD search holds, beside short ones and nested ones.
        let many: Vec<String> = (0..300).map(|n| format!("kw{n:03}x")).collect();
        let mut set: Vec<&str> = many.iter().map(String::as_str).collect();
        set.extend(["sk", "kw", "kw00", "x k"]);
        let keywords = Keywords::new(&set).unwrap();
        assert!(keywords.starts.is_none());
        let short = b"..KW007X..kw299x kw12";
        assert_eq!(found(&keywords, short), reference(&set, short));
        assert!(found(&keywords, short).contains(&(299, 10..16)));
        // Buffers long enough to be read in lanes: random ones, and one keyword repeated so that every lane
        // boundary falls inside an occurrence.
        let mut long: Vec<Vec<u8>> = (0..20)
            .map(|seed| texts(&set, 0x5eed + seed).take(100).flatten().collect())
            .collect();
        long.push(b"kw007x".repeat(1001).into_iter().chain(*b"kw0").collect());
        let mut occurrences = 0;
        for text in &long {
            assert!(text.len() >= LANED, "{} bytes", text.len());
            let expected = reference(&set, text);
            occurrences += expected.len();
            assert_eq!(found(&keywords, text), expected);
        }
        assert!(occurrences > 10_000, "{occurrences} occurrences");
    }

    #[test]
    fn an_empty_keyword_is_refused() {
        assert!(Keywords::new(&["", "key"]).is_err());
    }
}
