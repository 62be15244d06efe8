//! `certus`: Certus-Assurance on one machine — scan a repository against a signed manifest with embedded
//! defaults, and the manifest tools authors need.

mod audit;
#[cfg(feature = "aws")]
mod aws;
mod console;
mod error;
mod local;
mod manifest_cmd;
mod scan;
mod serve;
mod upload;
mod verify_bundle;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "certus",
    version,
    about = "Verification-first security scanning of untrusted code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify the manifest, run its profile's scanners on SOURCE and write a signed evidence bundle.
    Scan(Box<scan::ScanArgs>),
    /// Serve the HTTP API and live progress (WebSocket), running submitted scans in-process.
    Serve(Box<serve::ServeArgs>),
    /// Follow a scan's events as JSON lines until it completes.
    Watch(serve::WatchArgs),
    /// Ask Certus-Trust for permission to publish a finished job, then stage it under raw and promote it.
    UploadRequest(upload::UploadArgs),
    /// A development Certus-Trust server.
    #[command(subcommand)]
    Trust(upload::TrustCommand),
    /// Check a bundle: every digest, the attestation's subjects and signature, the manifest signature.
    VerifyBundle(verify_bundle::VerifyBundleArgs),
    /// Manifest digests, canonical form and signature verification.
    #[command(subcommand)]
    Manifest(manifest_cmd::ManifestCommand),
    /// Auditors' questions: jobs by workspace, repository, commit, manifest, status, time; a job's trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

fn main() {
    let cli = Cli::parse();
    // HTTP clients here use rustls with an explicitly chosen provider; make it the process default too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("certus: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Scan(args) => scan::run(*args).await,
            Command::Manifest(command) => manifest_cmd::run(command).await,
            Command::VerifyBundle(args) => verify_bundle::run(args).await,
            Command::Serve(args) => serve::run(*args).await,
            Command::Watch(args) => serve::watch(args).await,
            Command::UploadRequest(args) => upload::request(args).await,
            Command::Trust(command) => upload::trust(command).await,
            Command::Audit(command) => audit::run(command).await,
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("certus: error: {e}");
            std::process::exit(2);
        }
    }
}
