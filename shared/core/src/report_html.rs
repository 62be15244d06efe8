//! `report.html`: the bundle's page for people — the verdict, what was verified, a severity chart, every
//! finding with filters, the SBOM and advisory summary, and the tools run with their durations. One
//! self-contained file: inline CSS, SVG and script, a Content-Security-Policy that allows no request at all
//! (it opens from `file://`), and every value escaped — findings come from scanned, untrusted code.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::finding::{BaselineState, Finding, Severity, SeverityCounts};
use crate::job::{Job, JobStatus};
use crate::report::ToolRecord;

/// What a scan concluded, as the CLI's exit code and every report say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    ThresholdsBreached,
    Error,
}

impl Verdict {
    /// Passed when the job succeeded; thresholds breached when the only errors are the threshold violations.
    pub fn of(job: &Job) -> Self {
        if job.status == JobStatus::Succeeded {
            return Self::Passed;
        }
        let violations = threshold_violations(job);
        if !violations.is_empty() && job.errors.iter().all(|e| *e == violations.join("; ")) {
            Self::ThresholdsBreached
        } else {
            Self::Error
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::ThresholdsBreached => "POLICY THRESHOLDS BREACHED",
            Self::Error => "ERROR",
        }
    }
}

/// The threshold violations recorded in the job's findings summary.
pub fn threshold_violations(job: &Job) -> Vec<String> {
    job.findings_summary
        .as_ref()
        .map(|s| s.threshold_violations.clone())
        .unwrap_or_default()
}

/// Components of the CycloneDX SBOM, counted per package type (`pkg:<type>/…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbomSummary {
    pub components: u64,
    pub by_type: BTreeMap<String, u64>,
}

impl SbomSummary {
    /// The summary of a CycloneDX document in JSON: only its components' purls are read, the rest is skipped
    /// without being built (an SBOM of a large tree runs to megabytes).
    pub fn from_cyclonedx_json(bytes: &[u8]) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct Listed {
            #[serde(default)]
            components: Vec<ListedComponent>,
        }
        #[derive(Deserialize)]
        struct ListedComponent {
            #[serde(default)]
            purl: Option<String>,
        }
        let listed: Listed = serde_json::from_slice(bytes)?;
        let mut summary = Self::default();
        for component in listed.components {
            summary.components += 1;
            let kind = component
                .purl
                .as_deref()
                .and_then(|p| p.strip_prefix("pkg:"))
                .and_then(|p| p.split('/').next())
                .unwrap_or("other");
            *summary.by_type.entry(kind.to_string()).or_default() += 1;
        }
        Ok(summary)
    }
}

/// Everything the page shows.
pub struct HtmlReport<'a> {
    pub job: &'a Job,
    pub tools: &'a [ToolRecord],
    pub findings: &'a [Finding],
    pub sbom: Option<SbomSummary>,
}

/// `&`, `<`, `>`, `"` and `'` as entities: safe in element text and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Sorted for reading: most severe first, then by file and line.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.severity, &a.path, a.start_line, &a.rule_id).cmp(&(
            b.severity,
            &b.path,
            b.start_line,
            &b.rule_id,
        ))
    });
}

/// `path:line`, `path`, or `-`.
pub fn location(f: &Finding) -> String {
    match (&f.path, f.start_line) {
        (Some(path), Some(line)) => format!("{path}:{line}"),
        (Some(path), None) => path.clone(),
        (None, _) => "-".into(),
    }
}

/// `new`, `unchanged`, or `-` without a baseline.
pub fn baseline_label(f: &Finding) -> &'static str {
    match f.baseline_state {
        Some(BaselineState::New) => "new",
        Some(BaselineState::Unchanged) => "unchanged",
        None => "-",
    }
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#1f2328}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #d0d7de}
.verdict{display:inline-block;padding:.3em .8em;border-radius:6px;font-weight:700;color:#fff}
.v-pass{background:#1a7f37}.v-breach{background:#bc4c00}.v-error{background:#cf222e}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right}code{font-size:.92em;word-break:break-all}
.sev{font-weight:600}.s-critical{color:#a40e26}.s-high{color:#cf222e}.s-medium{color:#9a6700}.s-low{color:#57606a}
.filters{display:flex;gap:1em;flex-wrap:wrap;margin:.6em 0}.muted{color:#57606a}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dt{font-weight:600}dd{margin:0}
"#;

/// Shows only the rows every filter accepts; reads `data-*` attributes, never HTML.
const SCRIPT: &str = r##"
(function(){
  var ids=["f-sev","f-tool","f-text","f-new","f-supp"];
  function apply(){
    var sev=document.getElementById("f-sev").value, tool=document.getElementById("f-tool").value;
    var text=document.getElementById("f-text").value.toLowerCase();
    var onlyNew=document.getElementById("f-new").checked, hideSupp=document.getElementById("f-supp").checked;
    var rows=document.querySelectorAll("#findings tbody tr"), shown=0;
    for(var i=0;i<rows.length;i++){
      var r=rows[i], d=r.dataset;
      var ok=(!sev||d.sev===sev)&&(!tool||d.tool===tool)&&(!onlyNew||d.baseline==="new")
        &&(!hideSupp||d.suppressed!=="yes")&&(!text||r.textContent.toLowerCase().indexOf(text)>=0);
      r.hidden=!ok; if(ok){shown++;}
    }
    document.getElementById("f-count").textContent=shown+" of "+rows.length+" shown";
  }
  for(var i=0;i<ids.length;i++){var e=document.getElementById(ids[i]);e.addEventListener("input",apply);e.addEventListener("change",apply);}
  apply();
})();
"##;

/// The page. Deterministic: the same inputs give the same bytes.
pub fn report_html(report: &HtmlReport<'_>) -> String {
    let job = report.job;
    let verdict = Verdict::of(job);
    let script_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    h.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'sha256-{script_hash}'; img-src data:; form-action 'none'; base-uri 'none'\">\n"
    ));
    h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    h.push_str(&format!(
        "<title>Certus-Assurance scan {}</title>\n<style>{STYLE}</style></head><body>\n",
        escape(&job.test_id)
    ));
    h.push_str(&format!(
        "<h1>Certus-Assurance scan <code>{}</code></h1>\n",
        escape(&job.test_id)
    ));
    let class = match verdict {
        Verdict::Passed => "v-pass",
        Verdict::ThresholdsBreached => "v-breach",
        Verdict::Error => "v-error",
    };
    h.push_str(&format!(
        "<p><span class=\"verdict {class}\" id=\"verdict\">{}</span> <span class=\"muted\">status {} · profile {}</span></p>\n",
        verdict.label(),
        escape(job.status.as_str()),
        escape(&job.profile)
    ));
    let problems: Vec<&String> = job.errors.iter().chain(&job.warnings).collect();
    if !problems.is_empty() {
        h.push_str("<ul>");
        for e in &job.errors {
            h.push_str(&format!("<li><strong>error</strong> {}</li>", escape(e)));
        }
        for w in &job.warnings {
            h.push_str(&format!("<li>warning {}</li>", escape(w)));
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<h2>What was scanned and verified</h2>\n<dl>");
    let mut fact = |name: &str, value: &str| {
        h.push_str(&format!(
            "<dt>{}</dt><dd><code>{}</code></dd>",
            escape(name),
            escape(value)
        ));
    };
    fact(
        "source",
        &format!("{} {}", job.source_type, job.source_location()),
    );
    if let Some(commit) = &job.commit {
        fact("commit", commit);
    }
    if let Some(digest) = &job.source_digest {
        fact("tree sha256", &digest.to_string());
    }
    fact(
        "manifest sha256",
        &job.manifest_digest
            .map_or_else(|| "-".to_string(), |d| d.to_string()),
    );
    // Every field the record holds, in the order of its stored JSON.
    match job.manifest_verification.as_ref().map(serde_json::to_value) {
        Some(Ok(Value::Object(record))) => {
            for (key, value) in record {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                fact(&format!("manifest {key}"), &text);
            }
        }
        _ => fact("manifest signature", "not verified"),
    }
    h.push_str("</dl>\n<p class=\"muted\">The bundle holding this page is signed: check every file and the attestation with <code>certus verify-bundle &lt;bundle directory&gt;</code>.</p>\n");

    let open: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.suppression.is_none())
        .collect();
    let counts: SeverityCounts = open.iter().copied().collect();
    h.push_str(&format!(
        "<h2>Findings by severity</h2>\n{}\n",
        severity_chart(&counts)
    ));
    h.push_str(&format!(
        "<p class=\"muted\">{} open, {} suppressed by the manifest.</p>\n",
        open.len(),
        report.findings.len() - open.len()
    ));

    findings_table(&mut h, report.findings);
    sbom_section(&mut h, report);
    tools_section(&mut h, report.tools);
    h.push_str(&format!("<script>{SCRIPT}</script>\n</body></html>\n"));
    h
}

fn severity_chart(counts: &SeverityCounts) -> String {
    let max = Severity::ALL
        .iter()
        .map(|s| counts.get(*s))
        .max()
        .unwrap_or(0)
        .max(1);
    let colours = ["#a40e26", "#cf222e", "#9a6700", "#8c959f"];
    let mut svg = String::from(
        "<svg role=\"img\" aria-label=\"findings by severity\" width=\"480\" height=\"112\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"13\" font-family=\"sans-serif\">",
    );
    for (i, (sev, colour)) in Severity::ALL.iter().zip(colours).enumerate() {
        let n = counts.get(*sev);
        let y = i * 27 + 4;
        let width = n * 340 / max;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"70\" y=\"{y}\" width=\"{width}\" height=\"20\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{n}</text>",
            y + 15,
            sev.as_str(),
            76 + width,
            y + 15
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn findings_table(h: &mut String, findings: &[Finding]) {
    let mut sorted = findings.to_vec();
    sort_findings(&mut sorted);
    let tools: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.tool.as_str()).collect();
    h.push_str("<h2>Findings</h2>\n<div class=\"filters\">");
    h.push_str("<label>severity <select id=\"f-sev\"><option value=\"\">any</option>");
    for sev in Severity::ALL {
        h.push_str(&format!("<option>{sev}</option>"));
    }
    h.push_str(
        "</select></label><label>tool <select id=\"f-tool\"><option value=\"\">any</option>",
    );
    for tool in tools {
        let tool = escape(tool);
        h.push_str(&format!("<option value=\"{tool}\">{tool}</option>"));
    }
    h.push_str("</select></label><label>text <input id=\"f-text\" type=\"search\"></label>");
    h.push_str("<label><input id=\"f-new\" type=\"checkbox\"> new only</label>");
    h.push_str("<label><input id=\"f-supp\" type=\"checkbox\"> hide suppressed</label>");
    h.push_str("<span id=\"f-count\" class=\"muted\"></span></div>\n");
    h.push_str("<table id=\"findings\"><thead><tr><th>severity</th><th>rule</th><th>location</th><th>tool</th><th>baseline</th><th>suppressed</th><th>message</th></tr></thead><tbody>\n");
    for f in &sorted {
        let suppressed = match &f.suppression {
            Some(s) => format!("yes: {}", s.reason),
            None => String::new(),
        };
        h.push_str(&format!(
            "<tr data-sev=\"{sev}\" data-tool=\"{tool}\" data-baseline=\"{base}\" data-suppressed=\"{supp}\"><td class=\"sev s-{sev}\">{sev}</td><td><code>{rule}</code></td><td><code>{loc}</code></td><td>{tool}</td><td>{base}</td><td>{reason}</td><td>{message}</td></tr>\n",
            sev = f.severity.as_str(),
            tool = escape(&f.tool),
            base = baseline_label(f),
            supp = if f.suppression.is_some() { "yes" } else { "no" },
            rule = escape(&f.rule_id),
            loc = escape(&location(f)),
            reason = escape(&suppressed),
            message = escape(&f.message),
        ));
    }
    h.push_str("</tbody></table>\n");
    if findings.is_empty() {
        h.push_str("<p>No findings.</p>\n");
    }
}

fn sbom_section(h: &mut String, report: &HtmlReport<'_>) {
    h.push_str("<h2>Dependencies</h2>\n");
    match &report.sbom {
        Some(sbom) => {
            let kinds: Vec<String> = sbom
                .by_type
                .iter()
                .map(|(kind, n)| format!("{} {n}", escape(kind)))
                .collect();
            h.push_str(&format!(
                "<p>SBOM (CycloneDX and SPDX in this bundle): {} component(s){}.</p>\n",
                sbom.components,
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", kinds.join(", "))
                }
            ));
        }
        None => h.push_str("<p>No SBOM in this bundle (the profile ran no SBOM tool).</p>\n"),
    }
    let advisories: SeverityCounts = report
        .findings
        .iter()
        .filter(|f| f.tool == "sbom" && f.suppression.is_none())
        .collect();
    if report.tools.iter().any(|t| t.id == "sbom") {
        h.push_str(&format!(
            "<p>Known advisories in dependencies: critical {} · high {} · medium {} · low {}.</p>\n",
            advisories.critical, advisories.high, advisories.medium, advisories.low
        ));
    }
}

fn tools_section(h: &mut String, tools: &[ToolRecord]) {
    h.push_str("<h2>Tools run</h2>\n<table><thead><tr><th>tool</th><th>version</th><th>status</th><th>duration</th><th>findings</th><th>suppressed</th></tr></thead><tbody>\n");
    for t in tools {
        let status = match (&t.error, t.sample) {
            (Some(error), _) => format!("{}: {error}", t.status.as_str()),
            (None, true) => format!("{} (sample output)", t.status.as_str()),
            (None, false) => t.status.as_str().to_string(),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1} s</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            escape(&t.id),
            escape(&t.version),
            escape(&status),
            t.duration_ms as f64 / 1000.0,
            t.reported,
            t.suppressed
        ));
    }
    h.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::AppliedSuppression;
    use crate::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
    use crate::time;

    fn job(status: JobStatus, errors: &[&str], violations: &[&str]) -> Job {
        let submission = ValidatedSubmission {
            ids: ScanIds {
                workspace_id: "w".into(),
                component_id: "c".into(),
                assessment_id: "a".into(),
            },
            source: SourceSpec::Directory {
                directory_path: "/src/<b>app</b>".into(),
            },
            manifest: ManifestSource::RepoPath("m.json".into()),
            signature: None,
            profile: "light".into(),
            requested_by: None,
            baseline: None,
            full_scan: false,
        };
        let mut job = Job::queued(
            "test_0123456789ab".into(),
            submission,
            "ws://x".into(),
            time::now(),
        );
        job.status = status;
        job.errors = errors.iter().map(|e| e.to_string()).collect();
        job.findings_summary = Some(crate::record::FindingsSummary {
            threshold_violations: violations.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        });
        job
    }

    fn finding(tool: &str, sev: Severity, message: &str) -> Finding {
        Finding {
            tool: tool.into(),
            rule_id: "rule\"onmouseover=\"x".into(),
            rule_name: None,
            rule_description: None,
            help_uri: None,
            severity: sev,
            message: message.into(),
            path: Some("app/<x>.py".into()),
            start_line: Some(7),
            end_line: None,
            snippet: None,
            fingerprint: "fp".into(),
            properties: BTreeMap::new(),
            suppression: None,
            baseline_state: None,
        }
    }

    #[test]
    fn verdicts_tell_a_threshold_breach_from_an_error() {
        let breach = "high findings exceeded threshold (1 > 0)";
        assert_eq!(
            Verdict::of(&job(JobStatus::Succeeded, &[], &[])),
            Verdict::Passed
        );
        assert_eq!(
            Verdict::of(&job(JobStatus::Failed, &[breach], &[breach])),
            Verdict::ThresholdsBreached
        );
        assert_eq!(
            Verdict::of(&job(
                JobStatus::Failed,
                &[breach, "tool x failed"],
                &[breach]
            )),
            Verdict::Error
        );
        assert_eq!(
            Verdict::of(&job(JobStatus::Failed, &["boom"], &[])),
            Verdict::Error
        );
    }

    #[test]
    fn hostile_finding_text_is_escaped_and_the_page_requests_nothing() {
        let job = job(JobStatus::Succeeded, &[], &[]);
        let mut suppressed = finding("secrets", Severity::Low, "ok");
        suppressed.suppression = Some(AppliedSuppression {
            index: 0,
            reason: "<img src=x onerror=alert(1)>".into(),
            expires: None,
        });
        let findings = vec![
            finding(
                "semgrep",
                Severity::High,
                "</td><script>alert(document.cookie)</script>",
            ),
            suppressed,
        ];
        let html = report_html(&HtmlReport {
            job: &job,
            tools: &[],
            findings: &findings,
            sbom: None,
        });
        assert!(html.contains("&lt;/td&gt;&lt;script&gt;alert(document.cookie)&lt;/script&gt;"));
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(html.contains("app/&lt;x&gt;.py:7"));
        assert!(html.contains("rule&quot;onmouseover=&quot;x"));
        assert!(html.contains("/src/&lt;b&gt;app&lt;/b&gt;"));
        // Exactly one script, ours, allowed by its hash; nothing may be fetched.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("default-src 'none'"));
        for attr in ["src=\"http", "href=\"http", "url(", "@import"] {
            assert!(!html.contains(attr), "{attr}");
        }
        // Counts and the verdict: one open high finding; the suppressed low is not counted as open.
        assert!(html.contains("1 open, 1 suppressed"));
        assert!(html.contains(">PASSED<"));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_it_carries() {
        let job = job(JobStatus::Succeeded, &[], &[]);
        let html = report_html(&HtmlReport {
            job: &job,
            tools: &[],
            findings: &[],
            sbom: None,
        });
        let start = html.find("<script>").unwrap() + "<script>".len();
        let end = html.find("</script>").unwrap();
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&html[start..end]));
        assert!(html.contains(&format!("script-src 'sha256-{hash}'")));
        assert!(html.contains("<p>No findings.</p>"));
    }

    #[test]
    fn sbom_components_are_counted_by_package_type() {
        let doc = serde_json::json!({"bomFormat": "CycloneDX", "components": [
            {"purl": "pkg:pypi/flask@2.0.0", "name": "flask"}, {"purl": "pkg:pypi/yaml@5"},
            {"purl": "pkg:cargo/rsa@0.1", "properties": [{"name": "x", "value": "y"}]}, {}]});
        let summary = SbomSummary::from_cyclonedx_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(summary.components, 4);
        assert_eq!(summary.by_type["pypi"], 2);
        assert_eq!(summary.by_type["other"], 1);
    }
}
