//! OCI distribution support: `oci://` references, manifests and layer choice, digests, bearer tokens, and
//! the fetcher tying them together.

mod auth;
mod digest;
mod fetcher;
mod manifest;
mod reference;

pub use fetcher::OciFetcher;
