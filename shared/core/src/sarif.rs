//! SARIF 2.1.0 output: one run per tool, results carrying stable `partialFingerprints` and the severity
//! bucket, so any SARIF viewer and our own thresholds read the same thing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::finding::Finding;
use crate::fingerprint::FINGERPRINT_SCHEME;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The `partialFingerprints` key: the fingerprint scheme's name, so a baseline of another scheme is recognised.
pub const FINGERPRINT_KEY: &str = FINGERPRINT_SCHEME;

/// Facts about the tool run that SARIF records beside the results.
#[derive(Debug, Clone, Default)]
pub struct RunInfo<'a> {
    pub tool: &'a str,
    pub version: &'a str,
    pub exit_code: Option<i32>,
    pub successful: bool,
    /// Canned output, not a real scan: marked in the run's properties.
    pub sample: bool,
}

/// A SARIF log with one run holding `findings`.
pub fn sarif_log(info: &RunInfo<'_>, findings: &[Finding]) -> Value {
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [sarif_run(info, findings)],
    })
}

/// Several tools' runs in one log (the merged view).
pub fn merged_log(runs: Vec<Value>) -> Value {
    json!({ "$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs })
}

pub fn sarif_run(info: &RunInfo<'_>, findings: &[Finding]) -> Value {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in findings {
        rules.entry(f.rule_id.as_str()).or_insert(f);
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules_json: Vec<Value> = rules
        .values()
        .map(|f| {
            json!({
                "id": f.rule_id,
                "name": f.rule_name.clone().unwrap_or_else(|| f.rule_id.clone()),
                "shortDescription": {"text": f.rule_name.clone().unwrap_or_else(|| f.rule_id.clone())},
                "properties": {"security-severity": format!("{:.1}", f.severity.score())},
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| result_json(f, rule_index.get(f.rule_id.as_str()).copied().unwrap_or(0)))
        .collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": info.tool,
            "version": info.version,
            "informationUri": "https://example.invalid/certus-assurance/scanners",
            "rules": rules_json,
        }},
        "invocations": [{"executionSuccessful": info.successful, "exitCode": info.exit_code}],
        "results": results,
    });
    if info.sample {
        run["properties"] = json!({"certus:sample": true,
            "certus:note": "sample output from canned inputs, not a scan of this source"});
    }
    run
}

fn result_json(f: &Finding, rule_index: usize) -> Value {
    let mut result = json!({
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": f.severity.sarif_level(),
        "message": {"text": f.message},
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {"severity": f.severity.as_str()},
    });
    if let Some(path) = &f.path {
        let mut region = serde_json::Map::new();
        if let Some(line) = f.start_line {
            region.insert("startLine".into(), json!(line));
        }
        if let Some(line) = f.end_line {
            region.insert("endLine".into(), json!(line));
        }
        if let Some(snippet) = &f.snippet {
            region.insert("snippet".into(), json!({"text": snippet}));
        }
        let mut physical = json!({"artifactLocation": {"uri": path}});
        if !region.is_empty() {
            physical["region"] = Value::Object(region);
        }
        result["locations"] = json!([{"physicalLocation": physical}]);
    }
    for (k, v) in &f.properties {
        result["properties"][k] = v.clone();
    }
    if let Some(s) = &f.suppression {
        result["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": s.reason,
            "properties": {"manifest_index": s.index, "expires": s.expires},
        }]);
    }
    if let Some(state) = f.baseline_state {
        result["baselineState"] = json!(state);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    fn finding(rule: &str, sev: Severity) -> Finding {
        Finding {
            tool: "t".into(),
            rule_id: rule.into(),
            rule_name: None,
            severity: sev,
            message: "m".into(),
            path: Some("src/a.py".into()),
            start_line: Some(3),
            end_line: None,
            snippet: Some("x = 1".into()),
            fingerprint: "fp".into(),
            properties: BTreeMap::new(),
            suppression: None,
            baseline_state: None,
        }
    }

    #[test]
    fn one_run_with_rules_results_and_fingerprints() {
        let log = sarif_log(
            &RunInfo {
                tool: "t",
                version: "1",
                exit_code: Some(0),
                successful: true,
                sample: false,
            },
            &[finding("b", Severity::High), finding("a", Severity::Low)],
        );
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "a");
        assert_eq!(run["results"][0]["ruleIndex"], 1);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(run["results"][1]["level"], "note");
        assert_eq!(
            run["results"][0]["partialFingerprints"][FINGERPRINT_KEY],
            "fp"
        );
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert!(run.get("properties").is_none());
    }

    #[test]
    fn sample_runs_are_marked() {
        let log = sarif_log(
            &RunInfo {
                tool: "sample",
                sample: true,
                ..Default::default()
            },
            &[],
        );
        assert_eq!(log["runs"][0]["properties"]["certus:sample"], true);
    }
}
