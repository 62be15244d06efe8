//! OSV JSON records (`affected[].package`, `ranges` events, `versions`, `severity`, `database_specific`).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

use super::severity::{cvss_base_score, Severity};
use super::{Advisory, Affected};
use crate::error::{Result, SbomError};
use crate::model::Ecosystem;
use crate::version;

const FORMAT: &str = "OSV JSON";

/// One event of a `SEMVER` or `ECOSYSTEM` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
}

impl RangeEvent {
    fn version(&self) -> &str {
        match self {
            RangeEvent::Introduced(v) | RangeEvent::Fixed(v) | RangeEvent::LastAffected(v) => v,
        }
    }
}

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    published: Option<String>,
    modified: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<SeverityEntry>,
    #[serde(default)]
    affected: Vec<AffectedEntry>,
    #[serde(default)]
    references: Vec<Reference>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct SeverityEntry {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct AffectedEntry {
    package: Option<Package>,
    #[serde(default)]
    ranges: Vec<Range>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<SeverityEntry>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct Range {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

/// Parses one OSV record into one advisory per affected package of a supported ecosystem.
/// Withdrawn records, and records naming only other ecosystems, yield nothing.
pub fn parse(text: &str, path: &str) -> Result<Vec<Advisory>> {
    let malformed = |reason: String| SbomError::MalformedAdvisory {
        path: path.to_string(),
        format: FORMAT,
        reason,
    };
    let record: Record = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    if record.withdrawn.is_some() {
        return Ok(Vec::new());
    }
    let title = record
        .summary
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            record
                .details
                .as_deref()
                .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(str::to_string)
        })
        .unwrap_or_else(|| record.id.clone());
    let url = ["ADVISORY", "WEB"]
        .iter()
        .find_map(|kind| record.references.iter().find(|r| r.kind == *kind))
        .or(record.references.first())
        .map(|r| r.url.clone());

    let mut advisories = Vec::new();
    for affected in &record.affected {
        let Some(package) = &affected.package else {
            continue;
        };
        let Some(ecosystem) = map_ecosystem(&package.ecosystem) else {
            continue;
        };
        let mut ranges = Vec::new();
        for range in &affected.ranges {
            if range.kind != "SEMVER" && range.kind != "ECOSYSTEM" {
                continue;
            }
            ranges.push(range_events(range, ecosystem).map_err(&malformed)?);
        }
        let informational = [&affected.database_specific, &record.database_specific]
            .into_iter()
            .flatten()
            .find_map(|specific| specific.get("informational")?.as_str())
            .map(str::to_string);
        let (severity, cvss_score) = severity_of(&record, affected, informational.is_some());
        let fixed_versions = ranges
            .iter()
            .flatten()
            .filter_map(|event| match event {
                RangeEvent::Fixed(v) => Some(v.clone()),
                _ => None,
            })
            .collect();
        advisories.push(Advisory {
            id: record.id.clone(),
            aliases: record.aliases.clone(),
            ecosystem,
            package: package.name.clone(),
            title: title.clone(),
            description: record.details.clone().unwrap_or_default(),
            date: record.published.clone(),
            modified: record.modified.clone(),
            url: url.clone(),
            severity,
            cvss_score,
            informational,
            fixed_versions,
            affected: Affected::Osv {
                ranges,
                versions: affected.versions.clone(),
            },
        });
    }
    Ok(advisories)
}

fn map_ecosystem(name: &str) -> Option<Ecosystem> {
    match name.split(':').next().unwrap_or_default() {
        "crates.io" => Some(Ecosystem::Cargo),
        "npm" => Some(Ecosystem::Npm),
        "PyPI" => Some(Ecosystem::Pypi),
        "Go" => Some(Ecosystem::Golang),
        _ => None,
    }
}

/// Validates and sorts a range's events (`introduced: "0"` first).
fn range_events(
    range: &Range,
    ecosystem: Ecosystem,
) -> std::result::Result<Vec<RangeEvent>, String> {
    let mut events = Vec::new();
    for event in &range.events {
        let parsed = match (&event.introduced, &event.fixed, &event.last_affected) {
            (Some(v), None, None) => RangeEvent::Introduced(v.clone()),
            (None, Some(v), None) => RangeEvent::Fixed(v.clone()),
            (None, None, Some(v)) => RangeEvent::LastAffected(v.clone()),
            // `limit` events only bound git ranges and are ignored.
            (None, None, None) => continue,
            _ => {
                return Err(
                    "a range event has more than one of introduced/fixed/last_affected".to_string(),
                )
            }
        };
        let is_zero = matches!(&parsed, RangeEvent::Introduced(v) if v == "0");
        if !is_zero && version::compare(ecosystem, parsed.version(), parsed.version()).is_none() {
            return Err(format!(
                "range version `{}` is not a valid {} version",
                parsed.version(),
                ecosystem.as_str()
            ));
        }
        events.push(parsed);
    }
    events.sort_by(|a, b| event_order(a, b, ecosystem));
    Ok(events)
}

fn event_order(a: &RangeEvent, b: &RangeEvent, ecosystem: Ecosystem) -> Ordering {
    let zero = |e: &RangeEvent| matches!(e, RangeEvent::Introduced(v) if v == "0");
    match (zero(a), zero(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => {
            version::compare(ecosystem, a.version(), b.version()).unwrap_or(Ordering::Equal)
        }
    }
}

/// OSV's evaluation: walk the sorted events, switching in and out of the affected state.
pub(crate) fn in_range(events: &[RangeEvent], ecosystem: Ecosystem, version: &str) -> bool {
    let mut affected = false;
    for event in events {
        let order = version::compare(ecosystem, version, event.version());
        match event {
            RangeEvent::Introduced(v) if v == "0" => affected = true,
            RangeEvent::Introduced(_) => {
                if matches!(order, Some(Ordering::Greater | Ordering::Equal)) {
                    affected = true;
                }
            }
            RangeEvent::Fixed(_) => {
                if matches!(order, Some(Ordering::Greater | Ordering::Equal)) {
                    affected = false;
                }
            }
            RangeEvent::LastAffected(_) => {
                if order == Some(Ordering::Greater) {
                    affected = false;
                }
            }
        }
    }
    affected && version::compare(ecosystem, version, version).is_some()
}

/// CVSS v3 vector first, then v4, then a `database_specific.severity` label; unscored
/// vulnerabilities are `medium`, informational ones `low`.
fn severity_of(
    record: &Record,
    affected: &AffectedEntry,
    informational: bool,
) -> (Severity, Option<f64>) {
    if informational {
        return (Severity::Low, None);
    }
    let entries = || affected.severity.iter().chain(&record.severity);
    let score = ["CVSS_V3", "CVSS_V4"].iter().find_map(|kind| {
        entries()
            .filter(|entry| entry.kind == *kind)
            .find_map(|entry| cvss_base_score(&entry.score))
    });
    if let Some(score) = score {
        return (Severity::from_score(score), Some(score));
    }
    let label = [&affected.database_specific, &record.database_specific]
        .into_iter()
        .flatten()
        .find_map(|specific| Severity::from_label(specific.get("severity")?.as_str()?));
    (label.unwrap_or(Severity::Medium), None)
}
