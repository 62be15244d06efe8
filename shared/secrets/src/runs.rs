//! Runs of base64 characters (`[A-Za-z0-9_/+-]`) at least [`MIN_RUN`] long: where the decoder looks for
//! hex and base64 segments. Source text holds such a run every 170 bytes or so (long identifiers, paths),
//! and most of the bytes between them are looked at only to be passed over. On x86_64 every byte of a
//! 64-byte window is classified at once with SSE2, part of every x86_64 processor, the windows one after
//! the other as the runs are asked for (each byte once), and a run of [`MIN_RUN`] is found in a window's
//! bits without a branch per byte; elsewhere words of 8 bytes are tested, most rejected by one
//! subtraction.

use std::ops::Range;

/// Shortest run found.
pub(crate) const MIN_RUN: usize = 16;

/// Whether `c` belongs in a run (what the windows' classification computes 64 bytes at once).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn is_run_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/' | b'+' | b'-')
}

/// The runs of one text, asked for in order: each byte is classified once, however many runs are asked for.
pub(crate) struct Runs<'t> {
    maximal: Maximal<'t>,
    /// The last run handed out, which a later `from` may still fall in.
    current: Option<Range<usize>>,
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
type Maximal<'t> = windows::Maximal<'t>;
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
type Maximal<'t> = words::Maximal<'t>;

impl<'t> Runs<'t> {
    pub(crate) fn new(text: &'t [u8]) -> Self {
        Self {
            maximal: Maximal::new(text),
            current: None,
        }
    }

    /// The first run at or after `from` at least [`MIN_RUN`] long; a run crossing `from` starts there. `from`
    /// never goes back from one call to the next.
    pub(crate) fn at_or_after(&mut self, from: usize) -> Option<Range<usize>> {
        loop {
            let run = match self.current.take() {
                Some(run) => run,
                None => self.maximal.next()?,
            };
            let start = run.start.max(from);
            if run.end >= start + MIN_RUN {
                self.current = Some(run.clone());
                return Some(start..run.end);
            }
            // Over before `from`, or too little of it left after: never asked for again.
        }
    }
}

/// 64 bytes at a time, each window's bytes classified into one bit each.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod windows {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x, _mm_sub_epi8,
    };
    use std::ops::Range;

    use super::MIN_RUN;

    /// Bytes classified at once.
    const WINDOW: usize = 64;

    // `whole` below doubles the length of the row it checks four times: 2, 4, 8, then 16 bytes.
    const _: () = assert!(MIN_RUN == 16);

    /// Every run at least [`MIN_RUN`] long, whole, in order: the text's 64-byte windows classified one after
    /// the other, each once.
    pub(crate) struct Maximal<'t> {
        text: &'t [u8],
        /// Where the window classified in `bits` starts.
        at: usize,
        /// Its run bytes, those of the runs already handed out or passed over cleared.
        bits: u64,
        /// How many run bytes in a row end right before `at` (a run going on into this window).
        carry: usize,
    }

    impl<'t> Maximal<'t> {
        pub(crate) fn new(text: &'t [u8]) -> Self {
            Self {
                text,
                at: 0,
                bits: mask(text, 0),
                carry: 0,
            }
        }

        fn advance(&mut self) {
            self.at += WINDOW;
            self.bits = mask(self.text, self.at);
        }
    }

    impl Iterator for Maximal<'_> {
        type Item = Range<usize>;

        fn next(&mut self) -> Option<Range<usize>> {
            while self.at < self.text.len() {
                let bits = self.bits;
                if self.carry > 0 {
                    // The run going on from the windows before ends here (the bytes past the text are none).
                    let ends = bits.trailing_ones() as usize;
                    if ends == WINDOW {
                        self.carry += WINDOW;
                        self.advance();
                        continue;
                    }
                    let run = self.at - self.carry..self.at + ends;
                    self.carry = 0;
                    self.bits &= u64::MAX << ends;
                    if run.len() >= MIN_RUN {
                        return Some(run);
                    }
                    continue;
                }
                // Bit `i` set: the 16 bytes from `at + i` are run bytes, all in this window. The lowest starts a
                // run: the byte before it is in this window (it would be set too), or ends the window before.
                let mut whole = bits & (bits >> 1);
                whole &= whole >> 2;
                whole &= whole >> 4;
                whole &= whole >> 8;
                if whole != 0 {
                    let start = whole.trailing_zeros() as usize;
                    let len = (bits >> start).trailing_ones() as usize;
                    if start + len == WINDOW {
                        self.carry = len;
                        self.advance();
                        continue;
                    }
                    self.bits &= u64::MAX << (start + len);
                    return Some(self.at + start..self.at + start + len);
                }
                // No run of 16 within: the run bytes ending the window may begin one going on.
                self.carry = bits.leading_ones() as usize;
                self.advance();
            }
            // A run going on to the very end of the text.
            let run = self.text.len() - self.carry..self.text.len();
            self.carry = 0;
            (run.len() >= MIN_RUN).then_some(run)
        }
    }

    /// Bit `i` set iff `text[at + i]` is a run byte (none past the end).
    fn mask(text: &[u8], at: usize) -> u64 {
        let rest = text.get(at..).unwrap_or_default();
        match rest.first_chunk::<WINDOW>() {
            Some(window) => classify_window(window),
            // Only the text's last window is copied, zeroes (no run byte) after its end.
            None => {
                let mut padded = [0u8; WINDOW];
                padded[..rest.len()].copy_from_slice(rest);
                classify_window(&padded)
            }
        }
    }

    fn classify_window(window: &[u8; WINDOW]) -> u64 {
        // SAFETY: SSE2 is enabled for the whole build (this module is compiled only when it is), so the
        // processor running this code has it.
        #[allow(unsafe_code)]
        let bits = unsafe { classify(window) };
        bits
    }

    /// Which of the 64 bytes are run bytes, bit `i` for byte `i`.
    #[target_feature(enable = "sse2")]
    fn classify(window: &[u8; WINDOW]) -> u64 {
        let (chunks, _) = window.as_chunks::<16>();
        let mut bits = 0u64;
        for (n, chunk) in chunks.iter().enumerate() {
            let (low, high) = chunk.split_at(8);
            let word = |half: &[u8]| {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(half);
                i64::from_le_bytes(bytes)
            };
            let v = _mm_set_epi64x(word(high), word(low));
            // Setting bit 5 maps `A-Z` (and only them) onto `a-z`.
            let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
            // `/` is just below `0`.
            let slash_or_digit = within(v, b'/', b'9');
            let plus = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'+' as i8));
            let minus = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8));
            let underscore = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8));
            let all = _mm_or_si128(
                _mm_or_si128(letter, slash_or_digit),
                _mm_or_si128(_mm_or_si128(plus, minus), underscore),
            );
            // The sign bit of each of the 16 bytes, as the low 16 bits.
            let lanes = _mm_movemask_epi8(all) as u32 & 0xffff;
            bits |= u64::from(lanes) << (16 * n);
        }
        bits
    }

    /// All ones in the bytes of `v` from `lo` to `hi` (unsigned): `v - lo` wraps above `hi - lo` for the others.
    #[target_feature(enable = "sse2")]
    fn within(v: __m128i, lo: u8, hi: u8) -> __m128i {
        let offset = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
        _mm_cmpeq_epi8(_mm_min_epu8(offset, _mm_set1_epi8((hi - lo) as i8)), offset)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::runs::is_run_byte;

        #[test]
        fn every_byte_value_is_classified_in_every_lane() {
            for value in 0..=255u8 {
                for lane in 0..WINDOW {
                    // The other lanes hold a run byte and a non-run byte in turn.
                    let mut window: [u8; WINDOW] =
                        std::array::from_fn(|i| if i % 2 == 0 { b'Q' } else { b' ' });
                    window[lane] = value;
                    let bits = classify_window(&window);
                    let expected = window
                        .iter()
                        .enumerate()
                        .fold(0u64, |m, (i, &c)| m | u64::from(is_run_byte(c)) << i);
                    assert_eq!(bits, expected, "byte {value:#04x} in lane {lane}");
                }
            }
        }
    }
}

/// 8 bytes at a time: a word holding a byte below `+` (a space, a line end, a quote) is passed over.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
mod words {
    use std::ops::Range;

    use super::{is_run_byte, MIN_RUN};

    /// Every run at least [`MIN_RUN`] long, whole, in order.
    pub(crate) struct Maximal<'t> {
        text: &'t [u8],
        at: usize,
    }

    impl<'t> Maximal<'t> {
        pub(crate) fn new(text: &'t [u8]) -> Self {
            Self { text, at: 0 }
        }
    }

    impl Iterator for Maximal<'_> {
        type Item = Range<usize>;

        fn next(&mut self) -> Option<Range<usize>> {
            // The byte at the end of the last run is not a run byte: the next run found is whole.
            let run = next_run(self.text, self.at)?;
            self.at = run.end;
            Some(run)
        }
    }

    /// The first run at or after `from` at least [`MIN_RUN`] long; a run crossing `from` starts there. A
    /// run of [`MIN_RUN`] holds a whole 8-byte block aligned on 8: blocks are classified 8 bytes at a time,
    /// and a run is measured from a block of run bytes only.
    fn next_run(text: &[u8], from: usize) -> Option<Range<usize>> {
        let mut block = from.div_ceil(8) * 8;
        while let Some(word) = word_at(text, block) {
            // Most blocks of text hold a space, a line end or a quote, all below every run byte: a
            // cheaper test rejects those.
            if has_byte_below(word, b'+') || class_mask(word) != HIGH {
                block += 8;
                continue;
            }
            // The block before this one (if after `from`) holds a non-run byte: at most 8 to look at.
            let start = from
                + text[from..block]
                    .iter()
                    .rposition(|&c| !is_run_byte(c))
                    .map_or(0, |i| i + 1);
            let end = run_end(text, block + 8);
            if end - start >= MIN_RUN {
                return Some(start..end);
            }
            block = end.div_ceil(8) * 8;
        }
        None
    }

    /// Where the run going on at `at` ends.
    fn run_end(text: &[u8], mut at: usize) -> usize {
        while let Some(word) = word_at(text, at) {
            let outside = !class_mask(word) & HIGH;
            if outside != 0 {
                return at + (outside.trailing_zeros() / 8) as usize;
            }
            at += 8;
        }
        at + text[at..]
            .iter()
            .position(|&c| !is_run_byte(c))
            .unwrap_or(text.len() - at)
    }

    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// The 8 bytes at `at` as a little-endian word, if there are 8.
    fn word_at(text: &[u8], at: usize) -> Option<u64> {
        let bytes = text.get(at..at.checked_add(8)?)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// Whether a byte of `word` is below `n` (at most 0x80). Subtracting `n` from every byte borrows out of a
    /// byte's high bit only where that byte is below `n` or a lower byte borrowed, and the lowest byte below
    /// `n` never needs a borrow: the result is exact whether some byte is below `n`, though not which.
    fn has_byte_below(word: u64, n: u8) -> bool {
        word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH != 0
    }

    /// The high bit of each byte of `word` set iff that byte is a run byte, without branches.
    fn class_mask(word: u64) -> u64 {
        let ascii = !word & HIGH;
        let low = word & !HIGH;
        // With every byte below 0x80, adding `0x80 - lo` sets a byte's high bit iff it is >= lo, and
        // adding `0x7f - hi` leaves it clear iff it is <= hi; no byte carries into the next.
        let within = |lo: u8, hi: u8| {
            low.wrapping_add(ONES * u64::from(0x80 - lo))
                & !low.wrapping_add(ONES * u64::from(0x7f - hi))
                & HIGH
        };
        ascii
            & (within(b'/', b'9')
                | within(b'A', b'Z')
                | within(b'a', b'z')
                | within(b'+', b'+')
                | within(b'-', b'-')
                | within(b'_', b'_'))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_eight_byte_classification_agrees_with_the_byte_classes() {
            let mut state = 0x21d_u64;
            for _ in 0..20_000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Bytes drawn mostly around the class bounds.
                let bytes = state.to_le_bytes().map(|b| {
                    b"*+,-./09:@AZ[_`az{\x7f\x80\xff\xab\xaf\xb0\xe1"[usize::from(b) % 24]
                });
                let expected = bytes.iter().enumerate().fold(0u64, |mask, (i, &c)| {
                    mask | u64::from(is_run_byte(c)) << (8 * i + 7)
                });
                assert_eq!(class_mask(u64::from_le_bytes(bytes)), expected, "{bytes:?}");
                for n in [b'+', 0x80] {
                    assert_eq!(
                        has_byte_below(u64::from_le_bytes(bytes), n),
                        bytes.iter().any(|&c| c < n),
                        "{bytes:?} below {n}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every run of at least [`MIN_RUN`] from `from` on, read one byte at a time.
    fn reference(text: &[u8], from: usize) -> Vec<Range<usize>> {
        let mut runs = Vec::new();
        let mut at = from;
        while at < text.len() {
            let len = text[at..].iter().take_while(|&&c| is_run_byte(c)).count();
            if len >= MIN_RUN {
                runs.push(at..at + len);
            }
            at += len.max(1);
        }
        runs
    }

    /// Random text whose runs are of every length around [`MIN_RUN`] and the window (some across several
    /// windows), at every alignment, up to the end of the text.
    fn texts() -> impl Iterator<Item = Vec<u8>> {
        let mut state = 0x5eed_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..5000).map(move |_| {
            let mut text = Vec::new();
            let len = (next() % 400) as usize;
            while text.len() < len {
                // Often just about the shortest run, else up to past a window, now and then past two.
                let run = match next() % 7 {
                    0..=2 => MIN_RUN - 1 + (next() % 3) as usize,
                    3 => 60 + (next() % 150) as usize,
                    _ => (next() % 80) as usize,
                };
                text.extend((0..run).map(|i| b"aZ09_/+-"[(i + run) % 8]));
                text.push(b" .=\n\x00\xff,"[(next() % 7) as usize]);
            }
            text.truncate(len);
            text
        })
    }

    #[test]
    fn every_run_is_found_whole_by_both_finders() {
        for text in texts() {
            let expected = reference(&text, 0);
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            assert_eq!(
                windows::Maximal::new(&text).collect::<Vec<_>>(),
                expected,
                "{text:?}"
            );
            assert_eq!(
                words::Maximal::new(&text).collect::<Vec<_>>(),
                expected,
                "{text:?}"
            );
        }
    }

    /// Asked for from later and later starts, some inside runs, some past their last 16 bytes, runs come as
    /// reading byte by byte from each start finds them.
    #[test]
    fn runs_are_found_from_any_later_start_each_byte_classified_once() {
        let mut step = 0usize;
        for text in texts() {
            let mut runs = Runs::new(&text);
            let mut from = 0;
            while from <= text.len() {
                let expected = reference(&text, from).into_iter().next();
                assert_eq!(runs.at_or_after(from), expected, "{text:?} from {from}");
                step = (step * 7 + 3) % 41;
                from += step;
            }
        }
    }
}
