//! The audit trail of a job: an append-only, ordered list of what happened to it (submission, state
//! changes, manifest verification, Trust exchanges, publication), and a `JobStore` decorator that writes it
//! by comparing each saved record with the stored one, so the pipeline needs no changes.
//!
//! The trail is hash-chained (`crate::audit_chain`, docs/audit-trail.md): each entry carries the SHA-256 of
//! the previous one's canonical bytes, and the decorator keeps the chain head in the job record.
//!
//! Trail details never hold secrets: values shaped like credentials (URL userinfo, `Bearer`/`Basic`
//! credentials, well-known token formats, private key blocks) are redacted wherever they appear. Keys are kept
//! whatever they are called, so counts of the `secrets` tool stay in the trail.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::audit_chain::{entry_hash, head_of, AuditHead, GENESIS};
use crate::error::{CoreError, Result};
use crate::job::Job;
use crate::ports::{JobPage, JobQuery, JobStore};
use crate::record::UploadStep;
use crate::time::{self, Timestamp};

/// How many times an append is retried when another writer took the seq first.
pub const MAX_APPEND_ATTEMPTS: usize = 5;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Submitted,
    StatusChanged,
    SourceResolved,
    ManifestRecorded,
    ManifestVerification,
    BundleStored,
    TrustExchange,
    Publication,
    UploadStep,
    UploadStatusChanged,
}

impl AuditKind {
    pub const ALL: [Self; 10] = [
        Self::Submitted,
        Self::StatusChanged,
        Self::SourceResolved,
        Self::ManifestRecorded,
        Self::ManifestVerification,
        Self::BundleStored,
        Self::TrustExchange,
        Self::Publication,
        Self::UploadStep,
        Self::UploadStatusChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::StatusChanged => "status_changed",
            Self::SourceResolved => "source_resolved",
            Self::ManifestRecorded => "manifest_recorded",
            Self::ManifestVerification => "manifest_verification",
            Self::BundleStored => "bundle_stored",
            Self::TrustExchange => "trust_exchange",
            Self::Publication => "publication",
            Self::UploadStep => "upload_step",
            Self::UploadStatusChanged => "upload_status_changed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a job's trail. `(test_id, seq)` is unique; seqs start at 1 and grow by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub test_id: String,
    pub seq: u64,
    #[serde(with = "time::serde_z")]
    pub at: Timestamp,
    pub kind: AuditKind,
    /// What changed, without secrets or credentials.
    pub detail: Value,
    /// Lowercase hex SHA-256 of the previous entry's canonical bytes ([`GENESIS`] for the first entry);
    /// absent from entries written before the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

/// Where trails are kept. History cannot be rewritten: an entry, once appended, is never replaced.
///
/// Appends are atomic on the chain head: an entry is written under the key `(test_id, seq)` with seq = the
/// head's count + 1 and `prev` = the head's hash, by a conditional write that fails when that key exists.
/// Since entries are never replaced, the head of count n can only be the hash of the stored entry n, so two
/// writers that read the same head cannot both append: the chain never forks.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an entry; refuses (`Conflict`, see [`seq_taken`]) a `(test_id, seq)` that already exists.
    async fn append(&self, entry: &AuditEntry) -> Result<()>;
    /// The job's whole trail in seq order (empty for an unknown job).
    async fn trail(&self, test_id: &str) -> Result<Vec<AuditEntry>>;
    /// The entry of the highest seq of the job's trail (`None` when it has none).
    async fn last(&self, test_id: &str) -> Result<Option<AuditEntry>>;
}

/// The refusal every adapter answers an overwrite of the trail with.
pub fn seq_taken(test_id: &str, seq: u64) -> CoreError {
    CoreError::Conflict(format!(
        "audit entry {seq} of job '{test_id}' already exists: the trail is append-only"
    ))
}

/// A `JobStore` that writes the audit trail of every change it stores.
pub struct AuditedJobStore {
    jobs: Arc<dyn JobStore>,
    audit: Arc<dyn AuditLog>,
}

impl AuditedJobStore {
    pub fn new(jobs: Arc<dyn JobStore>, audit: Arc<dyn AuditLog>) -> Self {
        Self { jobs, audit }
    }

    /// Appends each detail under the next free seq, retrying when a concurrent writer took it; the head
    /// after the last one (`None` when there was nothing to append).
    async fn record(
        &self,
        test_id: &str,
        changes: Vec<(AuditKind, Value)>,
    ) -> Result<Option<AuditHead>> {
        let mut head = None;
        for (kind, detail) in changes {
            head = Some(self.append_next(test_id, kind, detail).await?);
        }
        Ok(head)
    }

    async fn append_next(
        &self,
        test_id: &str,
        kind: AuditKind,
        detail: Value,
    ) -> Result<AuditHead> {
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let last = self.audit.last(test_id).await?;
            let entry = AuditEntry {
                test_id: test_id.to_string(),
                seq: last.as_ref().map_or(0, |e| e.seq) + 1,
                at: time::now(),
                kind,
                detail: detail.clone(),
                prev: Some(match &last {
                    Some(last) => entry_hash(last)?,
                    None => GENESIS.to_string(),
                }),
            };
            match self.audit.append(&entry).await {
                Err(CoreError::Conflict(_)) => continue,
                Ok(()) => return head_of(&entry),
                Err(other) => return Err(other),
            }
        }
        Err(CoreError::Conflict(format!(
            "could not append a '{kind}' audit entry to job '{test_id}': the seq was taken \
             {MAX_APPEND_ATTEMPTS} times by concurrent writers"
        )))
    }
}

#[async_trait]
impl JobStore for AuditedJobStore {
    /// The record is created with the head its first entry will give, then that entry is appended (a new
    /// job has no trail, so nothing can take seq 1 in between).
    async fn create(&self, job: &Job) -> Result<()> {
        let first = AuditEntry {
            test_id: job.test_id.clone(),
            seq: 1,
            at: time::now(),
            kind: AuditKind::Submitted,
            detail: submitted(job),
            prev: Some(GENESIS.to_string()),
        };
        let mut record = job.clone();
        record.audit_head = Some(head_of(&first)?);
        self.jobs.create(&record).await?;
        self.audit.append(&first).await
    }

    async fn get(&self, test_id: &str) -> Result<Option<Job>> {
        self.jobs.get(test_id).await
    }

    async fn get_for_tenant(&self, test_id: &str, tenant: &str) -> Result<Option<Job>> {
        self.jobs.get_for_tenant(test_id, tenant).await
    }

    /// The trail is written before the record: a save that fails afterwards is retried or failed by the
    /// pipeline (and that is trailed too), whereas a record saved without its trail would lose history.
    async fn save(&self, job: &Job) -> Result<()> {
        let stored = self
            .jobs
            .get(&job.test_id)
            .await?
            .ok_or_else(|| CoreError::JobNotFound(job.test_id.clone()))?;
        let head = self.record(&job.test_id, changes(&stored, job)).await?;
        let mut record = job.clone();
        record.audit_head = head.or(stored.audit_head);
        self.jobs.save(&record).await
    }

    async fn list(&self, query: &JobQuery) -> Result<JobPage> {
        self.jobs.list(query).await
    }

    async fn claim_upload(
        &self,
        test_id: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<bool> {
        self.jobs.claim_upload(test_id, holder, lease).await
    }

    async fn release_upload(&self, test_id: &str, holder: &str) -> Result<()> {
        self.jobs.release_upload(test_id, holder).await
    }
}

fn submitted(job: &Job) -> Value {
    scrub(json!({
        "workspace_id": job.ids.workspace_id,
        "component_id": job.ids.component_id,
        "assessment_id": job.ids.assessment_id,
        "source_type": job.source_type,
        "source": job.source_location(),
        "branch": job.branch,
        "requested_commit": job.requested_commit,
        "profile": job.profile,
        "requested_by": job.requested_by,
    }))
}

/// Every change between the stored record and the one being saved, in the order they happen in a run.
pub fn changes(stored: &Job, next: &Job) -> Vec<(AuditKind, Value)> {
    let mut found = Vec::new();
    if next.commit != stored.commit || next.source_digest != stored.source_digest {
        found.push((
            AuditKind::SourceResolved,
            json!({"commit": next.commit, "branch": next.branch, "source_digest": next.source_digest}),
        ));
    }
    if next.manifest_digest != stored.manifest_digest {
        found.push((
            AuditKind::ManifestRecorded,
            json!({"manifest_digest": next.manifest_digest}),
        ));
    }
    if next.manifest_verification != stored.manifest_verification {
        found.push((
            AuditKind::ManifestVerification,
            json!({"manifest_digest": next.manifest_digest, "result": next.manifest_verification}),
        ));
    }
    if next.bundle_location != stored.bundle_location {
        found.push((
            AuditKind::BundleStored,
            json!({"bundle_location": next.bundle_location}),
        ));
    }
    if next.status != stored.status {
        found.push((
            AuditKind::StatusChanged,
            json!({
                "from": stored.status,
                "to": next.status,
                "errors": next.errors.get(stored.errors.len()..).unwrap_or_default(),
                "findings_summary": next.findings_summary,
            }),
        ));
    }
    for item in next.upload_audit.iter().skip(stored.upload_audit.len()) {
        found.push(upload_step(item));
    }
    if next.upload_status != stored.upload_status {
        found.push((
            AuditKind::UploadStatusChanged,
            json!({
                "from": stored.upload_status,
                "to": next.upload_status,
                "upload_permission_id": next.upload_permission_id,
                "oci": next.remote_artifacts.oci,
            }),
        ));
    }
    found
        .into_iter()
        .map(|(kind, detail)| (kind, scrub(detail)))
        .collect()
}

/// A Trust exchange is summarised (the decision, its reason and ids); other upload steps are kept whole.
fn upload_step(step: &UploadStep) -> (AuditKind, Value) {
    match step {
        UploadStep::Trust { at, exchange } => {
            let request = &exchange.request;
            let answer = exchange.answer.as_ref();
            (
                AuditKind::TrustExchange,
                json!({
                    "at": time::format(at),
                    "tier": request.tier,
                    "declared_artifacts": request.artifacts.len(),
                    "manifest_digest": request.manifest_digest,
                    "permitted": answer.map(|a| a.permitted),
                    "upload_permission_id": answer.and_then(|a| a.upload_permission_id.as_ref()),
                    "reason": answer.and_then(|a| a.reason.as_ref()),
                    "verification_proof": answer.and_then(|a| a.verification_proof.as_ref()),
                    "attempts": exchange.attempts.len(),
                    "error": exchange.error,
                }),
            )
        }
        UploadStep::Publish { .. } => (AuditKind::Publication, json!(step)),
        UploadStep::StorageConfig { .. } => (AuditKind::UploadStep, json!(step)),
    }
}

/// Stands for a redacted credential.
const REDACTED: &str = "[redacted]";

/// Prefixes of well-known token formats, each with the shortest length a real token of that format has.
const TOKEN_PREFIXES: &[(&str, usize)] = &[
    ("AKIA", 20),
    ("ASIA", 20),
    ("ghp_", 36),
    ("gho_", 36),
    ("ghu_", 36),
    ("ghs_", 36),
    ("ghr_", 36),
    ("github_pat_", 40),
    ("glpat-", 26),
    ("xoxa-", 15),
    ("xoxb-", 15),
    ("xoxp-", 15),
    ("xoxr-", 15),
    ("sk_live_", 24),
    ("rk_live_", 24),
    ("npm_", 36),
    ("pypi-", 40),
];

/// Words that announce a credential in the next word (`Authorization: Bearer <token>`), as HTTP writes them.
const CREDENTIAL_SCHEMES: &[&str] = &["Bearer", "Basic"];

/// Redacts credentials in every string, at any depth: URL userinfo, the word after `Bearer`/`Basic`,
/// words in a well-known token format, JSON web tokens and private key blocks. Keys are never dropped.
pub fn scrub(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, v)| (key, scrub(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        Value::String(text) => Value::String(scrub_text(&text)),
        other => other,
    }
}

/// `text` with every credential it holds redacted.
pub fn scrub_text(text: &str) -> String {
    let text = without_private_keys(text);
    let text = without_userinfo(&text);
    let mut out = String::with_capacity(text.len());
    let mut after_scheme = false;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let start = rest.find(is_word_char).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() {
            break;
        }
        if after_scheme || is_token(word) {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
        after_scheme = CREDENTIAL_SCHEMES.contains(&word) && rest[end..].starts_with(' ');
        rest = &rest[end..];
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=' | '~')
}

fn is_token(word: &str) -> bool {
    let jwt = word.starts_with("eyJ") && word.len() >= 30 && word.matches('.').count() == 2;
    jwt || TOKEN_PREFIXES
        .iter()
        .any(|(prefix, min)| word.starts_with(prefix) && word.len() >= *min)
}

/// Every `-----BEGIN … PRIVATE KEY-----` block (to its END line, or to the end of the text) redacted.
fn without_private_keys(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(BEGIN) {
        let header_end = rest[at + BEGIN.len()..]
            .find("-----")
            .map(|i| at + BEGIN.len() + i + 5);
        let is_private = header_end.is_some_and(|end| rest[at..end].contains("PRIVATE KEY"));
        match header_end {
            Some(end) if is_private => {
                out.push_str(&rest[..at]);
                out.push_str(REDACTED);
                rest = match rest[end..].find("-----END ") {
                    Some(i) => {
                        let footer = end + i + "-----END ".len();
                        match rest[footer..].find("-----") {
                            Some(j) => &rest[footer + j + 5..],
                            None => "",
                        }
                    }
                    None => "",
                };
            }
            Some(end) => {
                out.push_str(&rest[..end]);
                rest = &rest[end..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// `… https://user:token@host/x …` → `… https://host/x …`, for every URL in the text.
fn without_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        let authority_end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(userinfo_end) => rest = &after[userinfo_end + 1..],
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobStatus, UploadStatus};
    use crate::request::{ManifestSource, ScanIds, SourceSpec, ValidatedSubmission};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct MemoryJobs(Mutex<BTreeMap<String, Job>>);

    #[async_trait]
    impl JobStore for MemoryJobs {
        async fn create(&self, job: &Job) -> Result<()> {
            let mut jobs = self.0.lock().unwrap();
            if jobs.contains_key(&job.test_id) {
                return Err(CoreError::JobExists(job.test_id.clone()));
            }
            jobs.insert(job.test_id.clone(), job.clone());
            Ok(())
        }
        async fn get(&self, test_id: &str) -> Result<Option<Job>> {
            Ok(self.0.lock().unwrap().get(test_id).cloned())
        }
        async fn save(&self, job: &Job) -> Result<()> {
            let mut jobs = self.0.lock().unwrap();
            match jobs.get_mut(&job.test_id) {
                Some(slot) => {
                    *slot = job.clone();
                    Ok(())
                }
                None => Err(CoreError::JobNotFound(job.test_id.clone())),
            }
        }
        async fn list(&self, _query: &JobQuery) -> Result<JobPage> {
            Ok(JobPage {
                jobs: self.0.lock().unwrap().values().cloned().collect(),
                next_page_token: None,
            })
        }
        async fn claim_upload(&self, _: &str, _: &str, _: std::time::Duration) -> Result<bool> {
            Err(CoreError::Storage(
                "upload leases are not used by these tests".into(),
            ))
        }
        async fn release_upload(&self, _: &str, _: &str) -> Result<()> {
            Err(CoreError::Storage(
                "upload leases are not used by these tests".into(),
            ))
        }
    }

    /// A trail in memory; `steal` seqs are taken by a "concurrent writer" just before each append.
    #[derive(Default)]
    struct MemoryTrail {
        entries: Mutex<Vec<AuditEntry>>,
        steal: Mutex<usize>,
    }

    #[async_trait]
    impl AuditLog for MemoryTrail {
        async fn append(&self, entry: &AuditEntry) -> Result<()> {
            let mut entries = self.entries.lock().unwrap();
            let mut steal = self.steal.lock().unwrap();
            if *steal > 0 {
                *steal -= 1;
                let mut other = entry.clone();
                other.kind = AuditKind::UploadStep;
                entries.push(other);
            }
            if entries
                .iter()
                .any(|e| e.test_id == entry.test_id && e.seq == entry.seq)
            {
                return Err(seq_taken(&entry.test_id, entry.seq));
            }
            entries.push(entry.clone());
            Ok(())
        }
        async fn trail(&self, test_id: &str) -> Result<Vec<AuditEntry>> {
            let mut trail: Vec<_> = self
                .entries
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.test_id == test_id)
                .cloned()
                .collect();
            trail.sort_by_key(|e| e.seq);
            Ok(trail)
        }
        async fn last(&self, test_id: &str) -> Result<Option<AuditEntry>> {
            Ok(self.trail(test_id).await?.pop())
        }
    }

    fn job() -> Job {
        let submission = ValidatedSubmission {
            ids: ScanIds {
                workspace_id: "w".into(),
                component_id: "c".into(),
                assessment_id: "a".into(),
            },
            source: SourceSpec::Git {
                git_url: "https://ci:hunter2@git.example.invalid/app.git".into(),
                branch: Some("main".into()),
                commit: None,
                git_credentials_ref: None,
            },
            manifest: ManifestSource::RepoPath("m.json".into()),
            signature: None,
            profile: "light".into(),
            requested_by: Some("ci".into()),
            baseline: None,
            full_scan: false,
        };
        Job::queued(
            "test_0123456789ab".into(),
            submission,
            "ws://x".into(),
            time::now(),
        )
    }

    fn store() -> (AuditedJobStore, Arc<MemoryTrail>) {
        let trail = Arc::new(MemoryTrail::default());
        (
            AuditedJobStore::new(Arc::new(MemoryJobs::default()), trail.clone()),
            trail,
        )
    }

    fn kinds(trail: &[AuditEntry]) -> Vec<AuditKind> {
        trail.iter().map(|e| e.kind).collect()
    }

    #[tokio::test]
    async fn a_whole_run_is_trailed_in_order_without_credentials() {
        let (store, trail) = store();
        let mut j = job();
        store.create(&j).await.unwrap();
        j.start(time::now()).unwrap();
        j.commit = Some("a".repeat(40));
        store.save(&j).await.unwrap();
        j.manifest_digest = Some("b".repeat(64).parse().unwrap());
        j.manifest_verification = Some(
            serde_json::from_value(json!({"method": "cosign-keyed-ecdsa-p256", "verified": true}))
                .unwrap(),
        );
        store.save(&j).await.unwrap();
        j.bundle_location = Some("/data/bundles/test_0123456789ab".into());
        j.transition(JobStatus::Succeeded, time::now()).unwrap();
        store.save(&j).await.unwrap();
        j.upload_audit.push(
            serde_json::from_value(json!({"step": "trust", "at": "2026-01-01T00:00:00.000Z", "exchange": {
                "request": {"scan_id": "test_0123456789ab", "tier": "basic",
                    "inner_signature": {"signer": "s", "timestamp": "t", "signature": "c2ln", "algorithm": "a"},
                    "artifacts": [{"name": "a", "hash": "sha256:a", "size": 1},
                                  {"name": "b", "hash": "sha256:b", "size": 1}],
                    "metadata": {"git_url": "", "branch": "", "commit": "c"},
                    "manifest_digest": "d".repeat(64)},
                "answer": {"permitted": true, "upload_permission_id": "perm-1"},
                "attempts": [{"started_at": "t", "duration_ms": 1, "outcome": "http 200"}], "error": null,
            }}))
            .unwrap(),
        );
        j.upload_permission_id = Some("perm-1".into());
        j.set_upload_status(UploadStatus::Permitted).unwrap();
        store.save(&j).await.unwrap();
        j.upload_audit.push(
            serde_json::from_value(
                json!({"step": "publish", "at": "2026-01-01T00:00:01.000Z", "raw": 3, "golden": 3}),
            )
            .unwrap(),
        );
        j.set_upload_status(UploadStatus::Uploaded).unwrap();
        store.save(&j).await.unwrap();

        let entries = trail.trail(&j.test_id).await.unwrap();
        assert_eq!(
            kinds(&entries),
            vec![
                AuditKind::Submitted,
                AuditKind::SourceResolved,
                AuditKind::StatusChanged,
                AuditKind::ManifestRecorded,
                AuditKind::ManifestVerification,
                AuditKind::BundleStored,
                AuditKind::StatusChanged,
                AuditKind::TrustExchange,
                AuditKind::UploadStatusChanged,
                AuditKind::Publication,
                AuditKind::UploadStatusChanged,
            ]
        );
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=11).collect::<Vec<_>>()
        );
        assert_eq!(
            entries[0].detail["source"],
            "https://git.example.invalid/app.git"
        );
        assert!(!serde_json::to_string(&entries).unwrap().contains("hunter2"));
        assert_eq!(entries[2].detail["from"], "QUEUED");
        assert_eq!(entries[2].detail["to"], "RUNNING");
        assert_eq!(entries[7].detail["permitted"], true);
        assert_eq!(entries[7].detail["upload_permission_id"], "perm-1");
        assert_eq!(entries[7].detail["declared_artifacts"], 2);
        assert_eq!(entries[10].detail["to"], "uploaded");

        let record = store.get(&j.test_id).await.unwrap().unwrap();
        let check = crate::audit_chain::check_chain(&entries, record.audit_head.as_ref()).unwrap();
        assert_eq!(check.broken, None, "the trail is one chain");
        assert_eq!(record.audit_head, check.head, "the record keeps the head");
        assert_eq!(entries[0].prev.as_deref(), Some(GENESIS));
    }

    #[tokio::test]
    async fn unchanged_saves_add_nothing_and_failures_name_their_cause() {
        let (store, trail) = store();
        let mut j = job();
        store.create(&j).await.unwrap();
        store.save(&j).await.unwrap();
        assert_eq!(trail.last(&j.test_id).await.unwrap().unwrap().seq, 1);
        j.fail("clone failed: repository not found", time::now())
            .unwrap();
        store.save(&j).await.unwrap();
        let entries = trail.trail(&j.test_id).await.unwrap();
        assert_eq!(
            entries[1].detail["errors"],
            json!(["clone failed: repository not found"])
        );
    }

    #[tokio::test]
    async fn a_duplicate_create_or_an_unknown_save_writes_no_trail() {
        let (store, trail) = store();
        let j = job();
        store.create(&j).await.unwrap();
        assert!(matches!(
            store.create(&j).await,
            Err(CoreError::JobExists(_))
        ));
        let mut other = job();
        other.test_id = "test_ffffffffffff".into();
        assert!(matches!(
            store.save(&other).await,
            Err(CoreError::JobNotFound(_))
        ));
        assert_eq!(kinds(&trail.trail(&j.test_id).await.unwrap()).len(), 1);
        assert!(trail.trail(&other.test_id).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_seq_taken_by_another_writer_is_retried_then_given_up() {
        let (store, trail) = store();
        let mut j = job();
        store.create(&j).await.unwrap();
        *trail.steal.lock().unwrap() = 2;
        j.start(time::now()).unwrap();
        store.save(&j).await.unwrap();
        let entries = trail.trail(&j.test_id).await.unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[3].kind, AuditKind::StatusChanged);
        assert_eq!(entries[3].seq, 4);

        *trail.steal.lock().unwrap() = MAX_APPEND_ATTEMPTS;
        j.transition(JobStatus::Succeeded, time::now()).unwrap();
        let err = store.save(&j).await.unwrap_err().to_string();
        assert!(err.contains("concurrent writers"), "{err}");
        assert_eq!(
            store.get(&j.test_id).await.unwrap().unwrap().status,
            JobStatus::Running,
            "a record whose trail could not be written is not saved"
        );
    }

    #[test]
    fn scrub_redacts_credential_values_at_any_depth_and_keeps_every_key() {
        let github = format!("{}{}", "ghp_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
        let aws = format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL");
        let jwt = format!(
            "{}.{}.{}",
            "eyJhbGciOiJFUzI1NiJ9", "eyJzdWIiOiJ4In0", "c2lnbmF0dXJl"
        );
        let pem = format!(
            "key: -----BEGIN {} KEY-----\nMIIEvQIBADAN\n-----END {} KEY----- done",
            "PRIVATE", "PRIVATE"
        );
        let cleaned = scrub(json!({
            "a": [{"Authorization": "Bearer x", "url": "https://u:p@h.invalid/p?q=1", "n": 1}],
            "secrets": {"critical": 2, "high": 1},
            "detect-secrets": {"low": 3},
            "error": format!("clone of git+https://tok:{github}@h.invalid/r.git failed; key {aws}"),
            "jwt": jwt, "pem": pem,
            "keep": "plain@text", "ssh": "ssh://git@h.invalid/r.git", "words": "a token list, basic tier",
        }));
        assert_eq!(
            cleaned,
            json!({"a": [{"Authorization": "Bearer [redacted]", "url": "https://h.invalid/p?q=1", "n": 1}],
                   "secrets": {"critical": 2, "high": 1},
                   "detect-secrets": {"low": 3},
                   "error": "clone of git+https://h.invalid/r.git failed; key [redacted]",
                   "jwt": "[redacted]", "pem": "key: [redacted] done",
                   "keep": "plain@text", "ssh": "ssh://h.invalid/r.git", "words": "a token list, basic tier"})
        );
        let text = serde_json::to_string(&cleaned).unwrap();
        for secret in [github.as_str(), aws.as_str(), "MIIEvQIBADAN"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
    }

    #[test]
    fn the_status_change_keeps_the_counts_of_every_tool() {
        let stored = job();
        let mut next = stored.clone();
        next.status = JobStatus::Running;
        next.findings_summary = Some(
            serde_json::from_value(json!({"threshold_violations": [], "totals": {
                "critical": 3, "high": 3, "medium": 0, "low": 0}, "tools": {
                "sbom": {"critical": 1, "high": 0, "medium": 0, "low": 0},
                "secrets": {"critical": 2, "high": 2, "medium": 0, "low": 0},
                "detect-secrets": {"critical": 0, "high": 1, "medium": 0, "low": 0}}}))
            .unwrap(),
        );
        let found = changes(&stored, &next);
        let (_, detail) = found
            .iter()
            .find(|(kind, _)| *kind == AuditKind::StatusChanged)
            .unwrap();
        let tools = &detail["findings_summary"]["tools"];
        assert_eq!(tools["secrets"]["critical"], 2);
        assert_eq!(tools["detect-secrets"]["high"], 1);
        assert_eq!(tools["sbom"]["critical"], 1);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                json!(kind.as_str()),
                "serde and as_str agree"
            );
        }
        assert_eq!(AuditKind::parse("deleted"), None);
    }
}
