//! `certus serve`: the HTTP API and live WebSocket stream on this machine, running submitted scans
//! in-process; `certus watch`: follow one scan's events.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use certus_api::{
    hash_key, ApiKeys, AuthConfig, Bucket, ConnectionLimits, JwtSettings, JwtVerifier, RateLimits,
    ServeConfig, UploadQuota, WatcherLimits,
};
use certus_core::event::EventBody;
use certus_core::settings::Settings;

use crate::error::{CliError, Result};
use crate::local::{self, LocalOptions, VerificationFlags};
use crate::upload;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on: IP:PORT, or localhost:PORT for the loopback address.
    #[arg(long, default_value = "127.0.0.1:8056", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Data directory (job database, workspaces, bundles, uploads).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// API keys file: `[{"key_sha256", "tenant", "workspaces": [...]}]` (hash keys with `--hash-key`).
    #[arg(long)]
    pub api_keys: Option<PathBuf>,
    /// JWKS file for OIDC/JWT bearer tokens, with the issuer and audience to require.
    #[arg(long, requires_all = ["issuer", "audience"])]
    pub jwks: Option<PathBuf>,
    /// The `iss` every JWT must carry.
    #[arg(long)]
    pub issuer: Option<String>,
    /// An `aud` every JWT must include.
    #[arg(long)]
    pub audience: Option<String>,
    /// Serve without authentication (development only; every caller may use every workspace).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// A server directory callers may name as a directory or archive source or a `file://` manifest.
    #[arg(long = "allow-root")]
    pub allow_roots: Vec<PathBuf>,
    /// Scan everything on every scan: keep no file tables or per-file results in `<data dir>/cache/` (by
    /// default a rescan scans only changed content, each tenant's results kept apart).
    #[arg(long)]
    pub no_scan_cache: bool,
    /// Scans run at the same time; more wait in the queue.
    #[arg(long, default_value_t = 4)]
    pub max_scans: usize,
    /// Scans one tenant may run at the same time (default: half of --max-scans, rounded up), so one
    /// tenant's scans never hold every slot.
    #[arg(long)]
    pub max_scans_per_tenant: Option<usize>,
    /// Uploaded archives one tenant may keep stored (an upload is deleted once the scan that used it ends).
    #[arg(long, default_value_t = UploadQuota::default().max_count)]
    pub max_uploads_per_tenant: usize,
    /// Bytes of uploaded archives one tenant may keep stored.
    #[arg(long, default_value_t = UploadQuota::default().max_bytes)]
    pub max_upload_bytes_per_tenant: u64,
    /// Seconds an uploaded archive no scan used is kept.
    #[arg(long, default_value_t = UploadQuota::default().ttl.as_secs())]
    pub upload_ttl_secs: u64,
    /// Connections held at once (WebSockets included); more are closed as soon as they are accepted.
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections)]
    pub max_connections: usize,
    /// Connections held at once from one client address.
    #[arg(long, default_value_t = ConnectionLimits::default().max_per_client)]
    pub max_connections_per_client: usize,
    /// Seconds a connection may take to send a request's headers (also how long an idle one is kept).
    #[arg(long, default_value_t = ConnectionLimits::default().header_timeout.as_secs())]
    pub header_timeout_secs: u64,
    /// Open WebSocket watchers allowed per credential, per tenant and in total.
    #[arg(long, default_value_t = WatcherLimits::default().per_key)]
    pub max_watchers_per_key: usize,
    #[arg(long, default_value_t = WatcherLimits::default().per_tenant)]
    pub max_watchers_per_tenant: usize,
    #[arg(long, default_value_t = WatcherLimits::default().total)]
    pub max_watchers: usize,
    /// Requests per second one credential may make, after a burst of --rate-burst-per-key; more are
    /// answered 429 with Retry-After (`/health` is never limited).
    #[arg(long, default_value_t = RateLimits::default().per_key.per_second)]
    pub rate_per_key: f64,
    #[arg(long, default_value_t = RateLimits::default().per_key.burst)]
    pub rate_burst_per_key: u32,
    /// Requests per second from one client address without a valid credential (failed authentications,
    /// the console, the OpenAPI document, the push webhooks), after a burst of --rate-burst-per-client.
    #[arg(long, default_value_t = RateLimits::default().per_client.per_second)]
    pub rate_per_client: f64,
    #[arg(long, default_value_t = RateLimits::default().per_client.burst)]
    pub rate_burst_per_client: u32,
    /// Rate-limit buckets kept at most, per credential and per client address (idle ones are dropped first).
    #[arg(long, default_value_t = RateLimits::default().max_tracked)]
    pub rate_limit_tracked: usize,
    /// Print the SHA-256 of an API key for the keys file, and exit.
    #[arg(long, value_name = "KEY")]
    pub hash_key: Option<String>,
    /// Manifest verification key (PEM file or `env://VAR`).
    #[arg(long)]
    pub key: Option<String>,
    /// Refuse every scan whose manifest has no valid signature.
    #[arg(long)]
    pub require_signature: bool,
    /// Push-trigger registrations (`.json` or `.toml`): serves POST /v1/webhooks/github and /gitlab.
    #[arg(long, value_name = "FILE")]
    pub triggers: Option<PathBuf>,
}

/// `IP:PORT`, or `localhost:PORT` as the IPv4 loopback; no other name is looked up.
fn parse_addr(text: &str) -> std::result::Result<SocketAddr, String> {
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{port}' is not a port number"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse()
        .map_err(|_| "must be IP:PORT (127.0.0.1:8056, [::1]:8056) or localhost:PORT".to_string())
}

pub async fn run(args: ServeArgs) -> Result<i32> {
    if let Some(key) = &args.hash_key {
        println!("{}", hash_key(key));
        return Ok(0);
    }
    let settings = Settings::from_env()?;
    let triggers = match &args.triggers {
        Some(path) => Some(Arc::new(
            certus_triggers::Triggers::load(path).map_err(|e| CliError::Usage(e.to_string()))?,
        )),
        None => None,
    };
    let auth = if args.insecure_no_auth {
        AuthConfig::disabled()
    } else {
        let keys = match &args.api_keys {
            Some(path) => ApiKeys::load(path).map_err(|e| CliError::Usage(e.to_string()))?,
            None => ApiKeys::default(),
        };
        let jwt = match (&args.jwks, &args.issuer, &args.audience) {
            (Some(jwks), Some(issuer), Some(audience)) => Some(
                JwtVerifier::load(JwtSettings::new(jwks.clone(), issuer, audience))
                    .map_err(|e| CliError::Usage(e.to_string()))?,
            ),
            _ => None,
        };
        AuthConfig::new(keys, jwt).map_err(|e| {
            CliError::Usage(format!(
                "{e} (pass --api-keys or --jwks, or --insecure-no-auth for development)"
            ))
        })?
    };
    let policy = local::signature_policy(
        &VerificationFlags {
            key: args.key.as_deref(),
            require: args.require_signature,
            trusted_root: None,
            identity: None,
            issuer: None,
        },
        &settings,
    )
    .await?;
    let data_dir = local::data_dir(args.data_dir.as_deref(), &settings)?;
    let uploads_dir = data_dir.join("uploads");
    let mut roots = args.allow_roots.clone();
    roots.push(uploads_dir.clone());
    local::private_dir(&data_dir)?;
    local::private_dir(&uploads_dir)?;
    let services = local::services(
        LocalOptions {
            scan_cache: !args.no_scan_cache,
            ..LocalOptions::headless(data_dir.clone(), Some(roots))
        },
        policy,
        &settings,
    )
    .await?;
    let mut config = ServeConfig::new(args.addr, data_dir.clone(), auth);
    config.max_concurrent_scans = args.max_scans;
    if args.max_scans_per_tenant == Some(0) {
        return Err(CliError::Usage(
            "--max-scans-per-tenant must be at least 1".into(),
        ));
    }
    config.max_scans_per_tenant = args.max_scans_per_tenant;
    if args.max_uploads_per_tenant == 0 || args.max_upload_bytes_per_tenant == 0 {
        return Err(CliError::Usage(
            "--max-uploads-per-tenant and --max-upload-bytes-per-tenant must be at least 1".into(),
        ));
    }
    config.upload_quota = UploadQuota {
        max_count: args.max_uploads_per_tenant,
        max_bytes: args.max_upload_bytes_per_tenant,
        ttl: std::time::Duration::from_secs(args.upload_ttl_secs),
    };
    if args.max_connections == 0
        || args.max_connections_per_client == 0
        || args.header_timeout_secs == 0
    {
        return Err(CliError::Usage(
            "--max-connections, --max-connections-per-client and --header-timeout-secs must be at least 1"
                .into(),
        ));
    }
    config.connections = ConnectionLimits {
        max_connections: args.max_connections,
        max_per_client: args.max_connections_per_client,
        header_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
    };
    config.watchers = WatcherLimits {
        per_key: args.max_watchers_per_key,
        per_tenant: args.max_watchers_per_tenant,
        total: args.max_watchers,
    };
    let rate_limits = RateLimits {
        per_key: Bucket {
            burst: args.rate_burst_per_key,
            per_second: args.rate_per_key,
        },
        per_client: Bucket {
            burst: args.rate_burst_per_client,
            per_second: args.rate_per_client,
        },
        max_tracked: args.rate_limit_tracked,
    };
    rate_limits.check().map_err(|reason| {
        CliError::Usage(format!(
            "{reason} (--rate-per-key, --rate-burst-per-key, --rate-per-client, \
             --rate-burst-per-client, --rate-limit-tracked)"
        ))
    })?;
    config.rate_limits = Some(rate_limits);
    config.upload_dir = Some(uploads_dir);
    config.allowed_roots = args.allow_roots;
    config.triggers = triggers;
    config.audit = Some(Arc::new(certus_local::SqliteStore::open(
        &data_dir.join("certus.db"),
    )?));
    config.uploads = Some(Arc::new(
        upload::gate(&services, &settings, &data_dir).await?,
    ));
    eprintln!(
        "certus: serving the API on http://{} (data in {})",
        args.addr,
        data_dir.display()
    );
    certus_api::serve(config, services)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The scan to follow (test_ and 12 hex digits).
    pub test_id: String,
    /// The server (`certus serve`) to watch on.
    #[arg(long, default_value = "ws://127.0.0.1:8056")]
    pub server: String,
    /// API key or bearer token (also `CERTUS_API_TOKEN`).
    #[arg(long, env = "CERTUS_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print each event as a raw JSON line instead of the progress lines `certus scan` shows.
    #[arg(long)]
    pub json: bool,
}

/// Shows each event as `certus scan` does (or as a JSON line with `--json`); exits 0 when the scan
/// succeeded, 1 when it failed, 2 on errors.
pub async fn watch(args: WatchArgs) -> Result<i32> {
    let progress = crate::console::ConsoleProgress::stdout();
    certus_core::ids::parse_test_id(&args.test_id)?;
    let url = format!(
        "{}/v1/security-scans/{}/stream",
        args.server.trim_end_matches('/'),
        args.test_id
    );
    let last = certus_api::watch(&url, args.token.as_deref(), |event| {
        if args.json {
            println!("{}", event.to_json_line());
        } else {
            progress.render(event);
        }
    })
    .await
    .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(match last.map(|e| e.body) {
        Some(EventBody::ScanComplete {
            status: certus_core::job::JobStatus::Succeeded,
            ..
        }) => 0,
        Some(_) => 1,
        None => 2,
    })
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The scan to cancel (test_ and 12 hex digits).
    pub test_id: String,
    /// The server (`certus serve`): `http://host:port`, or the `ws://` address `certus watch` takes.
    #[arg(long, default_value = "http://127.0.0.1:8056")]
    pub server: String,
    /// API key or bearer token (also `CERTUS_API_TOKEN`); auditor keys may not cancel.
    #[arg(long, env = "CERTUS_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Asks the server to cancel a QUEUED or RUNNING scan (`POST /v1/security-scans/{id}/cancel`). Prints the
/// final status; exits 0 when the scan is now CANCELLED, 1 when it had already ended (or ended first), 2 on
/// errors (unknown id, refused credentials, no server).
pub async fn cancel(args: CancelArgs) -> Result<i32> {
    certus_core::ids::parse_test_id(&args.test_id)?;
    let base = args.server.trim_end_matches('/');
    let base = match base.split_once("://") {
        Some(("ws", rest)) => format!("http://{rest}"),
        Some(("wss", rest)) => format!("https://{rest}"),
        Some(("http" | "https", _)) => base.to_string(),
        _ => {
            return Err(CliError::Usage(format!(
                "--server must be an http(s):// or ws(s):// address, not '{}'",
                args.server
            )))
        }
    };
    let url = format!("{base}/v1/security-scans/{}/cancel", args.test_id);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| CliError::Usage(format!("cannot build the HTTP client: {e}")))?;
    let mut request = client.post(&url);
    if let Some(token) = &args.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CliError::Usage(format!("{url}: {e}")))?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| CliError::Usage(format!("{url}: the answer is not JSON: {e}")))?;
    match status {
        200 => {
            let ended = body["status"].as_str().unwrap_or("unknown");
            println!("{} {ended}", args.test_id);
            Ok(if ended == "CANCELLED" { 0 } else { 1 })
        }
        409 => {
            eprintln!(
                "certus: {}",
                body["detail"].as_str().unwrap_or("already ended")
            );
            Ok(1)
        }
        _ => Err(CliError::Usage(format!(
            "{url}: HTTP {status}: {}",
            body["detail"].as_str().unwrap_or("no detail")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    #[test]
    fn localhost_means_the_loopback_address_and_nothing_else_is_looked_up() {
        assert_eq!(
            parse_addr("localhost:9000").unwrap().to_string(),
            "127.0.0.1:9000"
        );
        assert_eq!(parse_addr("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_addr("localhost:http").is_err());
        assert!(parse_addr("example.invalid:80").is_err());
    }
}
