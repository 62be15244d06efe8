//! The real Certus-Trust as a test peer: `$CERTUS_SHARED_DIR/data/certus-trust` (default `../shared`, beside
//! the repository) run unchanged as a separate process on a free loopback port, with the Python venv that
//! `scripts/install-trust.sh` builds, found through `CERTUS_TRUST_VENV`. Nothing of it is copied or linked.
//!
//! Skipped ("skipped: ../shared absent") only when the shared folder is absent; a missing venv skips locally
//! but fails when `CI` is set. The process gets a cleared environment: every proxy variable points at a
//! closed loopback port, so the call it fires at a Certus-Transform after a permit fails on loopback instead
//! of resolving a name, and it writes no bytecode into the shared folder.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The venv variable the tests read (`export CERTUS_TRUST_VENV=$(scripts/install-trust.sh)`).
pub const VENV_VAR: &str = "CERTUS_TRUST_VENV";

/// A running Certus-Trust; stopped (killed and reaped) when dropped.
pub struct RealTrust {
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
    _home: tempfile::TempDir,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("CERTUS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind a loopback port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// Starts the real service, its raw bucket named `raw_bucket` (`CERTUS_TRUST_S3_RAW_BUCKET`). `None` when
/// the test is skipped (the reason printed).
pub fn real_trust(raw_bucket: &str) -> Option<RealTrust> {
    let source = shared_dir().join("data/certus-trust");
    if !source.join("certus_trust/main.py").is_file() {
        println!("skipped: ../shared absent");
        return None;
    }
    let venv = std::env::var_os(VENV_VAR).map(PathBuf::from);
    let uvicorn = venv.as_ref().map(|v| v.join("bin/uvicorn"));
    let Some(uvicorn) = uvicorn.filter(|u| u.is_file()) else {
        let problem = format!(
            "{VENV_VAR} is {:?}, which holds no bin/uvicorn: run `export {VENV_VAR}=$(scripts/install-trust.sh)`",
            venv
        );
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("CI is set and the Certus-Trust venv is missing: {problem}");
        }
        println!("skipped: {problem}");
        return None;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let log = home.path().join("certus-trust.log");
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let port = free_port();
    let proxy = format!("http://127.0.0.1:{}", free_port());
    let mut command = Command::new(&uvicorn);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CERTUS_TRUST_S3_RAW_BUCKET", raw_bucket);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        command
            .env(var, &proxy)
            .env(var.to_ascii_lowercase(), &proxy);
    }
    let child = command
        .current_dir(home.path())
        .args(["certus_trust.main:app", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--app-dir")
        .arg(&source)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("uvicorn starts");
    let mut trust = RealTrust {
        child: Some(child),
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        log,
        _home: home,
    };
    trust.wait_healthy();
    Some(trust)
}

impl RealTrust {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /v1/health` answered `healthy`.
    pub fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET /v1/health HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 200")
            && answer.contains("\"healthy\"")
    }

    fn wait_healthy(&mut self) {
        for _ in 0..300 {
            if self.healthy() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "Certus-Trust exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Certus-Trust never answered /v1/health:\n{}", self.log());
    }

    /// Kills the process (only this child) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RealTrust {
    fn drop(&mut self) {
        self.stop();
    }
}
