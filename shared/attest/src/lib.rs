//! `certus-attest`: the signing side of Certus-Assurance evidence bundles.
//!
//! - [`SigningKey`] (ECDSA P-256 by default, or Ed25519) and the [`Signer`] seam for other backends (KMS);
//! - key files: [`SigningKey::load`], [`SigningKey::save`], [`load_or_generate`];
//! - DSSE: [`pae`] and [`Envelope`];
//! - in-toto Statement v1 ([`Statement`]) with a SLSA Provenance v1 predicate ([`Provenance`]).
//!
//! Everything is synchronous and pure Rust; verification of signatures lives in `certus-verify`.

mod dsse;
mod error;
mod key;
mod keyfile;
mod pem;
mod provenance;
mod signer;
mod statement;
mod timestamp;
mod validate;

pub use dsse::{pae, Envelope, EnvelopeSignature, MAX_ENVELOPE_BYTES, MAX_SIGNATURES};
pub use error::{AttestError, Result};
pub use key::{SigningKey, MAX_KEY_PEM_BYTES};
pub use keyfile::{load_or_generate, load_or_generate_secret, load_or_generate_with};
pub use provenance::{
    BuildDefinition, BuildMetadata, Builder, DigestSet, Provenance, ResourceDescriptor, RunDetails,
};
pub use signer::{Algorithm, Signer};
pub use statement::{
    Statement, Subject, IN_TOTO_PAYLOAD_TYPE, MAX_STATEMENT_BYTES, SLSA_PROVENANCE_V1,
    STATEMENT_TYPE_V1,
};
pub use zeroize::Zeroizing;
