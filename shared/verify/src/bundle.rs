//! The normalised bundle model shared by Sigstore bundles (v0.1–v0.3) and legacy cosign bundles.

use serde::Serialize;
use x509_cert::Certificate;

use crate::dsse::Envelope;

/// Which JSON format a bundle came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleFormat {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`
    SigstoreV01,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`
    SigstoreV02,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json` (or `+json;version=0.3`)
    SigstoreV03,
    /// `cosign sign-blob --bundle` JSON: `base64Signature`, `cert`, `rekorBundle`.
    CosignLegacy,
}

impl BundleFormat {
    /// Whether every transparency log entry must carry an inclusion proof.
    pub(crate) fn requires_inclusion_proof(self) -> bool {
        matches!(self, Self::SigstoreV02 | Self::SigstoreV03)
    }

    /// Whether an inclusion proof must carry a signed checkpoint (v0.1 bundles predate them).
    pub(crate) fn requires_checkpoint(self) -> bool {
        self.requires_inclusion_proof()
    }
}

/// Who signed: a Fulcio certificate, or a key known to the caller.
#[derive(Debug, Clone)]
pub(crate) enum Material {
    Certificate {
        cert: Box<Certificate>,
        der: Vec<u8>,
    },
    /// The public-key hint (may be empty); the key itself is supplied by the caller.
    PublicKey { hint: String },
}

impl Content {
    /// The signature bytes an RFC 3161 timestamp must cover.
    pub(crate) fn signature(&self) -> &[u8] {
        match self {
            Self::Message { signature, .. } => signature,
            Self::Dsse(envelope) => &envelope.signature,
        }
    }
}

/// What was signed.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// A signature over the blob, with the blob's SHA-256 when the bundle records it.
    Message {
        digest: Option<[u8; 32]>,
        signature: Vec<u8>,
    },
    /// A DSSE envelope (signature over its PAE).
    Dsse(Envelope),
}

/// A Rekor inclusion proof with its signed checkpoint (optional only in v0.1 bundles).
#[derive(Debug, Clone)]
pub(crate) struct InclusionProof {
    pub log_index: u64,
    pub root_hash: [u8; 32],
    pub tree_size: u64,
    pub hashes: Vec<[u8; 32]>,
    pub checkpoint: Option<String>,
}

/// One transparency log entry.
#[derive(Debug, Clone)]
pub(crate) struct TlogEntry {
    pub log_index: u64,
    pub log_id: Vec<u8>,
    /// `(kind, version)` when the bundle states it.
    pub kind_version: Option<(String, String)>,
    /// Rekor v1 integrated time; `None` for Rekor v2 entries (time from RFC 3161 timestamps).
    pub integrated_time: Option<i64>,
    pub body: Vec<u8>,
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
}

/// A parsed bundle of any supported format.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub(crate) format: BundleFormat,
    pub(crate) material: Material,
    pub(crate) content: Content,
    pub(crate) tlog_entries: Vec<TlogEntry>,
    /// DER RFC 3161 timestamps over the signature.
    pub(crate) timestamps: Vec<Vec<u8>>,
}

impl Bundle {
    /// The JSON format the bundle came in.
    pub fn format(&self) -> BundleFormat {
        self.format
    }

    /// True when signed by a Fulcio certificate (keyless).
    pub fn is_keyless(&self) -> bool {
        matches!(self.material, Material::Certificate { .. })
    }

    /// For a DSSE bundle: its `payloadType` and, when the payload is a JSON object with one, its in-toto
    /// `predicateType` (what the signer attested). `None` for a message signature.
    pub fn dsse_types(&self) -> Option<(String, Option<String>)> {
        match &self.content {
            Content::Message { .. } => None,
            Content::Dsse(envelope) => {
                let predicate = serde_json::from_slice::<serde_json::Value>(&envelope.payload)
                    .ok()
                    .and_then(|payload| payload["predicateType"].as_str().map(str::to_string));
                Some((envelope.payload_type.clone(), predicate))
            }
        }
    }
}
