//! What a person reads: `summary.json` (counts per tool and severity, the threshold verdict) and `report.md`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::finding::{Severity, SeverityCounts};
use crate::incremental::CacheUse;
use crate::job::Job;
use crate::manifest::ResolvedProfile;
use crate::ports::ToolStatus;

/// One tool's part of a run, kept small so it can travel between steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    pub id: String,
    pub version: String,
    pub status: ToolStatus,
    pub exit_code: Option<i32>,
    /// What thresholds count: unsuppressed findings (only new ones when the profile's scope says so).
    pub counts: SeverityCounts,
    /// Everything the tool reported, suppressed or not.
    pub reported: u64,
    pub suppressed: u64,
    pub sample: bool,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// What the tool could not read, so the verdict does not cover it (see `ToolOutput::coverage_gaps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage_gaps: Vec<String>,
    /// Results reused from earlier scans of the same tree (absent when the tool used no cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheUse>,
}

impl ToolRecord {
    pub fn findings(&self) -> u64 {
        self.reported
    }
}

pub fn total_counts(tools: &[ToolRecord]) -> SeverityCounts {
    let mut total = SeverityCounts::default();
    for tool in tools {
        total.critical += tool.counts.critical;
        total.high += tool.counts.high;
        total.medium += tool.counts.medium;
        total.low += tool.counts.low;
    }
    total
}

/// The verdict in one word: `passed`, `thresholds_breached` (the breach is the only reason the job failed)
/// or `error` (a tool failed or could not run, or a step failed: no verdict on the findings).
pub fn verdict_word(job: &Job, violations: &[String]) -> &'static str {
    if job.errors.is_empty() && violations.is_empty() {
        "passed"
    } else if !violations.is_empty() && job.errors.iter().all(|e| *e == violations.join("; ")) {
        "thresholds_breached"
    } else {
        "error"
    }
}

pub fn summary_json(
    job: &Job,
    profile: Option<&ResolvedProfile>,
    tools: &[ToolRecord],
    violations: &[String],
) -> serde_json::Value {
    json!({
        "test_id": job.test_id,
        "status": job.status,
        "profile": job.profile,
        "manifest_digest": job.manifest_digest,
        "commit": job.commit,
        "totals": total_counts(tools),
        "tools": tools,
        "not_run": profile.map(|p| p.not_run.clone()).unwrap_or_default(),
        "gate": profile.map(|p| p.thresholds.describe()),
        "threshold_violations": violations,
        "passed": violations.is_empty() && job.errors.is_empty(),
        "verdict": verdict_word(job, violations),
        "sample_output": tools.iter().any(|t| t.sample),
        "warnings": job.warnings,
        "errors": job.errors,
    })
}

pub fn report_markdown(
    job: &Job,
    profile: Option<&ResolvedProfile>,
    tools: &[ToolRecord],
    violations: &[String],
) -> String {
    let mut md = String::new();
    md.push_str(&format!("# Certus-Assurance scan {}\n\n", job.test_id));
    md.push_str(&format!("**Status:** {}  \n", job.status));
    let source = job.source_location();
    md.push_str(&format!("**Source:** {} ({})  \n", source, job.source_type));
    if let Some(commit) = &job.commit {
        md.push_str(&format!("**Commit:** `{commit}`  \n"));
    }
    if let Some(digest) = &job.source_digest {
        md.push_str(&format!("**Tree digest:** `{digest}`  \n"));
    }
    md.push_str(&format!("**Profile:** {}  \n", job.profile));
    if let Some(p) = profile {
        md.push_str(&format!("**Thresholds:** {}  \n", p.thresholds.describe()));
    }
    if let Some(d) = &job.manifest_digest {
        md.push_str(&format!("**Manifest digest:** `{d}`  \n"));
    }
    let verified = job
        .manifest_verification
        .as_ref()
        .map_or("not verified", |v| v.method.as_str());
    md.push_str(&format!("**Manifest signature:** {verified}\n\n"));

    md.push_str(
        "## Findings\n\n| tool | status | critical | high | medium | low | suppressed |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for t in tools {
        let status = if t.sample {
            format!("{} (sample output)", t.status.as_str())
        } else {
            t.status.as_str().to_string()
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            t.id,
            status,
            t.counts.critical,
            t.counts.high,
            t.counts.medium,
            t.counts.low,
            t.suppressed
        ));
    }
    for t in profile.map(|p| p.not_run.as_slice()).unwrap_or_default() {
        md.push_str(&format!(
            "| {} | not run (optional: {}) | - | - | - | - | - |\n",
            t.id, t.reason
        ));
    }
    let total = total_counts(tools);
    md.push_str(&format!(
        "| **total** | | {} | {} | {} | {} | {} |\n\n",
        total.get(Severity::Critical),
        total.get(Severity::High),
        total.get(Severity::Medium),
        total.get(Severity::Low),
        tools.iter().map(|t| t.suppressed).sum::<u64>()
    ));
    md.push_str("## Verdict\n\n");
    let not_run: Vec<&str> = profile
        .map(|p| p.not_run.iter().map(|t| t.id.as_str()).collect())
        .unwrap_or_default();
    match verdict_word(job, violations) {
        "passed" if not_run.is_empty() => {
            md.push_str("Passed: no threshold exceeded and every tool completed.\n");
        }
        "passed" => md.push_str(&format!(
            "Passed: no threshold exceeded and every tool that ran completed; not run (optional): {}.\n",
            not_run.join(", ")
        )),
        "thresholds_breached" => md.push_str("Failed: thresholds breached.\n\n"),
        _ => md.push_str("Error: no verdict on the findings.\n\n"),
    }
    for line in &job.errors {
        md.push_str(&format!("- {line}\n"));
    }
    if !job.warnings.is_empty() {
        md.push_str("\n## Warnings\n\n");
        for w in &job.warnings {
            md.push_str(&format!("- {w}\n"));
        }
    }
    md
}
