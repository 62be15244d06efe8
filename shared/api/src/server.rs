//! Running `certus serve`: binds, wires the live hub and the local launcher into the services, recovers
//! jobs a previous run left behind, serves the router, and shuts down gracefully on SIGINT/SIGTERM.

use certus_core::upload::UploadGate;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use certus_core::pipeline::Services;
use tokio::net::{TcpListener, TcpSocket};

use crate::auth::AuthConfig;
use crate::connections::{serve_limited, ConnectionLimits};
use crate::error::{ApiError, Result};
use crate::exposure::Exposure;
use crate::hub::{LiveHub, WatcherLimits};
use crate::launcher::{LocalLauncher, LocalUploads, Slots, UploadRequests};
use crate::ratelimit::{RateLimiter, RateLimits};
use crate::routes::{router, ApiState, Limits};
use crate::upload_store::{sweep, UploadQuota};
use certus_core::runner::local_runner_is_gone;

/// What `certus serve` configures.
#[derive(Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// The server's data directory; uploads go to `<data_dir>/uploads` unless `upload_dir` is set.
    pub data_dir: PathBuf,
    pub auth: AuthConfig,
    pub max_concurrent_scans: usize,
    /// Scans one tenant may run at once; `None`: half of `max_concurrent_scans`, rounded up.
    pub max_scans_per_tenant: Option<usize>,
    pub upload_dir: Option<PathBuf>,
    /// Largest JSON body accepted (bytes).
    pub max_body: usize,
    /// Largest uploaded archive accepted (bytes).
    pub max_upload: u64,
    /// How long a shutdown waits for running scans before leaving them to the next start's recovery.
    pub shutdown_grace: Duration,
    /// Server directories callers may name as `directory_path`, `archive_path` or in `file://` manifest and
    /// signature URIs. Empty (the default): only uploaded archives and non-file sources.
    pub allowed_roots: Vec<PathBuf>,
    /// Upload gating and publication for `upload-request`; without it that route answers 501.
    pub uploads: Option<std::sync::Arc<UploadGate>>,
    /// The audit trail the auditors' route reads; without it that route answers 500.
    pub audit: Option<std::sync::Arc<dyn certus_core::audit::AuditLog>>,
    /// Push-trigger registrations for the webhook routes; without them those routes answer 404.
    pub triggers: Option<std::sync::Arc<certus_triggers::Triggers>>,
    /// Connection caps and the header timeout (see [`ConnectionLimits`]).
    pub connections: ConnectionLimits,
    /// How many WebSocket watchers may be open per credential, per tenant and in total.
    pub watchers: WatcherLimits,
    /// Uploads one tenant may keep (count, bytes) and how long one no scan used is kept.
    pub upload_quota: UploadQuota,
    /// Request rate limits per credential and per client address; `None`: requests are not limited.
    pub rate_limits: Option<RateLimits>,
}

impl ServeConfig {
    /// Defaults: 4 concurrent scans, 1 MiB JSON bodies, 512 MiB uploads, 30 s shutdown grace, no server
    /// directory open to callers, and the default [`ConnectionLimits`], [`WatcherLimits`] and [`RateLimits`].
    pub fn new(addr: SocketAddr, data_dir: PathBuf, auth: AuthConfig) -> Self {
        Self {
            addr,
            data_dir,
            auth,
            max_concurrent_scans: 4,
            max_scans_per_tenant: None,
            upload_dir: None,
            max_body: 1024 * 1024,
            max_upload: 512 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            allowed_roots: Vec::new(),
            uploads: None,
            audit: None,
            triggers: None,
            connections: ConnectionLimits::default(),
            watchers: WatcherLimits::default(),
            upload_quota: UploadQuota::default(),
            rate_limits: Some(RateLimits::default()),
        }
    }
}

/// Connections the kernel queues for `accept`. A flood of connections (each closed at once when over a cap)
/// must not fill the queue, or an honest client's SYN is dropped and retried a second later; the kernel
/// caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `config.addr` and serves until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig, services: Services) -> Result<()> {
    let bind_error = |source| ApiError::Bind {
        addr: config.addr.to_string(),
        source,
    };
    let socket = if config.addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_error)?;
    // As `TcpListener::bind` does: a restarted server may bind while old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(config.addr).map_err(bind_error)?;
    let listener = socket.listen(LISTEN_BACKLOG).map_err(bind_error)?;
    serve_on(listener, config, services, shutdown_signal()).await
}

/// Serves on a bound listener until `shutdown` completes. The live hub is added to `services.sinks` here,
/// and an empty `settings.stream_base` becomes `ws://<bound address>`.
pub async fn serve_on<S>(
    listener: TcpListener,
    config: ServeConfig,
    mut services: Services,
    shutdown: S,
) -> Result<()>
where
    S: Future<Output = ()> + Send + 'static,
{
    let local = listener
        .local_addr()
        .map_err(|e| ApiError::Server(format!("the listener has no address: {e}")))?;
    if services.settings.stream_base.is_empty() {
        services.settings.stream_base = format!("ws://{local}");
    }
    let limiter = config.rate_limits.map(RateLimiter::new).transpose()?;
    let hub = LiveHub::with_limits(config.watchers);
    services.sinks.push(hub.clone());
    let upload_dir = config
        .upload_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("uploads"));
    std::fs::create_dir_all(&upload_dir).map_err(|e| ApiError::io(&upload_dir, e))?;
    let upload_dir = upload_dir
        .canonicalize()
        .map_err(|e| ApiError::io(&upload_dir, e))?;
    let allowed_roots = config
        .allowed_roots
        .iter()
        .map(|root| root.canonicalize().map_err(|e| ApiError::io(root, e)))
        .collect::<Result<Vec<_>>>()?;
    let launcher = LocalLauncher::new(
        services.clone(),
        Slots::new(config.max_concurrent_scans, config.max_scans_per_tenant),
        Some(upload_dir.clone()),
    );
    let sweeper = tokio::spawn(sweep_uploads(upload_dir.clone(), config.upload_quota.ttl));
    let recovery = launcher.recover(&local_runner_is_gone).await?;
    if !recovery.failed.is_empty() || !recovery.relaunched.is_empty() {
        eprintln!(
            "certus serve: ended {} interrupted job(s) as FAILED, relaunched {} queued job(s)",
            recovery.failed.len(),
            recovery.relaunched.len()
        );
    }
    if config.auth.is_disabled() {
        eprintln!("certus serve: WARNING: authentication is disabled; anyone who can connect may use every workspace");
    }
    let state = ApiState {
        exposure: Arc::new(Exposure::new(&services.settings.workspace_root)),
        records: services.records(),
        bundles: services.artifacts.clone(),
        attestation_key: services.signer.as_ref().map(|s| s.public_key_pem()),
        auth: config.auth.clone(),
        launcher: launcher.clone(),
        hub,
        uploads: config.uploads.clone().map(|gate| {
            Arc::new(LocalUploads {
                gate,
                services: services.clone(),
            }) as Arc<dyn UploadRequests>
        }),
        limits: Limits {
            max_body: config.max_body,
            max_upload: config.max_upload,
            upload_dir,
            allowed_roots,
            upload_quota: config.upload_quota,
            // `certus serve` runs without AWS: `secretsmanager:` references are refused naming the field.
            git_secrets_prefix: None,
        },
        archives: None,
    };
    eprintln!("certus serve: listening on http://{local}");
    let mut app =
        with_optional_routes(router(state), config.audit.clone(), config.triggers.clone());
    if let Some(limiter) = limiter {
        app = app.layer(axum::Extension(limiter));
    }
    serve_limited(
        listener,
        app,
        config.connections,
        config.shutdown_grace,
        shutdown,
    )
    .await;
    sweeper.abort();
    if !launcher.drain(config.shutdown_grace).await {
        eprintln!(
            "certus serve: scans still running at shutdown will be marked FAILED at the next start"
        );
    }
    Ok(())
}

/// Removes uploads no scan used within `ttl`, at start and then every quarter of `ttl` (1 s to 1 h).
async fn sweep_uploads(upload_dir: PathBuf, ttl: Duration) {
    let every = (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        let dir = upload_dir.clone();
        if let Ok(removed @ 1..) = tokio::task::spawn_blocking(move || sweep(&dir, ttl)).await {
            eprintln!("certus serve: removed {removed} upload(s) no scan used");
        }
        tokio::time::sleep(every).await;
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    eprintln!("certus serve: shutting down");
}

/// Turns on the routes that need more than [`ApiState`]: the auditors' trail and the push webhooks (their
/// registrations). Without them those routes answer 500 and 404. `certus serve` and the api Lambda both call it.
pub fn with_optional_routes(
    mut app: axum::Router,
    audit: Option<Arc<dyn certus_core::audit::AuditLog>>,
    triggers: Option<Arc<certus_triggers::Triggers>>,
) -> axum::Router {
    if let Some(triggers) = triggers {
        app = app.layer(axum::Extension(triggers));
    }
    if let Some(trail) = audit {
        app = app.layer(axum::Extension(crate::audit::AuditTrail(trail)));
    }
    app
}
