//! Finding policy from the (signed) manifest: suppressions that mark findings instead of dropping them and
//! stop applying when they expire, and a baseline from an earlier scan that tells new findings from known ones.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::finding::{AppliedSuppression, BaselineState, Finding, SeverityCounts};
use crate::fingerprint::LEGACY_FINGERPRINT_SCHEME;
use crate::sarif::FINGERPRINT_KEY;
use crate::time::Timestamp;

const MAX_SUPPRESSIONS: usize = 1000;

/// One accepted risk: which findings (all given criteria must match), why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Suppression {
    pub tool: Option<String>,
    pub rule: Option<String>,
    /// A path glob: `*` within one segment, `**` across segments.
    pub path: Option<String>,
    pub fingerprint: Option<String>,
    pub reason: String,
    /// Last day it applies (`YYYY-MM-DD`, UTC).
    pub expires: Option<String>,
}

/// Which findings thresholds count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdScope {
    #[default]
    All,
    /// Only findings that are not in the baseline.
    New,
}

/// Suppressions checked and ready to apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingPolicy {
    active: Vec<(usize, Suppression)>,
    baseline: Option<HashSet<String>>,
}

fn expiry(s: &Suppression, index: usize) -> Result<Option<NaiveDate>> {
    s.expires
        .as_deref()
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                CoreError::Manifest(format!(
                    "suppressions[{index}].expires '{d}' is not a date (YYYY-MM-DD)"
                ))
            })
        })
        .transpose()
}

impl FindingPolicy {
    /// Checks every suppression; expired ones are left out and reported in the returned warnings.
    pub fn new(suppressions: &[Suppression], now: Timestamp) -> Result<(Self, Vec<String>)> {
        if suppressions.len() > MAX_SUPPRESSIONS {
            return Err(CoreError::Manifest(format!(
                "the manifest lists {} suppressions; the limit is {MAX_SUPPRESSIONS}",
                suppressions.len()
            )));
        }
        let today = now.date_naive();
        let mut active = Vec::new();
        let mut warnings = Vec::new();
        for (index, s) in suppressions.iter().enumerate() {
            if s.rule.is_none() && s.path.is_none() && s.fingerprint.is_none() {
                return Err(CoreError::Manifest(format!(
                    "suppressions[{index}] must name a rule, a path or a fingerprint"
                )));
            }
            if s.reason.trim().is_empty() {
                return Err(CoreError::Manifest(format!(
                    "suppressions[{index}].reason must not be empty"
                )));
            }
            match expiry(s, index)? {
                Some(last_day) if last_day < today => warnings.push(format!(
                    "suppression #{index} ({}) expired on {last_day} and no longer applies",
                    s.reason
                )),
                _ => active.push((index, s.clone())),
            }
        }
        Ok((
            Self {
                active,
                baseline: None,
            },
            warnings,
        ))
    }

    pub fn with_baseline(mut self, fingerprints: HashSet<String>) -> Self {
        self.baseline = Some(fingerprints);
        self
    }

    pub fn has_baseline(&self) -> bool {
        self.baseline.is_some()
    }

    /// Marks suppressed findings and, against a baseline, new ones.
    pub fn apply(&self, findings: &mut [Finding]) {
        for finding in findings.iter_mut() {
            finding.suppression =
                self.active
                    .iter()
                    .find(|(_, s)| matches(s, finding))
                    .map(|(index, s)| AppliedSuppression {
                        index: *index,
                        reason: s.reason.clone(),
                        expires: s.expires.clone(),
                    });
            if let Some(known) = &self.baseline {
                finding.baseline_state = Some(if known.contains(&finding.fingerprint) {
                    BaselineState::Unchanged
                } else {
                    BaselineState::New
                });
            }
        }
    }
}

fn matches(s: &Suppression, f: &Finding) -> bool {
    s.tool
        .as_ref()
        .is_none_or(|t| t.eq_ignore_ascii_case(&f.tool))
        && s.rule.as_ref().is_none_or(|r| *r == f.rule_id)
        && s.fingerprint.as_ref().is_none_or(|fp| *fp == f.fingerprint)
        && s.path
            .as_ref()
            .is_none_or(|glob| f.path.as_deref().is_some_and(|p| glob_match(glob, p)))
}

/// `*` matches within a path segment, `**` matches any number of segments.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(seg, path_rest)| {
            segment_match(first.as_bytes(), seg.as_bytes()) && segments_match(rest, path_rest)
        }),
    }
}

fn segment_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| segment_match(rest, &text[skip..])),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, text_rest)| t == c && segment_match(rest, text_rest)),
    }
}

/// Counts of the findings thresholds apply to: unsuppressed, and only new ones when the scope says so.
pub fn counted(findings: &[Finding], scope: ThresholdScope) -> SeverityCounts {
    findings
        .iter()
        .filter(|f| f.suppression.is_none())
        .filter(|f| {
            scope == ThresholdScope::All || f.baseline_state != Some(BaselineState::Unchanged)
        })
        .collect()
}

/// Fingerprints from a SARIF log of ours (`partialFingerprints["certus/v2"]`). A log whose results carry
/// only fingerprints of the earlier unkeyed scheme (`certus/v1`), or none of ours, is refused rather than
/// read as "every finding is new" or, worse, matched against fingerprints it cannot be compared with.
pub fn sarif_fingerprints(sarif: &serde_json::Value) -> Result<HashSet<String>> {
    let results: Vec<&serde_json::Value> = sarif["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|run| run["results"].as_array().into_iter().flatten())
        .collect();
    let fingerprints: HashSet<String> = results
        .iter()
        .filter_map(|result| {
            result["partialFingerprints"][FINGERPRINT_KEY]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    if results.is_empty() || !fingerprints.is_empty() {
        return Ok(fingerprints);
    }
    let legacy = results
        .iter()
        .any(|r| r["partialFingerprints"][LEGACY_FINGERPRINT_SCHEME].is_string());
    Err(CoreError::Manifest(if legacy {
        format!(
            "the baseline's findings carry fingerprints of the earlier scheme '{LEGACY_FINGERPRINT_SCHEME}', \
             which cannot be compared with this version's keyed '{FINGERPRINT_KEY}' fingerprints: \
             scan the baseline again with this version and use that scan as the baseline"
        )
    } else {
        format!(
            "the baseline's findings carry no '{FINGERPRINT_KEY}' fingerprints: it is not a Certus \
             merged.sarif of this version"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    fn finding(tool: &str, rule: &str, path: &str, fp: &str, sev: Severity) -> Finding {
        Finding {
            tool: tool.into(),
            rule_id: rule.into(),
            rule_name: None,
            rule_description: None,
            help_uri: None,
            severity: sev,
            message: "m".into(),
            path: Some(path.into()),
            start_line: Some(1),
            end_line: None,
            snippet: None,
            fingerprint: fp.into(),
            properties: BTreeMap::new(),
            suppression: None,
            baseline_state: None,
        }
    }

    fn sup(rule: Option<&str>, path: Option<&str>, expires: Option<&str>) -> Suppression {
        Suppression {
            tool: None,
            rule: rule.map(Into::into),
            path: path.map(Into::into),
            fingerprint: None,
            reason: "accepted risk".into(),
            expires: expires.map(Into::into),
        }
    }

    fn day(y: i32, m: u32, d: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn suppressed_findings_are_marked_not_dropped_and_not_counted() {
        let (policy, warnings) = FindingPolicy::new(
            &[sup(Some("B602"), Some("tests/**"), None)],
            day(2026, 1, 1),
        )
        .unwrap();
        assert!(warnings.is_empty());
        let mut findings = vec![
            finding("bandit", "B602", "tests/unit/a.py", "1", Severity::High),
            finding("bandit", "B602", "app/a.py", "2", Severity::High),
            finding("bandit", "B101", "tests/b.py", "3", Severity::Low),
        ];
        policy.apply(&mut findings);
        assert_eq!(findings.len(), 3);
        assert_eq!(
            findings[0].suppression.as_ref().unwrap().reason,
            "accepted risk"
        );
        assert!(findings[1].suppression.is_none() && findings[2].suppression.is_none());
        let counts = counted(&findings, ThresholdScope::All);
        assert_eq!((counts.high, counts.low), (1, 1));
    }

    #[test]
    fn expired_suppressions_stop_applying_and_are_reported() {
        let list = [sup(Some("R1"), None, Some("2026-03-01"))];
        let (still, warnings) = FindingPolicy::new(&list, day(2026, 3, 1)).unwrap();
        assert!(warnings.is_empty(), "valid through its last day");
        let mut f = vec![finding("t", "R1", "a", "1", Severity::Low)];
        still.apply(&mut f);
        assert!(f[0].suppression.is_some());

        let (expired, warnings) = FindingPolicy::new(&list, day(2026, 3, 2)).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("expired on 2026-03-01"),
            "{warnings:?}"
        );
        let mut f = vec![finding("t", "R1", "a", "1", Severity::Low)];
        expired.apply(&mut f);
        assert!(f[0].suppression.is_none());
    }

    #[test]
    fn malformed_suppressions_are_refused() {
        assert!(FindingPolicy::new(&[sup(None, None, None)], day(2026, 1, 1)).is_err());
        assert!(
            FindingPolicy::new(&[sup(Some("R"), None, Some("soon"))], day(2026, 1, 1)).is_err()
        );
        let mut blank = sup(Some("R"), None, None);
        blank.reason = " ".into();
        assert!(FindingPolicy::new(&[blank], day(2026, 1, 1)).is_err());
    }

    #[test]
    fn baseline_marks_new_findings_and_scope_counts_only_them() {
        let (policy, _) = FindingPolicy::new(&[], day(2026, 1, 1)).unwrap();
        let policy = policy.with_baseline(["old".to_string()].into());
        let mut f = vec![
            finding("t", "R", "a", "old", Severity::High),
            finding("t", "R", "b", "fresh", Severity::High),
        ];
        policy.apply(&mut f);
        assert_eq!(f[0].baseline_state, Some(BaselineState::Unchanged));
        assert_eq!(f[1].baseline_state, Some(BaselineState::New));
        assert_eq!(counted(&f, ThresholdScope::All).high, 2);
        assert_eq!(counted(&f, ThresholdScope::New).high, 1);
    }

    #[test]
    fn globs() {
        assert!(glob_match("tests/**", "tests/a/b.py"));
        assert!(glob_match("**/*.py", "a/b/c.py"));
        assert!(glob_match("*.py", "c.py"));
        assert!(!glob_match("*.py", "a/c.py"));
        assert!(glob_match("src/*/x.js", "src/lib/x.js"));
        assert!(!glob_match("src/*/x.js", "src/a/b/x.js"));
    }

    #[test]
    fn fingerprints_are_read_from_sarif() {
        let sarif = serde_json::json!({"runs": [{"results": [
            {"partialFingerprints": {"certus/v2": "a"}}, {"partialFingerprints": {"other": "b"}}]}]});
        assert_eq!(
            sarif_fingerprints(&sarif).unwrap(),
            ["a".to_string()].into()
        );
        let empty = serde_json::json!({"runs": [{"results": []}]});
        assert!(sarif_fingerprints(&empty).unwrap().is_empty());
    }

    #[test]
    fn a_baseline_of_the_earlier_scheme_is_refused_with_its_name() {
        let old = serde_json::json!({"runs": [{"results": [
            {"partialFingerprints": {"certus/v1": "a"}}]}]});
        let err = sarif_fingerprints(&old).unwrap_err().to_string();
        assert!(err.contains("earlier scheme 'certus/v1'"), "{err}");
        assert!(err.contains("scan the baseline again"), "{err}");
        let foreign = serde_json::json!({"runs": [{"results": [
            {"partialFingerprints": {"other": "a"}}]}]});
        let err = sarif_fingerprints(&foreign).unwrap_err().to_string();
        assert!(err.contains("no 'certus/v2' fingerprints"), "{err}");
    }
}
