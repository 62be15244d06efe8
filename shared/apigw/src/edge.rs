//! The edge functions' shared wiring (the `api` and `push-trigger` Lambdas): the DynamoDB stores, the push
//! registrations read from the work bucket, and the [`Records`] of a function that records and starts scans
//! but never runs one (it builds no port only a scan uses).

use std::sync::Arc;

use certus_core::audit::{AuditLog, AuditedJobStore};
use certus_core::pipeline::Records;
use certus_core::ports::{EventLog, JobStore, ManifestFetcher};
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

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use certus_core::CoreError;
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
