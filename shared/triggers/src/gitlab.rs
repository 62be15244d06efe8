//! GitLab push hooks: `X-Gitlab-Token` compared in constant time with the registration's secret before
//! anything is parsed; `Push Hook` events of branches start scans, deletes and tag pushes do not.

use serde::Deserialize;

use crate::error::{Result, TriggerError};
use crate::push::{commit_id, is_null_commit, Push};
use crate::registration::{Provider, Registration, Registrations};
use crate::Verdict;

/// The parts of a GitLab delivery the trigger reads.
#[derive(Debug, Clone, Copy)]
pub struct GitlabDelivery<'a> {
    /// `X-Gitlab-Event`.
    pub event: Option<&'a str>,
    /// `X-Gitlab-Event-UUID` (sent by GitLab 15.x and later).
    pub delivery: Option<&'a str>,
    /// `X-Gitlab-Token`.
    pub token: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Deserialize)]
struct PushPayload {
    object_kind: String,
    #[serde(rename = "ref")]
    reference: String,
    after: String,
    checkout_sha: Option<String>,
    project: Project,
}

#[derive(Deserialize)]
struct Project {
    path_with_namespace: String,
}

/// The GitLab registrations whose secret is the delivery's token; an error when none is.
pub(crate) fn authenticate<'r>(
    registrations: &'r Registrations,
    delivery: &GitlabDelivery<'_>,
) -> Result<Vec<&'r Registration>> {
    let token = delivery.token.ok_or_else(|| {
        TriggerError::Unauthenticated("the X-Gitlab-Token header is missing".into())
    })?;
    let matching: Vec<&Registration> = registrations
        .of(Provider::Gitlab)
        .filter(|r| r.secret().is_some_and(|s| s.equals(token.as_bytes())))
        .collect();
    if matching.is_empty() {
        return Err(TriggerError::Unauthenticated(
            "X-Gitlab-Token is not a registered webhook secret".into(),
        ));
    }
    Ok(matching)
}

/// What an authenticated delivery asks for.
pub(crate) fn read<'r>(
    registrations: &'r Registrations,
    authenticated: &[&'r Registration],
    delivery: &GitlabDelivery<'_>,
) -> Result<Verdict<'r>> {
    match delivery.event {
        None => {
            return Err(TriggerError::Malformed(
                "the X-Gitlab-Event header is missing".into(),
            ))
        }
        Some("Push Hook") => {}
        Some(other) => {
            return Ok(Verdict::Ignored(format!(
                "'{}' events do not start scans",
                other.chars().take(40).collect::<String>()
            )))
        }
    }
    let payload: PushPayload = serde_json::from_slice(delivery.body)
        .map_err(|e| TriggerError::Malformed(format!("push hook payload: {e}")))?;
    if payload.object_kind != "push" {
        return Err(TriggerError::Malformed(
            "push hook payload: object_kind is not 'push'".into(),
        ));
    }
    let path = &payload.project.path_with_namespace;
    let registration =
        registrations
            .find(Provider::Gitlab, path)
            .ok_or_else(|| TriggerError::Unregistered {
                provider: Provider::Gitlab,
                repository: path.chars().take(200).collect(),
            })?;
    if !authenticated.iter().any(|r| r.id == registration.id) {
        return Err(TriggerError::Unauthenticated(format!(
            "X-Gitlab-Token is not the secret registered for '{}'",
            registration.repository
        )));
    }
    let head = payload.checkout_sha.as_deref().unwrap_or(&payload.after);
    if is_null_commit(&payload.after) || is_null_commit(head) {
        return Ok(Verdict::Ignored(format!(
            "'{}' was deleted",
            payload.reference
        )));
    }
    let Some(branch) = payload
        .reference
        .strip_prefix("refs/heads/")
        .filter(|b| !b.is_empty())
    else {
        return Ok(Verdict::Ignored(format!(
            "'{}' is not a branch",
            payload.reference.chars().take(200).collect::<String>()
        )));
    };
    let commit = commit_id(head).ok_or_else(|| {
        TriggerError::Malformed("push hook payload: 'checkout_sha' is not a commit id".into())
    })?;
    Ok(Verdict::Push(
        registration,
        Push {
            branch: branch.to_string(),
            commit,
        },
    ))
}
