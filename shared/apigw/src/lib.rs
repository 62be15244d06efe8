//! Certus-Assurance's API on API Gateway: the Step Functions launcher behind the HTTP API's submit and
//! upload-request routes, and the WebSocket API — `$connect`/`subscribe`/`$disconnect` handlers, connections
//! in DynamoDB, replay and live fan-out through the API Gateway Management API, exactly once and in order.

mod clients;
pub mod config;
pub mod connections;
pub mod delivery;
pub mod edge;
pub mod error;
mod fanout;
mod management;
mod settings;
mod sfn;
pub mod websocket;

pub use clients::{config_fetcher, load_sdk_config};
pub use config::{ConfigSource, LocalCopy};
pub use connections::{Connection, ConnectionTable, Subscription};
pub use delivery::{Delivered, Delivery};
pub use error::{ApigwError, Result};
pub use fanout::ApiGatewayFanout;
pub use management::{ManagementApi, Posted};
pub use settings::{
    auth_behind_jwt_authorizer, auth_from_vars, connect_auth, ENV_PREFIX, MAX_JWKS_BYTES,
};
pub use sfn::{upload_execution_name, SfnLauncher, SfnUploads, Started};
pub use websocket::{ConnectAuth, WsHandler};
