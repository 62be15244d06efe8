//! Starting submitted scans and upload requests: the `Launcher` the API hands each new job to, the
//! `UploadRequests` the upload-request route hands a SUCCEEDED job to, and the local implementations (the
//! pipeline in background tasks, a bounded number at a time, recovering jobs a stopped server left behind;
//! the embedded upload gate).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, Services};
use certus_core::ports::JobQuery;
use certus_core::trust::Tier;
use certus_core::upload::UploadGate;
use tokio::sync::Semaphore;

use crate::error::Result;

/// Starts the run of a job that was just submitted (QUEUED). Must not wait for the run.
#[async_trait]
pub trait Launcher: Send + Sync {
    async fn launch(&self, test_id: String);
}

/// Handles an upload request for a SUCCEEDED job of the caller's: the embedded gate asks Certus-Trust and
/// publishes in-process; on AWS the upload state machine is started. Returns the job as recorded, whose upload
/// fields the route answers with. Asking twice never publishes twice.
#[async_trait]
pub trait UploadRequests: Send + Sync {
    async fn request_upload(
        &self,
        services: &Services,
        test_id: &str,
        tier: Tier,
    ) -> certus_core::Result<Job>;
}

#[async_trait]
impl UploadRequests for UploadGate {
    async fn request_upload(
        &self,
        services: &Services,
        test_id: &str,
        tier: Tier,
    ) -> certus_core::Result<Job> {
        UploadGate::request_upload(self, services, test_id, tier).await
    }
}

/// Runs `pipeline::run` in background tokio tasks, at most `max_concurrent_scans` at once.
pub struct LocalLauncher {
    services: Services,
    permits: Arc<Semaphore>,
    max_concurrent_scans: u32,
    closing: Arc<AtomicBool>,
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
    pub fn new(services: Services, max_concurrent_scans: usize) -> Arc<Self> {
        let max = u32::try_from(max_concurrent_scans.clamp(1, 1024)).unwrap_or(1);
        Arc::new(Self {
            services,
            permits: Arc::new(Semaphore::new(max as usize)),
            max_concurrent_scans: max,
            closing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// At start-up: jobs left RUNNING by a runner that is gone (`is_gone(runner)`) are ended as FAILED with
    /// their `scan_complete`, and QUEUED jobs are launched again, so no job is lost.
    pub async fn recover(
        self: &Arc<Self>,
        is_gone: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Recovery> {
        let mut recovery = Recovery::default();
        for job in pipeline::end_interrupted(&self.services, is_gone).await? {
            recovery.failed.push(job.test_id);
        }
        for job in self.jobs_with_status(JobStatus::Queued).await? {
            self.launch(job.test_id.clone()).await;
            recovery.relaunched.push(job.test_id);
        }
        Ok(recovery)
    }

    /// Stops starting scans and waits up to `grace` for the running ones. True when none is left running;
    /// jobs not started stay QUEUED for the next start.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.closing.store(true, Ordering::SeqCst);
        let all = self.permits.acquire_many(self.max_concurrent_scans);
        matches!(tokio::time::timeout(grace, all).await, Ok(Ok(_)))
    }

    async fn jobs_with_status(&self, status: JobStatus) -> Result<Vec<Job>> {
        let mut found = Vec::new();
        let mut query = JobQuery {
            status: Some(status),
            limit: 500,
            ..JobQuery::default()
        };
        loop {
            let page = self.services.jobs.list(&query).await?;
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
        if self.closing.load(Ordering::SeqCst) {
            return;
        }
        let services = self.services.clone();
        let permits = self.permits.clone();
        let closing = self.closing.clone();
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            if closing.load(Ordering::SeqCst) {
                return;
            }
            if let Err(e) = pipeline::run(&services, &test_id).await {
                // pipeline::run ends the job in a terminal state whenever it can; what is left is logged.
                eprintln!("certus serve: job {test_id}: {e}");
            }
        });
    }
}
