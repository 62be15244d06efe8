//! The `push-trigger` Lambda's wiring: its settings (read from `CERTUS_ASSURANCE_…`), and the handler that
//! hands each EventBridge event to `certus_triggers::handle_codecommit_event` with the scan state machine as
//! the launcher, answering failures with `errorType` `Retryable` or `NonRetryable`.

use certus_api::webhooks::Launching;
use certus_api::Launcher;
use certus_apigw::{ApigwError, ConfigSource, SfnLauncher, ENV_PREFIX};
use certus_core::pipeline::Records;
use certus_core::ports::ManifestFetcher;
use certus_core::settings::Vars;
use certus_triggers::{Handled, TriggerError, Triggers};
use lambda_runtime::tracing;

/// A failure as the runtime reports it.
pub type Failure = certus_runtime::Failure<TriggerError>;

/// What the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub scan_machine_arn: String,
    pub jobs_table: String,
    pub events_table: String,
    pub audit_table: String,
    /// `wss://…/live`: stream URLs in job records are built on it.
    pub stream_base: String,
    /// The registrations (`TRIGGERS_URI` in the work bucket, or `TRIGGERS_FILE`; `.json` or `.toml`). Without
    /// them the function still starts and refuses every event, naming why.
    pub triggers: Option<ConfigSource>,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in `main`).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let vars = Vars::new(var);
        let [scan_machine_arn, jobs_table, events_table, audit_table] = vars.required([
            "SCAN_STATE_MACHINE_ARN",
            "JOBS_TABLE",
            "EVENTS_TABLE",
            "AUDIT_TABLE",
        ])?;
        Ok(Self {
            scan_machine_arn,
            jobs_table,
            events_table,
            audit_table,
            stream_base: vars.get("STREAM_BASE").unwrap_or_default(),
            triggers: ConfigSource::from_vars(var, "TRIGGERS")?,
        })
    }

    /// The deployment's tables, for [`certus_apigw::edge::stores`].
    pub fn tables(&self) -> certus_dynamo::TableNames {
        certus_dynamo::TableNames {
            jobs: self.jobs_table.clone(),
            events: self.events_table.clone(),
            audit: self.audit_table.clone(),
        }
    }
}

/// Why no registrations were loaded at init: every event is refused with it (not retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unloaded {
    pub source: String,
    pub reason: String,
}

impl Unloaded {
    fn refusal(&self) -> Failure {
        certus_runtime::Failure(TriggerError::RegistrationsFile {
            path: self.source.clone(),
            reason: self.reason.clone(),
        })
    }
}

/// The registrations as loaded at init, or why there are none.
pub type Loaded = Result<Triggers, Unloaded>;

/// Loads the registrations the settings name, never failing the function's init.
pub async fn load(settings: &Settings, fetcher: &dyn ManifestFetcher) -> Loaded {
    let Some(source) = &settings.triggers else {
        return Err(Unloaded {
            source: format!("{ENV_PREFIX}TRIGGERS_URI"),
            reason:
                "no push registrations are configured (template parameter PushRegistrationsKey)"
                    .into(),
        });
    };
    certus_apigw::edge::load_triggers(source, fetcher)
        .await
        .map_err(|e| Unloaded {
            source: source.to_string(),
            reason: e.to_string(),
        })
}

/// The function as built once per container: the registrations (or why there are none), the stores and the
/// scan state machine as the launcher.
pub struct Function {
    triggers: Loaded,
    records: Records,
    launcher: SfnLauncher,
}

impl Function {
    /// Reads the settings through `var`, builds the clients and loads the registrations; registrations that
    /// cannot be read are logged, and every event is then refused naming why.
    pub async fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ApigwError> {
        let settings = Settings::from_vars(var)?;
        let config = certus_apigw::load_sdk_config(None).await?;
        let triggers = load(&settings, &certus_apigw::config_fetcher(&config)).await;
        if let Err(e) = &triggers {
            tracing::error!(source = %e.source, reason = %e.reason, "push registrations not loaded: every event is refused");
        }
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let stores = certus_apigw::edge::stores(&dynamodb, &settings.tables());
        let records =
            certus_apigw::edge::records(stores.jobs, stores.events, &settings.stream_base);
        let launcher = SfnLauncher::new(
            aws_sdk_sfn::Client::new(&config),
            &settings.scan_machine_arn,
            records.clone(),
        );
        Ok(Self {
            triggers,
            records,
            launcher,
        })
    }

    /// One EventBridge event, logged with its outcome.
    pub async fn invoke(&self, event: &serde_json::Value) -> Result<Handled, Failure> {
        let handled = handle(&self.triggers, &self.records, &self.launcher, event).await?;
        tracing::info!(delivery = ?handled.delivery, outcome = ?handled.outcome, "push handled");
        Ok(handled)
    }
}

/// One EventBridge event: the scan of the pushed commit started once (or the reason nothing started).
pub async fn handle(
    triggers: &Loaded,
    records: &Records,
    launcher: &dyn Launcher,
    event: &serde_json::Value,
) -> Result<Handled, Failure> {
    let triggers = triggers.as_ref().map_err(Unloaded::refusal)?;
    certus_triggers::handle_codecommit_event(triggers, event, records, &Launching(launcher))
        .await
        .map_err(certus_runtime::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Diagnostic;
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
            ("TRIGGERS_URI", "s3://work-bucket/config/triggers.toml"),
            ("AUDIT_TABLE", "audit"),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{ENV_PREFIX}{k}"), v.to_string()))
        .collect();
        let settings = Settings::from_vars(&|name| vars.get(name).cloned()).unwrap();
        assert_eq!(
            settings.triggers,
            Some(ConfigSource::S3(
                "s3://work-bucket/config/triggers.toml".into()
            ))
        );
        assert_eq!(settings.stream_base, "");
        vars.remove(&format!("{ENV_PREFIX}JOBS_TABLE"));
        let err = Settings::from_vars(&|name| vars.get(name).cloned()).unwrap_err();
        assert!(
            err.to_string()
                .contains("CERTUS_ASSURANCE_JOBS_TABLE is not set"),
            "{err}"
        );
    }

    /// Serves nothing: every object is missing.
    struct NoObjects;

    #[async_trait::async_trait]
    impl ManifestFetcher for NoObjects {
        async fn fetch(&self, uri: &str, _max: usize) -> certus_core::Result<Vec<u8>> {
            Err(certus_core::CoreError::Manifest(format!(
                "{uri}: NoSuchKey"
            )))
        }
    }

    /// The environment infra/template.yaml gives push-trigger (written from the translated template by
    /// infra/tests/translated.py, checked current by infra/tests/test_template.py).
    fn template_environment() -> HashMap<String, String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/tests/fixtures/function-environments.json");
        let mut all: HashMap<String, HashMap<String, String>> =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        all.remove("push-trigger").unwrap()
    }

    #[tokio::test]
    async fn the_template_environment_starts_and_refuses_events_naming_the_missing_registrations() {
        let env = template_environment();
        let settings = Settings::from_vars(&|name| env.get(name).cloned()).unwrap();
        assert_eq!(
            settings.triggers, None,
            "the default deploys no registrations"
        );
        let loaded = load(&settings, &NoObjects).await;
        let refusal = Diagnostic::from(loaded.unwrap_err().refusal());
        assert_eq!(refusal.error_type, "NonRetryable");
        assert!(
            refusal.error_message.contains("PushRegistrationsKey"),
            "{}",
            refusal.error_message
        );

        let mut env = env.clone();
        env.insert(
            "CERTUS_ASSURANCE_TRIGGERS_URI".into(),
            "s3://work-bucket/config/triggers.toml".into(),
        );
        let settings = Settings::from_vars(&|name| env.get(name).cloned()).unwrap();
        let error = load(&settings, &NoObjects).await.unwrap_err().reason;
        assert!(
            error.contains("s3://work-bucket/config/triggers.toml: NoSuchKey"),
            "{error}"
        );
    }

    #[test]
    fn refusals_of_the_event_are_not_retried_and_store_failures_are() {
        let refused = Diagnostic::from(certus_runtime::Failure(TriggerError::Malformed(
            "detail".into(),
        )));
        assert_eq!(refused.error_type, "NonRetryable");
        let transient = Diagnostic::from(certus_runtime::Failure(TriggerError::Core(
            certus_core::CoreError::Storage("throttled".into()),
        )));
        assert_eq!(transient.error_type, "Retryable");
    }
}
