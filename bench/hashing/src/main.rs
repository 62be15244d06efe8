//! The Rust side of bench/hashing/run.sh: runs the project's own digesting and upload code on the bench's
//! files so that the script can time them and read their peak RSS.
//!
//! - `index <dir>`: `bundle::compute_index` over a directory (what writes `bundle-index.json`).
//! - `file <path>`: `digest::sha256_file` over one file.
//! - `upload <bundle dir> <s3://bucket/prefix> <endpoint>`: writes the bundle index, creates the bucket, then
//!   `S3ArtifactStore::store_bundle` uploads every file of the directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use certus_aws::{AwsClients, S3ArtifactStore};
use certus_core::bundle::{compute_index, BundleWriter};
use certus_core::digest::sha256_file;
use certus_core::ports::ArtifactStore;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("usage: certus-bench-hashing index <dir> | file <path> | upload <bundle dir> <s3://bucket/prefix> <endpoint>")]
    Usage,
    #[error(transparent)]
    Core(#[from] certus_core::CoreError),
    #[error("creating bucket {bucket}: {reason}")]
    CreateBucket { bucket: String, reason: String },
}

const TEST_ID: &str = "bench-hashing-0001";

fn index(dir: &Path) -> Result<(), BenchError> {
    let index = compute_index(dir)?;
    println!("{} files, {} bytes", index.files.len(), index.total_size());
    Ok(())
}

fn file(path: &Path) -> Result<(), BenchError> {
    let (digest, size) = sha256_file(path)?;
    println!("{digest}  {size} bytes");
    Ok(())
}

async fn upload(bundle_dir: PathBuf, root: &str, endpoint: &str) -> Result<(), BenchError> {
    let index = BundleWriter::new(bundle_dir.clone())?.write_index()?;
    let clients = AwsClients::from_env(Some(endpoint)).await?;
    let bucket = root
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if let Err(e) = clients.s3().create_bucket().bucket(&bucket).send().await {
        let reason = format!("{e:?}");
        if !reason.contains("BucketAlreadyOwnedByYou") {
            return Err(BenchError::CreateBucket { bucket, reason });
        }
    }
    let store = S3ArtifactStore::new(&clients, root)?;
    let location = store.store_bundle(TEST_ID, &bundle_dir, &index).await?;
    println!(
        "stored {} files, {} bytes at {location}",
        index.files.len(),
        index.total_size()
    );
    Ok(())
}

async fn run(args: &[String]) -> Result<(), BenchError> {
    match args {
        [command, dir] if command == "index" => index(Path::new(dir)),
        [command, path] if command == "file" => file(Path::new(path)),
        [command, dir, root, endpoint] if command == "upload" => {
            upload(PathBuf::from(dir), root, endpoint).await
        }
        _ => Err(BenchError::Usage),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Only http:// endpoints are used here, but the S3 client is built with rustls, which needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
