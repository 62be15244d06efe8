//! The HTTP API of `certus serve` (spec §2): submitting, reading and listing scans, archive uploads, live
//! progress over WebSockets (spec §4), and per-tenant authentication with API keys or OIDC/JWT tokens.
//! Also the web console `certus serve` answers at `/`, and the WebSocket client `certus watch` uses.

pub mod archives;
pub mod audit;
pub mod auth;
pub mod connections;
pub mod console;
pub mod error;
mod exposure;
pub mod hub;
pub mod launcher;
mod paths;
pub mod ratelimit;
mod results;
pub mod routes;
mod scans;
pub mod server;
pub mod stream;
mod upload;
pub mod upload_store;
pub mod watch;
pub mod webhooks;

pub use archives::ArchiveStore;
pub use auth::{
    hash_key, ApiKeys, AuthConfig, GatewayClaims, GatewayPolicy, JwtAlgorithm, JwtSettings,
    JwtVerifier, Principal,
};
pub use connections::ConnectionLimits;
pub use error::{ApiError, Result};
pub use exposure::Exposure;
pub use hub::{LiveHub, WatcherLimit, WatcherLimits};
pub use launcher::{Launcher, LocalLauncher, LocalUploads, Recovery, Slots, UploadRequests};
pub use ratelimit::{Bucket, RateLimits};
pub use routes::{router, ApiState, Limits, RouteSpec, ROUTES};
pub use server::{serve, serve_on, with_optional_routes, ServeConfig};
pub use upload_store::UploadQuota;
pub use watch::watch;
