//! The Certus-Trust contract (spec §7): what Assurance declares before anything leaves the run's workspace,
//! what Trust answers, and the record of the exchange kept for auditors.
//!
//! The field names and types are those of the real service's `UploadRequestModel` (see
//! `docs/trust-contract.md`): `metadata.git_url`, `branch` and `commit` are always strings and
//! `storage_destinations.raw_s3` / `oci_registry` are booleans. What Assurance adds beyond that model (the key
//! fingerprint, what the signature covers, the destination URIs, the manifest digest, the source kind) travels
//! in extra fields, which the service ignores.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit_chain::AuditHead;
use crate::digest::Sha256Digest;
use crate::record::{RawPrefixNote, StorageNote};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Basic,
    Verified,
}

/// The identity Assurance signs as unless `CERTUS_ASSURANCE_SIGNER_IDENTITY` says otherwise; Certus-Trust
/// grants the `verified` tier only to it.
pub const DEFAULT_SIGNER_IDENTITY: &str = "certus-assurance@certus.cloud";

/// What the inner signature covers (the `signed_content` extra).
pub const SIGNED_CONTENT: &str = "rfc8785:artifacts";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerSignature {
    /// Assurance's configured identity (`CERTUS_ASSURANCE_SIGNER_IDENTITY`).
    pub signer: String,
    pub timestamp: String,
    /// Base64 of the signature over the RFC 8785 form of `artifacts`.
    pub signature: String,
    pub algorithm: String,
    /// Assurance's public key (PEM), published so Trust or an auditor can check `signature`.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Extra: `sha256:<fingerprint>` of `certificate` (SHA-256 of the key's SPKI DER).
    #[serde(default)]
    pub key_fingerprint: String,
    /// Extra: what `signature` is over ([`SIGNED_CONTENT`]).
    #[serde(default)]
    pub signed_content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredArtifact {
    pub name: String,
    /// `sha256:<hex>`, one prefix.
    pub hash: String,
    pub size: u64,
}

/// Always strings, whatever the source (the conventions are in `docs/trust-contract.md`): a git source
/// gives its URL, the branch that was fetched (`HEAD` when none was named: a detached checkout of the
/// remote's head or of a bare commit) and the resolved SHA; a directory or archive gives an empty `git_url`
/// and `branch` and its content digest (64 hex digits) as `commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustMetadata {
    pub git_url: String,
    pub branch: String,
    pub commit: String,
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Extra: `git`, `directory` or `archive`.
    #[serde(default)]
    pub source_type: String,
}

/// Which destinations the upload goes to, as the service's booleans, and (extras) where exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDestinations {
    pub raw_s3: bool,
    pub oci_registry: bool,
    /// Extra: the raw location the bundle is staged under, e.g. `s3://raw/security-scans/<id>/incoming/`.
    #[serde(default)]
    pub raw_uri: String,
    /// Extra: the raw bucket (for a local publisher, the directory standing in for it).
    #[serde(default)]
    pub raw_bucket: String,
    /// Extra: `oci://registry/repo` the signed bundle is pushed to after golden, if any.
    #[serde(default)]
    pub oci_repository: Option<String>,
}

impl Default for StorageDestinations {
    /// The service's defaults for an absent `storage_destinations`: both destinations.
    fn default() -> Self {
        Self {
            raw_s3: true,
            oci_registry: true,
            raw_uri: String::new(),
            raw_bucket: String::new(),
            oci_repository: None,
        }
    }
}

/// Trust's `storage_config`, in the service's shape (`StorageConfigModel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageConfig {
    pub raw_s3_bucket: String,
    pub raw_s3_prefix: String,
    #[serde(default)]
    pub oci_registry: Option<String>,
    #[serde(default)]
    pub oci_repository: Option<String>,
    #[serde(default = "yes")]
    pub upload_to_s3: bool,
    #[serde(default = "yes")]
    pub upload_to_oci: bool,
}

fn yes() -> bool {
    true
}

impl StorageDestinations {
    /// What Assurance does with a permit's `storage_config` (docs/trust-contract.md): it follows Trust's
    /// switches and bucket by refusing to publish when they disagree with what it declared (`upload_to_s3`,
    /// `upload_to_oci`, `raw_s3_bucket`); `raw_s3_prefix`, which the service derives from the git URL and
    /// commit for its own executor, is recorded beside Assurance's own raw location, not followed. `Ok` is the
    /// note kept in the job's `upload_audit`; `Err` the reason the permit is not used.
    pub fn reconcile(
        &self,
        storage_config: Option<&serde_json::Value>,
    ) -> Result<StorageNote, String> {
        let Some(value) = storage_config.filter(|v| !v.is_null()) else {
            return Ok(StorageNote {
                decision: "absent: the declared destinations apply".into(),
                raw_s3_bucket: None,
                raw_s3_prefix: None,
                raw_uri: Some(self.raw_uri.clone()),
            });
        };
        let config: StorageConfig = serde_json::from_value(value.clone())
            .map_err(|e| format!("Trust's storage_config is unusable: {e}"))?;
        if config.upload_to_s3 != self.raw_s3 {
            return Err(format!(
                "Trust's storage_config.upload_to_s3 is {} but Assurance publishes to raw (raw_s3 {})",
                config.upload_to_s3, self.raw_s3
            ));
        }
        if config.upload_to_oci != self.oci_registry {
            return Err(format!(
                "Trust's storage_config.upload_to_oci is {} but Assurance declared oci_registry {}",
                config.upload_to_oci, self.oci_registry
            ));
        }
        if config.raw_s3_bucket != self.raw_bucket {
            return Err(format!(
                "Trust's storage_config.raw_s3_bucket {:?} is not the raw bucket {:?} Assurance publishes to",
                config.raw_s3_bucket.chars().take(200).collect::<String>(),
                self.raw_bucket
            ));
        }
        Ok(StorageNote {
            decision: "followed: upload_to_s3, upload_to_oci and raw_s3_bucket agree".into(),
            raw_s3_bucket: Some(config.raw_s3_bucket),
            raw_s3_prefix: Some(RawPrefixNote {
                assurance_raw_uri: self.raw_uri.clone(),
                followed: false,
                trust: config.raw_s3_prefix,
            }),
            raw_uri: None,
        })
    }
}

/// `POST {trust}/v1/verify-and-permit-upload`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRequest {
    pub scan_id: String,
    pub tier: Tier,
    pub inner_signature: InnerSignature,
    pub artifacts: Vec<DeclaredArtifact>,
    pub metadata: TrustMetadata,
    /// Extra: the SHA-256 of the manifest's exact bytes.
    #[serde(default)]
    pub manifest_digest: Option<Sha256Digest>,
    #[serde(default)]
    pub storage_destinations: StorageDestinations,
    /// Extra: the head of the job's hash-chained audit trail when the request was made (absent from
    /// requests recorded before the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_trail_head: Option<AuditHead>,
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
    pub verification_proof: Option<VerificationProof>,
    pub storage_config: Option<serde_json::Value>,
}

/// What Trust says it checked (docs/trust-contract.md). Fields the service adds beyond its contract (the
/// local gate's key pinning, for one) are kept as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationProof {
    pub chain_unbroken: bool,
    pub chain_verified: bool,
    pub cosign_signature: Option<String>,
    pub inner_signature_valid: bool,
    pub outer_signature_valid: bool,
    pub rekor_entry_uuid: Option<String>,
    pub signer_inner: String,
    pub signer_outer: Option<String>,
    pub sigstore_timestamp: Option<String>,
    pub verification_timestamp: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declared() -> StorageDestinations {
        StorageDestinations {
            raw_s3: true,
            oci_registry: false,
            raw_uri: "s3://raw/security-scans/t/incoming/".into(),
            raw_bucket: "raw".into(),
            oci_repository: None,
        }
    }

    fn config(bucket: &str, s3: bool, oci: bool) -> serde_json::Value {
        json!({"raw_s3_bucket": bucket, "raw_s3_prefix": "https:--h-r/0123abcd", "oci_registry": null,
               "oci_repository": null, "upload_to_s3": s3, "upload_to_oci": oci})
    }

    #[test]
    fn an_agreeing_storage_config_is_followed_and_its_prefix_recorded() {
        let note = declared()
            .reconcile(Some(&config("raw", true, false)))
            .unwrap();
        let prefix = note.raw_s3_prefix.unwrap();
        assert_eq!(prefix.trust, "https:--h-r/0123abcd");
        assert!(!prefix.followed);
        let absent = declared().reconcile(None).unwrap();
        assert!(absent.decision.starts_with("absent"));
    }

    #[test]
    fn a_disagreeing_storage_config_is_refused_naming_the_field() {
        for (value, field) in [
            (config("other", true, false), "raw_s3_bucket"),
            (config("raw", false, false), "upload_to_s3"),
            (config("raw", true, true), "upload_to_oci"),
            (json!({"raw_s3_bucket": 7}), "unusable"),
        ] {
            let err = declared().reconcile(Some(&value)).unwrap_err();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn the_wire_types_are_the_services() {
        let request = TrustRequest {
            scan_id: "t".into(),
            tier: Tier::Verified,
            inner_signature: InnerSignature {
                signer: DEFAULT_SIGNER_IDENTITY.into(),
                timestamp: "2026-01-01T00:00:00Z".into(),
                signature: "c2ln".into(),
                algorithm: "ECDSA-P256-SHA256".into(),
                certificate: Some("pem".into()),
                key_fingerprint: "sha256:ab".into(),
                signed_content: SIGNED_CONTENT.into(),
            },
            artifacts: Vec::new(),
            metadata: TrustMetadata {
                git_url: String::new(),
                branch: String::new(),
                commit: "ab".into(),
                requested_by: None,
                source_type: "directory".into(),
            },
            manifest_digest: None,
            storage_destinations: declared(),
            audit_trail_head: Some(AuditHead {
                sha256: "c".repeat(64).parse().unwrap(),
                count: 7,
            }),
        };
        let wire = serde_json::to_value(&request).unwrap();
        assert!(wire["metadata"]["git_url"].is_string());
        assert!(wire["metadata"]["branch"].is_string());
        assert!(wire["metadata"]["commit"].is_string());
        assert!(wire["storage_destinations"]["raw_s3"].is_boolean());
        assert!(wire["storage_destinations"]["oci_registry"].is_boolean());
        assert_eq!(wire["tier"], "verified");
        assert_eq!(wire["audit_trail_head"]["count"], 7);
        assert_eq!(
            serde_json::from_value::<TrustRequest>(wire).unwrap(),
            request
        );
    }
}
