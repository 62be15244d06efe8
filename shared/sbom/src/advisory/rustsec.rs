//! RustSec advisory-db files: a ```` ```toml ```` front matter block followed by a Markdown body.

use semver::VersionReq;
use serde::Deserialize;

use super::severity::{cvss_base_score, Severity};
use super::{Advisory, Affected};
use crate::error::{Result, SbomError};
use crate::model::Ecosystem;

const FORMAT: &str = "RustSec advisory";

#[derive(Deserialize)]
struct FrontMatter {
    advisory: AdvisoryTable,
    #[serde(default)]
    versions: VersionsTable,
}

#[derive(Deserialize)]
struct AdvisoryTable {
    id: String,
    package: String,
    date: Option<toml::Value>,
    #[serde(default)]
    aliases: Vec<String>,
    cvss: Option<String>,
    informational: Option<String>,
    url: Option<String>,
    withdrawn: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
struct VersionsTable {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// Parses one advisory file; `Ok(None)` when the advisory has been withdrawn.
pub fn parse(text: &str, path: &str) -> Result<Option<Advisory>> {
    let malformed = |reason: String| SbomError::MalformedAdvisory {
        path: path.to_string(),
        format: FORMAT,
        reason,
    };
    let (front_matter, body) = split_front_matter(text)
        .ok_or_else(|| malformed("no ```toml front matter block".to_string()))?;
    let front: FrontMatter =
        toml::from_str(front_matter).map_err(|error| malformed(error.message().to_string()))?;
    if front.advisory.withdrawn.is_some() {
        return Ok(None);
    }
    let requirements = |list: &[String]| -> Result<Vec<VersionReq>> {
        list.iter()
            .map(|text| {
                VersionReq::parse(text)
                    .map_err(|error| malformed(format!("version requirement `{text}`: {error}")))
            })
            .collect()
    };
    let patched = requirements(&front.versions.patched)?;
    let unaffected = requirements(&front.versions.unaffected)?;
    let advisory = front.advisory;
    let cvss_score = advisory.cvss.as_deref().and_then(cvss_base_score);
    if advisory.cvss.is_some() && cvss_score.is_none() {
        return Err(malformed(format!(
            "cvss `{}` is not a valid CVSS v3 or v4 vector",
            advisory.cvss.unwrap_or_default()
        )));
    }
    let severity = match (&advisory.informational, cvss_score) {
        (Some(_), _) => Severity::Low,
        (None, Some(score)) => Severity::from_score(score),
        // RustSec leaves many real vulnerabilities unscored: never rank them below medium.
        (None, None) => Severity::Medium,
    };
    let url = advisory.url.or_else(|| {
        Some(format!(
            "https://rustsec.org/advisories/{}.html",
            advisory.id
        ))
    });
    let (title, description) = title_and_description(body);
    Ok(Some(Advisory {
        title: title.unwrap_or_else(|| advisory.id.clone()),
        description,
        date: advisory.date.map(|date| match date {
            toml::Value::String(text) => text,
            other => other.to_string(),
        }),
        modified: None,
        id: advisory.id,
        aliases: advisory.aliases,
        ecosystem: Ecosystem::Cargo,
        package: advisory.package,
        url,
        severity,
        cvss_score,
        informational: advisory.informational.map(|kind| kind.trim().to_string()),
        fixed_versions: front.versions.patched,
        affected: Affected::RustSec {
            patched,
            unaffected,
        },
    }))
}

/// Returns (TOML inside the first ```` ```toml ```` fence, Markdown after its closing fence).
fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let open = text.find("```toml")?;
    let after_open = &text[open + "```toml".len()..];
    let toml_start = after_open.find('\n')? + 1;
    let inner = &after_open[toml_start..];
    let close = inner
        .match_indices("```")
        .find(|(index, _)| *index == 0 || inner.as_bytes()[index - 1] == b'\n')?
        .0;
    Some((&inner[..close], &inner[close + 3..]))
}

/// The first level-one Markdown heading of the body, and the text after it.
fn title_and_description(body: &str) -> (Option<String>, String) {
    let mut lines = body.lines();
    let title = lines
        .by_ref()
        .find_map(|line| line.trim().strip_prefix("# "))
        .map(|heading| heading.trim().to_string())
        .filter(|heading| !heading.is_empty());
    let rest: Vec<&str> = if title.is_some() {
        lines.collect()
    } else {
        body.lines().collect()
    };
    (title, rest.join("\n").trim().to_string())
}
