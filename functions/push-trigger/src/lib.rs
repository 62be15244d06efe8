//! The `push-trigger` Lambda's wiring: its settings (read from `CERTUS_ASSURANCE_…`), and the handler that
//! hands each EventBridge event to `certus_triggers::handle_codecommit_event` with the scan state machine as
//! the launcher, answering failures with `errorType` `Retryable` or `NonRetryable`.

use std::path::PathBuf;

use certus_api::webhooks::Launching;
use certus_api::Launcher;
use certus_apigw::{ApigwError, ENV_PREFIX, NON_RETRYABLE, RETRYABLE};
use certus_core::pipeline::Services;
use certus_triggers::{Handled, TriggerError, Triggers};
use lambda_runtime::Diagnostic;

/// What the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub scan_machine_arn: String,
    pub jobs_table: String,
    pub events_table: String,
    pub audit_table: String,
    /// `wss://…/live`: stream URLs in job records are built on it.
    pub stream_base: String,
    /// The registrations file deployed with the function (`.json` or `.toml`).
    pub triggers_file: PathBuf,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let get = |name: &str| var(&format!("{ENV_PREFIX}{name}")).filter(|v| !v.is_empty());
        let require = |name: &str| {
            get(name).ok_or_else(|| ApigwError::Config(format!("{ENV_PREFIX}{name} is not set")))
        };
        Ok(Self {
            scan_machine_arn: require("SCAN_STATE_MACHINE_ARN")?,
            jobs_table: require("JOBS_TABLE")?,
            events_table: require("EVENTS_TABLE")?,
            audit_table: require("AUDIT_TABLE")?,
            stream_base: get("STREAM_BASE").unwrap_or_default(),
            triggers_file: PathBuf::from(require("TRIGGERS_FILE")?),
        })
    }
}

/// A failure as the runtime reports it.
#[derive(Debug)]
pub struct Failure(pub TriggerError);

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        Diagnostic {
            error_type: if failure.0.is_retryable() {
                RETRYABLE
            } else {
                NON_RETRYABLE
            }
            .into(),
            error_message: failure.0.to_string(),
        }
    }
}

/// One EventBridge event: the scan of the pushed commit started once (or the reason nothing started).
pub async fn handle(
    triggers: &Triggers,
    services: &Services,
    launcher: &dyn Launcher,
    event: &serde_json::Value,
) -> Result<Handled, Failure> {
    certus_triggers::handle_codecommit_event(triggers, event, services, &Launching(launcher))
        .await
        .map_err(Failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn settings_name_what_is_missing() {
        let mut vars: HashMap<String, String> = [
            (
                "SCAN_STATE_MACHINE_ARN",
                "arn:aws:states:eu-west-1:123456789012:stateMachine:scan",
            ),
            ("JOBS_TABLE", "jobs"),
            ("EVENTS_TABLE", "events"),
            ("TRIGGERS_FILE", "triggers.toml"),
            ("AUDIT_TABLE", "audit"),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{ENV_PREFIX}{k}"), v.to_string()))
        .collect();
        let settings = Settings::from_vars(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(settings.triggers_file, PathBuf::from("triggers.toml"));
        assert_eq!(settings.stream_base, "");
        vars.remove(&format!("{ENV_PREFIX}TRIGGERS_FILE"));
        let err = Settings::from_vars(|name| vars.get(name).cloned()).unwrap_err();
        assert!(
            err.to_string()
                .contains("CERTUS_ASSURANCE_TRIGGERS_FILE is not set"),
            "{err}"
        );
    }

    #[test]
    fn refusals_of_the_event_are_not_retried_and_store_failures_are() {
        let refused = Diagnostic::from(Failure(TriggerError::Malformed("detail".into())));
        assert_eq!(refused.error_type, NON_RETRYABLE);
        let transient = Diagnostic::from(Failure(TriggerError::Core(
            certus_core::CoreError::Storage("throttled".into()),
        )));
        assert_eq!(transient.error_type, RETRYABLE);
    }
}
