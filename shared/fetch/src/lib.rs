//! Fetching manifests and signatures named by URI, treating every remote as hostile.
//!
//! # URI forms
//!
//! - `https://host[:port]/path` — [`HttpsFetcher`]: TLS verified against the webpki roots plus
//!   [`FetchPolicy::extra_ca_pem`]; redirects followed only to the same host over https, at most 3.
//! - `oci://registry[:port]/repo/path:tag` — [`OciFetcher`]: the tag's image manifest through the OCI
//!   distribution API (`/v2/<repo>/manifests/<tag>`), then its only layer's blob.
//! - `oci://registry[:port]/repo/path@sha256:<64 hex>` — the same by manifest digest; the manifest bytes are
//!   verified against that digest.
//! - `oci://registry[:port]/repo:tag#<title>` (or `…@sha256:…#<title>`) — the layer whose
//!   `org.opencontainers.image.title` annotation equals `<title>`, for artifacts with several files.
//! - `file:///absolute/path` — [`FileFetcher`], only below [`FetchPolicy::file_roots`].
//!
//! Every OCI blob is verified against its descriptor's sha256 digest and size. Registries are reached over
//! https unless the host is listed in [`FetchPolicy::allow_plain_http_for`]; anonymous access and the standard
//! bearer-token challenge are supported.
//!
//! # Guards
//!
//! Names are resolved by a resolver that refuses loopback, link-local (cloud metadata included), private,
//! unique-local, unspecified, multicast, CGNAT and reserved addresses at connect time; IP literals are checked
//! before any connection. [`FetchPolicy::allow_hosts`] lifts this for named hosts. Bodies are capped at the
//! caller's `max_bytes` (Content-Length first, then counted), every fetch runs under the policy's timeouts, no
//! proxy is used, and error messages never carry userinfo or query strings.
//!
//! [`RemoteFetcher`] dispatches on the scheme and implements `certus_core::ports::ManifestFetcher`.
//!
//! # Pushing
//!
//! [`OciPublisher`] decorates a `certus_core::ports::Publisher`: once the inner publication succeeds it
//! pushes the bundle as one OCI artifact (`artifactType: application/vnd.certus.bundle.v1`, one layer per
//! file titled with its bundle-relative path, tagged with the job's id; blobs the registry already has are
//! skipped) and a cosign-compatible signature under `sha256-<hex>.sig`, through the same guarded transport.

mod address;
mod error;
mod file;
mod https;
mod oci;
mod policy;
mod redact;
mod remote;
mod resolver;
mod tls;
mod transport;

pub use address::blocked_reason;
pub use error::FetchError;
pub use file::FileFetcher;
pub use https::HttpsFetcher;
pub use oci::{OciFetcher, OciPublisher};
pub use policy::{host_listed, FetchPolicy, Timeouts};
pub use remote::RemoteFetcher;
pub use transport::MAX_REDIRECTS;
