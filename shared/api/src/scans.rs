//! Handlers for submitting, reading, listing and asking to upload scans, always within the caller's
//! workspaces: another tenant's job answers 404 as if it did not exist.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use certus_core::ids::{new_test_id, parse_test_id};
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline;
use certus_core::ports::JobQuery;
use certus_core::request::{SourceSpec, SubmitRequest};
use certus_core::trust::Tier;
use certus_core::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Principal, WorkspaceScope};
use crate::error::{ApiError, Result};
use crate::paths::{check_server_paths, not_uploaded};
use crate::routes::ApiState;
use crate::upload_store::tenant_dir;

const MAX_PAGE: usize = 500;

/// `POST /v1/security-scans`: validate, record the QUEUED job, hand it to the launcher; 202.
pub async fn submit(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>)> {
    let body = body.map_err(|e| body_error(e.status(), e.body_text(), &state))?;
    let request: SubmitRequest = parse_json(&body)?;
    let submission = request.validate()?;
    if !principal.may_use(&submission.ids.workspace_id) {
        return Err(ApiError::Forbidden(submission.ids.workspace_id));
    }
    let mut refused = Vec::new();
    refused.extend(
        submission
            .source
            .secret_reference_refusal(state.limits.git_secrets_prefix.as_deref()),
    );
    // With an archive store, an archive is the caller's upload there or nothing; no server path is read.
    let stored_archive = match (&state.archives, &submission.source) {
        (Some(archives), SourceSpec::Archive { archive_path }) => {
            if !archives.holds(&principal.tenant, archive_path).await? {
                refused.push(not_uploaded());
            }
            true
        }
        _ => false,
    };
    refused.extend(
        check_server_paths(
            &submission,
            &state.limits.allowed_roots,
            &state.limits.upload_dir,
            &tenant_dir(&state.limits.upload_dir, &principal.tenant),
            stored_archive,
        )
        .await,
    );
    if !refused.is_empty() {
        return Err(ApiError::Validation(refused));
    }
    let job = pipeline::submit_for(
        &state.records,
        submission,
        new_test_id()?,
        Some(principal.tenant.clone()),
    )
    .await?;
    state.launcher.launch(job.test_id.clone()).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "test_id": job.test_id,
            "workspace_id": job.ids.workspace_id,
            "component_id": job.ids.component_id,
            "assessment_id": job.ids.assessment_id,
            "status": job.status,
            "profile": job.profile,
            "manifest_digest": job.manifest_digest,
            "stream_url": job.stream_url,
        })),
    ))
}

/// `GET /v1/security-scans/{test_id}`: the job record; 404 when unknown, malformed or not the caller's.
/// While the job waits for a scan slot on this server, `queue_position` (1 = next) is added to the answer
/// (it is not part of the stored record).
pub async fn status(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    Path(test_id): Path<String>,
) -> Result<Json<Value>> {
    let job = visible_job(&state, &principal, &test_id).await?;
    let position = match job.status {
        JobStatus::Queued => state.launcher.queue_position(&job.test_id),
        _ => None,
    };
    let mut answer = state.exposure.job(&job)?;
    if let (Some(position), Some(fields)) = (position, answer.as_object_mut()) {
        fields.insert("queue_position".into(), json!(position));
    }
    Ok(Json(answer))
}

/// `POST /v1/security-scans/{test_id}/cancel`: a QUEUED job never starts, a RUNNING job's run is stopped;
/// the job ends CANCELLED ("cancelled by tenant <name>") with one `scan_complete` and an audit entry. 200
/// with the final status; 404 unknown or not the caller's (as for every route), 409 already ended; auditor
/// keys are refused (403) before this handler.
pub async fn cancel(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    Path(test_id): Path<String>,
) -> Result<Json<Value>> {
    let job = visible_job(&state, &principal, &test_id).await?;
    if job.status.is_terminal() {
        return Err(ApiError::AlreadyEnded {
            test_id: job.test_id,
            status: job.status.to_string(),
        });
    }
    let reason = format!("cancelled by tenant {}", principal.tenant);
    let job = state.launcher.cancel(&job.test_id, &reason).await?;
    Ok(Json(json!({
        "test_id": job.test_id,
        "status": job.status,
        "errors": job.errors,
        "completed_at": job.completed_at.map(|t| certus_core::time::format(&t)),
    })))
}

/// Optional body of the upload request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    #[serde(default)]
    tier: Option<Tier>,
}

/// `POST /v1/security-scans/{test_id}/upload-request`: asks Certus-Trust, then publishes (202 with the upload
/// fields of the record); an optional JSON body `{"tier": …}` read whatever its content type, so a tier is
/// never dropped silently (400 not JSON, 422 wrong shape), 404 unknown, 409 not SUCCEEDED, already in
/// progress, or `verified` asked for an unverified manifest, 501 when this server has no upload gate
/// configured. Asking twice never publishes twice.
pub async fn upload_request(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    Path(test_id): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>)> {
    let body = body.map_err(|e| body_error(e.status(), e.body_text(), &state))?;
    let params: UploadParams = if body.iter().all(u8::is_ascii_whitespace) {
        UploadParams::default()
    } else {
        parse_json(&body)?
    };
    let job = visible_job(&state, &principal, &test_id).await?;
    if job.status != JobStatus::Succeeded {
        return Err(ApiError::NotSucceeded {
            test_id: job.test_id,
            status: job.status.to_string(),
        });
    }
    let gate = state
        .uploads
        .as_ref()
        .ok_or(ApiError::UploadGatingNotConfigured)?;
    let tier = params.tier.unwrap_or(Tier::Basic);
    let job = gate.request_upload(&job.test_id, tier).await?;
    let mut answer = json!({
        "test_id": job.test_id,
        "upload_status": job.upload_status,
        "upload_permission_id": job.upload_permission_id,
        "remote_artifacts": job.remote_artifacts,
        "verification_proof": job.verification_proof,
    });
    state.exposure.value(&mut answer);
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// Query parameters of the list route, as received.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    workspace_id: Option<String>,
    component_id: Option<String>,
    assessment_id: Option<String>,
    status: Option<String>,
    repository: Option<String>,
    commit: Option<String>,
    manifest_digest: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    limit: Option<String>,
    page_token: Option<String>,
}

/// `GET /v1/security-scans`: newest first, filtered, paginated, and restricted to the caller's workspaces
/// in the query itself so that pages stay right.
pub async fn list(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    params: std::result::Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>> {
    let Query(params) = params.map_err(|e| FieldError::new("query", e.body_text()))?;
    let query = job_query(params, &principal)?;
    let page = state.records.jobs.list(&query).await?;
    let exposure = &state.exposure;
    Ok(Json(json!({
        "items": page.jobs.iter().map(|job| exposure.job(job)).collect::<Result<Vec<_>>>()?,
        "next_page_token": page.next_page_token,
    })))
}

fn job_query(params: ListParams, principal: &Principal) -> Result<JobQuery> {
    let mut errors = Vec::new();
    let status = params.status.and_then(|s| {
        JobStatus::parse(&s).or_else(|| {
            errors.push(FieldError::new(
                "status",
                "must be one of QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED",
            ));
            None
        })
    });
    let mut hex = |field: &str, value: Option<String>, digits: usize, what: &str| {
        value.and_then(|v| {
            let lower = v.to_ascii_lowercase();
            if lower.len() == digits && lower.chars().all(|c| c.is_ascii_hexdigit()) {
                Some(lower)
            } else {
                errors.push(FieldError::new(
                    field,
                    format!("must be {what} ({digits} hex digits)"),
                ));
                None
            }
        })
    };
    let commit = hex("commit", params.commit, 40, "a full commit SHA");
    let manifest_digest = hex(
        "manifest_digest",
        params.manifest_digest,
        64,
        "a manifest's SHA-256",
    );
    let mut timestamp = |field: &str, value: Option<String>| {
        value.and_then(|v| match chrono::DateTime::parse_from_rfc3339(&v) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(_) => {
                errors.push(FieldError::new(
                    field,
                    "must be an RFC 3339 timestamp such as 2026-11-28T22:40:05Z",
                ));
                None
            }
        })
    };
    let created_after = timestamp("created_after", params.created_after);
    let created_before = timestamp("created_before", params.created_before);
    let limit = match params.limit.map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                format!("must be a whole number from 1 to {MAX_PAGE}"),
            ));
            0
        }
    };
    let workspace_id = match (&principal.workspaces, params.workspace_id) {
        (_, Some(ws)) if !principal.may_use(&ws) => return Err(ApiError::Forbidden(ws)),
        (_, Some(ws)) => Some(ws),
        (WorkspaceScope::All, None) => None,
        (WorkspaceScope::Only(set), None) if set.len() == 1 => set.iter().next().cloned(),
        (WorkspaceScope::Only(_), None) => {
            errors.push(FieldError::new(
                "workspace_id",
                "is required: your credentials cover several workspaces, list one at a time",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(JobQuery {
        tenant: Some(principal.tenant.clone()),
        workspace_id,
        component_id: params.component_id,
        assessment_id: params.assessment_id,
        status,
        repository: params.repository,
        commit,
        manifest_digest,
        created_after,
        created_before,
        limit,
        page_token: params.page_token,
    })
}

/// The job, if it exists, was recorded for the caller's tenant and is in one of its workspaces; 404
/// otherwise, never 403. An unknown id and another tenant's id take the same path — one store read filtered
/// by tenant in the store itself, so another tenant's record is never parsed — and end in the same error,
/// built from the id as asked: the answers are byte-identical and take the same work.
pub async fn visible_job(state: &ApiState, principal: &Principal, test_id: &str) -> Result<Job> {
    let not_found = || ApiError::JobNotFound(test_id.chars().take(40).collect());
    let test_id = parse_test_id(test_id).map_err(|_| not_found())?;
    match state
        .records
        .jobs
        .get_for_tenant(test_id, &principal.tenant)
        .await?
    {
        Some(job) if principal.may_use(&job.ids.workspace_id) => Ok(job),
        _ => Err(not_found()),
    }
}

/// A JSON body: syntax errors are 400 naming the problem; well-formed JSON of the wrong shape is 422.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::Validation(vec![FieldError::new("body", e.to_string())])
        }
        _ => ApiError::BadRequest(format!("the body is not valid JSON: {e}")),
    })
}

fn body_error(status: StatusCode, text: String, state: &ApiState) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            limit: state.limits.max_body as u64,
        }
    } else {
        ApiError::BadRequest(text)
    }
}
