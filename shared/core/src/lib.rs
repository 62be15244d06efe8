//! Certus-Assurance domain core: requests, jobs, manifests, digests, events, findings, the bundle, the ports
//! adapters implement, and the pipeline written against them. No AWS types live here.

pub mod applies_to;
pub mod attestation;
pub mod audit;
pub mod audit_chain;
pub mod bundle;
pub mod bundle_check;
pub mod digest;
pub mod error;
pub mod event;
pub mod finding;
pub mod fingerprint;
pub mod ids;
pub mod incremental;
pub mod job;
pub mod manifest;
pub mod manifest_check;
pub mod parallel;
pub mod pipeline;
pub mod policy;
pub mod ports;
pub mod progress;
pub mod record;
pub mod report;
pub mod report_html;
pub mod request;
pub mod retry;
pub mod runner;
pub mod sarif;
pub mod settings;
pub mod time;
pub mod trust;
pub mod upload;
pub mod verification;
pub mod workspace;

pub use error::{CoreError, FieldError, Result};
pub use retry::{Retry, Retryability};
