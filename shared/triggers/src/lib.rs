//! Push-triggered scans. Per-repository registrations say which pushes start which scan; GitHub push
//! webhooks (HMAC-SHA256 over the raw body), GitLab push hooks (shared token) and CodeCommit pushes delivered
//! by EventBridge are authenticated, read as hostile input, and turned into the normal git submission of the
//! pushed commit. The job id is derived from (registration, repository, commit), so a redelivered or
//! replayed event finds its job already there and starts nothing.

mod branches;
mod codecommit;
mod deliveries;
pub mod error;
mod github;
mod gitlab;
mod push;
pub mod registration;
mod secret;

use std::path::Path;

use certus_core::pipeline::Records;
use serde::Serialize;

use deliveries::DeliveryLog;

pub use branches::BranchPattern;
pub use codecommit::{DETAIL_TYPE as CODECOMMIT_DETAIL_TYPE, SOURCE as CODECOMMIT_SOURCE};
pub use error::{Result, TriggerError};
pub use github::GithubDelivery;
pub use gitlab::GitlabDelivery;
pub use push::{start_scan, JobStarter, Outcome, Push};
pub use registration::{Format, Provider, Registration, Registrations};
pub use secret::MIN_SECRET_LEN;

/// Largest webhook body accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Delivery ids remembered in memory.
const REMEMBERED_DELIVERIES: usize = 10_000;

/// What an authenticated delivery asks for.
pub(crate) enum Verdict<'r> {
    Push(&'r Registration, Push),
    Ignored(String),
}

/// A delivery of any provider, for [`Triggers::inspect`].
pub enum Delivery<'a> {
    Github(GithubDelivery<'a>),
    Gitlab(GitlabDelivery<'a>),
    Codecommit(&'a serde_json::Value),
}

/// The answer to one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handled {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The provider's delivery id, when it sent one.
    pub delivery: Option<String>,
    /// True when this delivery id was handled before: its recorded outcome is answered again (a start as
    /// `already_started`).
    pub replayed: bool,
}

/// The registrations of a deployment and the deliveries it has handled.
#[derive(Debug)]
pub struct Triggers {
    registrations: Registrations,
    deliveries: DeliveryLog,
}

impl Triggers {
    pub fn new(registrations: Registrations) -> Self {
        Self {
            registrations,
            deliveries: DeliveryLog::new(REMEMBERED_DELIVERIES),
        }
    }

    /// Loads and validates a `.json` or `.toml` registrations file.
    pub fn load(path: &Path) -> Result<Self> {
        Registrations::load(path).map(Self::new)
    }

    pub fn registrations(&self) -> &Registrations {
        &self.registrations
    }

    /// A GitHub webhook delivery: the signature is checked over the raw body before anything is parsed.
    pub async fn github<S: JobStarter + ?Sized>(
        &self,
        delivery: &GithubDelivery<'_>,
        records: &Records,
        starter: &S,
    ) -> Result<Handled> {
        check_size(delivery.body.len())?;
        let signed = github::authenticate(&self.registrations, delivery)?;
        let id = delivery
            .delivery
            .filter(|d| deliveries::is_delivery_id(d))
            .ok_or_else(|| {
                TriggerError::Malformed(
                    "X-GitHub-Delivery must be present: up to 128 printable characters".into(),
                )
            })?;
        // The registration is checked before a replay is looked up, and the log is per registration: a
        // delivery id reused under another registrant's secret is that registrant's own delivery (W10).
        let verdict = github::read(&self.registrations, &signed, delivery)?;
        let scope = scope_of(&signed);
        if let Some(handled) = self.replayed(Provider::Github, &scope, Some(id)) {
            return Ok(handled);
        }
        self.conclude(
            Provider::Github,
            &scope,
            Some(id),
            verdict,
            records,
            starter,
        )
        .await
    }

    /// A GitLab push hook delivery: the token is checked before anything is parsed.
    pub async fn gitlab<S: JobStarter + ?Sized>(
        &self,
        delivery: &GitlabDelivery<'_>,
        records: &Records,
        starter: &S,
    ) -> Result<Handled> {
        check_size(delivery.body.len())?;
        let authenticated = gitlab::authenticate(&self.registrations, delivery)?;
        let id = match delivery.delivery {
            None => None,
            Some(d) if deliveries::is_delivery_id(d) => Some(d),
            Some(_) => {
                return Err(TriggerError::Malformed(
                    "X-Gitlab-Event-UUID must be up to 128 printable characters".into(),
                ))
            }
        };
        let verdict = gitlab::read(&self.registrations, &authenticated, delivery)?;
        let scope = scope_of(&authenticated);
        if let Some(handled) = self.replayed(Provider::Gitlab, &scope, id) {
            return Ok(handled);
        }
        self.conclude(Provider::Gitlab, &scope, id, verdict, records, starter)
            .await
    }

    /// What a delivery asks for — authenticated and parsed exactly as the handlers above do — without
    /// starting anything or remembering it: the push it would scan, or `None` when it would be ignored. For
    /// checks of a registration by hand and for the fuzzers.
    pub fn inspect(&self, delivery: &Delivery<'_>) -> Result<Option<Push>> {
        let verdict = match delivery {
            Delivery::Github(delivery) => {
                check_size(delivery.body.len())?;
                let signed = github::authenticate(&self.registrations, delivery)?;
                github::read(&self.registrations, &signed, delivery)?
            }
            Delivery::Gitlab(delivery) => {
                check_size(delivery.body.len())?;
                let authenticated = gitlab::authenticate(&self.registrations, delivery)?;
                gitlab::read(&self.registrations, &authenticated, delivery)?
            }
            Delivery::Codecommit(event) => codecommit::read(&self.registrations, event)?.1,
        };
        Ok(match verdict {
            Verdict::Push(_, push) => Some(push),
            Verdict::Ignored(_) => None,
        })
    }

    fn replayed(&self, provider: Provider, scope: &str, id: Option<&str>) -> Option<Handled> {
        let id = id?;
        self.deliveries
            .recorded(provider, scope, id)
            .map(|outcome| Handled {
                outcome: match outcome {
                    Outcome::Started {
                        test_id,
                        registration,
                        branch,
                        commit,
                    } => Outcome::AlreadyStarted {
                        test_id,
                        registration,
                        branch,
                        commit,
                    },
                    other => other,
                },
                delivery: Some(id.to_string()),
                replayed: true,
            })
    }

    async fn conclude<S: JobStarter + ?Sized>(
        &self,
        provider: Provider,
        scope: &str,
        id: Option<&str>,
        verdict: Verdict<'_>,
        records: &Records,
        starter: &S,
    ) -> Result<Handled> {
        let outcome = match verdict {
            Verdict::Push(registration, push) => {
                start_scan(registration, push, records, starter).await?
            }
            Verdict::Ignored(reason) => Outcome::Ignored { reason },
        };
        if let Some(id) = id {
            self.deliveries.record(provider, scope, id, &outcome);
        }
        Ok(Handled {
            outcome,
            delivery: id.map(str::to_string),
            replayed: false,
        })
    }
}

/// The EventBridge handler of CodeCommit pushes (the `push-trigger` function): reads the event, starts the
/// scan of the pushed commit once, and answers what it did.
pub async fn handle_codecommit_event<S: JobStarter + ?Sized>(
    triggers: &Triggers,
    event: &serde_json::Value,
    records: &Records,
    starter: &S,
) -> Result<Handled> {
    let (id, verdict) = codecommit::read(&triggers.registrations, event)?;
    let id = Some(id.as_str()).filter(|d| deliveries::is_delivery_id(d));
    let scope = match &verdict {
        Verdict::Push(registration, _) => scope_of(&[*registration]),
        Verdict::Ignored(_) => String::new(),
    };
    if let Some(handled) = triggers.replayed(Provider::Codecommit, &scope, id) {
        return Ok(handled);
    }
    triggers
        .conclude(Provider::Codecommit, &scope, id, verdict, records, starter)
        .await
}

/// Whose delivery log a delivery belongs to: the registrations its credential authenticated.
fn scope_of(registrations: &[&Registration]) -> String {
    let mut ids: Vec<&str> = registrations.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.join(",")
}

fn check_size(len: usize) -> Result<()> {
    if len > MAX_BODY {
        Err(TriggerError::TooLarge { limit: MAX_BODY })
    } else {
        Ok(())
    }
}
