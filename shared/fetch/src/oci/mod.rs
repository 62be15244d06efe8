//! OCI distribution support: `oci://` references, manifests and layer choice, digests, bearer tokens, the
//! fetcher tying them together, and the publisher that pushes a signed bundle artifact.

mod auth;
mod digest;
mod fetcher;
mod manifest;
mod media;
mod publisher;
mod push;
mod reference;
mod session;
mod signature;

pub use fetcher::OciFetcher;
pub use publisher::OciPublisher;
