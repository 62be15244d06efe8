//! Finding severity: computed from a CVSS vector's base score, or taken from a database label.

use std::str::FromStr;

use serde::Serialize;

/// The four severity levels thresholds are expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Lowercase name, as used in thresholds.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// CVSS v3/v4 qualitative bands: 9.0+ critical, 7.0+ high, 4.0+ medium, else low.
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// Database labels such as GitHub's `CRITICAL`, `HIGH`, `MODERATE`, `LOW`.
    pub fn from_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" | "important" => Some(Severity::High),
            "moderate" | "medium" => Some(Severity::Medium),
            "low" | "negligible" => Some(Severity::Low),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The base score of a CVSS v3.0, v3.1 or v4.0 vector string; `None` if it does not parse.
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    let vector = vector.trim();
    if !(vector.starts_with("CVSS:3.") || vector.starts_with("CVSS:4.")) {
        return None;
    }
    cvss::Cvss::from_str(vector).ok().map(|cvss| cvss.score())
}
