//! The neutral finding every adapter produces, and the severity scale thresholds count in.

use serde::Serialize;

/// Longest message kept for a finding.
const MAX_MESSAGE_CHARS: usize = 2000;
/// Longest snippet kept for a finding.
const MAX_SNIPPET_CHARS: usize = 1000;
/// Longest rule id or rule name kept.
const MAX_RULE_CHARS: usize = 200;
/// Longest documentation URL kept.
const MAX_URI_CHARS: usize = 2000;

/// Severity on the scale the manifest thresholds use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// `critical`, `high`, `medium` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    /// Maps a CVSS-like score (SARIF `security-severity`, 0–10): ≥9 critical, ≥7 high,
    /// ≥4 medium, otherwise low. `None` for values that are not a finite score in 0–10.
    pub fn from_score(score: f64) -> Option<Severity> {
        if !(0.0..=10.0).contains(&score) {
            return None;
        }
        Some(if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else {
            Severity::Low
        })
    }

    /// One step lower, never below low.
    pub fn lowered(self) -> Severity {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium | Severity::Low => Severity::Low,
        }
    }
}

/// One problem a tool reported, in tool-neutral form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolFinding {
    pub rule_id: String,
    pub rule_name: Option<String>,
    /// What the rule checks, as the tool describes it.
    pub rule_description: Option<String>,
    /// The `http(s)` page documenting the rule, when the tool names one.
    pub help_uri: Option<String>,
    pub severity: Severity,
    pub message: String,
    /// Relative to the scanned root, `/`-separated, never escaping it.
    pub path: String,
    /// 1-based.
    pub start_line: u32,
    pub end_line: Option<u32>,
    pub snippet: Option<String>,
}

impl ToolFinding {
    /// Builds a finding, cutting over-long text fields to bounded sizes.
    pub(crate) fn bounded(
        rule_id: &str,
        rule_name: Option<&str>,
        severity: Severity,
        message: &str,
        location: crate::paths::Location,
        snippet: Option<&str>,
    ) -> ToolFinding {
        ToolFinding {
            rule_id: cut(rule_id, MAX_RULE_CHARS),
            rule_name: rule_name.map(|name| cut(name, MAX_RULE_CHARS)),
            rule_description: None,
            help_uri: None,
            severity,
            message: cut(message, MAX_MESSAGE_CHARS),
            path: location.path,
            start_line: location.start_line,
            end_line: location.end_line,
            snippet: snippet.map(|text| cut(text, MAX_SNIPPET_CHARS)),
        }
    }
}

impl ToolFinding {
    /// The rule's description and documentation page as the tool gives them: bounded, blank ones dropped,
    /// and a page kept only when it is an `http(s)` URL.
    pub(crate) fn with_rule_help(mut self, description: Option<&str>, uri: Option<&str>) -> Self {
        self.rule_description = description
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| cut(text, MAX_MESSAGE_CHARS));
        self.help_uri = uri
            .map(str::trim)
            .filter(|u| {
                (u.starts_with("https://") || u.starts_with("http://"))
                    && u.len() <= MAX_URI_CHARS
                    && !u.chars().any(char::is_whitespace)
            })
            .map(str::to_string);
        self
    }
}

fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_the_threshold_scale() {
        assert_eq!(Severity::from_score(9.8), Some(Severity::Critical));
        assert_eq!(Severity::from_score(7.0), Some(Severity::High));
        assert_eq!(Severity::from_score(6.9), Some(Severity::Medium));
        assert_eq!(Severity::from_score(0.1), Some(Severity::Low));
        assert_eq!(Severity::from_score(11.0), None);
        assert_eq!(Severity::from_score(f64::NAN), None);
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        assert_eq!(cut("ééé", 2), "éé…");
        assert_eq!(cut("ab", 2), "ab");
    }
}
