//! The auditors' route: `GET /v1/security-scans/{test_id}/audit` answers a job's record and its whole
//! audit trail, read-only and within the caller's workspaces (another tenant's job is 404, as everywhere).
//! The trail is found in the request's extensions ([`AuditTrail`]), which `serve_on` adds when its
//! configuration names one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use certus_core::audit::AuditLog;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::{ApiError, Result};
use crate::routes::ApiState;
use crate::scans::visible_job;

/// Where the audit route reads trails.
#[derive(Clone)]
pub struct AuditTrail(pub Arc<dyn AuditLog>);

/// `GET /v1/security-scans/{test_id}/audit`: `{"job": <record>, "trail": [<entry>…]}` in seq order.
pub async fn audit(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    trail: Option<Extension<AuditTrail>>,
    Path(test_id): Path<String>,
) -> Result<Json<Value>> {
    let job = visible_job(&state, &principal, &test_id).await?;
    let Some(Extension(AuditTrail(log))) = trail else {
        return Err(ApiError::Server(
            "no audit trail is configured on this server".into(),
        ));
    };
    let trail = log.trail(&job.test_id).await?;
    // The trail is hash-chained: it is answered as recorded, so that auditors can check the chain.
    Ok(Json(
        json!({"job": state.exposure.job(&job)?, "trail": trail}),
    ))
}
