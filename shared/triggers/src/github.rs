//! GitHub `push` webhooks: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body under the registration's
//! secret) is checked before anything is parsed; `ping` is answered; deletes, tags and other events start
//! nothing.

use serde::Deserialize;

use crate::error::{Result, TriggerError};
use crate::push::{commit_id, is_null_commit, Push};
use crate::registration::{Provider, Registration, Registrations};
use crate::Verdict;

/// The parts of a GitHub delivery the trigger reads: three headers and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct GithubDelivery<'a> {
    /// `X-GitHub-Event`.
    pub event: Option<&'a str>,
    /// `X-GitHub-Delivery`.
    pub delivery: Option<&'a str>,
    /// `X-Hub-Signature-256`.
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    reference: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: Repository,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

/// The GitHub registrations whose secret signed exactly this body; an error when none did.
pub(crate) fn authenticate<'r>(
    registrations: &'r Registrations,
    delivery: &GithubDelivery<'_>,
) -> Result<Vec<&'r Registration>> {
    let header = delivery.signature.ok_or_else(|| {
        TriggerError::Unauthenticated("the X-Hub-Signature-256 header is missing".into())
    })?;
    let mac = header
        .strip_prefix("sha256=")
        .filter(|hex| hex.len() == 64)
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or_else(|| {
            TriggerError::Unauthenticated(
                "X-Hub-Signature-256 must be sha256= followed by 64 hex digits".into(),
            )
        })?;
    let signed: Vec<&Registration> = registrations
        .of(Provider::Github)
        .filter(|r| r.secret().is_some_and(|s| s.signed(delivery.body, &mac)))
        .collect();
    if signed.is_empty() {
        return Err(TriggerError::Unauthenticated(
            "X-Hub-Signature-256 does not match the body under any registered webhook secret"
                .into(),
        ));
    }
    Ok(signed)
}

/// What an authenticated delivery asks for.
pub(crate) fn read<'r>(
    registrations: &'r Registrations,
    signed: &[&'r Registration],
    delivery: &GithubDelivery<'_>,
) -> Result<Verdict<'r>> {
    match delivery.event {
        None => {
            return Err(TriggerError::Malformed(
                "the X-GitHub-Event header is missing".into(),
            ))
        }
        Some("ping") => return Ok(Verdict::Ignored("ping: the webhook is set up".into())),
        Some("push") => {}
        Some(other) => {
            return Ok(Verdict::Ignored(format!(
                "'{}' events do not start scans",
                other.chars().take(40).collect::<String>()
            )))
        }
    }
    let payload: PushPayload = serde_json::from_slice(delivery.body)
        .map_err(|e| TriggerError::Malformed(format!("push payload: {e}")))?;
    let registration = registrations
        .find(Provider::Github, &payload.repository.full_name)
        .ok_or_else(|| TriggerError::Unregistered {
            provider: Provider::Github,
            repository: payload.repository.full_name.chars().take(200).collect(),
        })?;
    if !signed.iter().any(|r| r.id == registration.id) {
        return Err(TriggerError::Unauthenticated(format!(
            "the body was not signed with the secret registered for '{}'",
            registration.repository
        )));
    }
    if payload.deleted || is_null_commit(&payload.after) {
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
    let commit = commit_id(&payload.after).ok_or_else(|| {
        TriggerError::Malformed("push payload: 'after' is not a commit id".into())
    })?;
    Ok(Verdict::Push(
        registration,
        Push {
            branch: branch.to_string(),
            commit,
        },
    ))
}
