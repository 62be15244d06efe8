//! Serde mirror of the gitleaks TOML rule format (only the fields this engine uses; others are ignored).

use serde::Deserialize;

/// A TOML number that may be written as an integer (`entropy = 4`) or a float (`entropy = 3.5`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            // Entropy thresholds are tiny integers: the conversion is exact.
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// One `[[rules]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawRule {
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) regex: Option<String>,
    pub(crate) secret_group: Option<i64>,
    pub(crate) entropy: Option<Number>,
    #[serde(default)]
    pub(crate) keywords: Vec<String>,
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Reported only as a required part of a composite rule, never on its own.
    #[serde(default)]
    pub(crate) skip_report: bool,
    /// `[[rules.required]]`: the rule reports a match only when each of these rules matches nearby.
    #[serde(default)]
    pub(crate) required: Vec<RawRequired>,
    /// Old single-allowlist form `[rules.allowlist]`.
    pub(crate) allowlist: Option<RawAllowlist>,
    /// Current form `[[rules.allowlists]]`.
    #[serde(default)]
    pub(crate) allowlists: Vec<RawAllowlist>,
}

/// One `[[rules.required]]` table of a composite rule.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawRequired {
    pub(crate) id: Option<String>,
    pub(crate) within_lines: Option<i64>,
    pub(crate) within_columns: Option<i64>,
}

/// An allowlist table, global or per rule.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawAllowlist {
    pub(crate) condition: Option<String>,
    #[serde(default)]
    pub(crate) regexes: Vec<String>,
    pub(crate) regex_target: Option<String>,
    #[serde(default)]
    pub(crate) paths: Vec<String>,
    #[serde(default)]
    pub(crate) stopwords: Vec<String>,
    #[serde(default)]
    pub(crate) commits: Vec<String>,
    /// Only on top-level `[[allowlists]]`: the rule ids it applies to (empty = all rules).
    #[serde(default)]
    pub(crate) target_rules: Vec<String>,
}
