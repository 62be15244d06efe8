//! Live progress events (spec §4): one JSON object each with `type`, `timestamp`, `test_id`, a per-job `seq`,
//! then the fields of its type. Exactly one terminal `scan_complete` per job.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Sha256Digest;
use crate::job::{JobStatus, UploadStatus};
use crate::record::from_stored_json;
use crate::time::{self, Timestamp};

/// What happened, with the fields of its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    Phase {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        branch: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
    ToolStart {
        tool: String,
        command: String,
    },
    Log {
        tool: String,
        stream: String,
        line: String,
    },
    ToolComplete {
        tool: String,
        exit_code: Option<i32>,
        status: String,
        findings: u64,
    },
    Error {
        message: String,
    },
    ScanComplete {
        status: JobStatus,
        #[serde(default, deserialize_with = "manifest_digest")]
        manifest_digest: Option<Sha256Digest>,
        bundle: Option<String>,
    },
    UploadPermitted {
        upload_permission_id: String,
    },
    UploadDenied {
        upload_status: UploadStatus,
        reason: String,
    },
    Published {
        golden: Vec<String>,
    },
}

/// The `manifest_digest` of a `scan_complete`, naming the field when it is not a digest: the event's body is
/// flattened, which hides the field's path from the reader ([`Event::from_json`]).
fn manifest_digest<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Sha256Digest>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|text| {
            text.parse().map_err(|reason: String| {
                serde::de::Error::custom(format!("field 'manifest_digest': {reason}"))
            })
        })
        .transpose()
}

impl EventBody {
    pub fn phase(message: impl Into<String>) -> Self {
        Self::Phase {
            message: message.into(),
            commit: None,
            branch: None,
            hash: None,
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::ScanComplete { .. })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Phase { .. } => "phase",
            Self::ToolStart { .. } => "tool_start",
            Self::Log { .. } => "log",
            Self::ToolComplete { .. } => "tool_complete",
            Self::Error { .. } => "error",
            Self::ScanComplete { .. } => "scan_complete",
            Self::UploadPermitted { .. } => "upload_permitted",
            Self::UploadDenied { .. } => "upload_denied",
            Self::Published { .. } => "published",
        }
    }
}

/// A persisted event. Serialises as `{"type", "timestamp", "test_id", "seq", ...fields}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    #[serde(with = "time::serde_z")]
    pub timestamp: Timestamp,
    pub test_id: String,
    pub seq: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// A stored event (one line of the events table or `stream.jsonl`); a field that does not read back is
    /// named.
    pub fn from_json(text: &str) -> crate::Result<Self> {
        from_stored_json("event", text.as_bytes())
    }

    pub fn new(test_id: &str, seq: u64, body: EventBody) -> Self {
        Self {
            timestamp: time::now(),
            test_id: test_id.to_string(),
            seq,
            body,
        }
    }

    /// One line of `stream.jsonl` or one WebSocket message.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","test_id":"{}","seq":{},"message":"unserialisable event: {e}"}}"#, self.test_id, self.seq)
        })
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let body = serde_json::to_value(&self.body).map_err(serde::ser::Error::custom)?;
        let fields = body
            .as_object()
            .ok_or_else(|| serde::ser::Error::custom("event body is not an object"))?;
        let mut map = serializer.serialize_map(Some(fields.len() + 3))?;
        map.serialize_entry("type", self.body.type_name())?;
        map.serialize_entry("timestamp", &time::format(&self.timestamp))?;
        map.serialize_entry("test_id", &self.test_id)?;
        map.serialize_entry("seq", &self.seq)?;
        for (key, value) in fields.iter().filter(|(k, _)| k.as_str() != "type") {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_contract_fields_first_and_round_trips() {
        let e = Event::new(
            "test_0123456789ab",
            3,
            EventBody::ToolComplete {
                tool: "secrets".into(),
                exit_code: Some(0),
                status: "completed".into(),
                findings: 2,
            },
        );
        let line = e.to_json_line();
        assert!(
            line.starts_with(r#"{"type":"tool_complete","timestamp":""#),
            "{line}"
        );
        assert!(
            line.contains(r#""test_id":"test_0123456789ab","seq":3,"#),
            "{line}"
        );
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn terminal_event_carries_status_and_digest() {
        let e = Event::new(
            "test_0123456789ab",
            9,
            EventBody::ScanComplete {
                status: JobStatus::Failed,
                manifest_digest: Some(crate::digest::Sha256Digest::of(b"manifest")),
                bundle: Some("/b".into()),
            },
        );
        let v: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(v["type"], "scan_complete");
        assert_eq!(v["status"], "FAILED");
        assert!(e.body.is_terminal());
    }

    #[test]
    fn optional_phase_fields_are_omitted() {
        let v: serde_json::Value =
            serde_json::from_str(&Event::new("t", 1, EventBody::phase("cloning")).to_json_line())
                .unwrap();
        assert!(v.get("commit").is_none());
        assert_eq!(v["message"], "cloning");
    }
}
