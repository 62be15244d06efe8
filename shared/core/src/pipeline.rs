//! The scan pipeline, written once against the ports so the Lambdas and the local runner share it:
//! prepare source → resolve manifest → verify → run scanners → build bundle → finalize.
//!
//! Every job that starts ends in a terminal state; the job record and the bundle are final before the one
//! `scan_complete` event is committed, and that same event is the last line of the bundle's `stream.jsonl`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

use crate::attestation::{attest, BuilderInfo, SIGNING_KEY_INFO};
use crate::bundle::{self, BundleWriter};
use crate::digest::{canonical_json, Sha256Digest};
use crate::error::{CoreError, FieldError, Result};
use crate::event::{Event, EventBody};
use crate::finding::{threshold_violations, SeverityCounts};
use crate::fingerprint::FingerprintKey;
use crate::ids::new_test_id;
use crate::incremental::{Incremental, ScanCache, SinglePass};
use crate::job::{Job, JobStatus};
use crate::manifest::{manifest_info, Manifest, ResolvedProfile, SelectedTool, MAX_MANIFEST_BYTES};
use crate::policy::{counted, sarif_fingerprints, FindingPolicy, ThresholdScope};
use crate::ports::{
    ArtifactStore, BundleSigner, EventLog, EventSink, JobQuery, JobStore, LogFn, LogStream,
    ManifestFetcher, ManifestVerifier, PreparedSource, Reuse, ScanRequest, Scanner, SourcePreparer,
    ToolOutput, ToolStatus,
};
use crate::progress::Progress;
use crate::record::{FindingsSummary, ManifestVerification};
use crate::report::{report_markdown, summary_json, total_counts, ToolRecord};
use crate::report_html::{report_html, HtmlReport, SbomSummary};
use crate::request::{BaselineSource, ManifestSource, SignatureSource, ValidatedSubmission};
use crate::sarif::{merged_log, read_findings, sarif_log, RunInfo};
use crate::time;
use crate::workspace::{confined_join, RunWorkspace};

/// Signature files larger than this are refused.
pub const MAX_SIGNATURE_BYTES: usize = 1024 * 1024;
/// A scanner's findings beyond this count are cut (with a warning) so a hostile tree cannot exhaust memory.
pub const MAX_FINDINGS_PER_TOOL: usize = 100_000;
const SAMPLE_TOOL: &str = "sample";

/// The scanners available in this deployment, by canonical id.
#[derive(Clone, Default)]
pub struct ScannerSet {
    scanners: BTreeMap<String, Arc<dyn Scanner>>,
    sample_mode: bool,
    cache: Option<Arc<dyn ScanCache>>,
}

impl ScannerSet {
    pub fn new(scanners: Vec<Arc<dyn Scanner>>) -> Self {
        Self {
            scanners: scanners
                .into_iter()
                .map(|s| (s.id().to_string(), s))
                .collect(),
            sample_mode: false,
            cache: None,
        }
    }

    /// The same scanners, letting per-file tools reuse results kept in `cache` (`certus scan --no-cache`
    /// leaves it out).
    pub fn with_cache(self, cache: Arc<dyn ScanCache>) -> Self {
        Self {
            cache: Some(cache),
            ..self
        }
    }

    /// Only the sample scanner, standing in for every tool a profile names (the operator's sample mode).
    pub fn sample_only(sample: Arc<dyn Scanner>) -> Self {
        Self {
            sample_mode: true,
            ..Self::new(vec![sample])
        }
    }

    pub fn sample_mode(&self) -> bool {
        self.sample_mode
    }

    /// Where per-file tools keep their results between scans, if anywhere.
    pub fn cache(&self) -> Option<&Arc<dyn ScanCache>> {
        self.cache.as_ref()
    }

    pub fn supports(&self, id: &str) -> bool {
        self.scanners.contains_key(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<dyn Scanner>> {
        self.scanners.get(id).cloned()
    }

    pub fn ids(&self) -> Vec<&str> {
        self.scanners.keys().map(String::as_str).collect()
    }
}

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Where per-run workspaces are created (`<dir>/<test_id>`).
    pub workspace_root: PathBuf,
    /// Keep the private workspace (source clone, scratch) after the run, for debugging.
    pub keep_workspace: bool,
    pub max_parallel_tools: usize,
    pub max_log_lines_per_tool: usize,
    /// The operator's ceiling on any tool's run time; a manifest may ask for less, never more.
    pub max_tool_timeout: std::time::Duration,
    /// `ws://host:port` (or `wss://`) that stream URLs are built on, or a WebSocket API stage URL (see
    /// [`stream_url`]).
    pub stream_base: String,
    pub builder: BuilderInfo,
    /// Who runs jobs here (`pid:<n>` locally), recorded on each job so a crash can be recognised.
    pub runner_id: String,
}

/// What recording a job needs, and nothing else: its record, its events and where they are pushed live, and
/// the base of its stream URL. Submitting, abandoning and ending interrupted jobs take only this, so a function
/// that records and starts scans without running one (the `api` and `push-trigger` Lambdas) builds no other port.
#[derive(Clone)]
pub struct Records {
    pub jobs: Arc<dyn JobStore>,
    pub events: Arc<dyn EventLog>,
    pub sinks: Vec<Arc<dyn EventSink>>,
    /// Stream URLs in job records are built on it ([`stream_url`]).
    pub stream_base: String,
}

/// Everything the pipeline talks to. Beyond the records, every port is optional so that a step built for one
/// part of the pipeline (one Lambda of the state machine) holds only the ports that part uses: the others are
/// never built, and asking for one is a `Config` error naming it (a wiring mistake, never retried).
#[derive(Clone)]
pub struct Services {
    pub jobs: Arc<dyn JobStore>,
    pub events: Arc<dyn EventLog>,
    pub sinks: Vec<Arc<dyn EventSink>>,
    /// Where bundles are stored and read back.
    pub artifacts: Option<Arc<dyn ArtifactStore>>,
    pub sources: Option<Arc<dyn SourcePreparer>>,
    pub fetcher: Option<Arc<dyn ManifestFetcher>>,
    pub verifier: Option<Arc<dyn ManifestVerifier>>,
    /// Signs bundles and upload requests.
    pub signer: Option<Arc<dyn BundleSigner>>,
    pub scanners: Option<ScannerSet>,
    /// Keys every finding's fingerprint (per deployment: baselines compare only under the same key). A tool
    /// run without a key fails.
    pub fingerprint_key: Option<FingerprintKey>,
    pub settings: PipelineSettings,
}

impl Services {
    pub fn artifacts(&self) -> Result<&Arc<dyn ArtifactStore>> {
        self.port(self.artifacts.as_ref(), "artifacts")
    }

    pub fn sources(&self) -> Result<&Arc<dyn SourcePreparer>> {
        self.port(self.sources.as_ref(), "sources")
    }

    pub fn fetcher(&self) -> Result<&Arc<dyn ManifestFetcher>> {
        self.port(self.fetcher.as_ref(), "fetcher")
    }

    pub fn verifier(&self) -> Result<&Arc<dyn ManifestVerifier>> {
        self.port(self.verifier.as_ref(), "verifier")
    }

    pub fn signer(&self) -> Result<&Arc<dyn BundleSigner>> {
        self.port(self.signer.as_ref(), "signer")
    }

    pub fn scanners(&self) -> Result<&ScannerSet> {
        self.port(self.scanners.as_ref(), "scanners")
    }

    /// A port, or a `Config` error naming it where this runner was built without it.
    fn port<'a, T: ?Sized>(&self, port: Option<&'a T>, name: &str) -> Result<&'a T> {
        port.ok_or_else(|| {
            CoreError::Config(format!(
                "runner {} has no {name} port (this part of the pipeline was built without it)",
                self.settings.runner_id
            ))
        })
    }

    /// The job records these services keep ([`Records`]).
    pub fn records(&self) -> Records {
        Records {
            jobs: self.jobs.clone(),
            events: self.events.clone(),
            sinks: self.sinks.clone(),
            stream_base: self.settings.stream_base.clone(),
        }
    }
}

/// What the steps hand to each other; small and serialisable so it can travel between Lambdas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub source: Option<PreparedSource>,
    pub profile: Option<ResolvedProfile>,
    pub policy: Option<FindingPolicy>,
    pub tools: Vec<ToolRecord>,
}

/// Validates nothing (the submission already is) — creates the QUEUED job record.
pub async fn submit(records: &Records, submission: ValidatedSubmission) -> Result<Job> {
    submit_with_id(records, submission, new_test_id()?).await
}

/// Like [`submit`], under a chosen id (a push trigger derives it from the delivery, so a redelivered event
/// finds the job already there: `JobExists`).
pub async fn submit_with_id(
    records: &Records,
    submission: ValidatedSubmission,
    test_id: String,
) -> Result<Job> {
    submit_for(records, submission, test_id, None).await
}

/// Like [`submit_with_id`], recording the tenant the job belongs to (the API shows it to that tenant only).
pub async fn submit_for(
    records: &Records,
    submission: ValidatedSubmission,
    test_id: String,
    tenant: Option<String>,
) -> Result<Job> {
    let stream_url = stream_url(&records.stream_base, &test_id);
    let mut job = Job::queued(test_id, submission, stream_url, time::now());
    job.tenant = tenant;
    records.jobs.create(&job).await?;
    Ok(job)
}

/// Where a client follows a job's events. A server's base (`ws://host:port`, no path) gets the job's stream
/// route appended; a base with a path is a WebSocket API stage (`wss://<api>.execute-api.<region>.<suffix>/<stage>`)
/// and is the URL itself: clients connect there and send `{"action":"subscribe","test_id":…}`.
pub fn stream_url(base: &str, test_id: &str) -> String {
    let base = base.trim_end_matches('/');
    let has_path = base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        base.to_string()
    } else {
        format!("{base}/v1/security-scans/{test_id}/stream")
    }
}

/// Runs a QUEUED job to its terminal state and returns the final record.
pub async fn run(services: &Services, test_id: &str) -> Result<Job> {
    let mut job = services
        .jobs
        .get(test_id)
        .await?
        .ok_or_else(|| CoreError::JobNotFound(test_id.to_string()))?;
    let progress =
        Arc::new(Progress::open(test_id, services.events.clone(), services.sinks.clone()).await?);
    if job.status.is_terminal()
        && commit_missing_terminal(
            &services.records(),
            Some(services.artifacts()?.as_ref()),
            &job,
            &progress,
        )
        .await?
    {
        return Ok(job);
    }
    job.start(time::now())?;
    job.runner = Some(services.settings.runner_id.clone());
    services.jobs.save(&job).await?;
    progress.emit(EventBody::phase("scan started")).await?;

    let workspace_dir = services.settings.workspace_root.join(test_id);
    let outcome = match RunWorkspace::create(workspace_dir.clone()) {
        Ok(workspace) => {
            let mut state = RunState::default();
            let steps = run_steps(services, &mut job, &mut state, &workspace, &progress).await;
            let finished = finish(
                services,
                &mut job,
                &state,
                &workspace,
                &progress,
                steps.err(),
            )
            .await;
            free_in_background(state);
            if !services.settings.keep_workspace {
                // The bundle has been stored elsewhere; the private workspace (clone, scratch) goes.
                if let Err(e) = std::fs::remove_dir_all(&workspace_dir) {
                    job.warnings.push(format!("workspace cleanup failed: {e}"));
                }
            }
            finished
        }
        Err(e) => finish_without_bundle(&services.records(), &mut job, &progress, e).await,
    };
    outcome.map(|()| job)
}

/// Frees a finished run's state (its file table, every tool's results: hundreds of thousands of allocations
/// for a large tree) on a thread of its own, so that the job's caller is answered without waiting for it. The
/// hold on a kept tree is released here first: the next scan of that tree may start at once. When no thread
/// can be started, the rest is freed here too.
fn free_in_background(mut state: RunState) {
    if let Some(source) = state.source.as_mut() {
        drop(source.lease.take());
    }
    let _ = std::thread::Builder::new()
        .name("certus-free".into())
        .spawn(move || drop(state));
}

const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;

/// A re-run of a job whose record is final but whose `scan_complete` was never committed (the store lost the
/// acknowledgement of the final save, or refused the event) commits that event — the very one ending the
/// bundle's `stream.jsonl` when the bundle has it. Returns whether it did. `bundles` is `None` where no bundle
/// can be read (the edge functions): a job with a bundle is then refused rather than given an event that could
/// disagree with the one ending its bundle's stream.
pub async fn commit_missing_terminal(
    records: &Records,
    bundles: Option<&dyn ArtifactStore>,
    job: &Job,
    progress: &Progress,
) -> Result<bool> {
    let history = records.events.history(&job.test_id, 0).await?;
    if history.iter().any(|e| e.body.is_terminal()) {
        return Ok(false);
    }
    let fresh = progress
        .prepare_terminal(EventBody::ScanComplete {
            status: job.status,
            manifest_digest: job.manifest_digest,
            bundle: job.bundle_location.clone(),
        })
        .await;
    let bundled = match (&job.bundle_location, bundles) {
        (Some(location), Some(bundles)) => {
            bundles
                .read_file(location, bundle::STREAM, MAX_STREAM_BYTES)
                .await?
        }
        (Some(location), None) => {
            // A wiring limit, not an outage: never retried.
            return Err(CoreError::Config(format!(
                "job '{}': its bundle {location} cannot be read here, so its missing scan_complete is \
                 not committed here",
                job.test_id
            )));
        }
        (None, _) => None,
    };
    let from_bundle = bundled
        .as_deref()
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.lines().last())
        .and_then(|line| serde_json::from_str::<Event>(line).ok())
        .filter(|e| e.body.is_terminal() && e.seq == fresh.seq && e.test_id == job.test_id);
    progress.commit(&from_bundle.unwrap_or(fresh)).await?;
    Ok(true)
}

async fn run_steps(
    services: &Services,
    job: &mut Job,
    state: &mut RunState,
    workspace: &RunWorkspace,
    progress: &Arc<Progress>,
) -> Result<()> {
    let bundle = Arc::new(BundleWriter::new(workspace.bundle_dir())?);
    // A manifest kept outside the source is read and verified first: a source is never fetched for a manifest
    // that fails, and the profile's per-file tools can scan each file as it is read for the digest.
    if job.submission.manifest_in_source() {
        prepare_source(services, job, state, workspace, progress).await?;
        resolve_manifest(services, job, state, &bundle, progress).await?;
    } else {
        resolve_manifest(services, job, state, &bundle, progress).await?;
        prepare_source(services, job, state, workspace, progress).await?;
    }
    run_scanners(services, job, state, workspace, &bundle, progress).await
}

/// Steps 2 to 4: the manifest fetched and verified, and the profile it names resolved.
async fn resolve_manifest(
    services: &Services,
    job: &mut Job,
    state: &mut RunState,
    bundle: &BundleWriter,
    progress: &Progress,
) -> Result<()> {
    let (manifest_bytes, signature) =
        fetch_manifest(services, job, state, bundle, progress).await?;
    verify_manifest(
        services,
        job,
        &manifest_bytes,
        signature.as_deref(),
        progress,
    )
    .await?;
    resolve_profile(services, job, state, &manifest_bytes, bundle).await
}

/// The single pass ([`SinglePass`]) of the first tool of the resolved profile that offers one, when the
/// profile is known before the source is read and the tools get a file table (a scan cache is configured).
fn single_pass(services: &Services, state: &RunState) -> Option<Arc<dyn SinglePass>> {
    let scanners = services.scanners().ok()?;
    scanners.cache()?;
    let tools = &state.profile.as_ref()?.tools;
    tools
        .iter()
        .find_map(|tool| scanners.get(&tool.id)?.single_pass())
}

/// Step 1: the code to scan, inside the workspace, with its resolved commit or content digest.
pub async fn prepare_source(
    services: &Services,
    job: &mut Job,
    state: &mut RunState,
    workspace: &RunWorkspace,
    progress: &Progress,
) -> Result<()> {
    progress
        .emit(EventBody::phase(format!(
            "preparing {} source",
            job.source_type
        )))
        .await?;
    let (reuse, single_pass) = match job.submission.full_scan {
        true => (Reuse::Never, None),
        false => (
            Reuse::Allowed {
                tenant: job.tenant.as_deref(),
            },
            single_pass(services, state),
        ),
    };
    let prepared = services
        .sources()?
        .prepare(&job.submission.source, workspace, reuse, single_pass)
        .await?;
    job.commit = prepared.commit.clone();
    if prepared.branch.is_some() {
        job.branch = prepared.branch.clone();
    }
    job.source_digest = prepared
        .content_digest
        .as_deref()
        .map(|digest| Sha256Digest::parse_field("content digest of the source", digest))
        .transpose()?;
    job.warnings.extend(prepared.warnings.iter().cloned());
    progress
        .emit(EventBody::Phase {
            message: "source ready".into(),
            commit: prepared.commit.clone(),
            branch: prepared.branch.clone(),
            hash: prepared.content_digest.clone(),
        })
        .await?;
    services.jobs.save(job).await?;
    state.source = Some(prepared);
    Ok(())
}

/// Step 2: the manifest's exact bytes (canonical bytes for an inline manifest), its digest and signature.
/// Both are written into the bundle as they are.
pub async fn fetch_manifest(
    services: &Services,
    job: &mut Job,
    state: &RunState,
    bundle: &BundleWriter,
    progress: &Progress,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let source_root = state.source.as_ref().map(|s| s.root.as_path());
    let bytes = match &job.submission.manifest {
        ManifestSource::Inline(value) => canonical_json(value)?,
        ManifestSource::RepoPath(rel) => {
            read_in_source(source_root, rel, "manifest_path", MAX_MANIFEST_BYTES)?
        }
        ManifestSource::Uri(uri) => services.fetcher()?.fetch(uri, MAX_MANIFEST_BYTES).await?,
    };
    let signature = match &job.submission.signature {
        None => None,
        Some(SignatureSource::Inline(text)) => Some(text.as_bytes().to_vec()),
        Some(SignatureSource::RepoPath(rel)) => Some(read_in_source(
            source_root,
            rel,
            "manifest_signature_path",
            MAX_SIGNATURE_BYTES,
        )?),
        Some(SignatureSource::Uri(uri)) => {
            Some(services.fetcher()?.fetch(uri, MAX_SIGNATURE_BYTES).await?)
        }
    };
    let digest = Sha256Digest::of(&bytes);
    job.manifest_digest = Some(digest);
    bundle.write(bundle::MANIFEST_JSON, &bytes)?;
    if let Some(sig) = &signature {
        bundle.write(bundle::MANIFEST_SIG, sig)?;
    }
    progress
        .emit(EventBody::Phase {
            message: "manifest fetched".into(),
            commit: None,
            branch: None,
            hash: Some(digest.to_string()),
        })
        .await?;
    Ok((bytes, signature))
}

fn read_in_source(root: Option<&Path>, rel: &str, field: &str, cap: usize) -> Result<Vec<u8>> {
    let root =
        root.ok_or_else(|| CoreError::Manifest(format!("{field} needs a prepared source")))?;
    let path = confined_join(root, rel)?;
    read_capped(&path, cap).map_err(|e| match e {
        CoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            CoreError::Manifest(format!("{field} '{rel}' does not exist in the source"))
        }
        other => other,
    })
}

/// Reads a regular file of at most `cap` bytes.
pub fn read_capped(path: &Path, cap: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let meta = file.metadata().map_err(|e| CoreError::io(path, e))?;
    if !meta.is_file() {
        return Err(CoreError::Manifest(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CoreError::io(path, e))?;
    if bytes.len() > cap {
        return Err(CoreError::Manifest(format!(
            "{} is larger than the limit of {cap} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Step 3: the signature over the exact manifest bytes, before anything runs. Fails closed.
pub async fn verify_manifest(
    services: &Services,
    job: &mut Job,
    manifest: &[u8],
    signature: Option<&[u8]>,
    progress: &Progress,
) -> Result<()> {
    let verifier = services.verifier()?;
    let record = match signature {
        Some(sig) => verifier.verify(manifest, sig).await?,
        None if verifier.required() => {
            return Err(CoreError::Verification(
                "manifest verification is required but no signature was provided \
                 (give manifest_signature, manifest_signature_path or manifest_signature_uri)"
                    .into(),
            ))
        }
        None => {
            job.warnings.push(
                "manifest is not signed and verification is not required: its origin is unproven"
                    .into(),
            );
            ManifestVerification::unsigned()
        }
    };
    let method = record.method.clone();
    job.manifest_verification = Some(record);
    progress
        .emit(EventBody::phase(format!("manifest verification: {method}")))
        .await?;
    Ok(())
}

/// Step 4: the tools the profile names (each must be one of `services.scanners`, which on AWS includes the
/// tools the Fargate task runs; a tool that cannot run fails the job unless the manifest marks it optional),
/// and the finding policy (suppressions, baseline) they are judged by.
pub async fn resolve_profile(
    services: &Services,
    job: &mut Job,
    state: &mut RunState,
    manifest_bytes: &[u8],
    bundle: &BundleWriter,
) -> Result<()> {
    let manifest = Manifest::parse(manifest_bytes)?;
    if let Some(applies_to) = &manifest.applies_to {
        applies_to.check(job, time::now())?;
    }
    let scanners = services.scanners()?;
    let mut profile = if scanners.sample_mode() {
        // The operator chose canned output for every tool (CERTUS_ASSURANCE_SAMPLE_MODE); said out loud.
        let mut profile = manifest.resolve_profile(&job.profile, &|_| true)?;
        let stood_for: Vec<String> = profile.tools.iter().map(|t| t.id.clone()).collect();
        profile.warnings.push(format!(
            "sample mode: canned sample output stands in for {}; this verdict says nothing about the source",
            stood_for.join(", ")
        ));
        profile.tools = vec![SelectedTool {
            id: SAMPLE_TOOL.into(),
            requested_as: SAMPLE_TOOL.into(),
            config: None,
        }];
        profile
    } else {
        manifest.resolve_profile(&job.profile, &|id| scanners.supports(id))?
    };
    profile.tool_timeout = profile.tool_timeout.min(services.settings.max_tool_timeout);
    let digest = job.manifest_digest.ok_or_else(|| {
        CoreError::Validation(vec![FieldError::new(
            "manifest_digest",
            "is not recorded: the manifest has not been fetched",
        )])
    })?;
    let info = manifest_info(&manifest, &profile, digest);
    bundle.write_json(bundle::MANIFEST_INFO, &info)?;
    job.manifest_metadata = Some(info);
    job.warnings.extend(profile.warnings.iter().cloned());

    let (mut policy, expired) = FindingPolicy::new(&manifest.suppressions, time::now())?;
    job.warnings.extend(expired);
    if let Some(fingerprints) = load_baseline(services, job).await? {
        policy = policy.with_baseline(fingerprints);
    }
    if profile.threshold_scope == ThresholdScope::New && !policy.has_baseline() {
        job.warnings
            .push("thresholdScope is 'new' but no baseline was given: every finding counts".into());
    }
    state.policy = Some(policy);
    state.profile = Some(profile);
    Ok(())
}

const MAX_BASELINE_BYTES: usize = 64 * 1024 * 1024;

/// Fingerprints of the baseline's findings, from an earlier job of the same workspace or a local file.
async fn load_baseline(services: &Services, job: &Job) -> Result<Option<HashSet<String>>> {
    let invalid =
        |message: String| CoreError::Validation(vec![FieldError::new("baseline_test_id", message)]);
    let bytes = match &job.submission.baseline {
        None => return Ok(None),
        Some(BaselineSource::TestId(id)) => {
            let base = services
                .jobs
                .get(id)
                .await?
                .filter(|b| b.ids.workspace_id == job.ids.workspace_id)
                .ok_or_else(|| {
                    invalid(format!(
                        "'{id}' is not a job of workspace '{}'",
                        job.ids.workspace_id
                    ))
                })?;
            let location = base
                .bundle_location
                .ok_or_else(|| invalid(format!("job '{id}' has no bundle to compare with")))?;
            services
                .artifacts()?
                .read_file(&location, bundle::MERGED_SARIF, MAX_BASELINE_BYTES)
                .await?
                .ok_or_else(|| {
                    invalid(format!(
                        "job '{id}' has no findings (no {})",
                        bundle::MERGED_SARIF
                    ))
                })?
        }
        Some(BaselineSource::Path(path)) => {
            let path = Path::new(path);
            let file = if path.is_dir() {
                path.join(bundle::MERGED_SARIF)
            } else {
                path.to_path_buf()
            };
            read_capped(&file, MAX_BASELINE_BYTES)?
        }
    };
    let sarif: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| CoreError::json("baseline SARIF", e))?;
    sarif_fingerprints(&sarif)
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

enum ToolMessage {
    Event(EventBody),
    Done(ToolRecord),
}

/// Step 5: every selected tool, concurrently (bounded), each writing its SARIF and attachments to the bundle.
pub async fn run_scanners(
    services: &Services,
    job: &mut Job,
    state: &mut RunState,
    workspace: &RunWorkspace,
    bundle: &Arc<BundleWriter>,
    progress: &Arc<Progress>,
) -> Result<()> {
    let profile = state
        .profile
        .clone()
        .ok_or_else(|| CoreError::Manifest("no resolved profile".into()))?;
    progress
        .emit(EventBody::phase(format!(
            "running {} tool(s): {}",
            profile.tools.len(),
            profile
                .tools
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .await?;
    let (records, crashes) = run_tools(
        services,
        job,
        state,
        &profile.tools,
        workspace,
        bundle,
        progress,
    )
    .await?;
    job.errors.extend(crashes);
    state.tools = records;
    Ok(())
}

/// Runs `tools` of the resolved profile (all of them, or one when each tool runs on its own machine) and
/// returns their records in id order, and a message for each scanner task that crashed.
pub async fn run_tools(
    services: &Services,
    job: &Job,
    state: &RunState,
    tools: &[SelectedTool],
    workspace: &RunWorkspace,
    bundle: &Arc<BundleWriter>,
    progress: &Arc<Progress>,
) -> Result<(Vec<ToolRecord>, Vec<String>)> {
    let profile = state
        .profile
        .clone()
        .ok_or_else(|| CoreError::Manifest("no resolved profile".into()))?;
    let source_root = state
        .source
        .as_ref()
        .map(|s| s.root.clone())
        .ok_or_else(|| CoreError::Source("no prepared source".into()))?;
    let incremental = match (
        state.source.as_ref().and_then(|s| s.files.clone()),
        services.scanners()?.cache.clone(),
    ) {
        (Some(files), Some(cache)) => Some(Incremental::new(
            files,
            cache,
            job.tenant.as_deref(),
            &job.ids.component_id,
        )),
        _ => None,
    };

    // One ordered channel: a tool's log lines are sent before its completion, so events keep that order.
    let policy = Arc::new(state.policy.clone().unwrap_or_default());
    let (tx, mut rx) = mpsc::unbounded_channel::<ToolMessage>();
    let permits = Arc::new(Semaphore::new(services.settings.max_parallel_tools.max(1)));
    if let Some(lease) = state.source.as_ref().and_then(|s| s.lease.as_ref()) {
        let scanners = services.scanners()?;
        let reads_only = |id: &str| scanners.get(id).is_some_and(|s| s.reads_tree_only());
        if !tools.iter().all(|tool| reads_only(&tool.id)) {
            lease.exposing()?;
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for tool in tools {
        let scanner = services
            .scanners()?
            .get(&tool.id)
            .ok_or_else(|| CoreError::Scanner {
                tool: tool.id.clone(),
                reason: "no such scanner here".into(),
            })?;
        let scratch = workspace.scratch_dir().join(&tool.id);
        std::fs::create_dir_all(&scratch).map_err(|e| CoreError::io(&scratch, e))?;
        let request = ScanRequest {
            subject: job.ids.component_id.clone(),
            source_root: source_root.clone(),
            scratch_dir: scratch,
            config: tool.config.clone(),
            timeout: profile.tool_timeout,
            log: log_forwarder(
                &tool.id,
                tx.clone(),
                services.settings.max_log_lines_per_tool,
            ),
            incremental: incremental.clone(),
        };
        let tx = tx.clone();
        let permits = permits.clone();
        let bundle = bundle.clone();
        let policy = policy.clone();
        let scope = profile.threshold_scope;
        let key = services.fingerprint_key.clone();
        tasks.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let judge = Judge {
                policy: &policy,
                scope,
                key: key.as_ref(),
            };
            let record = run_one(scanner, request, &bundle, &judge, &tx).await;
            let _ = tx.send(ToolMessage::Done(record));
        });
    }
    drop(tx);

    let mut records = Vec::new();
    while let Some(message) = rx.recv().await {
        match message {
            ToolMessage::Event(body) => {
                progress.emit(body).await?;
            }
            ToolMessage::Done(record) => {
                progress
                    .emit(EventBody::ToolComplete {
                        tool: record.id.clone(),
                        exit_code: record.exit_code,
                        status: record.status.as_str().into(),
                        findings: record.findings(),
                    })
                    .await?;
                records.push(record);
            }
        }
    }
    let mut crashes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            crashes.push(format!("a scanner task crashed: {e}"));
        }
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((records, crashes))
}

fn log_forwarder(tool: &str, tx: mpsc::UnboundedSender<ToolMessage>, max_lines: usize) -> LogFn {
    let tool = tool.to_string();
    let sent = Arc::new(AtomicUsize::new(0));
    Arc::new(move |stream: LogStream, line: &str| {
        let n = sent.fetch_add(1, Ordering::Relaxed);
        let line = if n < max_lines {
            line.chars().take(2000).collect()
        } else if n == max_lines {
            format!("… further output of {tool} not streamed (limit {max_lines} lines)")
        } else {
            return;
        };
        let _ = tx.send(ToolMessage::Event(EventBody::Log {
            tool: tool.clone(),
            stream: stream.as_str().into(),
            line,
        }));
    })
}

/// Coverage gaps listed per tool; further ones are only counted.
const MAX_COVERAGE_GAPS: usize = 50;

fn bounded_gaps(gaps: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = gaps.iter().take(MAX_COVERAGE_GAPS).cloned().collect();
    if gaps.len() > MAX_COVERAGE_GAPS {
        kept.push(format!(
            "{} more input(s) not read",
            gaps.len() - MAX_COVERAGE_GAPS
        ));
    }
    kept
}

/// What a tool's findings are judged by: fingerprint key, suppressions and baseline, threshold scope.
struct Judge<'a> {
    policy: &'a FindingPolicy,
    scope: ThresholdScope,
    key: Option<&'a FingerprintKey>,
}

async fn run_one(
    scanner: Arc<dyn Scanner>,
    request: ScanRequest,
    bundle: &BundleWriter,
    judge: &Judge<'_>,
    tx: &mpsc::UnboundedSender<ToolMessage>,
) -> ToolRecord {
    let id = scanner.id().to_string();
    let source_root = request.source_root.clone();
    let _ = tx.send(ToolMessage::Event(EventBody::ToolStart {
        tool: id.clone(),
        command: scanner.command(&request),
    }));
    let started = Instant::now();
    let mut output = scanner.scan(request).await;
    let mut record = ToolRecord {
        id: id.clone(),
        version: scanner.version(),
        status: output.status,
        exit_code: output.exit_code,
        counts: SeverityCounts::default(),
        reported: 0,
        suppressed: 0,
        sample: scanner.is_sample(),
        error: output.error.clone(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        coverage_gaps: bounded_gaps(&output.coverage_gaps),
        cache: output.cache.clone(),
    };
    if output.findings.len() > MAX_FINDINGS_PER_TOOL {
        output.findings.truncate(MAX_FINDINGS_PER_TOOL);
        output
            .warnings
            .push(format!("{id}: findings cut at {MAX_FINDINGS_PER_TOOL}"));
    }
    // Fingerprints read the flagged lines: file I/O, off the async workers. Unkeyed digests never leave.
    let mut findings = std::mem::take(&mut output.findings);
    let keyed = match judge.key.cloned() {
        Some(key) => tokio::task::spawn_blocking(move || {
            key.assign(&mut findings, &source_root);
            findings
        })
        .await
        .map_err(|e| format!("its findings could not be fingerprinted: {e}")),
        None => Err("no fingerprint key is configured in this step".to_string()),
    };
    match keyed {
        Ok(keyed) => output.findings = keyed,
        Err(e) => {
            record.status = ToolStatus::Failed;
            record.error = Some(e);
        }
    }
    judge.policy.apply(&mut output.findings);
    record.counts = counted(&output.findings, judge.scope);
    record.reported = output.findings.len() as u64;
    record.suppressed = output
        .findings
        .iter()
        .filter(|f| f.suppression.is_some())
        .count() as u64;
    if let Err(e) = write_tool_outputs(&record, &output, bundle) {
        record.status = ToolStatus::Failed;
        record.error = Some(format!(
            "its output could not be written to the bundle: {e}"
        ));
    }
    for warning in &output.warnings {
        let _ = tx.send(ToolMessage::Event(EventBody::Log {
            tool: id.clone(),
            stream: "warning".into(),
            line: warning.clone(),
        }));
    }
    record
}

fn write_tool_outputs(
    record: &ToolRecord,
    output: &ToolOutput,
    bundle: &BundleWriter,
) -> Result<()> {
    let info = RunInfo {
        tool: &record.id,
        version: &record.version,
        exit_code: record.exit_code,
        successful: record.status == ToolStatus::Completed,
        sample: record.sample,
    };
    bundle.write_json(
        &bundle::sarif_path(&record.id),
        &sarif_log(&info, &output.findings),
    )?;
    for attachment in &output.attachments {
        if !attachment.bundle_path.starts_with("reports/") {
            return Err(CoreError::Bundle(format!(
                "{} may only add files under reports/, not '{}'",
                record.id, attachment.bundle_path
            )));
        }
        bundle.write(&attachment.bundle_path, &attachment.bytes)?;
    }
    Ok(())
}

/// The final status, the reasons for it, and the threshold violations among them.
fn verdict(job: &Job, state: &RunState) -> (JobStatus, Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    for tool in &state.tools {
        if tool.status != ToolStatus::Completed {
            errors.push(format!(
                "tool '{}' {}: {}",
                tool.id,
                tool.status.as_str(),
                tool.error.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    let violations = state
        .profile
        .as_ref()
        .map(|p| threshold_violations(&total_counts(&state.tools), &p.thresholds))
        .unwrap_or_default();
    if !violations.is_empty() {
        errors.push(violations.join("; "));
    }
    let status = if job.errors.is_empty() && errors.is_empty() {
        JobStatus::Succeeded
    } else {
        JobStatus::Failed
    };
    (status, errors, violations)
}

/// Steps 6 and 7: decide, write the bundle (index last), store it, save the final record, then commit the
/// terminal event. A failure here still ends the job, as FAILED without a bundle.
async fn finish(
    services: &Services,
    job: &mut Job,
    state: &RunState,
    workspace: &RunWorkspace,
    progress: &Arc<Progress>,
    step_error: Option<CoreError>,
) -> Result<()> {
    let step_error = step_error.map(|e| e.to_string());
    let terminal = conclude(services, job, state, workspace, progress, step_error).await?;
    progress.commit(&terminal).await
}

/// Step 6: decides, writes and stores the bundle (index last) and saves the final record. Returns the
/// `scan_complete` event to commit once nothing else can change — the same event that ends the bundle's
/// `stream.jsonl`. A bundle that cannot be built ends the job FAILED without one.
pub async fn conclude(
    services: &Services,
    job: &mut Job,
    state: &RunState,
    workspace: &RunWorkspace,
    progress: &Progress,
    step_error: Option<String>,
) -> Result<Event> {
    if let Some(message) = step_error {
        job.errors.push(message.clone());
        progress.emit(EventBody::Error { message }).await?;
    }
    for tool in &state.tools {
        for gap in &tool.coverage_gaps {
            let warning = format!("{}: {gap}", tool.id);
            if !job.warnings.contains(&warning) {
                job.warnings.push(warning);
            }
        }
    }
    let (status, errors, violations) = verdict(job, state);
    job.errors.extend(errors);
    job.findings_summary = Some(FindingsSummary {
        threshold_violations: violations,
        tools: state
            .tools
            .iter()
            .map(|t| (t.id.clone(), t.counts))
            .collect(),
        totals: total_counts(&state.tools),
    });
    let location = services.artifacts()?.location(&job.test_id);
    job.bundle_location = Some(location.clone());
    job.transition(status, time::now())?;

    let terminal = progress
        .prepare_terminal(EventBody::ScanComplete {
            status,
            manifest_digest: job.manifest_digest,
            bundle: Some(location),
        })
        .await;
    match write_bundle(services, job, state, workspace, &terminal).await {
        Ok(stored_at) => {
            job.bundle_location = Some(stored_at);
            services.jobs.save(job).await?;
            Ok(terminal)
        }
        Err(e) => {
            // The record already says terminal; it must also say why there is no bundle.
            job.status = JobStatus::Failed;
            job.bundle_location = None;
            job.errors.push(format!("bundle could not be built: {e}"));
            services.jobs.save(job).await?;
            Ok(Event {
                body: EventBody::ScanComplete {
                    status: JobStatus::Failed,
                    manifest_digest: job.manifest_digest,
                    bundle: None,
                },
                ..terminal
            })
        }
    }
}

async fn finish_without_bundle(
    records: &Records,
    job: &mut Job,
    progress: &Progress,
    cause: CoreError,
) -> Result<()> {
    let reason = format!("workspace could not be created: {cause}");
    end_without_bundle(records, job, progress, JobStatus::Failed, reason).await
}

/// Ends a job that cannot go on (no bundle): the record first, then the error and terminal events.
async fn end_without_bundle(
    records: &Records,
    job: &mut Job,
    progress: &Progress,
    status: JobStatus,
    reason: String,
) -> Result<()> {
    job.transition(status, time::now())?;
    job.errors.push(reason.clone());
    records.jobs.save(job).await?;
    progress.emit(EventBody::Error { message: reason }).await?;
    let terminal = progress
        .prepare_terminal(EventBody::ScanComplete {
            status: job.status,
            manifest_digest: job.manifest_digest,
            bundle: None,
        })
        .await;
    progress.commit(&terminal).await
}

/// Ends a job that is not terminal yet as FAILED or CANCELLED with `reason` (an interrupted runner, a user's
/// cancel). A job already terminal is returned unchanged.
pub async fn abandon(
    records: &Records,
    test_id: &str,
    status: JobStatus,
    reason: &str,
) -> Result<Job> {
    let mut job = records
        .jobs
        .get(test_id)
        .await?
        .ok_or_else(|| CoreError::JobNotFound(test_id.to_string()))?;
    if job.status.is_terminal() {
        return Ok(job);
    }
    let progress = Progress::open(test_id, records.events.clone(), records.sinks.clone()).await?;
    end_without_bundle(records, &mut job, &progress, status, reason.to_string()).await?;
    Ok(job)
}

/// Ends a job a user cancelled, once its run (if any) has been stopped: a QUEUED or RUNNING job becomes
/// CANCELLED with `reason` and its one `scan_complete`; a job the stopped run had already ended keeps its
/// status, and its terminal event is committed if the run was stopped before it could. Either way the job
/// has exactly one `scan_complete` afterwards. `bundles` reads a stored bundle's stream (see
/// [`commit_missing_terminal`]).
pub async fn cancel(
    records: &Records,
    bundles: Option<&dyn ArtifactStore>,
    test_id: &str,
    reason: &str,
) -> Result<Job> {
    let mut job = records
        .jobs
        .get(test_id)
        .await?
        .ok_or_else(|| CoreError::JobNotFound(test_id.to_string()))?;
    let progress = Progress::open(test_id, records.events.clone(), records.sinks.clone()).await?;
    if job.status.is_terminal() {
        commit_missing_terminal(records, bundles, &job, &progress).await?;
        return Ok(job);
    }
    end_without_bundle(
        records,
        &mut job,
        &progress,
        JobStatus::Cancelled,
        reason.to_string(),
    )
    .await?;
    Ok(job)
}

/// Ends every RUNNING job whose runner is gone (`is_gone(runner)`), so no job stays RUNNING forever after a
/// crash. Returns the jobs it ended.
pub async fn end_interrupted(
    records: &Records,
    is_gone: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Job>> {
    let mut ended = Vec::new();
    let mut query = JobQuery {
        status: Some(JobStatus::Running),
        limit: 100,
        ..JobQuery::default()
    };
    let mut stale = Vec::new();
    loop {
        let page = records.jobs.list(&query).await?;
        stale.extend(
            page.jobs
                .into_iter()
                .filter(|j| j.runner.as_deref().is_some_and(is_gone))
                .map(|j| (j.test_id, j.runner.unwrap_or_default())),
        );
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => break,
        }
    }
    for (test_id, runner) in stale {
        let reason = format!("interrupted: runner {runner} stopped before the scan finished");
        ended.push(abandon(records, &test_id, JobStatus::Failed, &reason).await?);
    }
    Ok(ended)
}

async fn write_bundle(
    services: &Services,
    job: &mut Job,
    state: &RunState,
    workspace: &RunWorkspace,
    terminal: &Event,
) -> Result<String> {
    let bundle = BundleWriter::new(workspace.bundle_dir())?;
    let violations: Vec<String> = job
        .findings_summary
        .as_ref()
        .map(|s| s.threshold_violations.clone())
        .unwrap_or_default();

    let runs: Vec<serde_json::Value> = state
        .tools
        .iter()
        .filter_map(|t| {
            let bytes = std::fs::read(bundle.path_of(&bundle::sarif_path(&t.id)).ok()?).ok()?;
            let mut log: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            Some(log.get_mut("runs")?.get_mut(0)?.take())
        })
        .collect();
    let merged = (!runs.is_empty()).then(|| merged_log(runs));
    if let Some(merged) = &merged {
        bundle.write_json(bundle::MERGED_SARIF, merged)?;
    }

    let mut history = services.events.history(&job.test_id, 0).await?;
    history.push(terminal.clone());
    let mut stream = String::new();
    let mut runner_log = String::new();
    for event in &history {
        stream.push_str(&event.to_json_line());
        stream.push('\n');
        runner_log.push_str(&runner_log_line(event));
        runner_log.push('\n');
    }
    bundle.write(bundle::STREAM, stream.as_bytes())?;
    bundle.write(bundle::RUNNER_LOG, runner_log.as_bytes())?;

    // The record in scan.json names every file the bundle will hold, the index included.
    job.artifacts = artifact_map(&bundle, state)?;
    bundle.write_json(
        bundle::SUMMARY,
        &summary_json(job, state.profile.as_ref(), &state.tools, &violations),
    )?;
    bundle.write(
        bundle::REPORT_MD,
        report_markdown(job, state.profile.as_ref(), &state.tools, &violations).as_bytes(),
    )?;
    bundle.write(
        bundle::REPORT_HTML,
        html_report(&bundle, job, state, merged.as_ref())?.as_bytes(),
    )?;
    bundle.write_json(
        bundle::SCAN_JSON,
        &json!({
            "job": job,
            "provenance": {
                "source": state.source,
                "tools": state.tools.iter().map(|t| json!({"id": t.id, "version": t.version, "status": t.status}))
                    .collect::<Vec<_>>(),
                "manifest_digest": job.manifest_digest,
                "manifest_verification": job.manifest_verification,
            },
        }),
    )?;
    // The attestation records the trail's head as the stored record keeps it at sealing time.
    if let Some(stored) = services.jobs.get(&job.test_id).await? {
        job.audit_head = stored.audit_head;
    }
    let index = attest(
        &bundle,
        job,
        &state.tools,
        &services.settings.builder,
        services.signer()?.as_ref(),
    )
    .await?;
    let index = bundle.write_index_of(index)?;
    services
        .artifacts()?
        .store_bundle(&job.test_id, bundle.root(), &index)
        .await
}

/// `report.html` from what the bundle already holds: the merged SARIF (`merged`, as just written) and the
/// CycloneDX SBOM.
fn html_report(
    bundle: &BundleWriter,
    job: &Job,
    state: &RunState,
    merged: Option<&serde_json::Value>,
) -> Result<String> {
    let findings = match merged {
        Some(log) => read_findings(log)?,
        None => Vec::new(),
    };
    let path = bundle.path_of(bundle::SBOM_CYCLONEDX)?;
    let sbom = match path.exists() {
        true => {
            let bytes = std::fs::read(&path).map_err(|e| CoreError::io(&path, e))?;
            Some(
                SbomSummary::from_cyclonedx_json(&bytes)
                    .map_err(|e| CoreError::json(bundle::SBOM_CYCLONEDX, e))?,
            )
        }
        false => None,
    };
    Ok(report_html(&HtmlReport {
        job,
        tools: &state.tools,
        findings: &findings,
        sbom,
    }))
}

/// Names each bundle file: fixed keys for the contract files, `sarif:<tool>` for reports.
fn artifact_map(bundle: &BundleWriter, state: &RunState) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    let fixed = [
        ("scan", bundle::SCAN_JSON),
        ("manifest", bundle::MANIFEST_JSON),
        ("manifest_signature", bundle::MANIFEST_SIG),
        ("manifest_info", bundle::MANIFEST_INFO),
        ("summary", bundle::SUMMARY),
        ("report", bundle::REPORT_MD),
        ("report_html", bundle::REPORT_HTML),
        ("stream", bundle::STREAM),
        ("runner_log", bundle::RUNNER_LOG),
        ("sarif_merged", bundle::MERGED_SARIF),
        ("sbom_cyclonedx", bundle::SBOM_CYCLONEDX),
        ("sbom_spdx", bundle::SBOM_SPDX),
        ("advisory_database", bundle::ADVISORY_DATABASE),
        ("attestation", bundle::ATTESTATION),
        ("signing_key", bundle::SIGNING_KEY),
        ("signing_key_info", SIGNING_KEY_INFO),
    ];
    let always = [
        bundle::ATTESTATION,
        bundle::SIGNING_KEY,
        SIGNING_KEY_INFO,
        bundle::SCAN_JSON,
        bundle::SUMMARY,
        bundle::REPORT_MD,
        bundle::REPORT_HTML,
        bundle::STREAM,
        bundle::RUNNER_LOG,
    ];
    for (key, path) in fixed {
        if always.contains(&path) || bundle.path_of(path)?.exists() {
            map.insert(key.to_string(), path.to_string());
        }
    }
    for tool in &state.tools {
        map.insert(format!("sarif:{}", tool.id), bundle::sarif_path(&tool.id));
    }
    map.insert("index".into(), bundle::INDEX.into());
    Ok(map)
}

fn runner_log_line(event: &Event) -> String {
    let ts = time::format(&event.timestamp);
    let text = match &event.body {
        EventBody::Phase {
            message,
            commit,
            hash,
            ..
        } => {
            let mut s = message.clone();
            if let Some(c) = commit {
                s.push_str(&format!(" commit={c}"));
            }
            if let Some(h) = hash {
                s.push_str(&format!(" sha256={h}"));
            }
            s
        }
        EventBody::ToolStart { tool, command } => format!("{tool}: start: {command}"),
        EventBody::Log { tool, stream, line } => format!("{tool} [{stream}] {line}"),
        EventBody::ToolComplete {
            tool,
            exit_code,
            status,
            findings,
        } => match exit_code {
            Some(code) => format!("{tool}: {status} (exit {code}), {findings} finding(s)"),
            None => format!("{tool}: {status}, {findings} finding(s)"),
        },
        EventBody::Error { message } => format!("error: {message}"),
        EventBody::ScanComplete { status, .. } => format!("scan complete: {status}"),
        EventBody::UploadPermitted {
            upload_permission_id,
        } => format!("upload permitted: {upload_permission_id}"),
        EventBody::UploadDenied {
            upload_status,
            reason,
        } => format!("upload {upload_status}: {reason}"),
        EventBody::Published { golden } => format!("published {} object(s)", golden.len()),
    };
    format!("{ts} #{} {text}", event.seq)
}
