//! The edge functions' shared wiring (the `api` and `push-trigger` Lambdas): the DynamoDB stores, the push
//! registrations read from the work bucket, and the [`Services`] of a function that records and starts scans
//! but never runs one (the scan-only ports answer that they run in the state machine).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certus_core::attestation::{BuilderInfo, NoSigner};
use certus_core::audit::{AuditLog, AuditedJobStore};
use certus_core::bundle::BundleIndex;
use certus_core::pipeline::{PipelineSettings, Records, ScannerSet, Services};
use certus_core::ports::{
    ArtifactStore, EventLog, JobStore, ManifestFetcher, ManifestVerifier, PreparedSource,
    SourcePreparer,
};
use certus_core::request::SourceSpec;
use certus_core::workspace::RunWorkspace;
use certus_core::CoreError;
use certus_dynamo::{DynamoAuditLog, DynamoEventLog, DynamoJobStore, TableNames};
use certus_triggers::{Format, Registrations, Triggers};

use crate::{ApigwError, ConfigSource};

/// The deployment's DynamoDB tables: jobs (every change written to the audit trail), events, the trail.
pub struct Stores {
    pub jobs: Arc<dyn JobStore>,
    pub events: Arc<dyn EventLog>,
    pub audit: Arc<dyn AuditLog>,
}

/// The stores over the deployment's tables, every job change written to the audit trail.
pub fn stores(client: &aws_sdk_dynamodb::Client, tables: &TableNames) -> Stores {
    let audit: Arc<dyn AuditLog> = Arc::new(DynamoAuditLog::new(client.clone(), &tables.audit));
    Stores {
        jobs: Arc::new(AuditedJobStore::new(
            Arc::new(DynamoJobStore::new(client.clone(), &tables.jobs)),
            audit.clone(),
        )),
        events: Arc::new(DynamoEventLog::new(client.clone(), &tables.events)),
        audit,
    }
}

/// A registrations file larger than this is refused unread.
pub const MAX_REGISTRATIONS_BYTES: usize = 1024 * 1024;

/// The push registrations `source` names (fetched with `fetcher` when it is an `s3://` object), validated.
pub async fn load_triggers(
    source: &ConfigSource,
    fetcher: &dyn ManifestFetcher,
) -> Result<Triggers, ApigwError> {
    let config =
        |reason: String| ApigwError::Config(format!("push registrations {source}: {reason}"));
    let copy = source.local_copy(fetcher, MAX_REGISTRATIONS_BYTES).await?;
    if matches!(source, ConfigSource::S3(_)) {
        let text = std::fs::read_to_string(copy.path()).map_err(|e| config(e.to_string()))?;
        let format = Format::of(copy.path())
            .ok_or_else(|| config("the key must end in .json or .toml".into()))?;
        let references =
            Registrations::secret_references(&text, format).map_err(|e| config(e.to_string()))?;
        for reference in references.iter().filter(|r| is_webhook_secret_file(r)) {
            source
                .fetch_beside(&copy, fetcher, reference, MAX_WEBHOOK_SECRET_BYTES)
                .await?;
        }
    }
    Triggers::load(copy.path()).map_err(|e| config(e.to_string()))
}

/// Registrations kept in S3 name their webhook secrets `webhook-secrets/<name>`: the object of that name beside
/// the registrations object (same bucket and prefix), fetched with the function's role before they are
/// loaded. Other file references are not fetched (loading then names them as unreadable).
pub const WEBHOOK_SECRETS_DIR: &str = "webhook-secrets";
const MAX_WEBHOOK_SECRET_BYTES: usize = 4096;

fn is_webhook_secret_file(reference: &str) -> bool {
    reference
        .strip_prefix(WEBHOOK_SECRETS_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| {
            !name.is_empty()
                && name != "."
                && name != ".."
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

/// The job records of the edge functions (api, push-trigger): jobs and events in the deployment's tables,
/// stream URLs built on `stream_base`; nothing is pushed live from here.
pub fn records(jobs: Arc<dyn JobStore>, events: Arc<dyn EventLog>, stream_base: &str) -> Records {
    Records {
        jobs,
        events,
        sinks: Vec::new(),
        stream_base: stream_base.to_string(),
    }
}

/// Services for the edge functions (api, push-trigger): jobs and events are real; the ports that only the scan runs use (sources,
/// manifests, scanners, signing, bundles) answer that they run in the state machine, not here.
pub fn api_services(
    jobs: Arc<dyn JobStore>,
    events: Arc<dyn EventLog>,
    stream_base: &str,
) -> Services {
    let elsewhere = Arc::new(InStateMachine);
    Services {
        jobs,
        events,
        sinks: Vec::new(),
        artifacts: elsewhere.clone(),
        sources: elsewhere.clone(),
        fetcher: elsewhere.clone(),
        verifier: elsewhere,
        signer: Arc::new(NoSigner(
            "bundle signing runs in the scan state machine, not in the api or push-trigger function",
        )),
        scanners: ScannerSet::default(),
        // Findings are fingerprinted where scanners run (the run-scanner step), never here.
        fingerprint_key: None,
        settings: PipelineSettings {
            workspace_root: std::env::temp_dir().join("certus-runs"),
            keep_workspace: false,
            max_parallel_tools: 1,
            max_log_lines_per_tool: 0,
            max_tool_timeout: Duration::ZERO,
            stream_base: stream_base.to_string(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/lambda-edge".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            runner_id: "lambda:edge".into(),
        },
    }
}

/// The scan-only ports, which the edge functions never run.
struct InStateMachine;

fn elsewhere(what: &str) -> CoreError {
    // A wiring mistake, not an outage: never retried.
    CoreError::Config(format!(
        "{what} runs in the scan state machine, not in the api or push-trigger function"
    ))
}

#[async_trait]
impl SourcePreparer for InStateMachine {
    async fn prepare(
        &self,
        _spec: &SourceSpec,
        _workspace: &RunWorkspace,
    ) -> certus_core::Result<PreparedSource> {
        Err(elsewhere("source preparation"))
    }
}

#[async_trait]
impl ManifestFetcher for InStateMachine {
    async fn fetch(&self, _uri: &str, _max_bytes: usize) -> certus_core::Result<Vec<u8>> {
        Err(elsewhere("manifest fetching"))
    }
}

#[async_trait]
impl ManifestVerifier for InStateMachine {
    fn required(&self) -> bool {
        true
    }
    async fn verify(
        &self,
        _manifest: &[u8],
        _signature: &[u8],
    ) -> certus_core::Result<serde_json::Value> {
        Err(elsewhere("manifest verification"))
    }
}

#[async_trait]
impl ArtifactStore for InStateMachine {
    fn location(&self, _test_id: &str) -> String {
        String::new()
    }
    async fn store_bundle(
        &self,
        _test_id: &str,
        _bundle_dir: &std::path::Path,
        _index: &BundleIndex,
    ) -> certus_core::Result<String> {
        Err(elsewhere("bundle storage"))
    }
    async fn read_file(
        &self,
        _location: &str,
        _rel: &str,
        _max_bytes: usize,
    ) -> certus_core::Result<Option<Vec<u8>>> {
        Err(elsewhere("bundle reading"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Serves the objects it holds; any other URI is missing.
    struct Objects(HashMap<&'static str, &'static [u8]>);

    #[async_trait]
    impl ManifestFetcher for Objects {
        async fn fetch(&self, uri: &str, _max_bytes: usize) -> certus_core::Result<Vec<u8>> {
            self.0
                .get(uri)
                .map(|bytes| bytes.to_vec())
                .ok_or_else(|| CoreError::Manifest(format!("{uri}: NoSuchKey")))
        }
    }

    const REGISTRATIONS: &str = "s3://work-bucket/config/triggers.toml";
    const SECRET: &str = "s3://work-bucket/config/webhook-secrets/payments.secret";
    const GITHUB: &[u8] = br#"
[[registrations]]
id = "payments-github"
provider = "github"
repository = "acme/payments"
clone_url = "https://github.com/acme/payments.git"
secret = "webhook-secrets/payments.secret"
branches = ["main"]
manifest_path = "certus.json"
workspace_id = "ws-acme"
component_id = "payments"
assessment_id = "push"
"#;

    #[tokio::test]
    async fn webhook_secrets_beside_registrations_in_s3_are_fetched_before_loading() {
        let source = ConfigSource::S3(REGISTRATIONS.into());
        let both = Objects(HashMap::from([
            (REGISTRATIONS, GITHUB),
            (SECRET, b"a-webhook-secret-0123456789\n".as_slice()),
        ]));
        let triggers = load_triggers(&source, &both).await.unwrap();
        assert_eq!(triggers.registrations().len(), 1);

        let without = Objects(HashMap::from([(REGISTRATIONS, GITHUB)]));
        let error = load_triggers(&source, &without)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("{SECRET}: NoSuchKey")), "{error}");
    }

    #[test]
    fn only_plain_names_under_webhook_secrets_are_fetched() {
        assert!(is_webhook_secret_file("webhook-secrets/a-b_c.secret"));
        for other in [
            "env://HOOK",
            "hook.secret",
            "webhook-secrets/",
            "webhook-secrets/..",
            "webhook-secrets/a/b",
            "webhook-secretsx/a",
            "../webhook-secrets/a",
        ] {
            assert!(!is_webhook_secret_file(other), "{other}");
        }
    }
}
