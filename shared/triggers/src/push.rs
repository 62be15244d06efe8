//! From a verified push to a job: the branch filter, the submission built from the registration and
//! validated as an API submission is, the job created under the id derived from (registration,
//! repository, commit), and the launch — or nothing, when that job already exists.

use async_trait::async_trait;
use certus_core::pipeline::{self, Records};
use certus_core::CoreError;
use serde::Serialize;

use crate::error::Result;
use crate::registration::Registration;

/// Starts the run of a job that was just created (QUEUED); must not wait for the run. The API's
/// `Launcher` (local tasks, or a Step Functions execution) is one.
#[async_trait]
pub trait JobStarter: Send + Sync {
    async fn start(&self, test_id: String);
}

/// A push a provider reported and whose authenticity has been established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The branch name (without `refs/heads/`).
    pub branch: String,
    /// The pushed commit, lowercase hex.
    pub commit: String,
}

/// What a delivery led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// A new job was created and launched.
    Started {
        test_id: String,
        registration: String,
        branch: String,
        commit: String,
    },
    /// The job of this commit already exists (a redelivered or replayed event): nothing was started.
    AlreadyStarted {
        test_id: String,
        registration: String,
        branch: String,
        commit: String,
    },
    /// The delivery starts nothing, for this reason (a ping, a delete, a tag, an unregistered branch…).
    Ignored { reason: String },
}

impl Outcome {
    pub fn ignored(reason: impl Into<String>) -> Self {
        Self::Ignored {
            reason: reason.into(),
        }
    }

    pub fn test_id(&self) -> Option<&str> {
        match self {
            Self::Started { test_id, .. } | Self::AlreadyStarted { test_id, .. } => Some(test_id),
            Self::Ignored { .. } => None,
        }
    }
}

/// Starts the scan of `push` for `registration` exactly once.
pub async fn start_scan<S: JobStarter + ?Sized>(
    registration: &Registration,
    push: Push,
    records: &Records,
    starter: &S,
) -> Result<Outcome> {
    if !registration.triggers_on(&push.branch) {
        let patterns: Vec<String> = registration
            .branches
            .iter()
            .map(ToString::to_string)
            .collect();
        return Ok(Outcome::ignored(format!(
            "branch '{}' is not one registration '{}' triggers on ({})",
            push.branch,
            registration.id,
            patterns.join(", ")
        )));
    }
    let submission = registration.submission(&push.branch, &push.commit)?;
    let test_id = registration.test_id_for(&push.commit);
    match pipeline::submit_for(
        records,
        submission,
        test_id.clone(),
        registration.tenant.clone(),
    )
    .await
    {
        Ok(job) => {
            starter.start(job.test_id).await;
            Ok(Outcome::Started {
                test_id,
                registration: registration.id.clone(),
                branch: push.branch,
                commit: push.commit,
            })
        }
        Err(CoreError::JobExists(_)) => Ok(Outcome::AlreadyStarted {
            test_id,
            registration: registration.id.clone(),
            branch: push.branch,
            commit: push.commit,
        }),
        Err(e) => Err(e.into()),
    }
}

/// A full commit id (SHA-1 or SHA-256), lowercased; `None` for anything else.
pub(crate) fn commit_id(text: &str) -> Option<String> {
    ((text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// Whether `text` is the all-zero id providers send for a deleted ref.
pub(crate) fn is_null_commit(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b == b'0')
}
