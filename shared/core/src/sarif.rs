//! SARIF 2.1.0 output: one run per tool, results carrying stable `partialFingerprints` and the severity
//! bucket, so any SARIF viewer and our own thresholds read the same thing. Every rule has the
//! `shortDescription`, `fullDescription` and `help` (text and Markdown) that viewers explain a finding with,
//! and `helpUri` when the rule's source documents it at a URL.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{CoreError, Result};
use crate::finding::{AppliedSuppression, BaselineState, Finding, Severity};
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
    let rules_json: Vec<Value> = rules.values().map(|f| rule_json(info.tool, f)).collect();
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

/// A rule as viewers show it: its name, what it checks (the source's description, else its name), help in
/// text and Markdown, and `helpUri` when the source names an `http(s)` page.
fn rule_json(tool: &str, f: &Finding) -> Value {
    let name = f.rule_name.clone().unwrap_or_else(|| f.rule_id.clone());
    let full = f.rule_description.clone().unwrap_or_else(|| name.clone());
    let uri = f
        .help_uri
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let (text, markdown) = match uri {
        Some(uri) => (
            format!("{full}\n\nReported by {tool} as rule {}. More: {uri}", f.rule_id),
            format!(
                "**{name}**\n\n{full}\n\nReported by `{tool}` as rule `{}`. [More about this rule]({uri})",
                f.rule_id
            ),
        ),
        None => (
            format!("{full}\n\nReported by {tool} as rule {}.", f.rule_id),
            format!("**{name}**\n\n{full}\n\nReported by `{tool}` as rule `{}`.", f.rule_id),
        ),
    };
    let mut rule = json!({
        "id": f.rule_id,
        "name": name,
        "shortDescription": {"text": name},
        "fullDescription": {"text": full},
        "help": {"text": text, "markdown": markdown},
        "properties": {"security-severity": format!("{:.1}", f.severity.score())},
    });
    if let Some(uri) = uri {
        rule["helpUri"] = json!(uri);
    }
    rule
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
        let mut physical = json!({"artifactLocation": {"uri": uri_reference(path)}});
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

/// Reads back the findings of a log this module wrote (a tool's SARIF or the merged view), in file order.
/// Fails closed, naming the JSON path, when the structure is not ours: a bundle may come from anywhere.
pub fn read_findings(log: &Value) -> Result<Vec<Finding>> {
    let bad = |path: String, what: &str| CoreError::Bundle(format!("SARIF {path} {what}"));
    if log["version"] != "2.1.0" {
        return Err(bad("version".into(), "is not \"2.1.0\""));
    }
    let runs = log["runs"]
        .as_array()
        .ok_or_else(|| bad("runs".into(), "is not an array"))?;
    let mut findings = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let tool = run["tool"]["driver"]["name"]
            .as_str()
            .ok_or_else(|| bad(format!("runs[{i}].tool.driver.name"), "is not a string"))?;
        let rules: BTreeMap<&str, &Value> = run["tool"]["driver"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r["id"].as_str()?, r)))
            .collect();
        let results = match &run["results"] {
            Value::Null => continue,
            value => value
                .as_array()
                .ok_or_else(|| bad(format!("runs[{i}].results"), "is not an array"))?,
        };
        for (j, result) in results.iter().enumerate() {
            let at = |field: &str| format!("runs[{i}].results[{j}].{field}");
            let rule_id = result["ruleId"]
                .as_str()
                .ok_or_else(|| bad(at("ruleId"), "is not a string"))?;
            let severity = match result["properties"]["severity"].as_str() {
                Some(text) => Severity::ALL
                    .into_iter()
                    .find(|s| s.as_str() == text)
                    .ok_or_else(|| bad(at("properties.severity"), "is not a severity"))?,
                None => match result["level"].as_str() {
                    Some("error") => Severity::High,
                    Some("warning") => Severity::Medium,
                    _ => Severity::Low,
                },
            };
            let physical = &result["locations"][0]["physicalLocation"];
            let region = &physical["region"];
            let mut properties: BTreeMap<String, Value> = result["properties"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            properties.remove("severity");
            let suppression = result["suppressions"].get(0).map(|s| AppliedSuppression {
                index: s["properties"]["manifest_index"].as_u64().unwrap_or(0) as usize,
                reason: s["justification"].as_str().unwrap_or_default().to_string(),
                expires: s["properties"]["expires"].as_str().map(str::to_string),
            });
            let fingerprints = &result["partialFingerprints"];
            let fingerprint = fingerprints[FINGERPRINT_KEY]
                .as_str()
                .or_else(|| fingerprints.as_object()?.values().find_map(Value::as_str))
                .unwrap_or_default();
            let rule = rules.get(rule_id).copied().unwrap_or(&Value::Null);
            // The writer names a rule by its id when it has no name of its own, and describes it by its name
            // when its source has no description.
            let rule_name = rule["name"].as_str().filter(|name| *name != rule_id);
            findings.push(Finding {
                tool: tool.to_string(),
                rule_id: rule_id.to_string(),
                rule_name: rule_name.map(str::to_string),
                rule_description: rule["fullDescription"]["text"]
                    .as_str()
                    .filter(|full| Some(*full) != rule["shortDescription"]["text"].as_str())
                    .map(str::to_string),
                help_uri: rule["helpUri"].as_str().map(str::to_string),
                severity,
                message: result["message"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                path: physical["artifactLocation"]["uri"]
                    .as_str()
                    .map(path_of_uri),
                start_line: region["startLine"].as_u64(),
                end_line: region["endLine"].as_u64(),
                snippet: region["snippet"]["text"].as_str().map(str::to_string),
                fingerprint: fingerprint.to_string(),
                properties,
                suppression,
                baseline_state: match result["baselineState"].as_str() {
                    Some("new") => Some(BaselineState::New),
                    Some("unchanged") => Some(BaselineState::Unchanged),
                    _ => None,
                },
            });
        }
    }
    Ok(findings)
}

/// A relative path as an RFC 3986 URI reference (`artifactLocation.uri`): every byte but the unreserved
/// characters, sub-delimiters, `:`, `@` and `/` is percent-encoded, so a hostile file name (line breaks,
/// escape sequences, `#`, `?`, spaces, `%`) stays one inert path.
pub fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The path an `artifactLocation.uri` names: percent-decoded when that gives UTF-8, else as written.
pub fn path_of_uri(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_uris_are_percent_encoded_and_read_back_as_the_path() {
        let hostile = "src/a b\n\u{1b}[2J#?%41é.py";
        let uri = uri_reference(hostile);
        assert_eq!(uri, "src/a%20b%0A%1B%5B2J%23%3F%2541%C3%A9.py");
        assert!(uri.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(path_of_uri(&uri), hostile);
        assert_eq!(uri_reference("app/settings.py"), "app/settings.py");
        assert_eq!(path_of_uri("100%"), "100%");
        assert_eq!(path_of_uri("%ff"), "%ff");
    }

    fn finding(rule: &str, sev: Severity) -> Finding {
        Finding {
            tool: "t".into(),
            rule_id: rule.into(),
            rule_name: None,
            rule_description: None,
            help_uri: None,
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
    fn findings_read_back_equal_the_ones_written() {
        let mut new = finding("b", Severity::High);
        new.baseline_state = Some(BaselineState::New);
        new.rule_name = Some("Rule B".into());
        new.properties
            .insert("purl".into(), json!("pkg:pypi/flask@2.0.0"));
        let mut hidden = finding("a", Severity::Low);
        hidden.path = None;
        hidden.start_line = None;
        hidden.snippet = None;
        hidden.suppression = Some(AppliedSuppression {
            index: 2,
            reason: "test fixture".into(),
            expires: Some("2027-01-01".into()),
        });
        new.rule_description = Some("What rule B looks for.".into());
        new.help_uri = Some("https://example.invalid/rules/b".into());
        let written = vec![new, hidden];
        let log = merged_log(vec![sarif_run(
            &RunInfo {
                tool: "t",
                ..Default::default()
            },
            &written,
        )]);
        assert_eq!(read_findings(&log).unwrap(), written);
    }

    #[test]
    fn every_rule_has_descriptions_and_help_and_a_help_uri_when_its_source_has_one() {
        let mut documented = finding("b", Severity::High);
        documented.rule_name = Some("Rule B".into());
        documented.rule_description = Some("What rule B looks for.".into());
        documented.help_uri = Some("https://example.invalid/rules/b".into());
        let mut odd_uri = finding("c", Severity::Low);
        odd_uri.help_uri = Some("javascript:alert(1)".into());
        let log = sarif_log(
            &RunInfo {
                tool: "t",
                ..Default::default()
            },
            &[documented, finding("a", Severity::Low), odd_uri],
        );
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        for rule in rules {
            for field in ["shortDescription", "fullDescription", "help"] {
                assert!(
                    !rule[field]["text"].as_str().unwrap().is_empty(),
                    "{field} of {rule}"
                );
            }
            assert!(rule["help"]["markdown"].as_str().unwrap().starts_with("**"));
        }
        assert_eq!(
            rules[1]["fullDescription"]["text"],
            "What rule B looks for."
        );
        assert_eq!(rules[1]["helpUri"], "https://example.invalid/rules/b");
        assert!(rules[1]["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("(https://example.invalid/rules/b)"));
        assert_eq!(rules[0]["fullDescription"]["text"], "a");
        assert!(rules[0].get("helpUri").is_none());
        assert!(rules[2].get("helpUri").is_none(), "only http(s) pages");
    }

    #[test]
    fn a_foreign_structure_is_refused_with_its_path() {
        let err = read_findings(&json!({"version": "2.1.0", "runs": [
            {"tool": {"driver": {"name": "t"}}, "results": [{"message": {"text": "x"}}]}]}))
        .unwrap_err();
        assert!(
            err.to_string().contains("runs[0].results[0].ruleId"),
            "{err}"
        );
        assert!(read_findings(&json!({"version": "2.0.0", "runs": []})).is_err());
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
