//! `certus`: Certus-Assurance on one machine — scan a repository against a signed manifest with embedded
//! defaults, and the manifest tools authors need.

mod audit;
#[cfg(feature = "aws")]
mod aws;
mod console;
mod error;
mod findings;
mod local;
mod manifest_cmd;
mod prune;
mod scan;
mod serve;
mod terminal;
mod upload;
mod verify_bundle;

use clap::{CommandFactory, Parser, Subcommand};

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the commit comes from build.rs (`unknown` outside a git checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CERTUS_BUILD_COMMIT"),
    ")"
);

/// How long the process waits at exit for work still running (a stopped tool's thread cleaning up).
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(
    name = "certus",
    version = VERSION,
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
    /// Follow a scan on a server until it completes, shown as `certus scan` shows its own (or JSON lines).
    Watch(serve::WatchArgs),
    /// Cancel a QUEUED or RUNNING scan on a server: it never starts, or its run is stopped.
    Cancel(serve::CancelArgs),
    /// A finished scan's findings (by test id or bundle directory), filtered, as a table, JSON, SARIF or
    /// Markdown.
    Findings(findings::FindingsArgs),
    /// Remove old jobs' workspaces and bundles from the data directory (never job records or trails).
    Prune(prune::PruneArgs),
    /// Print a shell completion script: `certus completions bash > /etc/bash_completion.d/certus`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `certus man | man -l -`.
    Man,
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
    // Everything certus writes (database, bundles, uploads, run workspaces, keys) is private to its user,
    // whatever umask it was started with (W8).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
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
            Command::Cancel(args) => serve::cancel(args).await,
            Command::UploadRequest(args) => upload::request(args).await,
            Command::Trust(command) => upload::trust(command).await,
            Command::Audit(command) => audit::run(command).await,
            Command::Findings(args) => findings::run(args).await,
            Command::Prune(args) => prune::run(args).await,
            Command::Completions { shell } => {
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "certus",
                    &mut std::io::stdout(),
                );
                Ok(0)
            }
            Command::Man => clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map(|()| 0)
                .map_err(|e| error::CliError::io("stdout", e)),
        }
    });
    // Tasks still running end here, before the process does: a scan interrupted mid-tool has dropped the
    // tool's future, which stops the tool's process group, and its thread then removes the tool's scratch
    // and home directories. Exiting at once would leave the tool running and the directories behind.
    runtime.shutdown_timeout(SHUTDOWN_WAIT);
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("certus: error: {}", terminal::printable(&e.to_string()));
            std::process::exit(2);
        }
    }
}
