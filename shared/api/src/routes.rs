//! The route table of spec §2 and the router that serves it, with authentication in front of every route
//! but `/health`, the web console's assets, `/openapi.yaml` and the push webhooks (which carry their own
//! signature), a body-size cap on every route that takes a body, and (under `certus serve`) the request rate
//! limits of [`ratelimit`] on every route but `/health`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use certus_core::pipeline::Records;
use certus_core::ports::ArtifactStore;
use serde_json::{json, Value};

use crate::archives::ArchiveStore;
use crate::auth::{credential_name, AuthConfig, GatewayClaims};
use crate::error::{ApiError, Result};
use crate::exposure::Exposure;
use crate::hub::LiveHub;
use crate::launcher::{Launcher, UploadRequests};
use crate::upload_store::UploadQuota;
use crate::{audit, console, ratelimit, results, scans, stream, upload, webhooks};

/// One route: method, path (axum syntax) and every status code its handler can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub success: u16,
    pub statuses: &'static [u16],
}

pub const HEALTH: &str = "/health";
pub const SCANS: &str = "/v1/security-scans";
pub const SCAN: &str = "/v1/security-scans/{test_id}";
pub const CANCEL: &str = "/v1/security-scans/{test_id}/cancel";
pub const UPLOAD_REQUEST: &str = "/v1/security-scans/{test_id}/upload-request";
pub const UPLOAD_ARCHIVE: &str = "/v1/security-scans/upload-archive";
pub const STREAM: &str = "/v1/security-scans/{test_id}/stream";
pub const GITHUB_WEBHOOK: &str = "/v1/webhooks/github";
pub const GITLAB_WEBHOOK: &str = "/v1/webhooks/gitlab";
pub const AUDIT: &str = "/v1/security-scans/{test_id}/audit";
pub const FINDINGS: &str = "/v1/security-scans/{test_id}/findings";
pub const EVIDENCE: &str = "/v1/security-scans/{test_id}/evidence";
pub const SESSION: &str = "/v1/session";

/// Every route the router serves; the OpenAPI document must describe exactly these.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: GITHUB_WEBHOOK,
        success: 202,
        statuses: &[200, 202, 400, 401, 404, 413, 429, 500],
    },
    RouteSpec {
        method: "POST",
        path: GITLAB_WEBHOOK,
        success: 202,
        statuses: &[200, 202, 400, 401, 404, 413, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: HEALTH,
        success: 200,
        statuses: &[200],
    },
    RouteSpec {
        method: "GET",
        path: console::OPENAPI,
        success: 200,
        statuses: &[200, 429],
    },
    RouteSpec {
        method: "GET",
        path: SESSION,
        success: 200,
        statuses: &[200, 401, 429],
    },
    RouteSpec {
        method: "POST",
        path: SCANS,
        success: 202,
        statuses: &[202, 400, 401, 403, 413, 422, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: SCANS,
        success: 200,
        statuses: &[200, 401, 403, 422, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: SCAN,
        success: 200,
        statuses: &[200, 401, 404, 429, 500],
    },
    RouteSpec {
        method: "POST",
        path: CANCEL,
        success: 200,
        statuses: &[200, 401, 403, 404, 409, 429, 500],
    },
    RouteSpec {
        method: "POST",
        path: UPLOAD_REQUEST,
        success: 202,
        statuses: &[202, 400, 401, 403, 404, 409, 413, 422, 429, 500, 501],
    },
    RouteSpec {
        method: "POST",
        path: UPLOAD_ARCHIVE,
        success: 201,
        statuses: &[201, 400, 401, 403, 413, 415, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: AUDIT,
        success: 200,
        statuses: &[200, 401, 404, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: FINDINGS,
        success: 200,
        statuses: &[200, 401, 404, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: EVIDENCE,
        success: 200,
        statuses: &[200, 401, 404, 429, 500],
    },
    RouteSpec {
        method: "GET",
        path: STREAM,
        success: 101,
        statuses: &[101, 400, 401, 426, 429],
    },
];

/// Limits and places the handlers need besides the services.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest JSON body accepted.
    pub max_body: usize,
    /// Largest uploaded archive accepted.
    pub max_upload: u64,
    /// Uploaded archives are stored under here, one random subdirectory each (a canonical path).
    pub upload_dir: PathBuf,
    /// Server directories callers may name as `directory_path`, `archive_path` or `file://` URIs
    /// (canonical paths; empty: none).
    pub allowed_roots: Vec<PathBuf>,
    /// Uploads one tenant may keep, and how long an unused one is kept.
    pub upload_quota: UploadQuota,
    /// The name prefix of the Secrets Manager secrets a `git_credentials_ref` may name (on AWS,
    /// `CERTUS_ASSURANCE_GIT_SECRETS_PREFIX`); `None`: `secretsmanager:` references are refused at submission.
    pub git_secrets_prefix: Option<String>,
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// Jobs, their events and stream URLs.
    pub records: Records,
    /// Where the findings route reads stored bundles; `None` where this server reads none (the `api`
    /// function: bundles are stored by the scan state machine), and a job's findings are then refused.
    pub bundles: Option<Arc<dyn ArtifactStore>>,
    /// The PEM of the key this server signs bundles with: the evidence route checks bundles stored in its
    /// directories against it. `None` where this server signs none.
    pub attestation_key: Option<String>,
    pub auth: AuthConfig,
    pub launcher: Arc<dyn Launcher>,
    pub hub: Arc<LiveHub>,
    pub limits: Limits,
    /// Upload requests: the embedded gate locally, the upload state machine on AWS; `None` answers 501.
    pub uploads: Option<Arc<dyn UploadRequests>>,
    /// Where uploaded archives go: `None` keeps them in `limits.upload_dir` (`certus serve`); on AWS the
    /// work bucket, which the functions preparing sources can read.
    pub archives: Option<Arc<dyn ArchiveStore>>,
    /// What of the server's internals clients must not see ([`Exposure::new`] of the workspace root).
    pub exposure: Arc<Exposure>,
}

/// The whole HTTP API.
pub fn router(state: ApiState) -> Router {
    let json_cap = DefaultBodyLimit::max(state.limits.max_body);
    // Multipart framing adds a little to the file itself.
    let upload_cap = usize::try_from(state.limits.max_upload)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let webhook_cap = DefaultBodyLimit::max(certus_triggers::MAX_BODY);
    let authenticated = Router::new()
        .route(SCANS, post(scans::submit).layer(json_cap).get(scans::list))
        .route(SCAN, get(scans::status))
        .route(CANCEL, post(scans::cancel))
        .route(AUDIT, get(audit::audit))
        .route(FINDINGS, get(results::findings))
        .route(EVIDENCE, get(results::evidence))
        .route(SESSION, get(results::session))
        .route(UPLOAD_REQUEST, post(scans::upload_request).layer(json_cap))
        .route(
            UPLOAD_ARCHIVE,
            post(upload::upload_archive).layer(DefaultBodyLimit::max(upload_cap)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth));
    // Limited per client address (when `certus serve` limits rates); `/health` never is.
    let public = Router::new()
        // The console and the OpenAPI document hold no data; the API they call is authenticated.
        .route(console::INDEX, get(console::index))
        .route(console::SCRIPT, get(console::script))
        .route(console::STYLE, get(console::style))
        .route(console::OPENAPI, get(console::openapi))
        // Authenticated by their signature or token; the triggers check it before reading the body.
        .route(GITHUB_WEBHOOK, post(webhooks::github).layer(webhook_cap))
        .route(GITLAB_WEBHOOK, post(webhooks::gitlab).layer(webhook_cap))
        .route_layer(middleware::from_fn(ratelimit::limit_client));
    Router::new()
        .route(HEALTH, get(health))
        .merge(public)
        // Authenticates (and counts against the rate limits) itself, before the upgrade.
        .route(STREAM, get(stream::stream))
        .merge(authenticated)
        .fallback(no_route)
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute(format!("{method} {}", uri.path()))
}

/// Authenticates before any body is read, and counts the request against the rate limits (the credential's
/// bucket, or the client address's when authentication failed); the handlers find the caller in the
/// request's extensions.
async fn require_auth(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response> {
    let claims = request.extensions().get::<GatewayClaims>();
    let principal = ratelimit::after_authentication(
        ratelimit::of(&request).as_ref(),
        || credential_name(request.headers(), None),
        state
            .auth
            .authenticate_with(request.headers(), None, claims),
    )?;
    if principal.read_only && !matches!(*request.method(), Method::GET | Method::HEAD) {
        return Err(ApiError::ReadOnly(format!(
            "{} {}",
            request.method(),
            request.uri().path()
        )));
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}
