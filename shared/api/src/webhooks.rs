//! `POST /v1/webhooks/github` and `POST /v1/webhooks/gitlab`: push deliveries authenticated by their
//! signature or token (not by API keys), handed to `certus-triggers`. The registrations are an
//! `Extension<Arc<Triggers>>` on the router (`certus serve --triggers`); without one these routes answer 404.
//! Answers: 202 started, 200 already started or ignored (with the reason), 400 malformed, 401 bad or
//! missing signature, 404 unregistered repository, 413 too large.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use certus_triggers::{
    GithubDelivery, GitlabDelivery, Handled, JobStarter, Outcome, TriggerError, Triggers,
};
use serde_json::json;

use crate::launcher::Launcher;
use crate::routes::ApiState;

/// A `Launcher` as the triggers' `JobStarter` (what the `push-trigger` function hands to
/// `certus_triggers::handle_codecommit_event` too).
pub struct Launching<'a>(pub &'a dyn Launcher);

#[async_trait]
impl JobStarter for Launching<'_> {
    async fn start(&self, test_id: String) {
        self.0.launch(test_id).await;
    }
}

/// A refused delivery as an HTTP answer.
pub struct Refusal(Refused);

enum Refused {
    NotConfigured,
    BodyUnreadable { status: StatusCode, reason: String },
    Trigger(TriggerError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, detail) = match self.0 {
            Refused::NotConfigured => (
                StatusCode::NOT_FOUND,
                "push triggers are not configured on this server".to_string(),
            ),
            Refused::BodyUnreadable { status, reason } => (status, reason),
            Refused::Trigger(error) => {
                let status = match &error {
                    TriggerError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                    TriggerError::Malformed(_) | TriggerError::Submission(_) => {
                        StatusCode::BAD_REQUEST
                    }
                    TriggerError::Unregistered { .. } => StatusCode::NOT_FOUND,
                    TriggerError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    TriggerError::RegistrationsFile { .. }
                    | TriggerError::Registrations(_)
                    | TriggerError::Core(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                if status.is_server_error() {
                    eprintln!("certus serve: webhook: {error}");
                    (status, "internal server error".to_string())
                } else {
                    (status, error.to_string())
                }
            }
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}

/// `POST /v1/webhooks/github`.
pub async fn github(
    State(state): State<ApiState>,
    triggers: Option<Extension<Arc<Triggers>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Handled>), Refusal> {
    let Extension(triggers) = triggers.ok_or(Refusal(Refused::NotConfigured))?;
    let body = readable(body)?;
    let delivery = GithubDelivery {
        event: header(&headers, "x-github-event"),
        delivery: header(&headers, "x-github-delivery"),
        signature: header(&headers, "x-hub-signature-256"),
        body: &body,
    };
    let handled = triggers
        .github(
            &delivery,
            &state.records,
            &Launching(state.launcher.as_ref()),
        )
        .await;
    answer(handled)
}

/// `POST /v1/webhooks/gitlab`.
pub async fn gitlab(
    State(state): State<ApiState>,
    triggers: Option<Extension<Arc<Triggers>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Handled>), Refusal> {
    let Extension(triggers) = triggers.ok_or(Refusal(Refused::NotConfigured))?;
    let body = readable(body)?;
    let delivery = GitlabDelivery {
        event: header(&headers, "x-gitlab-event"),
        delivery: header(&headers, "x-gitlab-event-uuid"),
        token: header(&headers, "x-gitlab-token"),
        body: &body,
    };
    let handled = triggers
        .gitlab(
            &delivery,
            &state.records,
            &Launching(state.launcher.as_ref()),
        )
        .await;
    answer(handled)
}

fn readable(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
    body.map_err(|e| {
        Refusal(Refused::BodyUnreadable {
            status: e.status(),
            reason: e.body_text(),
        })
    })
}

/// A header's value; one that is not visible ASCII counts as absent.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn answer(
    handled: certus_triggers::Result<Handled>,
) -> Result<(StatusCode, Json<Handled>), Refusal> {
    let handled = handled.map_err(|e| Refusal(Refused::Trigger(e)))?;
    let status = match handled.outcome {
        Outcome::Started { .. } => StatusCode::ACCEPTED,
        Outcome::AlreadyStarted { .. } | Outcome::Ignored { .. } => StatusCode::OK,
    };
    Ok((status, Json(handled)))
}
