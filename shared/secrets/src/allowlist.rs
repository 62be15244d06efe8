//! Compiled allowlists with gitleaks semantics: paths, regexes (on the secret, the match or the line),
//! stopwords and an OR/AND condition. Commit criteria are accepted and ignored (no git history here).

use aho_corasick::AhoCorasick;
use regex::bytes::{Regex, RegexSet};

use crate::go_regex;
use crate::toml_format::RawAllowlist;

/// Which text an allowlist's `regexes` are matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegexTarget {
    Secret,
    Match,
    Line,
}

/// How an allowlist's criteria combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Or,
    And,
}

/// The texts of one candidate finding that allowlists look at.
pub(crate) struct Candidate<'a> {
    pub(crate) path: &'a str,
    pub(crate) secret: &'a [u8],
    pub(crate) matched: &'a [u8],
    pub(crate) line: &'a [u8],
}

/// One compiled allowlist.
#[derive(Debug)]
pub(crate) struct Allowlist {
    condition: Condition,
    target: RegexTarget,
    regexes: Vec<Regex>,
    /// Every path pattern, matched in one pass.
    paths: RegexSet,
    stopwords: Option<AhoCorasick>,
}

impl Allowlist {
    /// Compiles a TOML allowlist, or explains which entry is invalid.
    pub(crate) fn compile(raw: &RawAllowlist) -> Result<Self, String> {
        let condition = match raw.condition.as_deref().map(str::to_ascii_uppercase) {
            None => Condition::Or,
            Some(c) if c.is_empty() || c == "OR" => Condition::Or,
            Some(c) if c == "AND" => Condition::And,
            Some(other) => return Err(format!("condition {other:?} is neither OR nor AND")),
        };
        let target = match raw.regex_target.as_deref() {
            None | Some("") | Some("secret") => RegexTarget::Secret,
            Some("match") => RegexTarget::Match,
            Some("line") => RegexTarget::Line,
            Some(other) => {
                return Err(format!(
                    "regexTarget {other:?} is not one of secret, match, line"
                ))
            }
        };
        if raw.regexes.is_empty()
            && raw.paths.is_empty()
            && raw.stopwords.is_empty()
            && raw.commits.is_empty()
        {
            return Err("allowlist has no regexes, paths, stopwords or commits".to_string());
        }
        let regexes = compile_all("regex", &raw.regexes)?;
        // Each path pattern on its own first, so that an invalid one is named.
        compile_all("path", &raw.paths)?;
        let paths = go_regex::compile_set(&raw.paths)
            .map_err(|e| format!("allowlist paths cannot be compiled together: {e}"))?;
        let stopwords = if raw.stopwords.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&raw.stopwords)
                    .map_err(|e| format!("stopwords cannot be indexed: {e}"))?,
            )
        };
        Ok(Self {
            condition,
            target,
            regexes,
            paths,
            stopwords,
        })
    }

    /// Whether the whole file is allowed from its path alone (checked before any content is read).
    pub(crate) fn allows_path(&self, path: &str) -> bool {
        if self.paths.is_empty() {
            return false;
        }
        match self.condition {
            Condition::Or => self.path_matches(path),
            Condition::And => {
                self.regexes.is_empty() && self.stopwords.is_none() && self.path_matches(path)
            }
        }
    }

    /// Whether one candidate finding is allowed.
    pub(crate) fn allows(&self, candidate: &Candidate<'_>) -> bool {
        let mut checks = Vec::with_capacity(3);
        if !self.paths.is_empty() {
            checks.push(self.path_matches(candidate.path));
        }
        if !self.regexes.is_empty() {
            let target = match self.target {
                RegexTarget::Secret => candidate.secret,
                RegexTarget::Match => candidate.matched,
                RegexTarget::Line => candidate.line,
            };
            checks.push(self.regexes.iter().any(|re| re.is_match(target)));
        }
        if let Some(stopwords) = &self.stopwords {
            checks.push(stopwords.is_match(candidate.secret));
        }
        match self.condition {
            Condition::Or => checks.iter().any(|&c| c),
            Condition::And => !checks.is_empty() && checks.iter().all(|&c| c),
        }
    }

    fn path_matches(&self, path: &str) -> bool {
        self.paths.is_match(path.as_bytes())
    }
}

fn compile_all(kind: &str, patterns: &[String]) -> Result<Vec<Regex>, String> {
    patterns
        .iter()
        .map(|p| go_regex::compile(p).map_err(|e| format!("allowlist {kind} {p:?}: {e}")))
        .collect()
}
