//! Git sources through the `git` command: fetch exactly the requested branch or commit into the run's
//! workspace, check it out detached and record the resolved SHA. Hostile-input rules: no shell, `--` before
//! the URL, no remote helpers or `ext::`, no hooks, no system or global config, no prompts, a timeout, a
//! stalled transfer aborted, and remotes held to the outbound-address policy ([`crate::remote`]).

use std::path::Path;
use std::time::Duration;

use certus_core::error::{CoreError, Result};
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::Command;

use crate::remote::{self, Pinned};

/// What the git preparer allows.
#[derive(Debug, Clone)]
pub struct GitPolicy {
    /// Clone local paths and `file://` URLs (the CLI on a developer's machine); off for a shared server.
    pub allow_local: bool,
    /// Remote hosts that may be (or resolve to) non-public addresses; every other such remote is refused
    /// before any connection. The same list as manifest fetches (`CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS`).
    pub allow_hosts: Vec<String>,
    /// Limit for each git command; well under a scan slot's time, so a remote that never answers cannot hold
    /// a slot for long.
    pub timeout: Duration,
}

impl Default for GitPolicy {
    fn default() -> Self {
        Self {
            allow_local: false,
            allow_hosts: Vec::new(),
            timeout: Duration::from_secs(300),
        }
    }
}

/// A transfer slower than this many bytes a second for [`LOW_SPEED_SECONDS`] is aborted.
const LOW_SPEED_BYTES: &str = "1000";
const LOW_SPEED_SECONDS: &str = "30";

/// The process group of a running git command: git and the transport helpers it starts (`git-remote-http`
/// holds the connection). Dropped before git has ended — its timeout passed, or the scan's task was aborted
/// by a cancel — it kills the whole group, so no helper is left holding a connection or a slot's resources.
struct GitGroup {
    leader: Option<Pid>,
}

impl GitGroup {
    fn of(child: &tokio::process::Child) -> Self {
        Self {
            leader: child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(Pid::from_raw),
        }
    }

    /// Git has exited and was reaped: nothing is left to kill.
    fn ended(&mut self) {
        self.leader = None;
    }
}

impl Drop for GitGroup {
    fn drop(&mut self) {
        if let Some(leader) = self.leader {
            // ESRCH (the group has already gone) is the expected outcome when nothing was left running.
            let _ = kill_process_group(leader, Signal::KILL);
        }
    }
}

/// A checked-out tree: its resolved commit and branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub commit: String,
    pub branch: Option<String>,
}

fn is_remote(url: &str) -> bool {
    ["https://", "ssh://", "git://", "http://"]
        .iter()
        .any(|s| url.starts_with(s))
        || (url.contains('@') && url.contains(':') && !url.contains("://"))
}

pub async fn checkout(
    url: &str,
    branch: Option<&str>,
    commit: Option<&str>,
    dest: &Path,
    home: &Path,
    policy: &GitPolicy,
) -> Result<Checkout> {
    let pinned = if is_remote(url) {
        remote::pin(url, &policy.allow_hosts).await?
    } else if policy.allow_local {
        Pinned {
            url: url.to_string(),
            config: Vec::new(),
            ssh_host: None,
        }
    } else {
        return Err(CoreError::Source(format!(
            "git_url '{url}' is a local path; local repositories are not allowed here"
        )));
    };
    let url = pinned.url.as_str();
    let git = Git {
        dest,
        home,
        policy,
        pinned: &pinned,
    };
    git.run(&["init", "--quiet"]).await?;
    let wanted = commit.or(branch).unwrap_or("HEAD");
    let shallow = git
        .run(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--depth=1",
            "--",
            url,
            wanted,
        ])
        .await;
    if let Err(shallow_err) = shallow {
        // Servers that refuse fetching a bare commit: fetch the branch (or all branches) and find it there.
        let Some(sha) = commit else {
            return Err(shallow_err);
        };
        let refspec = match branch {
            Some(b) => format!("+refs/heads/{b}:refs/remotes/origin/{b}"),
            None => "+refs/heads/*:refs/remotes/origin/*".to_string(),
        };
        git.run(&["fetch", "--quiet", "--no-tags", "--", url, &refspec])
            .await?;
        git.run(&["checkout", "--quiet", "--detach", sha]).await?;
    } else {
        git.run(&["checkout", "--quiet", "--detach", "FETCH_HEAD"])
            .await?;
    }
    let resolved = git.run(&["rev-parse", "HEAD"]).await?.trim().to_string();
    if let Some(requested) = commit {
        if !resolved.starts_with(requested) {
            return Err(CoreError::Source(format!(
                "checked out {resolved}, which is not the requested commit {requested}"
            )));
        }
    }
    Ok(Checkout {
        commit: resolved,
        branch: branch.map(str::to_string),
    })
}

struct Git<'a> {
    dest: &'a Path,
    home: &'a Path,
    policy: &'a GitPolicy,
    pinned: &'a Pinned,
}

impl Git<'_> {
    async fn run(&self, args: &[&str]) -> Result<String> {
        let ssh = match &self.pinned.ssh_host {
            Some(address) => format!(
                "ssh -o BatchMode=yes -o HostName={address} -o CanonicalizeHostname=no \
                 -o ProxyCommand=none -o ProxyJump=none"
            ),
            None => "ssh -o BatchMode=yes".to_string(),
        };
        let mut cmd = Command::new("git");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS", "/bin/false")
            .env("GIT_SSH_COMMAND", ssh)
            .env("LC_ALL", "C")
            .arg("-C")
            .arg(self.dest)
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "protocol.allow=never",
                "-c",
                "protocol.https.allow=always",
                "-c",
                "protocol.http.allow=always",
                "-c",
                "protocol.ssh.allow=always",
                "-c",
                "protocol.git.allow=always",
                "-c",
                &format!(
                    "protocol.file.allow={}",
                    if self.policy.allow_local {
                        "always"
                    } else {
                        "never"
                    }
                ),
                "-c",
                "core.fsmonitor=false",
                "-c",
                "submodule.recurse=false",
                "-c",
                "advice.detachedHead=false",
                "-c",
                &format!("http.lowSpeedLimit={LOW_SPEED_BYTES}"),
                "-c",
                &format!("http.lowSpeedTime={LOW_SPEED_SECONDS}"),
            ])
            .args(
                self.pinned
                    .config
                    .iter()
                    .flat_map(|setting| ["-c", setting.as_str()]),
            )
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| CoreError::Source(format!("could not run git: {e}")))?;
        let mut group = GitGroup::of(&child);
        let output = tokio::time::timeout(self.policy.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                CoreError::Source(format!(
                    "git {} did not finish within {}s",
                    args.first().copied().unwrap_or(""),
                    self.policy.timeout.as_secs()
                ))
            })?
            .map_err(|e| CoreError::Source(format!("could not run git: {e}")))?;
        group.ended();
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason: String = stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(500)
                .collect();
            Err(CoreError::Source(format!(
                "git {} failed: {}",
                args.first().copied().unwrap_or(""),
                if reason.is_empty() {
                    format!("exit status {}", output.status)
                } else {
                    reason
                }
            )))
        }
    }
}
