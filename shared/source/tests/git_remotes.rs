//! Git remotes against the outbound-address policy, with real listeners on loopback: a remote on a
//! non-public address is refused before git connects (the listener sees no connection), an allow-listed one
//! is cloned through a real `git daemon`, and an HTTP redirect is never followed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use certus_source::git::{checkout, GitPolicy, Layout};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback listener that counts the connections it accepts and answers each with `reply`.
async fn counting_listener(reply: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, count)
}

use certus_testkit::git;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real `git daemon` on loopback serving `base`; its port.
async fn git_daemon(base: &Path) -> (Daemon, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The daemon itself, not `git daemon` (whose child would outlive a kill of `git` and keep the test
    // harness's output pipe open), with no inherited output.
    let exec_path = git(base, &["--exec-path"]);
    let child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (daemon, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("git daemon did not start on port {port}");
}

fn policy(allow_hosts: &[&str]) -> GitPolicy {
    GitPolicy {
        allow_hosts: allow_hosts.iter().map(|h| h.to_string()).collect(),
        timeout: Duration::from_secs(60),
        ..GitPolicy::default()
    }
}

#[tokio::test]
async fn a_remote_on_loopback_is_refused_before_git_connects() {
    let (port, seen) = counting_listener(String::new()).await;
    let dirs = tempfile::tempdir().unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/app.git"),
        format!("git://127.0.0.1:{port}/app.git"),
        format!("ssh://git@127.0.0.1:{port}/app.git"),
        format!("http://localhost:{port}/app.git"),
    ] {
        let dest = tempfile::tempdir_in(dirs.path()).unwrap();
        let err = checkout(
            &url,
            None,
            None,
            None,
            Layout {
                tree: dest.path(),
                git_dir: &dirs.path().join("repo.git"),
                home: dirs.path(),
            },
            None,
            &policy(&[]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("refused before connecting"), "{url}: {err}");
        assert!(err.contains("FETCH_ALLOW_HOSTS"), "{err}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "git connected to a refused remote"
    );
}

#[tokio::test]
async fn an_allow_listed_remote_is_cloned_through_a_real_git_daemon() {
    let base = tempfile::tempdir().unwrap();
    let repo = base.path().join("app.git");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "hello").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let (_daemon, port) = git_daemon(base.path()).await;
    let home = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let url = format!("git://127.0.0.1:{port}/app.git");
    let done = checkout(
        &url,
        Some("main"),
        None,
        None,
        Layout {
            tree: dest.path(),
            git_dir: &home.path().join("repo.git"),
            home: home.path(),
        },
        None,
        &policy(&["127.0.0.1"]),
    )
    .await
    .unwrap();
    assert_eq!(done.commit, head);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("README")).unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn an_http_redirect_is_not_followed() {
    let (target_port, target_seen) = counting_listener(String::new()).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{target_port}/app.git/info/refs?service=git-upload-pack\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (port, seen) = counting_listener(redirect).await;
    let home = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/app.git");
    let err = checkout(
        &url,
        None,
        None,
        None,
        Layout {
            tree: dest.path(),
            git_dir: &home.path().join("repo.git"),
            home: home.path(),
        },
        None,
        &policy(&["127.0.0.1"]),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        seen.load(Ordering::SeqCst) >= 1,
        "the allowed remote was never asked"
    );
    assert_eq!(
        target_seen.load(Ordering::SeqCst),
        0,
        "git followed a redirect: {err}"
    );
}
