//! Starting submitted scans and upload requests: the `Launcher` the API hands each new job to, the
//! `UploadRequests` the upload-request route hands a SUCCEEDED job to, and the local implementations (the
//! pipeline in background tasks, a bounded number at a time, recovering jobs a stopped server left behind;
//! the embedded upload gate).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, Services};
use certus_core::ports::JobQuery;
use certus_core::trust::Tier;
use certus_core::upload::UploadGate;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::upload_store;

/// Starts the run of a job that was just submitted (QUEUED). Must not wait for the run.
#[async_trait]
pub trait Launcher: Send + Sync {
    async fn launch(&self, test_id: String);

    /// Where a job waits for a scan slot (1 = next to start when a slot its tenant may use frees), while it
    /// waits in this launcher; `None` when it is not waiting here.
    fn queue_position(&self, _test_id: &str) -> Option<usize> {
        None
    }

    /// Cancels a job that is not terminal: it never starts, or its run is stopped first (the local scheduler
    /// aborts its task, the Step Functions launcher on AWS stops its execution); the record then ends
    /// CANCELLED with `reason` and one `scan_complete` (`pipeline::cancel`). Returns the final record.
    async fn cancel(&self, test_id: &str, reason: &str) -> certus_core::Result<Job>;
}

/// Handles an upload request for a SUCCEEDED job of the caller's: the embedded gate asks Certus-Trust and
/// publishes in-process; on AWS the upload state machine is started. Returns the job as recorded, whose upload
/// fields the route answers with. Asking twice never publishes twice.
#[async_trait]
pub trait UploadRequests: Send + Sync {
    async fn request_upload(&self, test_id: &str, tier: Tier) -> certus_core::Result<Job>;
}

/// The embedded upload gate of `certus serve`, with the services it reads bundles and signs with.
pub struct LocalUploads {
    pub gate: Arc<UploadGate>,
    pub services: Services,
}

#[async_trait]
impl UploadRequests for LocalUploads {
    async fn request_upload(&self, test_id: &str, tier: Tier) -> certus_core::Result<Job> {
        self.gate
            .request_upload(&self.services, test_id, tier)
            .await
    }
}

/// Runs `pipeline::run` in background tokio tasks: at most `max_concurrent_scans` at once, and at most
/// `max_per_tenant` of them for one tenant, so one tenant's hanging scans never hold every slot. Jobs wait
/// in submission order; a job whose tenant is at its share is passed by the next tenant's.
pub struct LocalLauncher {
    inner: Arc<Inner>,
}

struct Inner {
    services: Services,
    slots: Slots,
    /// Uploads under here are removed once the scan that used them has ended.
    upload_dir: Option<PathBuf>,
    scheduler: Mutex<Scheduler>,
    /// Woken whenever a run ends (drain waits on it).
    ended: Notify,
}

/// The two limits of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    /// Scans running at once, all tenants together.
    pub total: usize,
    /// Scans one tenant may run at once.
    pub per_tenant: usize,
}

impl Slots {
    /// `total` slots (1 to 1024); a tenant may hold `per_tenant` of them, by default half rounded up
    /// (at least 1, at most `total`).
    pub fn new(total: usize, per_tenant: Option<usize>) -> Self {
        let total = total.clamp(1, 1024);
        let per_tenant = per_tenant.unwrap_or(total.div_ceil(2)).clamp(1, total);
        Self { total, per_tenant }
    }
}

#[derive(Default)]
struct Scheduler {
    waiting: VecDeque<Waiting>,
    running: HashMap<String, Running>,
    closing: bool,
}

struct Waiting {
    test_id: String,
    tenant: String,
}

struct Running {
    tenant: String,
    /// Taken by the one cancel that stops the run.
    task: Option<JoinHandle<()>>,
}

/// Removes a run from the running set when its task ends, finished or aborted, and starts what may start.
struct RunGuard {
    inner: Arc<Inner>,
    test_id: String,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let mut scheduler = self.inner.lock();
        scheduler.running.remove(&self.test_id);
        start_ready(&self.inner, &mut scheduler);
        drop(scheduler);
        self.inner.ended.notify_waiters();
    }
}

impl Inner {
    /// Removes the uploaded archive an ended job scanned (nothing when it scanned something else).
    async fn release_upload(&self, test_id: &str) {
        let Some(upload_dir) = &self.upload_dir else {
            return;
        };
        let archive = match self.services.jobs.get(test_id).await {
            Ok(Some(job)) if job.status.is_terminal() => job.archive_path,
            _ => None,
        };
        if let Some(archive) = archive {
            if let Err(e) = upload_store::release(upload_dir, &archive) {
                eprintln!("certus serve: job {test_id}: its upload could not be removed: {e}");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Scheduler> {
        // A panic while holding the lock leaves the scheduler's maps consistent (every change is one call).
        self.scheduler
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Starts waiting jobs, in order, while slots are free and their tenant is under its share.
fn start_ready(inner: &Arc<Inner>, scheduler: &mut Scheduler) {
    if scheduler.closing {
        return;
    }
    let mut index = 0;
    while index < scheduler.waiting.len() && scheduler.running.len() < inner.slots.total {
        let tenant = &scheduler.waiting[index].tenant;
        let held = scheduler
            .running
            .values()
            .filter(|r| &r.tenant == tenant)
            .count();
        if held >= inner.slots.per_tenant {
            index += 1;
            continue;
        }
        let Some(job) = scheduler.waiting.remove(index) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (the server is being torn down): the job stays QUEUED for the next start.
            return;
        };
        let guard = RunGuard {
            inner: inner.clone(),
            test_id: job.test_id.clone(),
        };
        let runner = inner.clone();
        let test_id = job.test_id.clone();
        let task = runtime.spawn(async move {
            let _guard = guard;
            if let Err(e) = pipeline::run(&runner.services, &test_id).await {
                // pipeline::run ends the job in a terminal state whenever it can; what is left is logged.
                eprintln!("certus serve: job {test_id}: {e}");
            }
            runner.release_upload(&test_id).await;
        });
        scheduler.running.insert(
            job.test_id,
            Running {
                tenant: job.tenant,
                task: Some(task),
            },
        );
    }
}

/// What [`LocalLauncher::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// QUEUED jobs launched again.
    pub relaunched: Vec<String>,
    /// RUNNING jobs whose run had died with the previous server, now FAILED.
    pub failed: Vec<String>,
}

impl LocalLauncher {
    /// `upload_dir`: where this server keeps uploaded archives; a scan of one removes it when it ends.
    pub fn new(services: Services, slots: Slots, upload_dir: Option<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(Inner {
                services,
                slots,
                upload_dir,
                scheduler: Mutex::new(Scheduler::default()),
                ended: Notify::new(),
            }),
        })
    }

    /// The limits this launcher schedules under.
    pub fn slots(&self) -> Slots {
        self.inner.slots
    }

    /// At start-up: jobs left RUNNING by a runner that is gone (`is_gone(runner)`) are ended as FAILED with
    /// their `scan_complete`, and QUEUED jobs are launched again (oldest first), so no job is lost.
    pub async fn recover(
        self: &Arc<Self>,
        is_gone: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Recovery> {
        let mut recovery = Recovery::default();
        for job in pipeline::end_interrupted(&self.inner.services.records(), is_gone).await? {
            recovery.failed.push(job.test_id);
        }
        let mut queued = self.jobs_with_status(JobStatus::Queued).await?;
        queued.sort_by_key(|job| job.created_at);
        for job in queued {
            self.enqueue(job.test_id.clone(), job.tenant.unwrap_or_default());
            recovery.relaunched.push(job.test_id);
        }
        Ok(recovery)
    }

    /// Stops starting scans and waits up to `grace` for the running ones. True when none is left running;
    /// jobs not started stay QUEUED for the next start.
    pub async fn drain(&self, grace: Duration) -> bool {
        let all_ended = async {
            loop {
                let ended = self.inner.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                {
                    let mut scheduler = self.inner.lock();
                    scheduler.closing = true;
                    if scheduler.running.is_empty() {
                        return;
                    }
                }
                ended.await;
            }
        };
        tokio::time::timeout(grace, all_ended).await.is_ok()
    }

    fn enqueue(&self, test_id: String, tenant: String) {
        let mut scheduler = self.inner.lock();
        if scheduler.closing
            || scheduler.running.contains_key(&test_id)
            || scheduler.waiting.iter().any(|w| w.test_id == test_id)
        {
            return;
        }
        scheduler.waiting.push_back(Waiting { test_id, tenant });
        start_ready(&self.inner, &mut scheduler);
    }

    async fn jobs_with_status(&self, status: JobStatus) -> Result<Vec<Job>> {
        let mut found = Vec::new();
        let mut query = JobQuery {
            status: Some(status),
            limit: 500,
            ..JobQuery::default()
        };
        loop {
            let page = self.inner.services.jobs.list(&query).await?;
            found.extend(page.jobs);
            match page.next_page_token {
                Some(token) => query.page_token = Some(token),
                None => return Ok(found),
            }
        }
    }
}

#[async_trait]
impl Launcher for LocalLauncher {
    async fn launch(&self, test_id: String) {
        let tenant = match self.inner.services.jobs.get(&test_id).await {
            Ok(Some(job)) => job.tenant.unwrap_or_default(),
            Ok(None) => return,
            Err(e) => {
                // The job stays QUEUED and is launched again at the next start.
                eprintln!("certus serve: job {test_id} could not be read to schedule it: {e}");
                return;
            }
        };
        self.enqueue(test_id, tenant);
    }

    fn queue_position(&self, test_id: &str) -> Option<usize> {
        let scheduler = self.inner.lock();
        scheduler
            .waiting
            .iter()
            .position(|w| w.test_id == test_id)
            .map(|index| index + 1)
    }

    /// A waiting job leaves the queue and never starts; a running one's task is aborted (its git and tool
    /// processes die with it) and awaited before the record is ended, so nothing of the run writes after.
    async fn cancel(&self, test_id: &str, reason: &str) -> certus_core::Result<Job> {
        let task = {
            let mut scheduler = self.inner.lock();
            scheduler.waiting.retain(|w| w.test_id != test_id);
            scheduler
                .running
                .get_mut(test_id)
                .and_then(|running| running.task.take())
        };
        if let Some(task) = task {
            task.abort();
            // The run's own error (if it ended first) was logged by the task; a cancelled task is expected.
            let _ = task.await;
            let workspace = self.inner.services.settings.workspace_root.join(test_id);
            if !self.inner.services.settings.keep_workspace && workspace.exists() {
                if let Err(e) = std::fs::remove_dir_all(&workspace) {
                    eprintln!(
                        "certus serve: job {test_id}: the cancelled run's workspace could not be removed: {e}"
                    );
                }
            }
        }
        let services = &self.inner.services;
        let job = pipeline::cancel(
            &services.records(),
            services.artifacts.as_deref(),
            test_id,
            reason,
        )
        .await?;
        self.inner.release_upload(test_id).await;
        Ok(job)
    }
}
