//! Shared helpers for the tests that run against a local moto server (`tests/start-moto.sh`).

use std::sync::atomic::{AtomicUsize, Ordering};

use certus_aws::AwsClients;

pub use certus_testkit::{moto_endpoint, unique_name};

/// Clients with dummy credentials and a fixed region set in their own configuration, so no credential
/// chain (and no cloud metadata address) is ever consulted.
pub fn moto_clients(endpoint: &str) -> AwsClients {
    let config = certus_testkit::emulator_sdk_config(endpoint);
    AwsClients::from_sdk_config(&config)
}

pub async fn new_bucket(clients: &AwsClients, tag: &str) -> String {
    let bucket = unique_name(tag);
    clients
        .s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    bucket
}

pub async fn put(clients: &AwsClients, bucket: &str, key: &str, bytes: &[u8]) {
    clients
        .s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(bytes.to_vec().into())
        .send()
        .await
        .unwrap();
}

/// Runs a command, returning (success, stdout + stderr).
pub fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// A fresh P-256 key pair made by openssl in `dir`; returns the public key PEM path.
pub fn openssl_p256_public_key(dir: &std::path::Path) -> std::path::PathBuf {
    let private = dir.join("key.pem");
    let public = dir.join("key.pub.pem");
    let (ok, out) = run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            private.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        "openssl",
        &[
            "pkey",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    public
}

/// Fails every request `matches` picks once `allowed` of them went through (retries count too).
#[derive(Debug)]
pub struct FailAfter {
    pub matches: fn(&str, &aws_sdk_s3::config::http::HttpRequest) -> bool,
    pub target: String,
    pub allowed: usize,
    pub seen: AtomicUsize,
}

impl aws_sdk_s3::config::Intercept for FailAfter {
    fn name(&self) -> &'static str {
        "FailAfter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        if (self.matches)(&self.target, context.request())
            && self.seen.fetch_add(1, Ordering::SeqCst) >= self.allowed
        {
            return Err("injected failure".into());
        }
        Ok(())
    }
}

/// Clients whose S3 requests pass through `interceptor`.
pub fn moto_clients_with(endpoint: &str, interceptor: FailAfter) -> AwsClients {
    let plain = moto_clients(endpoint);
    let s3_config = plain
        .s3()
        .config()
        .to_builder()
        .interceptor(interceptor)
        .build();
    AwsClients::new(
        aws_sdk_s3::Client::from_conf(s3_config),
        plain.kms().clone(),
    )
}

/// Is this a server-side copy (CopyObject or UploadPartCopy) whose destination URL contains `target`?
pub fn is_copy_to(target: &str, request: &aws_sdk_s3::config::http::HttpRequest) -> bool {
    request.headers().get("x-amz-copy-source").is_some() && request.uri().contains(target)
}

/// Every key under `prefix` in `bucket` with its LastModified (the listing's count is checked too).
pub async fn listing(
    clients: &AwsClients,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, String> {
    let listed = clients
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let out: std::collections::BTreeMap<String, String> = listed
        .contents()
        .iter()
        .map(|o| {
            (
                o.key().unwrap().to_string(),
                format!("{:?}", o.last_modified()),
            )
        })
        .collect();
    assert_eq!(out.len(), listed.contents().len(), "a key listed twice");
    out
}

/// The bytes of one object.
pub async fn get(clients: &AwsClients, bucket: &str, key: &str) -> Vec<u8> {
    clients
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
        .to_vec()
}
