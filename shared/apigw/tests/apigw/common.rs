//! Shared parts of the tests: the moto endpoint (or a skip), AWS configuration with dummy credentials, a
//! fresh connections table, embedded job/event stores with the sample scanner, API keys, API Gateway event
//! fixtures, and a recording stand-in for the API Gateway Management API on loopback.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use certus_api::{hash_key, ApiKeys, AuthConfig};
use certus_apigw::{ConnectionTable, Delivery, ManagementApi};
use certus_core::attestation::{BuilderInfo, LocalSigner};
use certus_core::job::Job;
use certus_core::pipeline::{self, PipelineSettings, ScannerSet, Services};
use certus_core::request::SubmitRequest;
use certus_core::verification::SignaturePolicy;
use certus_local::{LocalArtifactStore, Placement, SqliteStore};
use certus_scanners::SampleScanner;
use certus_source::{LocalSourcePreparer, SourcePolicy};
use serde_json::{json, Value};

pub const STAGE: &str = "test";

pub use certus_testkit::{moto_endpoint, unique_name};

/// Dummy credentials and a fixed region in the configuration itself: no credential chain, no metadata
/// address.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    certus_testkit::emulator_sdk_config(endpoint)
}

/// A connections table as the template declares it: pk `connection_id`, sparse GSI `by_test_id`.
pub async fn new_connections_table(config: &SdkConfig) -> ConnectionTable {
    let client = aws_sdk_dynamodb::Client::new(config);
    let table = unique_name("connections");
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("connection_id"))
        .attribute_definitions(attribute("test_id"))
        .key_schema(key("connection_id", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_test_id")
                .key_schema(key("test_id", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ConnectionTable::new(client, &table)
}

/// What the stand-in received: (method, connection id, body), in arrival order.
#[derive(Default)]
pub struct Recorded {
    pub requests: Mutex<Vec<(Method, String, Vec<u8>)>>,
    pub gone: Mutex<HashSet<String>>,
}

impl Recorded {
    /// The bodies posted to one connection, as JSON.
    pub fn posts(&self, connection_id: &str) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(method, id, _)| method == Method::POST && id == connection_id)
            .map(|(_, _, body)| serde_json::from_slice(body).expect("posted JSON"))
            .collect()
    }

    pub fn closed(&self, connection_id: &str) -> bool {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .any(|(method, id, _)| method == Method::DELETE && id == connection_id)
    }
}

/// A recording stand-in for the management API of stage `STAGE`: `POST`/`DELETE
/// /{STAGE}/@connections/{id}`; 410 for the ids in `gone`.
pub struct StandIn {
    pub addr: SocketAddr,
    pub recorded: Arc<Recorded>,
}

impl StandIn {
    pub async fn start() -> Self {
        let recorded = Arc::new(Recorded::default());
        let state = recorded.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let recorded = state.clone();
            async move { answer(&recorded, method, &uri, body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, recorded }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/{STAGE}", self.addr)
    }

    pub fn mark_gone(&self, connection_id: &str) {
        self.recorded
            .gone
            .lock()
            .unwrap()
            .insert(connection_id.into());
    }
}

fn answer(recorded: &Recorded, method: Method, uri: &Uri, body: Bytes) -> axum::response::Response {
    let prefix = format!("/{STAGE}/@connections/");
    let Some(encoded) = uri.path().strip_prefix(&prefix) else {
        return (StatusCode::NOT_FOUND, "no such route").into_response();
    };
    let connection_id = percent_decode(encoded);
    if method != Method::POST && method != Method::DELETE {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if recorded.gone.lock().unwrap().contains(&connection_id) {
        return (
            StatusCode::GONE,
            [("x-amzn-ErrorType", "GoneException")],
            r#"{"message":null}"#,
        )
            .into_response();
    }
    recorded
        .requests
        .lock()
        .unwrap()
        .push((method, connection_id, body.to_vec()));
    (StatusCode::OK, "").into_response()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Tenants and their API keys: acme (ws-acme), globex (ws-globex).
pub struct Keys {
    pub acme: String,
    pub globex: String,
    pub auth: AuthConfig,
}

pub fn keys() -> Keys {
    let acme = format!("acme-{}", unique_name("key"));
    let globex = format!("globex-{}", unique_name("key"));
    let file = json!([
        {"key_sha256": hash_key(&acme), "tenant": "acme", "workspaces": ["ws-acme"]},
        {"key_sha256": hash_key(&globex), "tenant": "globex", "workspaces": ["ws-globex"]},
    ]);
    let auth = AuthConfig::new(ApiKeys::from_json(&file.to_string()).unwrap(), None).unwrap();
    Keys { acme, globex, auth }
}

/// Embedded stores and the sample scanner in a temporary directory.
pub fn services(dir: &Path, store: Arc<SqliteStore>) -> Services {
    Services {
        jobs: store.clone(),
        events: store,
        sinks: Vec::new(),
        artifacts: Some(Arc::new(LocalArtifactStore::new(Placement::PerJob(
            dir.join("bundles"),
        )))),
        sources: Some(Arc::new(LocalSourcePreparer::new(SourcePolicy::default()))),
        fetcher: Some(Arc::new(
            certus_fetch::FileFetcher::new(&[dir.to_path_buf()]).unwrap(),
        )),
        verifier: Some(Arc::new(SignaturePolicy::default())),
        signer: Some(Arc::new(
            LocalSigner::load_or_generate(&dir.join("keys/signing.pem")).unwrap(),
        )),
        scanners: Some(ScannerSet::new(vec![Arc::new(SampleScanner)])),
        fingerprint_key: Some(
            certus_core::fingerprint::FingerprintKey::generate().expect("fingerprint key"),
        ),
        settings: PipelineSettings {
            workspace_root: dir.join("runs"),
            keep_workspace: false,
            max_parallel_tools: 2,
            max_log_lines_per_tool: 1000,
            max_tool_timeout: Duration::from_secs(60),
            stream_base: "wss://abcdef1234.execute-api.eu-west-1.amazonaws.com/prod".into(),
            builder: BuilderInfo {
                id: "https://certus-assurance.invalid/builders/apigw-test".into(),
                version: "test".into(),
            },
            runner_id: "lambda:test".into(),
        },
    }
}

pub fn open_store(dir: &Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.join("certus.db")).unwrap())
}

/// A QUEUED job of `workspace` scanning a small directory with the sample scanner, recorded for the tenant
/// that owns the workspace in [`keys`] (`ws-acme`: acme).
pub async fn submit(services: &Services, dir: &Path, workspace: &str) -> Job {
    submit_for(
        services,
        dir,
        workspace,
        workspace.trim_start_matches("ws-"),
    )
    .await
}

/// The same, recorded for `tenant`.
pub async fn submit_for(services: &Services, dir: &Path, workspace: &str, tenant: &str) -> Job {
    let source = dir.join("src");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("app.py"), "print('hello')\n").unwrap();
    let request: SubmitRequest = serde_json::from_value(json!({
        "workspace_id": workspace, "component_id": "demo", "assessment_id": "a-1",
        "source_type": "directory", "directory_path": source.display().to_string(),
        "manifest": {"product": "demo", "version": "1",
                     "profiles": [{"name": "light", "tools": ["sample"], "thresholds": {}}]},
    }))
    .unwrap();
    pipeline::submit_for(
        &services.records(),
        request.validate().unwrap(),
        certus_core::ids::new_test_id().unwrap(),
        Some(tenant.into()),
    )
    .await
    .unwrap()
}

/// A WebSocket event from a fixture, for `connection_id` (and, for messages, with `body`).
pub fn ws_event(
    fixture: &str,
    connection_id: &str,
    edit: impl FnOnce(&mut Value),
) -> ApiGatewayWebsocketProxyRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let mut event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    event["requestContext"]["connectionId"] = json!(connection_id);
    edit(&mut event);
    serde_json::from_value(event).unwrap()
}

pub fn subscribe_body(test_id: &str) -> String {
    json!({"action": "subscribe", "test_id": test_id}).to_string()
}

/// The parts the WebSocket tests wire together.
pub struct Wiring {
    pub stand_in: StandIn,
    pub delivery: Arc<Delivery>,
}

pub async fn wiring(endpoint: &str, store: Arc<SqliteStore>) -> Wiring {
    let config = sdk_config(endpoint);
    let stand_in = StandIn::start().await;
    let connections = new_connections_table(&config).await;
    let management = ManagementApi::new(&config, &stand_in.endpoint()).unwrap();
    let delivery = Arc::new(Delivery::new(connections, management, store));
    Wiring { stand_in, delivery }
}

/// The `seq`s of posted events (error messages have none), in the order they were received.
pub fn seqs(posts: &[Value]) -> Vec<u64> {
    posts.iter().filter_map(|p| p["seq"].as_u64()).collect()
}
