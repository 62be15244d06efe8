//! Certus-Trust for Certus-Assurance: nothing leaves a run's workspace until Trust answers `permitted: true`.
//!
//! - [`HttpTrustClient`]: the remote Trust over verified TLS, bounded retries, failing closed.
//! - [`LocalTrustGate`]: the Trust contract applied in-process (the embedded default), the same checks as
//!   the real service's (docs/trust-contract.md) plus Assurance's stricter ones.
//! - [`trust_dev_server`]: the Trust HTTP API served by a local gate, for trying the flow over HTTP.
//! - [`LocalPublisher`]: raw staging and golden promotion into local directories.

mod client;
mod contract;
mod error;
mod gate;
mod objects;
mod publish;
mod retry;
mod server;
mod tls;

pub use client::{HttpTrustClient, HttpTrustConfig, MAX_ANSWER_BYTES, VERIFY_AND_PERMIT_PATH};
pub use contract::{
    check_upload_request, is_sha256_ref, signed_artifact_bytes, WireError, SHA256_PREFIX,
    TIER_PATTERN,
};
pub use error::{Result, TrustError};
pub use gate::{DenyReason, LocalTrustGate, WireAnswer, DEFAULT_RAW_BUCKET, MAX_ARTIFACTS};
pub use publish::{
    LocalPublisher, LocalPublisherConfig, DEFAULT_PREFIX, GOLDEN_SIDECAR, RAW_SIDECAR,
};
pub use retry::RetryPolicy;
pub use server::{trust_dev_server, DevServer, MAX_REQUEST_BYTES};
