//! Hostile text on the terminal (W9): archive member names, warnings, errors, finding messages and paths and
//! tool output come from the scanned code, so every place that prints them passes them through [`printable`],
//! which shows control characters (escape sequences, carriage returns, line breaks) and bidirectional
//! overrides as visible escapes instead of letting the terminal act on them.

use std::fmt::Write;

/// `text` with each control character and bidirectional formatting character written as `\x1b` or
/// `\u{202e}`; everything else (including a literal backslash) is kept.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = u32::from(c);
        if c.is_control() {
            if code < 0x100 {
                let _ = write!(out, "\\x{code:02x}");
            } else {
                let _ = write!(out, "\\u{{{code:x}}}");
            }
        } else if matches!(code, 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069) {
            let _ = write!(out, "\\u{{{code:x}}}");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_line_breaks_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(
            printable("x\u{1b}]0;T\u{7}\u{1b}[2J\r\nok\u{202e}\u{9b}é"),
            "x\\x1b]0;T\\x07\\x1b[2J\\x0d\\x0aok\\u{202e}\\x9bé"
        );
        assert_eq!(printable("plain/path.py"), "plain/path.py");
    }
}
