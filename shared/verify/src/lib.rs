//! Manifest signature verification for Certus-Assurance.
//!
//! Verifies cosign keyed blob signatures (ECDSA P-256, Ed25519) and Sigstore bundles
//! (keyless and keyed) offline against a pinned trusted root. Pure and synchronous:
//! remote key references (`s3://`, `awskms://`) are resolved by the caller.

mod bundle;
mod certificate;
mod checkpoint;
mod cosign_json;
mod dsse;
mod encoding;
mod error;
mod json_int;
mod key;
mod keyref;
mod merkle;
mod rekor;
mod sct;
mod signature;
mod sigstore_json;
mod time;
mod trusted_root;
mod tsa;
mod verify;

pub use bundle::{Bundle, BundleFormat};
pub use encoding::MAX_DOCUMENT_BYTES;
pub use error::{Result, VerifyError};
pub use key::{KeyAlgorithm, PublicKey};
pub use keyref::KeyRef;
pub use signature::Signature;
pub use trusted_root::TrustedRoot;
pub use verify::{
    verify, verify_artifact, Artifact, IdentityPolicy, Method, TrustMaterial, Verification,
};
