//! The scan pipeline as separate steps (docs/serverless.md): each loads what the earlier steps left in the
//! run store, does its part with the same `certus_core::pipeline` code the one-process runner uses, saves the
//! job record, and records a marker so a retried step returns its recorded output instead of acting twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certus_core::bundle::{self, BundleWriter};
use certus_core::digest::Sha256Digest;
use certus_core::event::{Event, EventBody};
use certus_core::incremental::SinglePass;
use certus_core::job::{Job, JobStatus};
use certus_core::manifest::SelectedTool;
use certus_core::pipeline::{self, RunState};
use certus_core::ports::ToolStatus;
use certus_core::progress::Progress;
use certus_core::report::ToolRecord;
use certus_core::request::{ManifestSource, SignatureSource};
use certus_core::time;
use certus_core::workspace::RunWorkspace;
use certus_source::tree::{tree_table, PreviousTable};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StageError};
use crate::fargate::runner_for;
use crate::snapshot;
use crate::{Stages, MAX_RECORD_BYTES};

pub(crate) const SOURCE_SNAPSHOT: &str = "source.tgz";
const STATE: &str = "state.json";
const BUNDLE_PREFIX: &str = "bundle/";
const TOOLS_PREFIX: &str = "tools/";

/// One tool run planned by `launch-scanners`: an item of the state machine's Map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRun {
    pub test_id: String,
    pub tool: String,
    /// `lambda` or `fargate`.
    pub runner: String,
}

/// What every step answers: the job and whatever the next state needs (small: never near the 256 KiB limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageOutput {
    pub test_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolRun>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_status: Option<String>,
}

impl StageOutput {
    pub(crate) fn of(test_id: &str) -> Self {
        Self {
            test_id: test_id.to_string(),
            ..Self::default()
        }
    }
}

/// A caught failure as Step Functions hands it over (`Error`, `Cause`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl Failure {
    /// The reason in words: a Lambda's `errorMessage` when the cause is its error JSON, else the cause itself.
    pub fn reason(&self) -> String {
        let message = serde_json::from_str::<serde_json::Value>(&self.cause)
            .ok()
            .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_string))
            .unwrap_or_else(|| self.cause.trim().to_string());
        match (
            self.error.as_str(),
            message.is_empty() || message == self.error,
        ) {
            ("Retryable" | "NonRetryable", false) => message,
            (error, true) => format!("step failed: {error}"),
            (error, false) => format!("step failed: {error}: {message}"),
        }
    }

    fn is_timeout(&self) -> bool {
        self.error == "States.Timeout"
    }
}

impl Stages {
    /// `prepare-source`: QUEUED → RUNNING, the source into a fresh workspace, then a snapshot of it.
    pub async fn prepare_source(&self, test_id: &str) -> Result<StageOutput> {
        const STEP: &str = "prepare-source";
        if let Some(done) = self.marker(test_id, STEP).await? {
            return Ok(done);
        }
        let mut job = self.job(test_id).await?;
        let progress = self.progress(test_id).await?;
        match job.status {
            JobStatus::Queued => {
                job.start(time::now())?;
                job.runner = Some(self.services.settings.runner_id.clone());
                self.services.jobs.save(&job).await?;
                progress.emit(EventBody::phase("scan started")).await?;
            }
            JobStatus::Running => {}
            other => return Err(not_running(test_id, other)),
        }
        let workspace = self.workspace(test_id, STEP)?;
        let mut state = RunState::default();
        pipeline::prepare_source(&self.services, &mut job, &mut state, &workspace, &progress)
            .await?;
        let root = state
            .source
            .as_ref()
            .map(|s| s.root.clone())
            .ok_or_else(|| StageError::NonRetryable("no source was prepared".into()))?;
        let tarball = workspace.scratch_dir().join(SOURCE_SNAPSHOT);
        blocking({
            let tarball = tarball.clone();
            move || snapshot::pack(&root, &tarball)
        })
        .await?;
        job.snapshot_digest = Some(file_digest(&tarball).await?);
        self.services.jobs.save(&job).await?;
        self.runs
            .put_file(test_id, SOURCE_SNAPSHOT, &tarball)
            .await?;
        self.save_state(test_id, &state).await?;
        self.record(test_id, STEP, StageOutput::of(test_id)).await
    }

    /// `fetch-manifest`: the manifest and signature bytes into the bundle (and the run store).
    pub async fn fetch_manifest(&self, test_id: &str) -> Result<StageOutput> {
        const STEP: &str = "fetch-manifest";
        if let Some(done) = self.marker(test_id, STEP).await? {
            return Ok(done);
        }
        let mut job = self.running_job(test_id).await?;
        let progress = self.progress(test_id).await?;
        let workspace = self.workspace(test_id, STEP)?;
        let mut state = self.load_state(test_id).await?;
        let needs_source = matches!(job.submission.manifest, ManifestSource::RepoPath(_))
            || matches!(job.submission.signature, Some(SignatureSource::RepoPath(_)));
        if needs_source {
            self.restore_source(&job, &workspace, &mut state).await?;
        }
        let bundle = BundleWriter::new(workspace.bundle_dir())?;
        pipeline::fetch_manifest(&self.services, &mut job, &state, &bundle, &progress).await?;
        self.services.jobs.save(&job).await?;
        self.push_bundle_files(test_id, &workspace).await?;
        self.record(test_id, STEP, StageOutput::of(test_id)).await
    }

    /// `verify-manifest`: the signature over the exact manifest bytes, before anything runs.
    pub async fn verify_manifest(&self, test_id: &str) -> Result<StageOutput> {
        const STEP: &str = "verify-manifest";
        if let Some(done) = self.marker(test_id, STEP).await? {
            return Ok(done);
        }
        let mut job = self.running_job(test_id).await?;
        let progress = self.progress(test_id).await?;
        let manifest = self.manifest_bytes(&job).await?;
        let signature = self
            .runs
            .get(
                test_id,
                &bundle_key(bundle::MANIFEST_SIG),
                pipeline::MAX_SIGNATURE_BYTES,
            )
            .await?;
        pipeline::verify_manifest(
            &self.services,
            &mut job,
            &manifest,
            signature.as_deref(),
            &progress,
        )
        .await?;
        self.services.jobs.save(&job).await?;
        self.record(test_id, STEP, StageOutput::of(test_id)).await
    }

    /// `launch-scanners`: the profile's tools (and the finding policy), planned as one Map item each.
    pub async fn launch_scanners(&self, test_id: &str) -> Result<StageOutput> {
        const STEP: &str = "launch-scanners";
        if let Some(done) = self.marker(test_id, STEP).await? {
            return Ok(done);
        }
        let mut job = self.running_job(test_id).await?;
        let progress = self.progress(test_id).await?;
        let workspace = self.workspace(test_id, STEP)?;
        let mut state = self.load_state(test_id).await?;
        let manifest = self.manifest_bytes(&job).await?;
        let bundle = BundleWriter::new(workspace.bundle_dir())?;
        // The container tools run as Fargate tasks (docs/serverless.md): where the deployment has the scanner
        // image, `services.scanners` holds a stand-in for each (`fargate::with_fargate_tools`).
        pipeline::resolve_profile(&self.services, &mut job, &mut state, &manifest, &bundle).await?;
        let tools: Vec<SelectedTool> = state
            .profile
            .as_ref()
            .map(|p| p.tools.clone())
            .unwrap_or_default();
        progress
            .emit(EventBody::phase(format!(
                "running {} tool(s): {}",
                tools.len(),
                tools
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
            .await?;
        self.services.jobs.save(&job).await?;
        self.push_bundle_files(test_id, &workspace).await?;
        self.save_state(test_id, &state).await?;
        let output = StageOutput {
            tools: Some(
                tools
                    .iter()
                    .map(|t| ToolRun {
                        test_id: test_id.to_string(),
                        tool: t.id.clone(),
                        runner: runner_for(&t.id).into(),
                    })
                    .collect(),
            ),
            max_concurrency: Some(self.services.settings.max_parallel_tools.max(1)),
            ..StageOutput::of(test_id)
        };
        self.record(test_id, STEP, output).await
    }

    /// `run-scanner`: one tool on a restored copy of the source; its SARIF and attachments go to the bundle
    /// prefix and its record to `tools/<id>.json`. Where the scanners have a scan cache and the tool reuses
    /// results, the restored tree's file table lets it reuse the results of unchanged content.
    pub async fn run_scanner(&self, test_id: &str, tool: &str) -> Result<StageOutput> {
        let step = format!("run-scanner/{tool}");
        if let Some(done) = self.marker(test_id, &step).await? {
            return Ok(done);
        }
        let job = self.running_job(test_id).await?;
        let progress = Arc::new(self.progress(test_id).await?);
        let workspace = self.workspace(test_id, &format!("run-scanner-{tool}"))?;
        let mut state = self.load_state(test_id).await?;
        let selected = state
            .profile
            .as_ref()
            .and_then(|p| p.tools.iter().find(|t| t.id == tool).cloned())
            .ok_or_else(|| {
                StageError::NonRetryable(format!(
                    "tool '{tool}' is not part of job '{test_id}''s profile"
                ))
            })?;
        self.restore_source(&job, &workspace, &mut state).await?;
        // Listing reads every file of the tree: only for a tool that reuses results, in a job that allows it.
        let scanners = self.services.scanners()?;
        let reuses = scanners.get(tool).is_some_and(|s| s.reuses_results());
        if reuses && scanners.cache().is_some() && !job.submission.full_scan {
            let single_pass = scanners.get(tool).and_then(|s| s.single_pass());
            list_source_files(&job, &mut state, single_pass).await?;
        }
        let bundle = Arc::new(BundleWriter::new(workspace.bundle_dir())?);
        let (records, crashes) = pipeline::run_tools(
            &self.services,
            &job,
            &state,
            &[selected],
            &workspace,
            &bundle,
            &progress,
        )
        .await?;
        let record = match records.into_iter().next() {
            Some(record) => record,
            None => failed_record(tool, ToolStatus::Failed, crashes.join("; ")),
        };
        self.push_bundle_files(test_id, &workspace).await?;
        self.put_tool_record(test_id, &record).await?;
        let output = StageOutput {
            tool: Some(tool.to_string()),
            status: Some(record.status.as_str().to_string()),
            ..StageOutput::of(test_id)
        };
        self.record(test_id, &step, output).await
    }

    /// `run-scanner` with a caught failure (the Map iteration's `Catch`): the tool is recorded as failed (or
    /// timed out) unless it had already recorded a result.
    pub async fn record_tool_failure(
        &self,
        test_id: &str,
        tool: &str,
        failure: &Failure,
    ) -> Result<StageOutput> {
        let key = tool_key(tool);
        let status = match self.runs.get(test_id, &key, MAX_RECORD_BYTES).await? {
            Some(bytes) => parse::<ToolRecord>(&bytes, &key)?.status,
            None => {
                let status = if failure.is_timeout() {
                    ToolStatus::TimedOut
                } else {
                    ToolStatus::Failed
                };
                let record = failed_record(tool, status, failure.reason());
                self.put_tool_record(test_id, &record).await?;
                self.progress(test_id)
                    .await?
                    .emit(EventBody::ToolComplete {
                        tool: tool.to_string(),
                        exit_code: None,
                        status: status.as_str().into(),
                        findings: 0,
                    })
                    .await?;
                status
            }
        };
        Ok(StageOutput {
            tool: Some(tool.to_string()),
            status: Some(status.as_str().to_string()),
            ..StageOutput::of(test_id)
        })
    }

    /// `build-bundle`: the verdict, the signed bundle stored, the final record saved. The `scan_complete` it
    /// prepared ends the bundle's `stream.jsonl`; `finalize` commits that very event.
    pub async fn build_bundle(&self, test_id: &str) -> Result<StageOutput> {
        const STEP: &str = "build-bundle";
        if let Some(done) = self.marker(test_id, STEP).await? {
            return Ok(done);
        }
        let mut job = self.job(test_id).await?;
        if job.status.is_terminal() {
            // A retry after the record was saved: keep what was decided.
            return self.record(test_id, STEP, status_output(&job)).await;
        }
        if job.status != JobStatus::Running {
            return Err(not_running(test_id, job.status));
        }
        self.conclude(&mut job, None, STEP).await?;
        self.record(test_id, STEP, status_output(&job)).await
    }

    /// `finalize`: commits the prepared `scan_complete`, exactly once.
    pub async fn finalize(&self, test_id: &str) -> Result<StageOutput> {
        let job = self.job(test_id).await?;
        if !job.status.is_terminal() {
            return Err(StageError::NonRetryable(format!(
                "job '{test_id}' is {}: its bundle has not been built",
                job.status
            )));
        }
        self.ensure_scan_complete(&job).await?;
        Ok(status_output(&job))
    }

    /// `finalize` with a caught failure: the job ends FAILED with the cause — with a bundle of what the run
    /// produced when that can still be built, as the one-process runner does — and `scan_complete` follows.
    pub async fn fail(&self, test_id: &str, failure: &Failure) -> Result<StageOutput> {
        let reason = failure.reason();
        let mut job = self.job(test_id).await?;
        match job.status {
            JobStatus::Queued => {
                job = pipeline::abandon(
                    &self.services.records(),
                    test_id,
                    JobStatus::Failed,
                    &reason,
                )
                .await?;
            }
            JobStatus::Running => match self.conclude(&mut job, Some(reason.clone()), "fail").await
            {
                Ok(terminal) => self.progress(test_id).await?.commit(&terminal).await?,
                Err(e) => {
                    let reason = format!("{reason}; the bundle could not be built either: {e}");
                    job = pipeline::abandon(
                        &self.services.records(),
                        test_id,
                        JobStatus::Failed,
                        &reason,
                    )
                    .await?;
                }
            },
            _ => self.ensure_scan_complete(&job).await?,
        }
        Ok(status_output(&job))
    }

    /// The shared end of `build-bundle` and `fail`: the run's state, tool records and partial bundle brought
    /// together in a fresh workspace, then `pipeline::conclude`.
    async fn conclude(
        &self,
        job: &mut Job,
        step_error: Option<String>,
        step: &str,
    ) -> Result<Event> {
        let test_id = job.test_id.clone();
        let progress = self.progress(&test_id).await?;
        let workspace = self.workspace(&test_id, step)?;
        let mut state = match self.runs.get(&test_id, STATE, MAX_RECORD_BYTES).await? {
            Some(bytes) => parse::<RunState>(&bytes, STATE)?,
            None => RunState::default(),
        };
        state.tools = self.tool_records(&test_id, &state).await?;
        self.pull_bundle_files(&test_id, &workspace).await?;
        let manifest = workspace.bundle_dir().join(bundle::MANIFEST_JSON);
        if manifest.is_file() {
            check_digest(
                &job.test_id,
                "the manifest in the run store",
                job.manifest_digest,
                file_digest(&manifest).await?,
            )?;
        }
        let terminal = pipeline::conclude(
            &self.services,
            job,
            &state,
            &workspace,
            &progress,
            step_error,
        )
        .await?;
        Ok(terminal)
    }

    /// Every planned tool's record; a tool that left none is recorded as failed.
    async fn tool_records(&self, test_id: &str, state: &RunState) -> Result<Vec<ToolRecord>> {
        let mut records = Vec::new();
        let planned = state.profile.as_ref().map(|p| p.tools.as_slice());
        for tool in planned.unwrap_or_default() {
            let key = tool_key(&tool.id);
            records.push(
                match self.runs.get(test_id, &key, MAX_RECORD_BYTES).await? {
                    Some(bytes) => parse(&bytes, &key)?,
                    None => failed_record(
                        &tool.id,
                        ToolStatus::Failed,
                        "no result was recorded".into(),
                    ),
                },
            );
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }

    /// Commits the job's `scan_complete` unless it has one: the event ending the stored bundle's stream (what
    /// `build-bundle` prepared), or a new one when there is no bundle.
    async fn ensure_scan_complete(&self, job: &Job) -> Result<()> {
        let progress = self.progress(&job.test_id).await?;
        pipeline::commit_missing_terminal(
            &self.services.records(),
            Some(self.services.artifacts()?.as_ref()),
            job,
            &progress,
        )
        .await?;
        Ok(())
    }

    async fn running_job(&self, test_id: &str) -> Result<Job> {
        let job = self.job(test_id).await?;
        if job.status != JobStatus::Running {
            return Err(not_running(test_id, job.status));
        }
        Ok(job)
    }

    pub(crate) async fn job(&self, test_id: &str) -> Result<Job> {
        self.services
            .jobs
            .get(test_id)
            .await?
            .ok_or_else(|| StageError::NonRetryable(format!("job '{test_id}' not found")))
    }

    pub(crate) async fn progress(&self, test_id: &str) -> Result<Progress> {
        Ok(Progress::open(
            test_id,
            self.services.events.clone(),
            self.services.sinks.clone(),
        )
        .await?)
    }

    /// The fetched manifest from the run store, checked against the digest `fetch-manifest` recorded.
    async fn manifest_bytes(&self, job: &Job) -> Result<Vec<u8>> {
        let test_id = &job.test_id;
        let key = bundle_key(bundle::MANIFEST_JSON);
        let bytes = self
            .runs
            .get(test_id, &key, certus_core::manifest::MAX_MANIFEST_BYTES)
            .await?
            .ok_or_else(|| {
                StageError::NonRetryable(format!(
                    "job '{test_id}' has no fetched manifest: fetch-manifest has not run"
                ))
            })?;
        check_digest(
            test_id,
            "the manifest in the run store",
            job.manifest_digest,
            Sha256Digest::of(&bytes),
        )?;
        Ok(bytes)
    }

    /// A fresh private workspace for this step (a warm Lambda may still hold an earlier one), directly under
    /// the workspace root and removed when the step ends, however it ends.
    fn workspace(&self, test_id: &str, step: &str) -> Result<StepWorkspace> {
        let settings = &self.services.settings;
        let dir = settings
            .workspace_root
            .join(format!("{test_id}.{}", step.replace('/', "-")));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| certus_core::error::CoreError::io(&dir, e))?;
        }
        Ok(StepWorkspace {
            workspace: RunWorkspace::create(dir)?,
            keep: settings.keep_workspace,
        })
    }

    /// The source snapshot unpacked into `workspace`, once its digest is the one `prepare-source` recorded.
    async fn restore_source(
        &self,
        job: &Job,
        workspace: &RunWorkspace,
        state: &mut RunState,
    ) -> Result<()> {
        let test_id = &job.test_id;
        let tarball = workspace.scratch_dir().join(SOURCE_SNAPSHOT);
        if !self
            .runs
            .get_file(test_id, SOURCE_SNAPSHOT, &tarball)
            .await?
        {
            return Err(StageError::NonRetryable(format!(
                "job '{test_id}' has no source snapshot: prepare-source has not run"
            )));
        }
        check_digest(
            test_id,
            "the source snapshot in the run store",
            job.snapshot_digest,
            file_digest(&tarball).await?,
        )?;
        let dest = workspace.source_dir();
        blocking({
            let dest = dest.clone();
            move || snapshot::unpack(&tarball, &dest)
        })
        .await?;
        if let Some(source) = state.source.as_mut() {
            source.root = dest;
        }
        Ok(())
    }

    /// Every file the step wrote into its bundle directory goes to the run's bundle prefix.
    async fn push_bundle_files(&self, test_id: &str, workspace: &RunWorkspace) -> Result<()> {
        let root = workspace.bundle_dir();
        for rel in files_under(&root)? {
            self.runs
                .put_file(test_id, &bundle_key(&rel), &root.join(&rel))
                .await?;
        }
        Ok(())
    }

    async fn pull_bundle_files(&self, test_id: &str, workspace: &RunWorkspace) -> Result<()> {
        let root = workspace.bundle_dir();
        for key in self.runs.list(test_id, BUNDLE_PREFIX).await? {
            let rel = &key[BUNDLE_PREFIX.len()..];
            let dest = root.join(lexical(rel)?);
            self.runs.get_file(test_id, &key, &dest).await?;
        }
        Ok(())
    }

    async fn put_tool_record(&self, test_id: &str, record: &ToolRecord) -> Result<()> {
        self.put_json(test_id, &tool_key(&record.id), record).await
    }

    async fn load_state(&self, test_id: &str) -> Result<RunState> {
        match self.runs.get(test_id, STATE, MAX_RECORD_BYTES).await? {
            Some(bytes) => parse(&bytes, STATE),
            None => Err(StageError::NonRetryable(format!(
                "job '{test_id}' has no run state: prepare-source has not run"
            ))),
        }
    }

    async fn save_state(&self, test_id: &str, state: &RunState) -> Result<()> {
        self.put_json(test_id, STATE, state).await
    }

    pub(crate) async fn put_json<T: Serialize>(
        &self,
        test_id: &str,
        key: &str,
        value: &T,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| StageError::NonRetryable(format!("{key} could not be encoded: {e}")))?;
        Ok(self.runs.put(test_id, key, bytes).await?)
    }

    async fn marker(&self, test_id: &str, step: &str) -> Result<Option<StageOutput>> {
        let key = marker_key(step);
        match self.runs.get(test_id, &key, MAX_RECORD_BYTES).await? {
            Some(bytes) => Ok(Some(parse(&bytes, &key)?)),
            None => Ok(None),
        }
    }

    async fn record(&self, test_id: &str, step: &str, output: StageOutput) -> Result<StageOutput> {
        self.put_json(test_id, &marker_key(step), &output).await?;
        Ok(output)
    }
}

/// A step's private workspace (the source it restored, its tools' outputs, part of a bundle), removed when
/// the step returns, fails or unwinds unless the operator keeps workspaces: a warm Lambda runs other jobs,
/// other tenants' among them, in the same `/tmp`.
struct StepWorkspace {
    workspace: RunWorkspace,
    keep: bool,
}

impl std::ops::Deref for StepWorkspace {
    type Target = RunWorkspace;

    fn deref(&self) -> &RunWorkspace {
        &self.workspace
    }
}

impl Drop for StepWorkspace {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(self.workspace.root());
        }
    }
}

/// `NonRetryable` unless `found` is the digest the job recorded: what one step left in the run store must be
/// what the next one reads.
fn check_digest(
    test_id: &str,
    what: &str,
    recorded: Option<Sha256Digest>,
    found: Sha256Digest,
) -> Result<()> {
    match recorded {
        Some(recorded) if recorded == found => Ok(()),
        Some(recorded) => Err(StageError::NonRetryable(format!(
            "{what} does not match the digest job '{test_id}' recorded (recorded sha256 {recorded}, \
             found {found}): it was changed between steps"
        ))),
        None => Err(StageError::NonRetryable(format!(
            "job '{test_id}' recorded no digest for {what}: it cannot be checked"
        ))),
    }
}

/// The file table of the restored source (every file read: a restored tree is new to this machine), under the
/// lineage of the job's source as submitted, so per-file tools reuse the results of unchanged content
/// (`certus_core::incremental`); with the tool's single pass, each file read for it is scanned from that read.
async fn list_source_files(
    job: &Job,
    state: &mut RunState,
    single_pass: Option<Arc<dyn SinglePass>>,
) -> Result<()> {
    let Some(source) = state.source.as_mut() else {
        return Ok(());
    };
    let lineage = certus_source::lineage(&job.submission.source);
    let root = source.root.clone();
    let mut files = tokio::task::spawn_blocking(move || {
        tree_table(&root, &PreviousTable::default(), single_pass.as_deref())
    })
    .await
    .map_err(|e| StageError::Retryable(format!("a worker thread failed: {e}")))??
    .files;
    files.lineage = lineage;
    source.files = Some(Arc::new(files));
    Ok(())
}

/// SHA-256 of a file, read off the async workers.
async fn file_digest(path: &Path) -> Result<Sha256Digest> {
    let path = path.to_path_buf();
    let (digest, _size) = tokio::task::spawn_blocking(move || Sha256Digest::of_file(&path))
        .await
        .map_err(|e| StageError::Retryable(format!("a worker thread failed: {e}")))??;
    Ok(digest)
}

fn not_running(test_id: &str, status: JobStatus) -> StageError {
    StageError::NonRetryable(format!("job '{test_id}' is {status}, not RUNNING"))
}

fn status_output(job: &Job) -> StageOutput {
    StageOutput {
        status: Some(job.status.to_string()),
        ..StageOutput::of(&job.test_id)
    }
}

fn failed_record(tool: &str, status: ToolStatus, error: String) -> ToolRecord {
    ToolRecord {
        id: tool.to_string(),
        version: "unknown".into(),
        status,
        exit_code: None,
        counts: Default::default(),
        reported: 0,
        suppressed: 0,
        sample: false,
        error: Some(error),
        duration_ms: 0,
        coverage_gaps: Vec::new(),
        cache: None,
    }
}

fn bundle_key(rel: &str) -> String {
    format!("{BUNDLE_PREFIX}{rel}")
}

fn tool_key(tool: &str) -> String {
    format!("{TOOLS_PREFIX}{tool}.json")
}

fn marker_key(step: &str) -> String {
    format!("stages/{step}.json")
}

fn lexical(rel: &str) -> Result<PathBuf> {
    Ok(certus_core::workspace::lexically_confined(rel)?)
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| StageError::NonRetryable(format!("{what} is not readable: {e}")))
}

/// Bundle-relative paths of the regular files under `root`.
fn files_under(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(root, &entry.path(), out)?;
            } else if kind.is_file() {
                if let Ok(rel) = entry.path().strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out).map_err(|e| certus_core::error::CoreError::io(root, e))?;
    out.sort();
    Ok(out)
}

async fn blocking<F>(work: F) -> Result<()>
where
    F: FnOnce() -> certus_core::error::Result<()> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StageError::Retryable(format!("a worker thread failed: {e}")))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(root: &Path, keep: bool) -> StepWorkspace {
        StepWorkspace {
            workspace: RunWorkspace::create(root.join("test_1.run-scanner-secrets")).unwrap(),
            keep,
        }
    }

    /// What a step that fails part way leaves: its workspace holds a restored file when the error returns.
    fn failing_step(root: &Path, keep: bool) -> Result<()> {
        let workspace = step(root, keep);
        std::fs::write(workspace.source_dir().join("secret.txt"), "tenant data").unwrap();
        Err(StageError::NonRetryable("the step failed".into()))
    }

    #[test]
    fn a_step_leaves_nothing_in_the_workspace_root_however_it_ends_unless_workspaces_are_kept() {
        let root = tempfile::tempdir().unwrap();
        let listing = || {
            let entries = std::fs::read_dir(root.path()).unwrap();
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect::<Vec<_>>()
        };
        drop(step(root.path(), false));
        assert!(listing().is_empty());
        assert!(failing_step(root.path(), false).is_err());
        assert!(listing().is_empty(), "{:?}", listing());
        let unwound = std::panic::catch_unwind(|| {
            let _workspace = step(root.path(), false);
            panic!("a step that panics");
        });
        assert!(unwound.is_err());
        assert!(listing().is_empty(), "{:?}", listing());
        assert!(failing_step(root.path(), true).is_err());
        assert_eq!(listing(), ["test_1.run-scanner-secrets"]);
    }
}
