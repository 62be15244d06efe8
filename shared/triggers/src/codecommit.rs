//! CodeCommit pushes as EventBridge delivers them ("CodeCommit Repository State Change"): a branch created
//! or updated starts the scan of its new head; the registration gives the clone URL. EventBridge (IAM)
//! authenticates the event, so there is no secret; the event id is the delivery id.

use serde::Deserialize;

use crate::error::{Result, TriggerError};
use crate::push::{commit_id, Push};
use crate::registration::{Provider, Registrations};
use crate::Verdict;

pub const SOURCE: &str = "aws.codecommit";
pub const DETAIL_TYPE: &str = "CodeCommit Repository State Change";

#[derive(Deserialize)]
struct Envelope {
    id: String,
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    resources: Vec<String>,
    detail: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateChange {
    event: String,
    repository_name: String,
    reference_type: String,
    reference_name: String,
    commit_id: Option<String>,
}

/// The event's id and what it asks for.
pub(crate) fn read<'r>(
    registrations: &'r Registrations,
    event: &serde_json::Value,
) -> Result<(String, Verdict<'r>)> {
    let envelope = Envelope::deserialize(event)
        .map_err(|e| TriggerError::Malformed(format!("EventBridge event: {e}")))?;
    if envelope.source != SOURCE {
        return Err(TriggerError::Malformed(format!(
            "EventBridge event: source is '{}', not '{SOURCE}'",
            envelope.source.chars().take(64).collect::<String>()
        )));
    }
    if envelope.detail_type != DETAIL_TYPE {
        return Ok((
            envelope.id,
            Verdict::Ignored(format!(
                "'{}' events do not start scans",
                envelope.detail_type.chars().take(64).collect::<String>()
            )),
        ));
    }
    let change = StateChange::deserialize(&envelope.detail)
        .map_err(|e| TriggerError::Malformed(format!("EventBridge event detail: {e}")))?;
    let registration = registrations
        .find_codecommit(&change.repository_name, &envelope.resources)
        .ok_or_else(|| TriggerError::Unregistered {
            provider: Provider::Codecommit,
            repository: change.repository_name.chars().take(200).collect(),
        })?;
    let verdict = match change.event.as_str() {
        "referenceCreated" | "referenceUpdated"
            if change.reference_type == "branch" && change.reference_name.is_empty() =>
        {
            Verdict::Ignored("a branch change without a branch name".into())
        }
        "referenceCreated" | "referenceUpdated" if change.reference_type == "branch" => {
            let commit = change
                .commit_id
                .as_deref()
                .and_then(commit_id)
                .ok_or_else(|| {
                    TriggerError::Malformed(
                        "EventBridge event detail: commitId is not a commit id".into(),
                    )
                })?;
            Verdict::Push(
                registration,
                Push {
                    branch: change.reference_name,
                    commit,
                },
            )
        }
        "referenceCreated" | "referenceUpdated" => Verdict::Ignored(format!(
            "'{}' is a {}, not a branch",
            change.reference_name, change.reference_type
        )),
        "referenceDeleted" => Verdict::Ignored(format!("'{}' was deleted", change.reference_name)),
        other => Verdict::Ignored(format!(
            "'{}' changes do not start scans",
            other.chars().take(64).collect::<String>()
        )),
    };
    Ok((envelope.id, verdict))
}
