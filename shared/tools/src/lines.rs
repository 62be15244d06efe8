//! Splits a byte stream into text lines of bounded length for live streaming.

/// Marker appended to a line that was cut at the length cap.
pub const CUT_MARKER: &str = " …[line cut]";

/// Accumulates bytes and hands out complete lines, each at most `max_line` bytes long.
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
    max_line: usize,
    cut: bool,
}

impl LineSplitter {
    pub(crate) fn new(max_line: usize) -> Self {
        LineSplitter {
            pending: Vec::new(),
            max_line,
            cut: false,
        }
    }

    /// Feeds bytes; calls `emit` for every line they complete.
    pub(crate) fn push(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(&str)) {
        while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            self.append(&bytes[..newline]);
            self.flush(emit);
            bytes = &bytes[newline + 1..];
        }
        self.append(bytes);
    }

    /// Emits the last, unterminated line if there is one.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if !self.pending.is_empty() || self.cut {
            self.flush(emit);
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = self.max_line.saturating_sub(self.pending.len());
        if bytes.len() > room {
            self.cut = true;
        }
        self.pending
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn flush(&mut self, emit: &mut dyn FnMut(&str)) {
        if self.pending.last() == Some(&b'\r') {
            self.pending.pop();
        }
        let mut line = String::from_utf8_lossy(&self.pending).into_owned();
        if self.cut {
            line.push_str(CUT_MARKER);
        }
        emit(&line);
        self.pending.clear();
        self.cut = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max_line: usize) -> Vec<String> {
        let mut splitter = LineSplitter::new(max_line);
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, &mut |line| lines.push(line.to_string()));
        }
        splitter.finish(&mut |line| lines.push(line.to_string()));
        lines
    }

    #[test]
    fn lines_spanning_chunks_are_joined_and_crlf_is_trimmed() {
        let lines = split(&[b"hel", b"lo\r\nwor", b"ld\n", b"tail"], 100);
        assert_eq!(lines, ["hello", "world", "tail"]);
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        let lines = split(&[b"abcdefghij", b"klmnop\nok\n"], 4);
        assert_eq!(lines, [format!("abcd{CUT_MARKER}"), "ok".to_string()]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let lines = split(&[b"a\xffb\n"], 100);
        assert_eq!(lines, ["a\u{fffd}b"]);
    }
}
