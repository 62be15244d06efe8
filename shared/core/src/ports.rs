//! Ports: the traits the pipeline needs from the world. Adapters implement them — embedded ones for one
//! machine, AWS ones for the Lambdas — and the pipeline is written once against them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bundle::BundleIndex;
use crate::error::Result;
use crate::event::Event;
use crate::finding::Finding;
use crate::incremental::{CacheUse, Incremental, SinglePass, SourceFiles};
use crate::job::{Job, JobStatus, RemoteArtifacts};
use crate::record::ManifestVerification;
use crate::request::SourceSpec;
use crate::time::Timestamp;
use crate::workspace::RunWorkspace;

/// Filters for listing jobs; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobQuery {
    /// Only jobs recorded for this tenant (records without a tenant never match).
    pub tenant: Option<String>,
    pub workspace_id: Option<String>,
    pub component_id: Option<String>,
    pub assessment_id: Option<String>,
    pub status: Option<JobStatus>,
    /// The git URL exactly as submitted.
    pub repository: Option<String>,
    /// The resolved commit SHA that was scanned.
    pub commit: Option<String>,
    /// The manifest digest as the job records it (SHA-256 of the exact bytes).
    pub manifest_digest: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub limit: usize,
    /// Opaque token from a previous page.
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub next_page_token: Option<String>,
}

/// Where job records live.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job; refuses (`JobExists`) if the id is taken.
    async fn create(&self, job: &Job) -> Result<()>;
    async fn get(&self, test_id: &str) -> Result<Option<Job>>;
    /// The job if it was recorded for `tenant`: another tenant's job is `None`, as an unknown id is. A store
    /// that can filters in the lookup itself, so that another tenant's record is never read or parsed and
    /// both answers take the same work.
    async fn get_for_tenant(&self, test_id: &str, tenant: &str) -> Result<Option<Job>> {
        Ok(self
            .get(test_id)
            .await?
            .filter(|job| job.tenant.as_deref() == Some(tenant)))
    }
    /// Replaces the record of an existing job (`JobNotFound` otherwise).
    async fn save(&self, job: &Job) -> Result<()>;
    /// Newest first.
    async fn list(&self, query: &JobQuery) -> Result<JobPage>;
    /// Takes the job's upload lease for `holder` for `lease`, unless another holder's lease is unexpired
    /// (`false`): one upload request per job at a time across every process sharing the store.
    async fn claim_upload(&self, test_id: &str, holder: &str, lease: Duration) -> Result<bool>;
    /// Ends `holder`'s upload lease (nothing when another holder has taken it since).
    async fn release_upload(&self, test_id: &str, holder: &str) -> Result<()>;
}

/// The persisted, ordered event history of every job.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Persists an event under its `seq`; refuses (`EventSeqTaken`) a seq already used for that job.
    async fn append(&self, event: &Event) -> Result<()>;
    /// Events with `seq > after_seq`, in order.
    async fn history(&self, test_id: &str, after_seq: u64) -> Result<Vec<Event>>;
    /// The highest seq stored for the job (0 when none).
    async fn last_seq(&self, test_id: &str) -> Result<u64>;
}

/// Live delivery of events to watchers (a console, WebSocket clients). Delivery problems never fail a job.
#[async_trait]
pub trait EventSink: Send + Sync {
    async fn deliver(&self, event: &Event);
}

/// Where finished bundles are kept.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The location a job's bundle will have once stored (known before it is stored, so records can name it).
    fn location(&self, test_id: &str) -> String;
    /// Keeps the finished bundle of a run and returns its location.
    async fn store_bundle(
        &self,
        test_id: &str,
        bundle_dir: &Path,
        index: &BundleIndex,
    ) -> Result<String>;
    /// One file of a stored bundle (a baseline's SARIF); `None` when the bundle has no such file.
    async fn read_file(
        &self,
        location: &str,
        rel: &str,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>>;
}

/// Publication of a permitted bundle: staged under the raw prefix, checked, promoted to golden.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// The raw destination announced to Trust, e.g. `s3://raw/security-scans/<test_id>/incoming/`.
    fn raw_destination(&self, test_id: &str) -> String;
    /// The raw bucket (for local publication, the name of the directory standing in for it), checked against
    /// Trust's `storage_config.raw_s3_bucket`.
    fn raw_bucket(&self) -> String;
    /// Stages every file of the index (and the index itself) under raw, verifies the staged set against the
    /// index, then promotes it to golden. Idempotent: a re-run after a failure completes the set without
    /// duplicating anything. Returns the raw and golden URIs by bundle-relative path.
    async fn publish(
        &self,
        job: &Job,
        bundle_location: &str,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts>;
}

/// Assurance's signing key: a key file locally, KMS on AWS.
#[async_trait]
pub trait BundleSigner: Send + Sync {
    /// Lowercase hex SHA-256 of the public key's SPKI DER.
    fn key_id(&self) -> String;
    fn algorithm(&self) -> String;
    fn public_key_pem(&self) -> String;
    /// ECDSA: a DER signature over SHA-256(message); Ed25519: over the message.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// The code to scan: inside the run's workspace, a directory scanned in place, or a kept checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedSource {
    /// The tree to scan.
    pub root: PathBuf,
    /// Resolved commit SHA (git).
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// SHA-256 over the tree's paths and contents (directory and archive sources).
    pub content_digest: Option<String>,
    pub warnings: Vec<String>,
    /// Every regular file with its digest, where the preparer listed them (any source, when there is a scan
    /// cache): what per-file tools reuse results by. Not carried between steps.
    #[serde(skip)]
    pub files: Option<Arc<SourceFiles>>,
    /// Holds a tree the preparer keeps between scans (a kept checkout) for this run: no other scan changes it
    /// until every copy of the prepared source is dropped. Not carried between steps.
    #[serde(skip)]
    pub lease: Option<TreeLease>,
}

/// A tree a preparer keeps between scans (a kept checkout), held by the run that prepared it.
pub trait KeptTree: Send + Sync {
    /// Records, before a tool that may write runs on the tree, that the next scan cannot take the tree to hold
    /// only what its commit does: that scan reads the whole tree again and removes what does not belong.
    fn exposing(&self) -> Result<()>;
}

/// A hold on a tree kept between scans, released when the last copy is dropped. Holds compare equal: they
/// say nothing about the tree itself.
#[derive(Clone)]
pub struct TreeLease {
    hold: Arc<dyn KeptTree>,
}

impl TreeLease {
    pub fn new(hold: impl KeptTree + 'static) -> Self {
        Self {
            hold: Arc::new(hold),
        }
    }

    /// See [`KeptTree::exposing`].
    pub fn exposing(&self) -> Result<()> {
        self.hold.exposing()
    }
}

impl std::fmt::Debug for TreeLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TreeLease")
    }
}

impl PartialEq for TreeLease {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for TreeLease {}

/// Whether a scan may reuse what earlier scans kept: a directory's file table (digests of files whose `stat` is
/// unchanged) and per-file tools' results. A job that asks for a full scan reads and scans every file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse<'a> {
    /// What earlier scans kept may be used; what belongs to a tenant (a kept checkout) only by that tenant.
    Allowed {
        tenant: Option<&'a str>,
    },
    Never,
}

#[async_trait]
pub trait SourcePreparer: Send + Sync {
    /// The tree of `spec` inside `workspace`; with [`Reuse::Never`] every file is read for the digest and no
    /// file table is handed to the tools. `single_pass` scans each file the table's walk reads, from that read.
    async fn prepare(
        &self,
        spec: &SourceSpec,
        workspace: &RunWorkspace,
        reuse: Reuse<'_>,
        single_pass: Option<Arc<dyn SinglePass>>,
    ) -> Result<PreparedSource>;
}

/// Fetches manifest and signature bytes named by URI (`file://`, `https://`, `s3://`, `oci://`).
#[async_trait]
pub trait ManifestFetcher: Send + Sync {
    async fn fetch(&self, uri: &str, max_bytes: usize) -> Result<Vec<u8>>;
}

/// Checks a manifest signature. Returns the audit record of how it was verified.
#[async_trait]
pub trait ManifestVerifier: Send + Sync {
    /// Whether every manifest must carry a valid signature before anything runs.
    fn required(&self) -> bool;
    async fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<ManifestVerification>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// Receives a tool's output lines as they come.
pub type LogFn = Arc<dyn Fn(LogStream, &str) + Send + Sync>;

/// What a scanner is asked to do.
#[derive(Clone)]
pub struct ScanRequest {
    /// What is being scanned, for documents that name their subject (an SBOM's component).
    pub subject: String,
    pub source_root: PathBuf,
    /// Private scratch space for this tool.
    pub scratch_dir: PathBuf,
    pub config: Option<serde_json::Value>,
    pub timeout: Duration,
    pub log: LogFn,
    /// The file table and result cache a per-file tool may reuse results from (`None`: scan everything).
    pub incremental: Option<Incremental>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    Completed,
    TimedOut,
    Failed,
}

impl ToolStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::TimedOut => "timed_out",
            Self::Failed => "failed",
        }
    }
}

/// A file a scanner contributes to the bundle besides its SARIF (an SBOM, for instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub bundle_path: String,
    pub bytes: Vec<u8>,
}

/// What a scanner produced. A tool that failed or timed out carries the reason in `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub status: ToolStatus,
    pub exit_code: Option<i32>,
    pub findings: Vec<Finding>,
    pub attachments: Vec<Attachment>,
    pub warnings: Vec<String>,
    /// What the tool could not read (a lockfile, one line of it), so the verdict does not cover it: kept in
    /// the tool's record and listed among the job's warnings.
    pub coverage_gaps: Vec<String>,
    pub error: Option<String>,
    /// How many results came from the cache, for a tool that used one.
    pub cache: Option<CacheUse>,
}

impl ToolOutput {
    pub fn completed(findings: Vec<Finding>) -> Self {
        Self {
            status: ToolStatus::Completed,
            exit_code: Some(0),
            findings,
            attachments: Vec::new(),
            warnings: Vec::new(),
            coverage_gaps: Vec::new(),
            error: None,
            cache: None,
        }
    }

    pub fn failed(status: ToolStatus, exit_code: Option<i32>, error: impl Into<String>) -> Self {
        Self {
            status,
            exit_code,
            findings: Vec::new(),
            attachments: Vec::new(),
            warnings: Vec::new(),
            coverage_gaps: Vec::new(),
            error: Some(error.into()),
            cache: None,
        }
    }
}

#[async_trait]
pub trait Scanner: Send + Sync {
    /// Canonical tool id (`secrets`, `sbom`, `semgrep`…).
    fn id(&self) -> &str;
    fn version(&self) -> String;
    /// Canned output rather than a real scan.
    fn is_sample(&self) -> bool {
        false
    }
    /// Whether the tool reuses results through `ScanRequest.incremental`: only then is a file table worth
    /// building for it.
    fn reuses_results(&self) -> bool {
        false
    }
    /// Whether the tool only reads the tree it scans (code of this process that opens files for reading, never
    /// a program it runs): only then may a tree kept between scans skip the next scan's check for what the
    /// tool left in it ([`KeptTree::exposing`]).
    fn reads_tree_only(&self) -> bool {
        false
    }
    /// The scan this tool runs on each file source preparation reads, from that read ([`SinglePass`]), when it
    /// works file by file on content alone.
    fn single_pass(&self) -> Option<Arc<dyn SinglePass>> {
        None
    }
    /// The command line (or built-in name) shown in `tool_start`.
    fn command(&self, request: &ScanRequest) -> String;
    async fn scan(&self, request: ScanRequest) -> ToolOutput;
}

/// A run's private workspace between steps that may run on different machines (a per-run prefix of the work
/// bucket on AWS, a per-run directory locally). Keys are relative to the run (`state.json`, `bundle/…`).
#[async_trait]
pub trait RunStore: Send + Sync {
    async fn put(&self, test_id: &str, key: &str, bytes: Vec<u8>) -> Result<()>;
    /// `None` when there is no such object; an object larger than `max_bytes` is an error.
    async fn get(&self, test_id: &str, key: &str, max_bytes: usize) -> Result<Option<Vec<u8>>>;
    /// Streams a local file up.
    async fn put_file(&self, test_id: &str, key: &str, path: &Path) -> Result<()>;
    /// Streams an object into `dest`; false when there is no such object.
    async fn get_file(&self, test_id: &str, key: &str, dest: &Path) -> Result<bool>;
    /// The keys under `prefix`, relative to the run, in lexical order.
    async fn list(&self, test_id: &str, prefix: &str) -> Result<Vec<String>>;
}
