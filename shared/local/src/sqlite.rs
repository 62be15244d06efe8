//! Job records and events in one SQLite file. An auditor can open it with the `sqlite3` tool: table `jobs`
//! (one row per job, the full record as JSON in `record`), table `events` (one row per event, in `seq` order)
//! and table `audit` (each job's audit trail, append-only: triggers refuse updates and deletes; column `prev`
//! holds the hash chain, NULL for entries written before it, added to older databases when they are opened).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use certus_core::audit::{self, seq_taken, AuditEntry, AuditKind};
use certus_core::error::{CoreError, FieldError, Result};
use certus_core::event::Event;
use certus_core::job::{Job, JobStatus};
use certus_core::ports::{EventLog, JobPage, JobQuery, JobStore};
use certus_core::time;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS jobs (
    test_id        TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL,
    component_id   TEXT NOT NULL,
    assessment_id  TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    git_url        TEXT,
    commit_sha     TEXT,
    manifest_digest TEXT,
    record         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at DESC, test_id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_workspace ON jobs (workspace_id, created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_assessment ON jobs (workspace_id, component_id, assessment_id, created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_repository ON jobs (git_url, created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_commit ON jobs (commit_sha, created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_manifest ON jobs (manifest_digest, created_at DESC);
CREATE TABLE IF NOT EXISTS audit (
    test_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    detail  TEXT NOT NULL,
    prev    TEXT,
    PRIMARY KEY (test_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS upload_leases (
    test_id  TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    test_id   TEXT NOT NULL REFERENCES jobs (test_id),
    seq       INTEGER NOT NULL,
    type      TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    event     TEXT NOT NULL,
    PRIMARY KEY (test_id, seq)
) WITHOUT ROWID;
";

const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

/// The embedded store: one SQLite database (WAL mode) shared by every job of this machine.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

/// A database file that is damaged or not a database, and a row whose column does not hold what the schema
/// says, are corrupt stored data (no retry reads them differently); anything else (busy, locked, I/O) is
/// trouble with the store.
fn storage(e: rusqlite::Error) -> CoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            CoreError::corrupt("sqlite database", e.to_string())
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => CoreError::corrupt("sqlite row", e.to_string()),
        _ => CoreError::Storage(format!("sqlite: {e}")),
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(storage)?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(storage)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(storage)?;
        conn.execute_batch(SCHEMA).map_err(storage)?;
        add_audit_prev(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| CoreError::Storage("sqlite connection lock poisoned".into()))
    }
}

/// A database made before the hash chain has no `audit.prev`: it is added (NULL for the entries there).
fn add_audit_prev(conn: &Connection) -> Result<()> {
    let has_prev: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('audit') WHERE name = 'prev'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map_err(storage)?
        > 0;
    if !has_prev {
        conn.execute_batch("ALTER TABLE audit ADD COLUMN prev TEXT")
            .map_err(storage)?;
    }
    Ok(())
}

fn record_json(job: &Job) -> Result<String> {
    serde_json::to_string(job).map_err(|e| CoreError::json("job record", e))
}

fn parse_record(text: &str) -> Result<Job> {
    Job::from_json(text)
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn create(&self, job: &Job) -> Result<()> {
        let record = record_json(job)?;
        let created = time::format(&job.created_at);
        let inserted = self.conn()?.execute(
            "INSERT INTO jobs (test_id, workspace_id, component_id, assessment_id, status, created_at, updated_at,
                               git_url, commit_sha, manifest_digest, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10)",
            params![
                job.test_id,
                job.ids.workspace_id,
                job.ids.component_id,
                job.ids.assessment_id,
                job.status.as_str(),
                created,
                job.git_url,
                job.commit,
                job.manifest_digest.map(|d| d.to_string()),
                record
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => Err(CoreError::JobExists(job.test_id.clone())),
            Err(e) => Err(storage(e)),
        }
    }

    async fn get(&self, test_id: &str) -> Result<Option<Job>> {
        let record: Option<String> = self
            .conn()?
            .query_row(
                "SELECT record FROM jobs WHERE test_id = ?1",
                [test_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(storage)?;
        record.as_deref().map(parse_record).transpose()
    }

    /// The tenant is compared in the query: another tenant's record is never returned or parsed here.
    async fn get_for_tenant(&self, test_id: &str, tenant: &str) -> Result<Option<Job>> {
        let record: Option<String> = self
            .conn()?
            .query_row(
                "SELECT record FROM jobs WHERE test_id = ?1 AND json_extract(record, '$.tenant') = ?2",
                [test_id, tenant],
                |row| row.get(0),
            )
            .optional()
            .map_err(storage)?;
        record.as_deref().map(parse_record).transpose()
    }

    async fn save(&self, job: &Job) -> Result<()> {
        let record = record_json(job)?;
        let [t1, t2, t3, t4] = JobStatus::TERMINAL.map(JobStatus::as_str);
        let conn = self.conn()?;
        // A job that has ended keeps its status: the condition is part of the update, so a step still in
        // flight cannot save over a job cancelled meanwhile.
        let updated = conn
            .execute(
                "UPDATE jobs SET status = ?2, updated_at = ?3, commit_sha = ?4, manifest_digest = ?5, record = ?6
                 WHERE test_id = ?1 AND (status = ?2 OR status NOT IN (?7, ?8, ?9, ?10))",
                params![
                    job.test_id,
                    job.status.as_str(),
                    time::format(&time::now()),
                    job.commit,
                    job.manifest_digest.map(|d| d.to_string()),
                    record,
                    t1,
                    t2,
                    t3,
                    t4
                ],
            )
            .map_err(storage)?;
        if updated == 0 {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT status FROM jobs WHERE test_id = ?1",
                    [&job.test_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(storage)?;
            return Err(match stored {
                None => CoreError::JobNotFound(job.test_id.clone()),
                Some(status) => CoreError::Conflict(format!(
                    "job '{}' was not saved: it already ended {status} and cannot become {}",
                    job.test_id, job.status
                )),
            });
        }
        Ok(())
    }

    async fn list(&self, query: &JobQuery) -> Result<JobPage> {
        let limit = match query.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let cursor = query.page_token.as_deref().map(decode_token).transpose()?;
        let mut sql = String::from("SELECT record, created_at, test_id FROM jobs WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut filter = |clause: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(v);
                sql.push_str(&format!(" AND {clause} ?{}", args.len()));
            }
        };
        filter("json_extract(record, '$.tenant') =", query.tenant.clone());
        filter("workspace_id =", query.workspace_id.clone());
        filter("component_id =", query.component_id.clone());
        filter("assessment_id =", query.assessment_id.clone());
        filter("status =", query.status.map(|s| s.as_str().to_string()));
        filter("git_url =", query.repository.clone());
        filter("commit_sha =", query.commit.clone());
        filter("manifest_digest =", query.manifest_digest.clone());
        filter(
            "created_at >=",
            query.created_after.as_ref().map(time::format),
        );
        filter(
            "created_at <",
            query.created_before.as_ref().map(time::format),
        );
        if let Some((created, id)) = cursor {
            args.push(created);
            args.push(id);
            sql.push_str(&format!(
                " AND (created_at, test_id) < (?{}, ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, test_id DESC LIMIT {}",
            limit + 1
        ));

        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql).map_err(storage)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(storage)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(storage)?;
        let more = rows.len() > limit;
        let page: Vec<_> = rows.into_iter().take(limit).collect();
        let next_page_token = match page.last() {
            Some((_, created, id)) if more => Some(encode_token(created, id)),
            _ => None,
        };
        let jobs = page
            .iter()
            .map(|(record, _, _)| parse_record(record))
            .collect::<Result<Vec<_>>>()?;
        Ok(JobPage {
            jobs,
            next_page_token,
        })
    }

    async fn claim_upload(
        &self,
        test_id: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<bool> {
        let (now, until) = time::lease_window(lease);
        let taken = self
            .conn()?
            .execute(
                "INSERT INTO upload_leases (test_id, holder, until_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (test_id) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
                 WHERE upload_leases.until_ms <= ?4 OR upload_leases.holder = excluded.holder",
                params![test_id, holder, until, now],
            )
            .map_err(storage)?;
        Ok(taken == 1)
    }

    async fn release_upload(&self, test_id: &str, holder: &str) -> Result<()> {
        self.conn()?
            .execute(
                "DELETE FROM upload_leases WHERE test_id = ?1 AND holder = ?2",
                params![test_id, holder],
            )
            .map_err(storage)?;
        Ok(())
    }
}

fn encode_token(created_at: &str, test_id: &str) -> String {
    hex::encode(format!("{created_at}|{test_id}"))
}

fn decode_token(token: &str) -> Result<(String, String)> {
    let invalid = || {
        CoreError::Validation(vec![FieldError::new(
            "page_token",
            "is not a token this service issued",
        )])
    };
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (created, id) = text.split_once('|').ok_or_else(invalid)?;
    certus_core::ids::parse_test_id(id).map_err(|_| invalid())?;
    Ok((created.to_string(), id.to_string()))
}

/// SQLite integers are signed; a seq past `i64::MAX` cannot be stored.
fn seq_param(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| {
        CoreError::Validation(vec![FieldError::new(
            "seq",
            format!("event seq {seq} is past what the store can hold"),
        )])
    })
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn append(&self, event: &Event) -> Result<()> {
        let line = event.to_json_line();
        let inserted = self.conn()?.execute(
            "INSERT INTO events (test_id, seq, type, timestamp, event) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                event.test_id,
                seq_param(event.seq)?,
                event.body.type_name(),
                time::format(&event.timestamp),
                line
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => {
                let known: bool = self
                    .conn()?
                    .query_row(
                        "SELECT 1 FROM jobs WHERE test_id = ?1",
                        [&event.test_id],
                        |_| Ok(true),
                    )
                    .optional()
                    .map_err(storage)?
                    .unwrap_or(false);
                if known {
                    Err(CoreError::EventSeqTaken {
                        test_id: event.test_id.clone(),
                        seq: event.seq,
                    })
                } else {
                    Err(CoreError::JobNotFound(event.test_id.clone()))
                }
            }
            Err(e) => Err(storage(e)),
        }
    }

    async fn history(&self, test_id: &str, after_seq: u64) -> Result<Vec<Event>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT event FROM events WHERE test_id = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(storage)?;
        let lines = stmt
            .query_map(params![test_id, seq_param(after_seq)?], |row| {
                row.get::<_, String>(0)
            })
            .map_err(storage)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(storage)?;
        lines.iter().map(|l| Event::from_json(l)).collect()
    }

    async fn last_seq(&self, test_id: &str) -> Result<u64> {
        self.conn()?
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE test_id = ?1",
                [test_id],
                |row| row.get::<_, i64>(0),
            )
            .map_err(storage)
            .map(|n| u64::try_from(n).unwrap_or(0))
    }
}

/// The trail, named by path so that `append`/`last_seq` stay unambiguous beside `EventLog`'s.
#[async_trait]
impl audit::AuditLog for SqliteStore {
    async fn append(&self, entry: &AuditEntry) -> Result<()> {
        let detail =
            serde_json::to_string(&entry.detail).map_err(|e| CoreError::json("audit detail", e))?;
        let inserted = self.conn()?.execute(
            "INSERT INTO audit (test_id, seq, at, kind, detail, prev) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.test_id,
                seq_param(entry.seq)?,
                time::format(&entry.at),
                entry.kind.as_str(),
                detail,
                entry.prev
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e) => Err(seq_taken(&entry.test_id, entry.seq)),
            Err(e) => Err(storage(e)),
        }
    }

    async fn trail(&self, test_id: &str) -> Result<Vec<AuditEntry>> {
        self.audit_rows(
            "SELECT seq, at, kind, detail, prev FROM audit WHERE test_id = ?1 ORDER BY seq",
            test_id,
        )
    }

    async fn last(&self, test_id: &str) -> Result<Option<AuditEntry>> {
        Ok(self
            .audit_rows(
                "SELECT seq, at, kind, detail, prev FROM audit WHERE test_id = ?1 \
                 ORDER BY seq DESC LIMIT 1",
                test_id,
            )?
            .pop())
    }
}

impl SqliteStore {
    /// The audit entries a `SELECT seq, at, kind, detail, prev … WHERE test_id = ?1` gives.
    fn audit_rows(&self, sql: &str, test_id: &str) -> Result<Vec<AuditEntry>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(sql).map_err(storage)?;
        let rows = stmt
            .query_map([test_id], |row| {
                Ok(StoredEntry {
                    seq: row.get(0)?,
                    at: row.get(1)?,
                    kind: row.get(2)?,
                    detail: row.get(3)?,
                    prev: row.get(4)?,
                })
            })
            .map_err(storage)?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|row| audit_entry(test_id, row))
            .collect()
    }
}

/// An `audit` row as stored.
struct StoredEntry {
    seq: i64,
    at: String,
    kind: String,
    detail: String,
    prev: Option<String>,
}

fn audit_entry(test_id: &str, row: StoredEntry) -> Result<AuditEntry> {
    let StoredEntry {
        seq,
        at,
        kind,
        detail,
        prev,
    } = row;
    let corrupt =
        |reason: String| CoreError::corrupt(format!("audit entry {seq} of '{test_id}'"), reason);
    Ok(AuditEntry {
        test_id: test_id.to_string(),
        seq: u64::try_from(seq).map_err(|_| corrupt(format!("negative seq {seq}")))?,
        at: chrono::DateTime::parse_from_rfc3339(&at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| corrupt(format!("bad time '{at}': {e}")))?,
        kind: AuditKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind '{kind}'")))?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| corrupt(format!("detail is not JSON: {e}")))?,
        prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::event::EventBody;
    use certus_core::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};

    fn job(id: &str, ws: &str) -> Job {
        let submission = ValidatedSubmission {
            ids: ScanIds {
                workspace_id: ws.into(),
                component_id: "c".into(),
                assessment_id: "a".into(),
            },
            source: SourceSpec::Directory {
                directory_path: "/src".into(),
            },
            manifest: ManifestSource::RepoPath("m.json".into()),
            signature: None,
            profile: "light".into(),
            requested_by: None,
            baseline: None,
            full_scan: false,
        };
        Job::queued(id.into(), submission, "ws://x".into(), time::now())
    }

    fn id(n: u32) -> String {
        format!("test_{n:012x}")
    }

    /// Issue 17: a step still in flight when the job is cancelled saves its stale copy afterwards; the save
    /// is refused, and the job stays CANCELLED with its one `scan_complete`.
    #[tokio::test]
    async fn a_step_save_after_cancel_leaves_the_job_cancelled_with_one_scan_complete() {
        let store = std::sync::Arc::new(SqliteStore::in_memory().unwrap());
        let mut j = job(&id(9), "w");
        store.create(&j).await.unwrap();
        j.start(time::now()).unwrap();
        store.save(&j).await.unwrap();
        let mut late = store.get(&j.test_id).await.unwrap().unwrap();
        let records = certus_core::pipeline::Records {
            jobs: store.clone(),
            events: store.clone(),
            sinks: Vec::new(),
            stream_base: String::new(),
        };
        certus_core::pipeline::cancel(&records, None, &j.test_id, "cancelled by the user")
            .await
            .unwrap();

        late.commit = Some("late".into());
        let running = store.save(&late).await.unwrap_err();
        assert!(
            matches!(&running, CoreError::Conflict(m) if m.contains("already ended CANCELLED")),
            "{running}"
        );
        late.transition(JobStatus::Succeeded, time::now()).unwrap();
        assert!(matches!(
            store.save(&late).await,
            Err(CoreError::Conflict(_))
        ));
        let stored = store.get(&j.test_id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Cancelled);
        assert_eq!(stored.commit, None);
        let completes = store
            .history(&j.test_id, 0)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.body.is_terminal())
            .count();
        assert_eq!(completes, 1);
        // A save that keeps the ended status (an upload step recorded later) is still allowed.
        store.save(&stored).await.unwrap();
        assert!(matches!(
            store.save(&job(&id(10), "w")).await,
            Err(CoreError::JobNotFound(_))
        ));
    }

    #[tokio::test]
    async fn create_get_save_round_trip_and_refuse_duplicates() {
        let store = SqliteStore::in_memory().unwrap();
        let mut j = job(&id(1), "w");
        store.create(&j).await.unwrap();
        assert!(matches!(
            store.create(&j).await,
            Err(CoreError::JobExists(_))
        ));
        j.start(time::now()).unwrap();
        j.commit = Some("abc".into());
        store.save(&j).await.unwrap();
        assert_eq!(store.get(&j.test_id).await.unwrap(), Some(j.clone()));
        assert_eq!(store.get(&id(2)).await.unwrap(), None);
        assert!(matches!(
            store.save(&job(&id(3), "w")).await,
            Err(CoreError::JobNotFound(_))
        ));
    }

    #[tokio::test]
    async fn one_upload_lease_per_job_across_handles_on_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certus.db");
        let (cli, server) = (
            SqliteStore::open(&path).unwrap(),
            SqliteStore::open(&path).unwrap(),
        );
        let long = std::time::Duration::from_secs(600);
        let test_id = id(1);
        assert!(cli.claim_upload(&test_id, "cli", long).await.unwrap());
        assert!(!server.claim_upload(&test_id, "server", long).await.unwrap());
        assert!(
            cli.claim_upload(&test_id, "cli", long).await.unwrap(),
            "renewed"
        );
        server.release_upload(&test_id, "server").await.unwrap();
        assert!(!server.claim_upload(&test_id, "server", long).await.unwrap());
        cli.release_upload(&test_id, "cli").await.unwrap();
        assert!(server.claim_upload(&test_id, "server", long).await.unwrap());
        assert!(
            cli.claim_upload(&id(2), "cli", long).await.unwrap(),
            "per job"
        );
        // An expired lease (its holder crashed) is taken over.
        assert!(cli
            .claim_upload(&id(3), "crashed", std::time::Duration::ZERO)
            .await
            .unwrap());
        assert!(server.claim_upload(&id(3), "server", long).await.unwrap());
    }

    #[tokio::test]
    async fn events_are_ordered_and_seq_is_unique() {
        let store = SqliteStore::in_memory().unwrap();
        let j = job(&id(1), "w");
        store.create(&j).await.unwrap();
        for seq in [1, 2, 3] {
            store
                .append(&Event::new(
                    &j.test_id,
                    seq,
                    EventBody::phase(format!("p{seq}")),
                ))
                .await
                .unwrap();
        }
        let dup = store
            .append(&Event::new(&j.test_id, 2, EventBody::phase("again")))
            .await;
        assert!(matches!(dup, Err(CoreError::EventSeqTaken { seq: 2, .. })));
        let orphan = store
            .append(&Event::new(&id(9), 1, EventBody::phase("x")))
            .await;
        assert!(matches!(orphan, Err(CoreError::JobNotFound(_))));
        let after1: Vec<u64> = store
            .history(&j.test_id, 1)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(after1, vec![2, 3]);
        assert_eq!(store.last_seq(&j.test_id).await.unwrap(), 3);
        assert_eq!(store.last_seq(&id(7)).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn list_filters_and_pages_stably() {
        let store = SqliteStore::in_memory().unwrap();
        for n in 0..7 {
            let mut j = job(&id(n), if n % 2 == 0 { "even" } else { "odd" });
            j.created_at += chrono::Duration::seconds(i64::from(n));
            if n == 3 {
                j.start(time::now()).unwrap();
                j.transition(JobStatus::Succeeded, time::now()).unwrap();
            }
            store.create(&j).await.unwrap();
            store.save(&j).await.unwrap();
        }
        let mut seen = Vec::new();
        let mut query = JobQuery {
            limit: 3,
            ..Default::default()
        };
        loop {
            let page = store.list(&query).await.unwrap();
            seen.extend(page.jobs.iter().map(|j| j.test_id.clone()));
            match page.next_page_token {
                Some(t) => query.page_token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).rev().map(id).collect::<Vec<_>>());

        let even = store
            .list(&JobQuery {
                workspace_id: Some("even".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(even.jobs.len(), 4);
        let done = store
            .list(&JobQuery {
                status: Some(JobStatus::Succeeded),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            done.jobs
                .iter()
                .map(|j| j.test_id.clone())
                .collect::<Vec<_>>(),
            vec![id(3)]
        );
        let bad = store
            .list(&JobQuery {
                page_token: Some("zz".into()),
                ..Default::default()
            })
            .await;
        assert!(matches!(bad, Err(CoreError::Validation(_))));
    }

    #[tokio::test]
    async fn repository_commit_and_manifest_filters() {
        let store = SqliteStore::in_memory().unwrap();
        for n in 0..4 {
            let mut j = job(&id(n), "w");
            j.git_url = Some(format!("https://git.example.invalid/r{}.git", n % 2));
            j.created_at += chrono::Duration::seconds(i64::from(n));
            store.create(&j).await.unwrap();
            j.commit = Some(format!("c{}", n % 3));
            j.manifest_digest = Some(format!("{:064x}", n / 2).parse().unwrap());
            store.save(&j).await.unwrap();
        }
        let found = |query: JobQuery| {
            let store = &store;
            async move {
                store
                    .list(&query)
                    .await
                    .unwrap()
                    .jobs
                    .into_iter()
                    .map(|j| j.test_id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            found(JobQuery {
                repository: Some("https://git.example.invalid/r1.git".into()),
                ..Default::default()
            })
            .await,
            vec![id(3), id(1)]
        );
        assert_eq!(
            found(JobQuery {
                repository: Some("https://git.example.invalid/r0.git".into()),
                commit: Some("c0".into()),
                ..Default::default()
            })
            .await,
            vec![id(0)]
        );
        assert_eq!(
            found(JobQuery {
                manifest_digest: Some(format!("{:064x}", 1)),
                ..Default::default()
            })
            .await,
            vec![id(3), id(2)]
        );
    }

    #[tokio::test]
    async fn the_audit_trail_is_ordered_and_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certus.db");
        let store = SqliteStore::open(&path).unwrap();
        let entry = |seq, to: &str| AuditEntry {
            test_id: id(1),
            seq,
            at: time::now(),
            kind: AuditKind::StatusChanged,
            detail: serde_json::json!({"to": to}),
            prev: None,
        };
        use certus_core::audit::AuditLog;
        for (seq, to) in [(2, "SUCCEEDED"), (1, "RUNNING")] {
            AuditLog::append(&store, &entry(seq, to)).await.unwrap();
        }
        let err = AuditLog::append(&store, &entry(1, "FAILED"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let trail = store.trail(&id(1)).await.unwrap();
        assert_eq!(trail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(trail[0].detail["to"], "RUNNING");
        assert_eq!(
            AuditLog::last(&store, &id(1)).await.unwrap().unwrap().seq,
            2
        );
        assert!(store.trail(&id(2)).await.unwrap().is_empty());
        drop(store);
        let conn = Connection::open(&path).unwrap();
        for sql in [
            "UPDATE audit SET detail = '{}' WHERE seq = 1",
            "DELETE FROM audit",
        ] {
            let err = conn.execute(sql, []).unwrap_err().to_string();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
    }

    #[tokio::test]
    async fn a_database_from_before_the_chain_gains_prev_and_keeps_its_entries() {
        use certus_core::audit::AuditLog;
        use certus_core::audit_chain::{check_chain, entry_hash};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certus.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE audit (test_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
                                 kind TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (test_id, seq))
                                 WITHOUT ROWID;
             INSERT INTO audit VALUES ('test_000000000001', 1, '2026-11-01T10:00:00.000Z', 'submitted', '{}');",
        )
        .unwrap();
        drop(old);
        let store = SqliteStore::open(&path).unwrap();
        let legacy = AuditLog::last(&store, &id(1)).await.unwrap().unwrap();
        assert_eq!(legacy.prev, None);
        let next = AuditEntry {
            test_id: id(1),
            seq: 2,
            at: time::now(),
            kind: AuditKind::StatusChanged,
            detail: serde_json::json!({"to": "RUNNING"}),
            prev: Some(entry_hash(&legacy).unwrap()),
        };
        AuditLog::append(&store, &next).await.unwrap();
        let trail = store.trail(&id(1)).await.unwrap();
        let check = check_chain(&trail, None).unwrap();
        assert_eq!((check.broken, check.legacy_prefix), (None, 1));
        drop(store);
        SqliteStore::open(&path).expect("opening twice adds the column once");
    }

    #[tokio::test]
    async fn database_file_is_readable_by_a_standard_sqlite_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certus.db");
        let store = SqliteStore::open(&path).unwrap();
        store.create(&job(&id(5), "w")).await.unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let (status, ws): (String, String) = conn
            .query_row(
                "SELECT status, json_extract(record, '$.workspace_id') FROM jobs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((status.as_str(), ws.as_str()), ("QUEUED", "w"));
    }
}
