//! SLSA Provenance v1 predicate types (`https://slsa.dev/provenance/v1`) and the in-toto ResourceDescriptor.
//! Field order is fixed by the struct definitions; maps are sorted, so the same values give the same JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Digest algorithm name (e.g. `sha256`) to lowercase hex digest value.
pub type DigestSet = BTreeMap<String, String>;

/// The SLSA Provenance v1 predicate: what was built, how, and by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The inputs of the build.
    pub build_definition: BuildDefinition,
    /// Details of this particular run.
    pub run_details: RunDetails,
}

/// `buildDefinition`: the build template and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// URI naming the template of the build (how the parameters are interpreted).
    pub build_type: String,
    /// Parameters under the control of the external requester (a JSON object).
    pub external_parameters: Value,
    /// Parameters under the control of the builder (a JSON object), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<Value>,
    /// Artifacts the build consumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// `runDetails`: the builder and this invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The platform that ran the build.
    pub builder: Builder,
    /// Invocation id and timestamps; omitted when all are absent.
    #[serde(default, skip_serializing_if = "BuildMetadata::is_empty")]
    pub metadata: BuildMetadata,
    /// Additional artifacts produced by the run (logs, reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// `runDetails.builder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// URI identifying the builder.
    pub id: String,
    /// Component name to version, e.g. `{"certus-assurance": "0.1.0"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// `runDetails.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// Identifier of this run (e.g. the scan id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// RFC 3339 timestamp of when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// RFC 3339 timestamp of when the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

impl BuildMetadata {
    /// True when no field is set (the object is then omitted from JSON).
    pub fn is_empty(&self) -> bool {
        self.invocation_id.is_none() && self.started_on.is_none() && self.finished_on.is_none()
    }
}

/// An in-toto v1 ResourceDescriptor: a reference to an artifact by URI and/or digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// Where the artifact can be found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests of the artifact's content.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: DigestSet,
    /// A human-readable or path-like name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free-form extra information.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, Value>,
}
