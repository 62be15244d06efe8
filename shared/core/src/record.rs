//! The typed parts of the job record that used to be free-form JSON: the manifest's metadata, how its
//! signature was checked, the findings summary and the upload trail (`upload_audit`).
//!
//! Stored records keep their bytes. Until these were typed, each part was a `serde_json::Value`, whose
//! objects serialize with their keys sorted: the fields here are declared in that order, nested parts are
//! written through [`sorted`], and so is each of these parts of the job record, so a record read and saved
//! again is byte for byte what was stored (tests/job_record_compat.rs). Parts this
//! program writes refuse unknown fields, naming them; fields added after the first records were written
//! are optional, so older records still load.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::digest::Sha256Digest;
use crate::error::CoreError;
use crate::finding::SeverityCounts;
use crate::manifest::{NotRunTool, Thresholds};
use crate::policy::ThresholdScope;
use crate::time::{self, Timestamp};
use crate::trust::TrustExchange;

/// Reads stored JSON (a job record, an event, a bundle index): data that does not read back is corrupt, and
/// no retry will cure it, so the error is `CorruptRecord` naming `what` and the path of the bad field.
pub fn from_stored_json<T: DeserializeOwned>(what: &str, text: &[u8]) -> crate::Result<T> {
    let mut reader = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        // A flattened or tagged part hides its path ('.'): its own error names the field.
        let what = match e.path().to_string() {
            path if path == "." => what.to_string(),
            path => format!("{what}, field '{path}'"),
        };
        CoreError::corrupt(what, e.into_inner().to_string())
    })?;
    reader
        .end()
        .map_err(|e| CoreError::corrupt(what, e.to_string()))?;
    Ok(value)
}

/// Serializes `value` through `serde_json::Value`, whose objects keep their keys sorted: the order the
/// typed parts of the record were stored in when they were untyped.
pub fn sorted<T: Serialize, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(value)
        .map_err(serde::ser::Error::custom)?
        .serialize(serializer)
}

/// What the scan took from its manifest (also the bundle's `manifest-info.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestMetadata {
    /// The thresholds in words (`critical 0 · high 2`, `no gate`); absent from the first records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// SHA-256 of the manifest's exact bytes.
    pub manifest_digest: Sha256Digest,
    pub product: Option<String>,
    pub profile_requested: String,
    pub profile_resolved: String,
    /// How many suppressions the manifest declares; absent from the first records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressions: Option<usize>,
    /// Absent from the first records (which counted every finding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_scope: Option<ThresholdScope>,
    #[serde(serialize_with = "sorted")]
    pub thresholds: Thresholds,
    pub tool_timeout_seconds: u64,
    /// The optional tools that did not run, and why; absent from the first records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_not_run: Option<Vec<NotRunTool>>,
    /// Canonical tool id → the id as the manifest wrote it.
    pub tools_requested_as: BTreeMap<String, String>,
    pub tools_selected: Vec<String>,
    pub unsupported_tools: Vec<String>,
    pub version: Option<String>,
}

/// How the manifest signature was checked: a `certus-verify` verification with `verified: true`, or
/// `method: "none"` with `verified: false` when no signature was given and none was required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestVerification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_format: Option<String>,
    /// Verified certificate identity (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Rekor integrated time (unix seconds) of the first verified entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
    /// Verified OIDC issuer (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<String>,
    /// SHA-256 of the signing key's SPKI DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<Sha256Digest>,
    /// A `certus-verify` method (`cosign-keyed-ecdsa-p256`, `sigstore-keyless`, …) or `none`.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekor_log_index: Option<u64>,
    pub verified: bool,
}

impl ManifestVerification {
    /// The method recorded when no signature was given.
    pub const UNSIGNED: &'static str = "none";

    /// The record of a manifest that was not signed (and did not have to be).
    pub fn unsigned() -> Self {
        Self {
            bundle_format: None,
            identity: None,
            integrated_time: None,
            issuer: None,
            key_algorithm: None,
            key_fingerprint: None,
            method: Self::UNSIGNED.into(),
            rekor_log_index: None,
            verified: false,
        }
    }
}

/// Severity counts and the threshold verdict, once scanners ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsSummary {
    /// One sentence per breached threshold; empty when the gate passed.
    pub threshold_violations: Vec<String>,
    /// Counts per tool id.
    #[serde(serialize_with = "sorted")]
    pub tools: BTreeMap<String, SeverityCounts>,
    #[serde(serialize_with = "sorted")]
    pub totals: SeverityCounts,
}

/// What Assurance made of a permit's `storage_config` (see `StorageDestinations::reconcile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageNote {
    pub decision: String,
    /// The bucket Trust named (when it sent a `storage_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_s3_bucket: Option<String>,
    /// Trust's prefix beside Assurance's own raw location (when it sent a `storage_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_s3_prefix: Option<RawPrefixNote>,
    /// Where the raw copy goes (when Trust sent no `storage_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_uri: Option<String>,
}

/// Trust's raw prefix, recorded and not followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrefixNote {
    pub assurance_raw_uri: String,
    pub followed: bool,
    pub trust: String,
}

/// One entry of the job's `upload_audit`: every exchange with Trust and every publication step, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum UploadStep {
    /// The whole exchange with Certus-Trust (request, answer, attempts).
    Trust {
        #[serde(with = "time::serde_z")]
        at: Timestamp,
        exchange: Box<TrustExchange>,
    },
    /// What was done with the permit's `storage_config`: followed (`note`) or `refused`.
    StorageConfig {
        #[serde(with = "time::serde_z")]
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<StorageNote>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
    },
    /// A publication: how many objects went to raw and golden, or the `error` that stopped it.
    Publish {
        #[serde(with = "time::serde_z")]
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        golden: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl UploadStep {
    /// A publication that stopped on `error`.
    pub fn publish_failed(error: impl Into<String>) -> Self {
        Self::Publish {
            at: time::now(),
            raw: None,
            golden: None,
            error: Some(error.into()),
        }
    }

    /// Whether this is an exchange with Trust or a publication attempt (not a note about them).
    pub fn is_attempt(&self) -> bool {
        matches!(self, Self::Trust { .. } | Self::Publish { .. })
    }

    /// The Trust exchange this step records, if it is one.
    pub fn exchange(&self) -> Option<&TrustExchange> {
        match self {
            Self::Trust { exchange, .. } => Some(exchange),
            _ => None,
        }
    }
}
