//! What API and WebSocket clients see of the server's internals (W8). Job records, events and evidence are
//! stored whole (the CLI on the server and the audit trail keep them), but before they leave the server the
//! server's own directories (its data directory: bundles, run workspaces, raw/golden stores) are replaced
//! by `<data>` wherever they appear, and a local runner id (`pid:<n>`) is left out. The paths a client gave
//! itself (`directory_path`, `archive_path`) are shown as given.

use std::path::Path;

use certus_core::event::Event;
use certus_core::job::Job;
use serde_json::Value;

use certus_core::CoreError;

use crate::error::Result;

/// What stands in for the server's data directory in what clients see.
pub const DATA_PLACEHOLDER: &str = "<data>";

/// Fields whose value is the client's own input, shown as given.
const CLIENT_INPUT_FIELDS: [&str; 2] = ["directory_path", "archive_path"];

/// Rewrites server internals out of what a client is about to receive.
pub struct Exposure {
    /// Absolute server directories, longest first, as they appear in text.
    roots: Vec<String>,
}

impl Exposure {
    /// For a server whose run workspaces live under `workspace_root`: its parent (the data directory
    /// locally) is what is hidden. Built once with the server's state, not per answer (it resolves links).
    pub fn new(workspace_root: &Path) -> Self {
        let mut roots = Vec::new();
        if let Some(dir) = workspace_root.parent() {
            if dir.is_absolute() && dir.parent().is_some() {
                roots.push(dir.to_string_lossy().into_owned());
                if let Ok(canonical) = dir.canonicalize() {
                    roots.push(canonical.to_string_lossy().into_owned());
                }
            }
        }
        roots.sort_by_key(|root| std::cmp::Reverse(root.len()));
        roots.dedup();
        Self { roots }
    }

    /// A job record as clients see it.
    pub fn job(&self, job: &Job) -> Result<Value> {
        let mut value = serde_json::to_value(job).map_err(|e| CoreError::json("job record", e))?;
        self.value(&mut value);
        Ok(value)
    }

    /// An event as the JSON line clients receive.
    pub fn event_line(&self, event: &Event) -> String {
        match serde_json::to_value(event) {
            Ok(mut value) => {
                self.value(&mut value);
                value.to_string()
            }
            Err(_) => event.to_json_line(),
        }
    }

    /// Rewrites `value` in place.
    pub fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                let rewritten = self.text(text);
                *text = rewritten;
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(fields) => {
                if fields
                    .get("runner")
                    .and_then(Value::as_str)
                    .is_some_and(|runner| runner.starts_with("pid:"))
                {
                    fields.remove("runner");
                }
                for (key, field) in fields.iter_mut() {
                    if !CLIENT_INPUT_FIELDS.contains(&key.as_str()) {
                        self.value(field);
                    }
                }
            }
            _ => {}
        }
    }

    /// `text` with every server directory replaced by `DATA_PLACEHOLDER` (only where a whole path component
    /// follows, so `/srv/data2` is not mistaken for `/srv/data`).
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for root in &self.roots {
            let mut rewritten = String::with_capacity(out.len());
            let mut rest = out.as_str();
            while let Some(at) = rest.find(root.as_str()) {
                let after = &rest[at + root.len()..];
                let whole = after.is_empty()
                    || !after.starts_with(|c: char| c.is_alphanumeric() || "-_.".contains(c));
                rewritten.push_str(&rest[..at]);
                rewritten.push_str(if whole { DATA_PLACEHOLDER } else { root });
                rest = after;
            }
            rewritten.push_str(rest);
            out = rewritten;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_directories_and_local_runner_ids_are_rewritten_but_client_input_is_not() {
        let exposure = Exposure::new(Path::new("/srv/certus/runs"));
        let mut value = serde_json::json!({
            "bundle_location": "/srv/certus/bundles/test_1",
            "errors": ["I/O error on '/srv/certus/runs/test_1/source/a': File exists"],
            "raw": "file:///srv/certus/raw/test_1",
            "other": "/srv/certus2/x and /srv/certus",
            "runner": "pid:1234",
            "directory_path": "/srv/certus/runs/mine",
            "nested": [{"runner": "arn:aws:states:x", "archive_path": "/srv/certus/uploads/a.tar"}],
        });
        exposure.value(&mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "bundle_location": "<data>/bundles/test_1",
                "errors": ["I/O error on '<data>/runs/test_1/source/a': File exists"],
                "raw": "file://<data>/raw/test_1",
                "other": "/srv/certus2/x and <data>",
                "directory_path": "/srv/certus/runs/mine",
                "nested": [{"runner": "arn:aws:states:x", "archive_path": "/srv/certus/uploads/a.tar"}],
            })
        );
    }
}
