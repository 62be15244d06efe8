//! Test support shared by every suite of the workspace.
//!
//! A test that needs something outside the process (moto, the OCI registry, an external scanner, the node
//! runner of the state machines, `../shared`) asks for it here. Where it is missing the test prints
//! `skipped: <why>` and returns — unless it runs in CI (`CI` set), where everything `scripts/test.sh`
//! installs must be present: there the missing prerequisite fails the test, naming it. `../shared` is the
//! one exception: a user's fresh clone has no `../shared`, so its absence is skipped everywhere.
//!
//! Names of resources made in shared emulators (tables, buckets, state machines) come from
//! [`unique_name`]: the process id, a per-process random salt and an atomic counter, never the clock.
//!
//! [`GitHttpServer`] serves git over smart HTTP on loopback behind the test's own authorisation check.

mod git_http;

pub use git_http::GitHttpServer;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Is this run in CI, where a prerequisite that `scripts/test.sh` installs may not be missing?
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Says why a test cannot run: prints `skipped: <why>` locally and panics in CI. The caller returns.
///
/// # Panics
/// In CI (`CI` set), always: a prerequisite the test script installs is missing.
pub fn skip(why: &str) {
    assert!(
        !in_ci(),
        "prerequisite missing in CI: {why} (with CI set only ../shared may be absent: a skip would hide a broken install)"
    );
    println!("skipped: {why}");
    log_skip(why);
}

/// Appends `<test>: <why>` to `$CERTUS_SKIP_LOG` (set by `scripts/test.sh`, which lists every skip at the end:
/// cargo hides the output of passing tests). The test's name is its thread's, as libtest names them.
fn log_skip(why: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os("CERTUS_SKIP_LOG") else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string();
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        // One write per line, so lines of concurrent tests do not interleave.
        let _ = file.write_all(format!("{test}: {why}\n").as_bytes());
    }
}

/// `value`, or `None` after [`skip`] with `why`.
pub fn require<T>(value: Option<T>, why: &str) -> Option<T> {
    if value.is_none() {
        skip(why);
    }
    value
}

/// The endpoint of the moto server `scripts/test.sh` starts (`CERTUS_MOTO_ENDPOINT`).
pub fn moto_endpoint() -> Option<String> {
    require(
        std::env::var("CERTUS_MOTO_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty()),
        "moto not running (CERTUS_MOTO_ENDPOINT unset; scripts/test.sh starts it)",
    )
}

/// The directory holding the external scanners (`CERTUS_TOOLS_BIN_DIR`, set by `scripts/test.sh`), if any.
pub fn tools_bin_dir() -> Option<PathBuf> {
    std::env::var_os("CERTUS_TOOLS_BIN_DIR").map(PathBuf::from)
}

/// The first of `names` found on `PATH` (or among `extra` candidates), or `None` after [`skip`].
pub fn installed(names: &[&str], extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .chain(extra.iter().map(PathBuf::from))
        .find(|candidate| candidate.is_file());
    require(found, &format!("{} not installed", names.join(" or ")))
}

/// `../shared` beside the checkout (or `$CERTUS_SHARED_DIR`) when it holds `probe`; `None` after printing
/// `skipped: ../shared absent` — the one skip allowed in CI, since a fresh clone has no `../shared`.
pub fn shared_dir(probe: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CERTUS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    if dir.join(probe).exists() {
        Some(dir)
    } else {
        println!("skipped: ../shared absent");
        log_skip("../shared absent");
        None
    }
}

/// The workspace's root directory (where the top `Cargo.toml` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A name no other test — in this process, another process, or an earlier run against the same emulator —
/// uses: `certus-<tag>-<pid>-<salt>-<n>` (lowercase, so valid for buckets, tables and state machines).
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u32> = OnceLock::new();
    // RandomState is seeded from the OS's randomness once per process.
    let salt = *SALT.get_or_init(|| RandomState::new().hash_one(std::process::id()) as u32);
    format!(
        "certus-{tag}-{}-{salt:08x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A loopback port nothing listens on right now (the OS picks it; the probe socket is closed again).
pub fn free_port() -> u16 {
    match std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(address) => address.port(),
        Err(e) => panic!("no free loopback port: {e}"),
    }
}

/// Waits (up to 10 s) until something accepts connections on the loopback `port`.
pub fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

/// Copies the tree `from` into `to` (created), files and directories only.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        let target = to.join(entry.file_name());
        let is_dir = entry
            .file_type()
            .unwrap_or_else(|e| panic!("stat {}: {e}", entry.path().display()))
            .is_dir();
        if is_dir {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// Runs `git` in `dir` with a fixed test identity and signing off, panicking with git's stderr when it
/// fails; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = match std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("git does not run: {e}"),
    };
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits (up to 10 s) for a server the test started to write the port it listens on into `port_file`.
pub fn port_from_file(port_file: &Path, what: &str) -> u16 {
    for _ in 0..400 {
        if let Some(port) = std::fs::read_to_string(port_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return port;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{what} did not start");
}

/// An AWS SDK configuration for a loopback emulator (moto) at `endpoint`: dummy credentials and a fixed region
/// set in the configuration itself, so no credential chain (and no cloud metadata address) is ever consulted;
/// the same rustls HTTPS client the adapters use.
pub fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    emulator_sdk_config_as(endpoint, "testing", "testing")
}

/// [`emulator_sdk_config`] signing as the access key `key_id` (an IAM user the test created).
pub fn emulator_sdk_config_as(endpoint: &str, key_id: &str, secret: &str) -> aws_config::SdkConfig {
    use aws_credential_types::{provider::SharedCredentialsProvider, Credentials};
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key_id,
            secret,
            None,
            None,
            "certus-tests",
        )))
        .endpoint_url(endpoint)
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .build()
}

/// A child process (a server the test started) killed and reaped when the guard goes out of scope, also
/// when the test panics.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_within_a_process_and_across_threads() {
        let names: std::collections::BTreeSet<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| (0..500).map(|_| unique_name("t")).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(names.len(), 8 * 500);
        assert!(names
            .iter()
            .all(|n| n.len() <= 63 && n == &n.to_lowercase()));
    }

    #[test]
    fn a_name_carries_its_tag_and_process() {
        let name = unique_name("events");
        assert!(name.starts_with(&format!("certus-events-{}-", std::process::id())));
    }
}

/// Counts the S3 requests a client sends whose URI contains `path_part` (every request for `""`), retries
/// included: how tests show what a step costs in requests.
#[derive(Debug, Clone)]
pub struct S3RequestCounter {
    path_part: &'static str,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl S3RequestCounter {
    pub fn new(path_part: &'static str) -> Self {
        Self {
            path_part,
            seen: std::sync::Arc::default(),
        }
    }

    /// Requests counted so far.
    pub fn count(&self) -> usize {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_sdk_s3::config::Intercept for S3RequestCounter {
    fn name(&self) -> &'static str {
        "S3RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        if context.request().uri().contains(self.path_part) {
            self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}
