//! Findings where people look: the table `certus scan` ends with, and `certus findings <test_id|DIR>` with
//! filters, as a table, JSON, SARIF (the merged run) or Markdown. Everything is read from the bundle's merged
//! SARIF with the core's reader; text from the scanned code is stripped of control characters before it
//! reaches a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use certus_core::bundle;
use certus_core::finding::{Finding, Severity, SeverityCounts};
use certus_core::ids::parse_test_id;
use certus_core::pipeline::read_capped;
use certus_core::ports::JobStore;
use certus_core::report_html::{baseline_label, location, sort_findings};
use certus_core::sarif::read_findings;
use certus_core::settings::Settings;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::local;
use crate::terminal::printable;

/// Largest merged SARIF read back.
const MAX_SARIF_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns, most severe first.
    Table,
    /// A JSON array of findings.
    Json,
    /// The merged SARIF 2.1.0 log (one run per tool), filtered.
    Sarif,
    /// A Markdown table, for pull-request comments.
    Markdown,
}

/// Which findings to show; every filter given must match.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only these severities (repeat or comma-separate: critical,high).
    #[arg(long, value_delimiter = ',', value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Only findings of these tools (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub tool: Vec<String>,
    /// Only these rule ids (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub rule: Vec<String>,
    /// Only paths matching this glob: `*` and `?` stay within a directory, `**` crosses them; a pattern
    /// without `/` is also tried against the file name (`*.py`).
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Only findings the baseline does not have.
    #[arg(long)]
    pub new_only: bool,
}

impl FilterArgs {
    pub fn matches(&self, f: &Finding) -> bool {
        (self.severity.is_empty() || self.severity.contains(&f.severity))
            && (self.tool.is_empty() || self.tool.contains(&f.tool))
            && (self.rule.is_empty() || self.rule.contains(&f.rule_id))
            && self.path.as_deref().is_none_or(|pattern| {
                f.path.as_deref().is_some_and(|path| {
                    glob_match(pattern, path)
                        || (!pattern.contains('/')
                            && glob_match(pattern, path.rsplit('/').next().unwrap_or(path)))
                })
            })
            && (!self.new_only || baseline_label(f) == "new")
    }
}

fn parse_severity(text: &str) -> std::result::Result<Severity, String> {
    let lower = text.to_ascii_lowercase();
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == lower)
        .ok_or_else(|| "must be critical, high, medium or low".to_string())
}

/// `*` any run within a path segment, `**` any run across segments (`**/` also none), `?` one character
/// other than `/`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob(&p, &t)
}

fn glob(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            let rest = &p[2..];
            (rest.first() == Some(&'/') && glob(&rest[1..], t))
                || (0..=t.len()).any(|k| glob(rest, &t[k..]))
        }
        Some('*') => {
            let rest = &p[1..];
            let mut k = 0;
            loop {
                if glob(rest, &t[k..]) {
                    return true;
                }
                if k == t.len() || t[k] == '/' {
                    return false;
                }
                k += 1;
            }
        }
        Some('?') => t.first().is_some_and(|c| *c != '/') && glob(&p[1..], &t[1..]),
        Some(c) => t.first() == Some(c) && glob(&p[1..], &t[1..]),
    }
}

#[derive(Debug, clap::Args)]
pub struct FindingsArgs {
    /// A scan's test id (its bundle is found through the job record) or a bundle directory.
    #[arg(value_name = "TEST_ID|DIR")]
    pub target: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// How to print them.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Data directory holding the job records (default: as for `certus scan`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// The findings of one bundle and its merged SARIF log (absent when no tool ran).
pub struct BundleFindings {
    pub findings: Vec<Finding>,
    pub sarif: Option<Value>,
}

/// Reads a bundle directory's merged SARIF.
pub fn load_dir(dir: &Path) -> Result<BundleFindings> {
    if !dir.join(bundle::INDEX).is_file() {
        return Err(CliError::Usage(format!(
            "{} is not an evidence bundle (it has no {})",
            dir.display(),
            bundle::INDEX
        )));
    }
    let path = dir.join(bundle::MERGED_SARIF);
    if !path.is_file() {
        return Ok(BundleFindings {
            findings: Vec::new(),
            sarif: None,
        });
    }
    let bytes = read_capped(&path, MAX_SARIF_BYTES)?;
    let log: Value = serde_json::from_slice(&bytes)
        .map_err(|e| certus_core::CoreError::json(bundle::MERGED_SARIF, e))?;
    Ok(BundleFindings {
        findings: read_findings(&log)?,
        sarif: Some(log),
    })
}

/// The bundle directory of a job, from its record; bundles kept elsewhere (S3) are named, not fetched.
pub fn bundle_dir_of(location: Option<&str>, test_id: &str) -> Result<PathBuf> {
    match location {
        Some(loc) if !loc.contains("://") => Ok(PathBuf::from(loc)),
        Some(loc) => Err(CliError::Usage(format!(
            "the bundle of {test_id} is at {loc}: copy it here and give its directory"
        ))),
        None => Err(CliError::Usage(format!("{test_id} has no bundle"))),
    }
}

pub async fn run(args: FindingsArgs) -> Result<i32> {
    let dir = if parse_test_id(&args.target).is_ok() {
        let settings = Settings::from_env()?;
        let data = local::data_dir(args.data_dir.as_deref(), &settings)?;
        let db = data.join("certus.db");
        if !db.is_file() {
            return Err(CliError::Usage(format!(
                "no job records at {} (set --data-dir, or give the bundle directory)",
                db.display()
            )));
        }
        let store = certus_local::SqliteStore::open(&db)?;
        let job = store.get(&args.target).await?.ok_or_else(|| {
            CliError::Usage(format!("no job {} in {}", args.target, data.display()))
        })?;
        bundle_dir_of(job.bundle_location.as_deref(), &job.test_id)?
    } else {
        PathBuf::from(&args.target)
    };
    let loaded = load_dir(&dir)?;
    print!(
        "{}",
        render(
            &loaded,
            &args.filter,
            args.format,
            None,
            Style::for_stdout()
        )?
    );
    Ok(0)
}

/// Colour or not: only on a terminal, and never when `NO_COLOR` is set to anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    pub fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            colour: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn severity(self, severity: Severity, padded: &str) -> String {
        if !self.colour {
            return padded.to_string();
        }
        let code = match severity {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "2",
        };
        format!("\x1b[{code}m{padded}\x1b[0m")
    }

    fn dim(self, text: &str) -> String {
        if self.colour {
            format!("\x1b[2m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Where to point for the whole list when the table is cut.
pub struct Cap<'a> {
    pub rows: usize,
    pub test_id: &'a str,
}

/// The findings the filter keeps, in `format`.
pub fn render(
    loaded: &BundleFindings,
    filter: &FilterArgs,
    format: OutputFormat,
    cap: Option<Cap<'_>>,
    style: Style,
) -> Result<String> {
    let mut kept: Vec<Finding> = loaded
        .findings
        .iter()
        .filter(|f| filter.matches(f))
        .cloned()
        .collect();
    sort_findings(&mut kept);
    let json = |value: &Value| {
        serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| certus_core::CoreError::json("findings", e).into())
    };
    match format {
        OutputFormat::Table => Ok(table(&kept, cap, style)),
        OutputFormat::Markdown => Ok(markdown(&kept)),
        OutputFormat::Json => json(
            &serde_json::to_value(&kept)
                .map_err(|e| CliError::Core(certus_core::CoreError::json("findings", e)))?,
        ),
        OutputFormat::Sarif => {
            let mut log = loaded
                .sarif
                .clone()
                .unwrap_or_else(|| certus_core::sarif::merged_log(Vec::new()));
            filter_sarif(&mut log, filter)?;
            json(&log)
        }
    }
}

/// Keeps the results the filter accepts; rules and everything else of each run stay as they are.
fn filter_sarif(log: &mut Value, filter: &FilterArgs) -> Result<()> {
    let Some(runs) = log["runs"].as_array_mut() else {
        return Ok(());
    };
    for run in runs {
        let tool = run["tool"]["driver"]["name"].clone();
        let Some(results) = run["results"].as_array_mut() else {
            continue;
        };
        let mut kept = Vec::new();
        for result in results.drain(..) {
            let single = certus_core::sarif::merged_log(vec![serde_json::json!({
                "tool": {"driver": {"name": tool}}, "results": [result.clone()]})]);
            if read_findings(&single)?.iter().all(|f| filter.matches(f)) {
                kept.push(result);
            }
        }
        *results = kept;
    }
    Ok(())
}

/// Cuts long cells in the middle, so both a path's start and its file name stay visible.
fn fit(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

const HEADERS: [&str; 6] = [
    "SEVERITY",
    "RULE",
    "LOCATION",
    "TOOL",
    "BASELINE",
    "SUPPRESSED",
];
const MAX_WIDTHS: [usize; 6] = [8, 40, 60, 16, 9, 10];

fn table(findings: &[Finding], cap: Option<Cap<'_>>, style: Style) -> String {
    if findings.is_empty() {
        return "No findings.\n".into();
    }
    let shown = cap
        .as_ref()
        .map_or(findings.len(), |c| c.rows.min(findings.len()));
    let rows: Vec<[String; 6]> = findings[..shown]
        .iter()
        .map(|f| {
            let cells = [
                f.severity.as_str().to_string(),
                printable(&f.rule_id),
                printable(&location(f)),
                printable(&f.tool),
                baseline_label(f).to_string(),
                if f.suppression.is_some() { "yes" } else { "" }.to_string(),
            ];
            let mut fitted: [String; 6] = Default::default();
            for (i, cell) in cells.iter().enumerate() {
                fitted[i] = fit(cell, MAX_WIDTHS[i]);
            }
            fitted
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| -> String {
        let last = cells.iter().rposition(|c| !c.is_empty()).unwrap_or(0);
        cells[..=last]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    format!("{c:<width$}", width = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = style.dim(&line(&HEADERS.map(str::to_string)));
    out.push('\n');
    for (row, f) in rows.iter().zip(findings) {
        let text = line(row);
        let sev_width = widths[0].min(text.len());
        // The severity column is plain ASCII, so byte offsets are character offsets here.
        out.push_str(&style.severity(f.severity, &text[..sev_width]));
        out.push_str(&text[sev_width..]);
        out.push('\n');
    }
    let counts: SeverityCounts = findings.iter().collect();
    let suppressed = findings.iter().filter(|f| f.suppression.is_some()).count();
    out.push_str(&format!(
        "{} finding(s): critical {} · high {} · medium {} · low {}{}\n",
        findings.len(),
        counts.critical,
        counts.high,
        counts.medium,
        counts.low,
        if suppressed > 0 {
            format!(" ({suppressed} suppressed)")
        } else {
            String::new()
        }
    ));
    if let Some(cap) = cap.filter(|_| shown < findings.len()) {
        out.push_str(&format!(
            "… and {} more: certus findings {} (filters: --severity, --tool, --rule, --path, --new-only)\n",
            findings.len() - shown,
            cap.test_id
        ));
    }
    out
}

/// Markdown cells: no pipes, no line breaks, no HTML.
fn md_cell(text: &str) -> String {
    printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "\\`")
}

fn markdown(findings: &[Finding]) -> String {
    let mut md = String::from(
        "| severity | rule | location | tool | baseline | suppressed | message |\n|---|---|---|---|---|---|---|\n",
    );
    for f in findings {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            f.severity,
            md_cell(&f.rule_id),
            md_cell(&location(f)),
            md_cell(&f.tool),
            baseline_label(f),
            if f.suppression.is_some() { "yes" } else { "" },
            md_cell(&f.message)
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_stay_within_directories_unless_doubled() {
        assert!(glob_match("app/*.py", "app/settings.py"));
        assert!(!glob_match("app/*.py", "app/sub/settings.py"));
        assert!(glob_match("app/**/*.py", "app/sub/deep/settings.py"));
        assert!(glob_match("app/**/*.py", "app/settings.py"));
        assert!(glob_match("**", "a/b/c"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(!glob_match("*.py", "app/x.py"));
    }

    #[test]
    fn terminal_text_loses_control_characters_and_cells_are_cut_in_the_middle() {
        assert_eq!(printable("a\x1b[31mb\n"), "a\\x1b[31mb\\x0a");
        assert_eq!(fit("abcdefghij", 5), "ab…ij");
        assert_eq!(fit("abc", 5), "abc");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(md_cell("a|b<script>`"), "a\\|b&lt;script&gt;\\`");
    }
}
