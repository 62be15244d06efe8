//! Reads SARIF 2.1.0 that a tool wrote into neutral findings: tolerant of extra fields and
//! optional parts, strict about structure, so a malformed or cut report is an error.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ToolError;
use crate::finding::{Severity, ToolFinding};
use crate::paths::{relative_to_root, Location};
use crate::tool::ToolId;

/// Largest SARIF document we parse.
pub const MAX_SARIF_BYTES: usize = 64 * 1024 * 1024;
/// Most results we accept from one document.
pub const MAX_SARIF_RESULTS: usize = 200_000;

/// A SARIF result level (`none`, `note`, `warning`, `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Note,
    Warning,
    Error,
}

/// Findings read from a report, and what was dropped or noted on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedReport {
    pub findings: Vec<ToolFinding>,
    /// Human-readable notes: dropped results (e.g. paths outside the root), tool notifications.
    pub warnings: Vec<String>,
}

/// The level mapping used when a result carries no `security-severity` score.
pub fn level_severity(level: Level) -> Severity {
    match level {
        Level::Error => Severity::High,
        Level::Warning => Severity::Medium,
        Level::Note | Level::None => Severity::Low,
    }
}

/// Parses SARIF written by `tool` for a scan of `root` (absolute, canonical). Severity comes from
/// a `security-severity` score (result, then rule properties) when present, else from the level:
/// error → high, warning → medium, note/none → low.
pub fn parse_sarif(tool: ToolId, bytes: &[u8], root: &Path) -> Result<ParsedReport, ToolError> {
    if bytes.len() > MAX_SARIF_BYTES {
        return Err(ToolError::OutputTooLarge {
            tool,
            limit: MAX_SARIF_BYTES,
        });
    }
    let unparsable = |reason: String| ToolError::OutputUnparsable { tool, reason };
    let log: SarifLog = serde_json::from_slice(bytes)
        .map_err(|err| unparsable(format!("not valid SARIF JSON: {err}")))?;
    if log.version != "2.1.0" {
        return Err(unparsable(format!(
            "SARIF version '{}' is not 2.1.0",
            log.version.chars().take(20).collect::<String>()
        )));
    }
    let total: usize = log
        .runs
        .iter()
        .map(|run| run.results.as_ref().map_or(0, Vec::len))
        .sum();
    if total > MAX_SARIF_RESULTS {
        return Err(unparsable(format!(
            "{total} results is more than the {MAX_SARIF_RESULTS} accepted"
        )));
    }

    let mut report = ParsedReport::default();
    for (index, run) in log.runs.iter().enumerate() {
        read_run(run, root, &mut report)
            .map_err(|reason| unparsable(format!("run {index}: {reason}")))?;
    }
    Ok(report)
}

fn read_run(run: &Run, root: &Path, report: &mut ParsedReport) -> Result<(), String> {
    for invocation in &run.invocations {
        for notification in &invocation.tool_execution_notifications {
            if let Some(text) = notification.message.as_ref().and_then(Message::text) {
                report.warnings.push(format!("tool notification: {text}"));
            }
        }
        if invocation.execution_successful == Some(false) {
            return Err("the tool reports that its execution was not successful".to_string());
        }
    }
    let results = run
        .results
        .as_ref()
        .ok_or("no 'results' array (the tool did not finish its analysis)")?;
    let rules = &run.tool.driver.rules;
    let rules_by_id: HashMap<&str, &Rule> = rules
        .iter()
        .filter_map(|rule| rule.id.as_deref().map(|id| (id, rule)))
        .collect();

    for (index, result) in results.iter().enumerate() {
        let rule =
            match result.rule_index {
                Some(rule_index) => Some(rules.get(rule_index).ok_or_else(|| {
                    format!("result {index}: ruleIndex {rule_index} out of range")
                })?),
                None => None,
            };
        let rule_id = result
            .rule_id
            .as_deref()
            .or_else(|| result.rule.as_ref().and_then(|r| r.id.as_deref()))
            .or_else(|| rule.and_then(|r| r.id.as_deref()))
            .ok_or_else(|| format!("result {index} names no rule"))?;
        let rule = rule.or_else(|| rules_by_id.get(rule_id).copied());

        let score = security_severity(&result.properties)
            .or_else(|| rule.and_then(|r| security_severity(&r.properties)));
        let level = result
            .level
            .or_else(|| rule.and_then(|r| r.default_configuration.as_ref()?.level))
            .unwrap_or(Level::Warning);
        let severity = score
            .and_then(Severity::from_score)
            .unwrap_or_else(|| level_severity(level));

        let message = result
            .message
            .as_ref()
            .and_then(Message::text)
            .or_else(|| rule.and_then(|r| r.short_description.as_ref()?.text()))
            .ok_or_else(|| format!("result {index} has no message text"))?;
        let rule_name = rule
            .and_then(|r| r.name.as_deref())
            .filter(|n| *n != rule_id);

        let Some(physical) = result
            .locations
            .first()
            .and_then(|location| location.physical_location.as_ref())
        else {
            report.warnings.push(format!(
                "dropped a '{rule_id}' result without a file location"
            ));
            continue;
        };
        let region = physical.region.clone().unwrap_or_default();
        let start_line = region.start_line.unwrap_or(1);
        if start_line == 0 {
            return Err(format!("result {index} has startLine 0"));
        }
        let artifact = physical
            .artifact_location
            .as_ref()
            .ok_or_else(|| format!("result {index} has no artifactLocation"))?;
        let uri = artifact
            .uri
            .as_deref()
            .ok_or_else(|| format!("result {index} has no artifactLocation.uri"))?;
        let reported = resolve_base(uri, artifact.uri_base_id.as_deref(), run);
        let path = match relative_to_root(root, &reported) {
            Ok(path) => path,
            Err(reason) => {
                report
                    .warnings
                    .push(format!("dropped a '{rule_id}' result: {reason}"));
                continue;
            }
        };
        let location = Location {
            path,
            start_line,
            end_line: region.end_line.filter(|end| *end >= start_line),
        };
        let snippet = region.snippet.as_ref().and_then(|s| s.text.as_deref());
        let description = rule.and_then(|r| {
            r.full_description
                .as_ref()
                .or(r.short_description.as_ref())?
                .text()
        });
        report.findings.push(
            ToolFinding::bounded(rule_id, rule_name, severity, &message, location, snippet)
                .with_rule_help(
                    description.as_deref(),
                    rule.and_then(|r| r.help_uri.as_deref()),
                ),
        );
    }
    Ok(())
}

/// Joins a relative `uri` onto its `uriBaseId` when the run defines that base as a file URI.
fn resolve_base(uri: &str, base_id: Option<&str>, run: &Run) -> String {
    let base = base_id
        .and_then(|id| run.original_uri_base_ids.get(id))
        .and_then(|base| base.uri.as_deref());
    match base {
        Some(base) if !uri.starts_with('/') && !uri.contains("://") => {
            format!("{}/{}", base.trim_end_matches('/'), uri)
        }
        _ => uri.to_string(),
    }
}

/// Reads a `security-severity` property given as a number or a numeric string.
fn security_severity(properties: &HashMap<String, Value>) -> Option<f64> {
    match properties.get("security-severity")? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[derive(Deserialize)]
struct SarifLog {
    version: String,
    runs: Vec<Run>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    results: Option<Vec<SarifResult>>,
    #[serde(default)]
    invocations: Vec<Invocation>,
    #[serde(default)]
    original_uri_base_ids: HashMap<String, ArtifactLocation>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: Option<String>,
    name: Option<String>,
    short_description: Option<Message>,
    full_description: Option<Message>,
    help_uri: Option<String>,
    default_configuration: Option<Configuration>,
    #[serde(default)]
    properties: HashMap<String, Value>,
}

#[derive(Deserialize)]
struct Configuration {
    level: Option<Level>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: Option<bool>,
    #[serde(default)]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    message: Option<Message>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    rule_index: Option<usize>,
    rule: Option<RuleReference>,
    level: Option<Level>,
    message: Option<Message>,
    #[serde(default)]
    locations: Vec<ResultLocation>,
    #[serde(default)]
    properties: HashMap<String, Value>,
}

#[derive(Deserialize)]
struct RuleReference {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    text: Option<String>,
    markdown: Option<String>,
}

impl Message {
    fn text(&self) -> Option<String> {
        self.text
            .as_deref()
            .or(self.markdown.as_deref())
            .filter(|text| !text.trim().is_empty())
            .map(str::to_string)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultLocation {
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: Option<String>,
    uri_base_id: Option<String>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: Option<u32>,
    end_line: Option<u32>,
    snippet: Option<Snippet>,
}

#[derive(Deserialize, Clone)]
struct Snippet {
    text: Option<String>,
}
