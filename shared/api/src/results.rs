//! What a scan found and whether its evidence holds, for the web console and any other client:
//! `GET /v1/security-scans/{test_id}/findings` (every finding of the bundle's merged SARIF, most severe first)
//! and `GET /v1/security-scans/{test_id}/evidence` (the verdict, and the bundle re-verified as `certus
//! verify-bundle` would, pinned to this server's signing key). Both read-only and within the caller's
//! workspaces, like every job route; `GET /v1/session` says who the caller is, so that a client can hide
//! what the caller may not do.

use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use certus_core::bundle;
use certus_core::bundle_check::{verify_bundle, BundleReport, Pins};
use certus_core::report_html::{sort_findings, Verdict};
use certus_core::sarif::read_findings;
use certus_core::CoreError;
use certus_verify::PublicKey;
use serde_json::{json, Value};

use crate::auth::{Principal, WorkspaceScope};
use crate::error::{ApiError, Result};
use crate::routes::ApiState;
use crate::scans::visible_job;

/// Largest merged SARIF read back for the findings route.
const MAX_SARIF_BYTES: usize = 64 * 1024 * 1024;

/// `GET /v1/session`: the caller's tenant, workspaces (`["*"]` for all) and role.
pub async fn session(Extension(principal): Extension<Principal>) -> Json<Value> {
    let workspaces: Vec<String> = match &principal.workspaces {
        WorkspaceScope::All => vec![crate::auth::ANY_WORKSPACE.to_string()],
        WorkspaceScope::Only(set) => set.iter().cloned().collect(),
    };
    Json(json!({
        "tenant": principal.tenant,
        "workspaces": workspaces,
        "role": if principal.read_only { "auditor" } else { "client" },
    }))
}

/// `GET /v1/security-scans/{test_id}/findings`: `{"test_id", "status", "bundle": bool, "findings": [...]}`;
/// `bundle` is false (and the list empty) while the job has no stored bundle or its bundle has no SARIF.
pub async fn findings(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    Path(test_id): Path<String>,
) -> Result<Json<Value>> {
    let job = visible_job(&state, &principal, &test_id).await?;
    let sarif = match &job.bundle_location {
        Some(location) => {
            let bundles = state.bundles.as_ref().ok_or_else(|| {
                // A wiring limit, not an outage: never retried.
                CoreError::Config(format!(
                    "the bundle {location} cannot be read by this server (bundles: none)"
                ))
            })?;
            bundles
                .read_file(location, bundle::MERGED_SARIF, MAX_SARIF_BYTES)
                .await?
        }
        None => None,
    };
    let mut list = match &sarif {
        Some(bytes) => {
            let log: Value = serde_json::from_slice(bytes)
                .map_err(|e| CoreError::json(bundle::MERGED_SARIF, e))?;
            read_findings(&log)?
        }
        None => Vec::new(),
    };
    sort_findings(&mut list);
    Ok(Json(json!({
        "test_id": job.test_id,
        "status": job.status,
        "bundle": sarif.is_some(),
        "findings": list,
    })))
}

/// `GET /v1/security-scans/{test_id}/evidence`: the verdict of a finished job, and one `{name, verdict,
/// detail}` per check of its bundle when the bundle is a directory of this server; `checks` is empty (and
/// `detail` says why) while there is no bundle or it is stored elsewhere.
pub async fn evidence(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    Path(test_id): Path<String>,
) -> Result<Json<Value>> {
    let job = visible_job(&state, &principal, &test_id).await?;
    let verdict = job.status.is_terminal().then(|| Verdict::of(&job).label());
    let (report, detail) = match job.bundle_location.as_deref() {
        None => (None, Some("the job has no bundle yet".to_string())),
        Some(location) if location.contains("://") => (
            None,
            Some(format!(
                "the bundle is stored at {location}: check it with `certus verify-bundle {location}`"
            )),
        ),
        Some(location) => {
            let dir = PathBuf::from(location);
            let pem = state.attestation_key.as_deref().ok_or_else(|| {
                ApiError::Server("the server's signing key: this server signs no bundles".into())
            })?;
            let pin = PublicKey::from_pem(pem)
                .map_err(|e| ApiError::Server(format!("the server's signing key: {e}")))?;
            let report = tokio::task::spawn_blocking(move || {
                verify_bundle(
                    &dir,
                    &Pins {
                        attestation_key: Some(&pin),
                        manifest_key: None,
                    },
                )
            })
            .await
            .map_err(|e| ApiError::Server(format!("bundle verification stopped: {e}")))?;
            (Some(report), None)
        }
    };
    let mut answer = json!({
        "test_id": job.test_id,
        "status": job.status,
        "verdict": verdict,
        "bundle_location": job.bundle_location,
        "passed": report.as_ref().map(BundleReport::passed),
        "checks": report.map(|r| r.checks).unwrap_or_default(),
        "detail": detail,
    });
    state.exposure.value(&mut answer);
    Ok(Json(answer))
}
