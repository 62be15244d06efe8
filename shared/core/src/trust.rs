//! The Certus-Trust contract (spec §7): what Assurance declares before anything leaves the run's workspace,
//! what Trust answers, and the record of the exchange kept for auditors.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Basic,
    Verified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerSignature {
    /// `sha256:<fingerprint>` of Assurance's public key.
    pub signer: String,
    pub timestamp: String,
    /// Base64 of the signature over the RFC 8785 form of `artifacts`.
    pub signature: String,
    pub algorithm: String,
    /// Assurance's public key (PEM).
    pub certificate: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredArtifact {
    pub name: String,
    /// `sha256:<hex>`, one prefix.
    pub hash: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustMetadata {
    pub git_url: Option<String>,
    pub branch: Option<String>,
    /// The resolved SHA that was scanned.
    pub commit: Option<String>,
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDestinations {
    pub raw_s3: String,
    pub oci_registry: Option<String>,
}

/// `POST {trust}/v1/verify-and-permit-upload`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRequest {
    pub scan_id: String,
    pub tier: Tier,
    pub inner_signature: InnerSignature,
    pub artifacts: Vec<DeclaredArtifact>,
    pub metadata: TrustMetadata,
    pub manifest_digest: Option<String>,
    pub storage_destinations: StorageDestinations,
}

/// Trust's answer. Unknown fields are tolerated; a missing `permitted` is not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustAnswer {
    pub upload_permission_id: Option<String>,
    pub scan_id: Option<String>,
    pub tier: Option<Tier>,
    pub permitted: bool,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub verification_proof: Option<serde_json::Value>,
    pub storage_config: Option<serde_json::Value>,
}

/// One try at reaching Trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub started_at: String,
    pub duration_ms: u64,
    /// `http <status>` or the transport error.
    pub outcome: String,
}

/// The whole exchange, kept with the job. `answer` is `None` when Trust could not be reached or answered
/// something unusable — which is never a permit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustExchange {
    pub request: TrustRequest,
    pub answer: Option<TrustAnswer>,
    pub attempts: Vec<Attempt>,
    pub error: Option<String>,
}

impl TrustExchange {
    /// Permitted only by an explicit `permitted: true` with a permission id.
    pub fn permitted(&self) -> bool {
        self.answer.as_ref().is_some_and(|a| {
            a.permitted
                && a.upload_permission_id
                    .as_deref()
                    .is_some_and(|id| !id.is_empty())
        })
    }
}

#[async_trait]
pub trait TrustClient: Send + Sync {
    /// Asks Trust, with bounded retries; failures are recorded in the exchange, never turned into a permit.
    async fn verify_and_permit(&self, request: &TrustRequest) -> TrustExchange;
}
