//! Which branches trigger a registration: exact names and simple globs, where `*` matches any run of
//! characters except `/` and `**` matches any run including `/`.

use std::fmt;

const MAX_PATTERN_LEN: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `*`: anything but `/`.
    Star,
    /// `**`: anything.
    AnyPath,
}

/// A validated branch pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPattern {
    text: String,
    tokens: Vec<Token>,
}

impl fmt::Display for BranchPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl BranchPattern {
    /// Refuses empty patterns, whitespace, control characters and the other characters git forbids in
    /// branch names (`~ ^ : ? [ \`), and more than two `*` in a row.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "a branch pattern must be 1 to {MAX_PATTERN_LEN} characters"
            ));
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "~^:?[\\".contains(*c))
        {
            return Err(format!(
                "branch pattern '{text}' contains '{}', which no branch name may contain",
                c.escape_default()
            ));
        }
        if text.contains("***") {
            return Err(format!(
                "branch pattern '{text}': use '*' (within one path segment) or '**' (across '/')"
            ));
        }
        let bytes = text.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'*' {
                if bytes.get(i + 1) == Some(&b'*') {
                    tokens.push(Token::AnyPath);
                    i += 2;
                } else {
                    tokens.push(Token::Star);
                    i += 1;
                }
            } else {
                tokens.push(Token::Byte(bytes[i]));
                i += 1;
            }
        }
        Ok(Self {
            text: text.to_string(),
            tokens,
        })
    }

    pub fn matches(&self, branch: &str) -> bool {
        let name = branch.as_bytes();
        // matched[j]: the tokens seen so far can match name[..j].
        let mut matched = vec![false; name.len() + 1];
        matched[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; name.len() + 1];
            match token {
                Token::Byte(b) => {
                    for j in 0..name.len() {
                        next[j + 1] = matched[j] && name[j] == *b;
                    }
                }
                Token::Star | Token::AnyPath => {
                    let crosses_slash = *token == Token::AnyPath;
                    next[0] = matched[0];
                    for j in 0..name.len() {
                        next[j + 1] =
                            matched[j + 1] || (next[j] && (crosses_slash || name[j] != b'/'));
                    }
                }
            }
            matched = next;
        }
        matched[name.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, branch: &str) -> bool {
        BranchPattern::parse(pattern).unwrap().matches(branch)
    }

    #[test]
    fn exact_names_match_only_themselves() {
        assert!(matches("main", "main"));
        assert!(!matches("main", "main2"));
        assert!(!matches("main", "mai"));
        assert!(!matches("main", "feature/main"));
    }

    #[test]
    fn a_star_stays_within_one_segment() {
        assert!(matches("release/*", "release/1.2"));
        assert!(!matches("release/*", "release/1.2/hotfix"));
        assert!(!matches("release/*", "release"));
        assert!(matches("release/*", "release/"));
        assert!(matches("*-stable", "v2-stable"));
        assert!(!matches("*-stable", "team/v2-stable"));
        assert!(matches("*", "main"));
        assert!(!matches("*", "a/b"));
    }

    #[test]
    fn a_double_star_crosses_segments() {
        assert!(matches("feature/**", "feature/a/b/c"));
        assert!(matches("**", "any/thing"));
        assert!(matches("**/hotfix", "team/x/hotfix"));
        assert!(!matches("**/hotfix", "team/x/hotfix2"));
    }

    #[test]
    fn invalid_patterns_are_refused_with_the_reason() {
        for bad in [
            "", "a b", "a\tb", "x~1", "a^", "a:b", "a?", "[ab]", "a\\b", "***",
        ] {
            assert!(BranchPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
        let err = BranchPattern::parse("rel ease").unwrap_err();
        assert!(err.contains("rel ease"), "{err}");
    }
}
