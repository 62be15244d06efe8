//! `certus audit`: what was scanned, verified, permitted and published — job records filtered like the
//! auditors' access patterns (`list`), one job with its full trail (`show`), and everything created in a
//! time range as JSON lines (`export`, with each entry's `prev` hash), and the recomputed hash chain of one
//! trail (`verify`, docs/audit-trail.md: exit 0 when intact, 1 naming the first broken link). Reads the local SQLite store by default; with the `aws` feature and
//! `--dynamodb-jobs-table`, the same questions go to DynamoDB.

use std::path::PathBuf;
use std::sync::Arc;

use certus_core::audit::{AuditEntry, AuditLog};
use certus_core::audit_chain::{check_chain, ChainCheck};
use certus_core::ids::parse_test_id;
use certus_core::job::{Job, JobStatus};
use certus_core::ports::{JobQuery, JobStore};
use certus_core::settings::Settings;
use certus_core::time::{self, Timestamp};
use certus_local::SqliteStore;
use serde_json::{json, Value};

use crate::error::{CliError, Result};
use crate::local;

/// Jobs per store call while walking every page.
const PAGE: usize = 200;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Jobs matching every filter given, newest first.
    List(ListArgs),
    /// One job's record and its whole audit trail.
    Show(ShowArgs),
    /// Every job created in a time range with its trail, one JSON object per line.
    Export(ExportArgs),
    /// Recompute a job's hash-chained trail: exit 0 when intact, 1 naming the first broken link.
    Verify(VerifyArgs),
    /// Create the DynamoDB tables these commands and the AWS adapters use (`docs/dynamodb.md`).
    #[cfg(feature = "aws")]
    CreateTables(dynamo::CreateTablesArgs),
}

/// Where the records are read from.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The local data directory (default: as for `certus scan`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[cfg(feature = "aws")]
    #[command(flatten)]
    pub dynamodb: dynamo::DynamoArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Table,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The workspace id the jobs were submitted under.
    #[arg(long)]
    pub workspace: Option<String>,
    /// The component id the jobs were submitted under.
    #[arg(long)]
    pub component: Option<String>,
    /// The assessment id the jobs were submitted under.
    #[arg(long)]
    pub assessment: Option<String>,
    /// QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT or CANCELLED.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<JobStatus>,
    /// The git URL as submitted.
    #[arg(long)]
    pub repository: Option<String>,
    /// The resolved commit SHA that was scanned, or a prefix of it (at least 7 hex digits).
    #[arg(long, value_parser = parse_commit)]
    pub commit: Option<String>,
    /// The SHA-256 of the manifest the jobs ran (as `certus manifest digest` prints it).
    #[arg(long)]
    pub manifest_digest: Option<String>,
    /// Created at or after (RFC 3339, or a date: 2026-11-28).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Created before (RFC 3339, or a date).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// At most this many jobs (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The job to show.
    pub test_id: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The job whose trail to verify.
    pub test_id: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print the whole check as JSON instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Created at or after (RFC 3339, or a date: 2026-11-28).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Created before (RFC 3339, or a date).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,
}

fn parse_commit(text: &str) -> std::result::Result<String, String> {
    let lower = text.to_ascii_lowercase();
    if (7..=40).contains(&lower.len()) && lower.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err("must be a commit SHA or a prefix of at least 7 hex digits".into())
    }
}

fn parse_status(text: &str) -> std::result::Result<JobStatus, String> {
    JobStatus::parse(text).ok_or_else(|| {
        "must be one of QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED".to_string()
    })
}

fn parse_time(text: &str) -> std::result::Result<Timestamp, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            "must be an RFC 3339 time (2026-11-28T10:00:00Z) or a date (2026-11-28)".into()
        })
}

/// The job records and trails to read.
struct Source {
    jobs: Arc<dyn JobStore>,
    trail: Arc<dyn AuditLog>,
}

async fn source(args: &StoreArgs) -> Result<Source> {
    #[cfg(feature = "aws")]
    if let Some(source) = dynamo::source(&args.dynamodb).await? {
        return Ok(source);
    }
    let settings = Settings::from_env()?;
    let dir = local::data_dir(args.data_dir.as_deref(), &settings)?;
    let db = dir.join("certus.db");
    if !db.is_file() {
        return Err(CliError::Usage(format!(
            "no job records at {}: nothing was scanned with this data directory (set --data-dir)",
            db.display()
        )));
    }
    let store = Arc::new(SqliteStore::open(&db)?);
    Ok(Source {
        jobs: store.clone(),
        trail: store,
    })
}

pub async fn run(command: AuditCommand) -> Result<i32> {
    match command {
        AuditCommand::List(args) => list(args).await,
        AuditCommand::Show(args) => show(args).await,
        AuditCommand::Export(args) => export(args).await,
        AuditCommand::Verify(args) => verify(args).await,
        #[cfg(feature = "aws")]
        AuditCommand::CreateTables(args) => dynamo::create(args).await,
    }
}

/// Every job matching `query` and `keep`, walking pages until `max` jobs or the end.
async fn collect(
    jobs: &dyn JobStore,
    mut query: JobQuery,
    max: Option<usize>,
    keep: impl Fn(&Job) -> bool,
) -> Result<Vec<Job>> {
    let mut found = Vec::new();
    loop {
        query.limit = PAGE;
        let page = jobs.list(&query).await?;
        found.extend(page.jobs.into_iter().filter(|j| keep(j)));
        if let Some(max) = max.filter(|&m| found.len() >= m) {
            found.truncate(max);
            return Ok(found);
        }
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => return Ok(found),
        }
    }
}

async fn list(args: ListArgs) -> Result<i32> {
    let source = source(&args.store).await?;
    // A full SHA is an indexed query; a prefix filters the records the other filters give.
    let (exact, prefix) = match args.commit {
        Some(c) if c.len() == 40 => (Some(c), None),
        other => (None, other),
    };
    let query = JobQuery {
        workspace_id: args.workspace,
        component_id: args.component,
        assessment_id: args.assessment,
        status: args.status,
        repository: args.repository,
        commit: exact,
        manifest_digest: args.manifest_digest,
        created_after: args.since,
        created_before: args.until,
        ..JobQuery::default()
    };
    let jobs = collect(source.jobs.as_ref(), query, args.limit, |job| {
        prefix.as_deref().is_none_or(|p| {
            job.commit
                .as_deref()
                .is_some_and(|c| c.to_ascii_lowercase().starts_with(p))
        })
    })
    .await?;
    match args.format {
        Format::Json => println!("{}", pretty(&json!(jobs))?),
        Format::Csv => print!("{}", csv(&jobs)),
        Format::Table => print!("{}", table(&jobs)),
    }
    Ok(0)
}

async fn show(args: ShowArgs) -> Result<i32> {
    let test_id = parse_test_id(&args.test_id)?;
    let source = source(&args.store).await?;
    let job = source
        .jobs
        .get(test_id)
        .await?
        .ok_or_else(|| CliError::Usage(format!("job '{test_id}' not found")))?;
    let trail = source.trail.trail(test_id).await?;
    match args.format {
        Format::Json => println!("{}", pretty(&json!({"job": job, "trail": trail}))?),
        Format::Csv => print!("{}", trail_csv(&trail)),
        Format::Table => {
            print!("{}", table(std::slice::from_ref(&job)));
            println!();
            for entry in &trail {
                println!(
                    "{:>4}  {}  {:<22} {}",
                    entry.seq,
                    time::format(&entry.at),
                    entry.kind.as_str(),
                    crate::terminal::printable(&entry.detail.to_string())
                );
            }
        }
    }
    Ok(0)
}

async fn export(args: ExportArgs) -> Result<i32> {
    let source = source(&args.store).await?;
    let query = JobQuery {
        created_after: args.since,
        created_before: args.until,
        ..JobQuery::default()
    };
    for job in collect(source.jobs.as_ref(), query, None, |_| true).await? {
        let trail = source.trail.trail(&job.test_id).await?;
        let line = serde_json::to_string(&json!({"job": job, "trail": trail}))
            .map_err(|e| CliError::Core(certus_core::CoreError::json("export line", e)))?;
        println!("{line}");
    }
    Ok(0)
}

/// Recomputes the chain against the head the job record keeps; a trail whose job record is gone is still
/// checked, without the record's head.
async fn verify(args: VerifyArgs) -> Result<i32> {
    let test_id = parse_test_id(&args.test_id)?;
    let source = source(&args.store).await?;
    let record = source.jobs.get(test_id).await?;
    let trail = source.trail.trail(test_id).await?;
    if record.is_none() && trail.is_empty() {
        return Err(CliError::Usage(format!("job '{test_id}' not found")));
    }
    let record_head = record.as_ref().and_then(|job| job.audit_head.as_ref());
    let check = check_chain(&trail, record_head)?;
    if args.json {
        println!(
            "{}",
            pretty(&json!({"test_id": test_id, "record_head": record_head, "check": check}))?
        );
    } else {
        print!(
            "{}",
            verdict(test_id, &check, record.is_some(), record_head.is_some())
        );
    }
    Ok(if check.broken.is_some() { 1 } else { 0 })
}

/// The check in sentences: the first broken link, or what the intact chain covers.
fn verdict(test_id: &str, check: &ChainCheck, has_record: bool, has_head: bool) -> String {
    let mut out = String::new();
    if let Some(link) = &check.broken {
        out.push_str(&format!(
            "BROKEN: audit trail of {test_id}, entry {}: {} ({})\n",
            link.index, link.kind, link.reason
        ));
        return out;
    }
    out.push_str(&format!(
        "OK: audit trail of {test_id}: {} entries, chain intact",
        check.entries
    ));
    if let Some(head) = &check.head {
        out.push_str(&format!(
            ", head sha256:{} ({} entries)",
            head.sha256, head.count
        ));
    }
    if has_head && check.beyond_record_head == 0 {
        out.push_str(", the head the job record keeps");
    }
    out.push('\n');
    if check.legacy_prefix > 0 {
        out.push_str(&format!(
            "note: entries 1..{} were written before the chain (no prev): the chain starts after them and \
             covers only the last of them\n",
            check.legacy_prefix
        ));
    }
    if !has_record {
        out.push_str(
            "note: the job record is gone: the trail's tail is not checked against its head\n",
        );
    } else if !has_head {
        out.push_str(
            "note: the job record keeps no chain head (written before the chain): the trail's tail is not \
             checked against it\n",
        );
    }
    if check.beyond_record_head > 0 {
        out.push_str(&format!(
            "note: {} entries were appended after the head the job record keeps\n",
            check.beyond_record_head
        ));
    }
    out
}

fn pretty(value: &Value) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Core(certus_core::CoreError::json("output", e)))
}

const COLUMNS: [&str; 11] = [
    "test_id",
    "created_at",
    "status",
    "workspace_id",
    "component_id",
    "assessment_id",
    "repository",
    "commit",
    "manifest_digest",
    "upload_status",
    "upload_permission_id",
];

fn row(job: &Job) -> [String; 11] {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        job.test_id.clone(),
        time::format(&job.created_at),
        job.status.to_string(),
        job.ids.workspace_id.clone(),
        job.ids.component_id.clone(),
        job.ids.assessment_id.clone(),
        job.source_location().to_string(),
        text(&job.commit),
        text(&job.manifest_digest.map(|d| d.to_string())),
        job.upload_status.to_string(),
        text(&job.upload_permission_id),
    ]
}

/// One CSV field: quoted when needed, and defused when a spreadsheet would read it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_line<I: IntoIterator<Item = S>, S: AsRef<str>>(fields: I) -> String {
    let fields: Vec<String> = fields.into_iter().map(|f| csv_field(f.as_ref())).collect();
    format!("{}\r\n", fields.join(","))
}

fn csv(jobs: &[Job]) -> String {
    let mut out = csv_line(COLUMNS);
    for job in jobs {
        out.push_str(&csv_line(row(job)));
    }
    out
}

fn trail_csv(trail: &[AuditEntry]) -> String {
    let mut out = csv_line(["test_id", "seq", "at", "kind", "detail"]);
    for e in trail {
        out.push_str(&csv_line([
            e.test_id.clone(),
            e.seq.to_string(),
            time::format(&e.at),
            e.kind.to_string(),
            e.detail.to_string(),
        ]));
    }
    out
}

/// Columns that fit a terminal: ids, time, status, repository, commit (short), upload status.
fn table(jobs: &[Job]) -> String {
    let picked = [0, 1, 2, 3, 4, 5, 6, 7, 9];
    let rows: Vec<Vec<String>> =
        std::iter::once(picked.iter().map(|&i| COLUMNS[i].to_string()).collect())
            .chain(jobs.iter().map(|job| {
                let full = row(job);
                picked
                    .iter()
                    .map(|&i| {
                        let cell = crate::terminal::printable(&full[i]);
                        if i == 7 {
                            cell.chars().take(12).collect()
                        } else {
                            cell
                        }
                    })
                    .collect()
            }))
            .collect();
    let widths: Vec<usize> = (0..picked.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(feature = "aws")]
mod dynamo {
    //! The same audit questions asked of DynamoDB tables.

    use std::sync::Arc;

    use certus_dynamo::{
        create_tables, dynamodb_client, DynamoAuditLog, DynamoJobStore, TableNames,
    };

    use super::Source;
    use crate::error::{CliError, Result};

    #[derive(Debug, clap::Args)]
    pub struct DynamoArgs {
        /// Read job records from this DynamoDB table instead of the local store.
        #[arg(long, env = "CERTUS_ASSURANCE_DYNAMODB_JOBS_TABLE")]
        pub dynamodb_jobs_table: Option<String>,
        /// The audit trail's table when it is not the jobs table.
        #[arg(
            long,
            env = "CERTUS_ASSURANCE_DYNAMODB_AUDIT_TABLE",
            requires = "dynamodb_jobs_table"
        )]
        pub dynamodb_audit_table: Option<String>,
        /// A DynamoDB endpoint other than AWS's (a local server: http://127.0.0.1:5201).
        #[arg(long, env = "CERTUS_ASSURANCE_DYNAMODB_ENDPOINT_URL")]
        pub dynamodb_endpoint: Option<String>,
    }

    #[derive(Debug, clap::Args)]
    pub struct CreateTablesArgs {
        #[arg(long, env = "CERTUS_ASSURANCE_DYNAMODB_JOBS_TABLE")]
        pub dynamodb_jobs_table: String,
        #[arg(long, env = "CERTUS_ASSURANCE_DYNAMODB_EVENTS_TABLE")]
        pub dynamodb_events_table: String,
        #[arg(long, env = "CERTUS_ASSURANCE_DYNAMODB_AUDIT_TABLE")]
        pub dynamodb_audit_table: Option<String>,
        #[arg(long, env = "CERTUS_ASSURANCE_DYNAMODB_ENDPOINT_URL")]
        pub dynamodb_endpoint: Option<String>,
    }

    pub async fn source(args: &DynamoArgs) -> Result<Option<Source>> {
        let Some(jobs_table) = &args.dynamodb_jobs_table else {
            return Ok(None);
        };
        let client = dynamodb_client(args.dynamodb_endpoint.as_deref()).await?;
        let audit_table = args.dynamodb_audit_table.as_ref().unwrap_or(jobs_table);
        Ok(Some(Source {
            jobs: Arc::new(DynamoJobStore::new(client.clone(), jobs_table)),
            trail: Arc::new(DynamoAuditLog::new(client, audit_table)),
        }))
    }

    pub async fn create(args: CreateTablesArgs) -> Result<i32> {
        let client = dynamodb_client(args.dynamodb_endpoint.as_deref()).await?;
        let mut names = TableNames::new(&args.dynamodb_jobs_table, &args.dynamodb_events_table);
        if let Some(audit) = args.dynamodb_audit_table {
            names.audit = audit;
        }
        create_tables(&client, &names)
            .await
            .map_err(|e| CliError::Usage(format!("creating the DynamoDB tables: {e}")))?;
        eprintln!(
            "certus: created {} (jobs, trail {}) and {} (events)",
            names.jobs, names.audit, names.events
        );
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(
            time::format(&parse_time("2026-11-28").unwrap()),
            "2026-11-28T00:00:00.000Z"
        );
        assert_eq!(
            time::format(&parse_time("2026-11-28T10:00:00+01:00").unwrap()),
            "2026-11-28T09:00:00.000Z"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
