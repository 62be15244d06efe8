//! Findings from every tool in one shape: severity buckets, stable fingerprints and threshold evaluation.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::Thresholds;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    /// The bucket of a CVSS-like 0–10 score (GitHub's `security-severity` convention).
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else {
            Self::Low
        }
    }

    /// A representative score for SARIF's `security-severity` property.
    pub fn score(self) -> f64 {
        match self {
            Self::Critical => 9.5,
            Self::High => 8.0,
            Self::Medium => 5.5,
            Self::Low => 2.0,
        }
    }

    /// SARIF result level.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Self::Critical | Self::High => "error",
            Self::Medium => "warning",
            Self::Low => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, already redacted: no field ever holds a found secret in clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub tool: String,
    pub rule_id: String,
    pub rule_name: Option<String>,
    /// What the rule checks, as its source describes it (SARIF `fullDescription`), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_description: Option<String>,
    /// Where the rule (or advisory) is documented, an `http(s)` URL (SARIF `helpUri`), when its source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    pub severity: Severity,
    pub message: String,
    /// Path relative to the scanned root, `/`-separated.
    pub path: Option<String>,
    pub start_line: Option<u64>,
    pub end_line: Option<u64>,
    pub snippet: Option<String>,
    /// The keyed `certus/v2` fingerprint (`crate::fingerprint`): stable across line moves, distinct for
    /// distinct findings. A scanner fills it with the finding's identity within its line
    /// ([`identity_digest`]); the pipeline replaces that with the keyed fingerprint before anything is stored.
    pub fingerprint: String,
    /// Tool-specific facts worth keeping (advisory id, purl, entropy…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Set when a manifest suppression applies: the finding is kept and marked, and not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<AppliedSuppression>,
    /// Against a baseline: whether the finding is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_state: Option<BaselineState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedSuppression {
    /// Position of the suppression in the manifest's list.
    pub index: usize,
    pub reason: String,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    New,
    Unchanged,
}

/// What a scanner puts in [`Finding::fingerprint`]: `sha256(tool \0 rule \0 path \0 basis)` with whitespace
/// in `basis` collapsed. Only an input of the keyed fingerprint (`FingerprintKey::assign`), never stored or
/// shown: unkeyed, it would let anyone test guesses of the basis.
pub fn identity_digest(tool: &str, rule_id: &str, path: &str, basis: &str) -> String {
    let normalised = basis.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut hasher = Sha256::new();
    for part in [tool, rule_id, path, normalised.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl SeverityCounts {
    pub fn add(&mut self, severity: Severity) {
        *self.slot(severity) += 1;
    }

    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }
    }

    pub fn total(&self) -> u64 {
        self.critical + self.high + self.medium + self.low
    }

    fn slot(&mut self, severity: Severity) -> &mut u64 {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
        }
    }
}

impl<'a> FromIterator<&'a Finding> for SeverityCounts {
    fn from_iter<I: IntoIterator<Item = &'a Finding>>(iter: I) -> Self {
        let mut counts = Self::default();
        for finding in iter {
            counts.add(finding.severity);
        }
        counts
    }
}

fn limit(thresholds: &Thresholds, severity: Severity) -> Option<u64> {
    match severity {
        Severity::Critical => thresholds.critical,
        Severity::High => thresholds.high,
        Severity::Medium => thresholds.medium,
        Severity::Low => thresholds.low,
    }
}

/// Every count over its limit, as `<sev> findings exceeded threshold (<n> > <limit>)`, most severe first.
pub fn threshold_violations(counts: &SeverityCounts, thresholds: &Thresholds) -> Vec<String> {
    Severity::ALL
        .into_iter()
        .filter_map(|sev| {
            let max = limit(thresholds, sev)?;
            let n = counts.get(sev);
            (n > max).then(|| format!("{sev} findings exceeded threshold ({n} > {max})"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_use_the_contract_message() {
        let counts = SeverityCounts {
            critical: 1,
            high: 5,
            medium: 3,
            low: 100,
        };
        let thresholds = Thresholds {
            critical: Some(0),
            high: Some(2),
            medium: Some(3),
            low: None,
        };
        assert_eq!(
            threshold_violations(&counts, &thresholds).join("; "),
            "critical findings exceeded threshold (1 > 0); high findings exceeded threshold (5 > 2)"
        );
        assert!(threshold_violations(&counts, &Thresholds::default()).is_empty());
    }

    #[test]
    fn identity_digest_ignores_whitespace_but_not_content() {
        let a = identity_digest("semgrep", "r1", "a.py", "eval( x )");
        assert_eq!(
            a,
            identity_digest("semgrep", "r1", "a.py", "  eval(   x\n)")
        );
        assert_ne!(a, identity_digest("semgrep", "r1", "b.py", "eval( x )"));
        assert_ne!(a, identity_digest("semgrep", "r2", "a.py", "eval( x )"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            identity_digest("ab", "c", "", ""),
            identity_digest("a", "bc", "", "")
        );
    }

    #[test]
    fn severity_from_score_buckets() {
        assert_eq!(Severity::from_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(4.0), Severity::Medium);
        assert_eq!(Severity::from_score(0.1), Severity::Low);
    }
}
