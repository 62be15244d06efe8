//! The `sync-advisories` function: its environment, read once, and one sync per (scheduled) invocation.
//!
//! Environment: `CERTUS_ASSURANCE_ADVISORY_SNAPSHOT_URL` (https), `CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS`
//! (`s3://<bucket>/<prefix>`), the shared `CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS` and, for a mirror behind a
//! private CA, `CERTUS_ASSURANCE_ADVISORY_CA` (`s3://…` of a PEM bundle trusted beside the public roots).

use std::time::Duration;

use certus_aws::{AwsClients, S3Fetcher, S3Location};
use certus_core::ports::ManifestFetcher;
use certus_core::settings::{Settings, Vars};
use certus_fetch::{FetchPolicy, Timeouts};

use crate::error::{AdvisoriesError, Result};
use crate::pointer::Pointer;
use crate::sync::{sync, SyncConfig, DEFAULT_MAX_DOWNLOAD_BYTES};

/// The largest CA bundle read.
const MAX_CA_BYTES: usize = 256 * 1024;

/// How long the whole download may take (the function's timeout leaves room to unpack and store it).
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(180);

/// The function, built once per process.
pub struct SyncFunction {
    clients: AwsClients,
    config: SyncConfig,
    ca: Option<String>,
}

impl SyncFunction {
    /// Reads the environment through `var`, naming every missing or malformed variable.
    pub async fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars::new(var);
        let settings =
            Settings::from_vars(vars).map_err(|e| AdvisoriesError::Config(e.to_string()))?;
        let required = |name: &str| {
            vars.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
                AdvisoriesError::Config(format!("CERTUS_ASSURANCE_{name} is not set"))
            })
        };
        let url = required("ADVISORY_SNAPSHOT_URL")?;
        let store = S3Location::prefix(&required("ADVISORY_SNAPSHOTS")?).map_err(|e| {
            AdvisoriesError::Config(format!("CERTUS_ASSURANCE_ADVISORY_SNAPSHOTS: {e}"))
        })?;
        let config = certus_aws::sdk_config(settings.s3_endpoint_url.as_deref())
            .await
            .map_err(|e| AdvisoriesError::Config(e.to_string()))?;
        Ok(Self {
            clients: AwsClients::from_sdk_config(&config),
            config: SyncConfig {
                url,
                store,
                fetch: FetchPolicy {
                    allow_hosts: settings.fetch_allow_hosts.clone(),
                    timeouts: Timeouts {
                        total: DOWNLOAD_TIMEOUT,
                        ..Timeouts::default()
                    },
                    ..FetchPolicy::default()
                },
                max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
                scratch: std::env::temp_dir(),
            },
            ca: vars.get("ADVISORY_CA").filter(|v| !v.is_empty()),
        })
    }

    /// One sync; the pointer it made current is the invocation's answer.
    pub async fn invoke(&self) -> Result<Pointer> {
        let mut config = self.config.clone();
        if let Some(uri) = &self.ca {
            let pem = S3Fetcher::new(&self.clients)
                .fetch(uri, MAX_CA_BYTES)
                .await
                .map_err(|e| {
                    AdvisoriesError::Config(format!("CERTUS_ASSURANCE_ADVISORY_CA: {e}"))
                })?;
            config.fetch.extra_ca_pem = Some(pem);
        }
        sync(self.clients.s3(), &config).await
    }
}
