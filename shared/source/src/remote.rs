//! Git remotes under the outbound-address policy. The URL's host is resolved here, before git runs, and
//! refused when it is (or resolves to) a loopback, private, link-local, CGNAT or other non-public address and
//! is not allow-listed. git is then pinned to the address that was checked — curl's resolve list for
//! `http(s)://` (every checked address), the first address itself for `git://`, ssh's `HostName` for ssh — and
//! HTTP redirects are off, so neither DNS rebinding nor a redirect can reach an address that was not checked.

use std::net::{IpAddr, SocketAddr};

use certus_core::error::{CoreError, Result};
use certus_fetch::{blocked_reason, host_listed};
use url::{Host, Url};

/// How git reaches a remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    Git,
    Ssh,
}

/// A remote URL checked against the policy, and how to keep git on the checked address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pinned {
    /// The URL to give git (for `git://`, with the checked address in place of the name).
    pub url: String,
    /// `-c` settings that keep git on the checked address.
    pub config: Vec<String>,
    /// The address ssh must connect to, for ssh remotes.
    pub ssh_host: Option<String>,
}

/// Resolves the host of the remote `raw`, refuses it when a resolved address is not public and the host is
/// not in `allow_hosts`, and says how to pin git to the first checked address.
pub(crate) async fn pin(raw: &str, allow_hosts: &[String]) -> Result<Pinned> {
    let (transport, url) = parse(raw)?;
    let host = url
        .host()
        .ok_or_else(|| CoreError::Source("git_url names no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(match transport {
        Transport::Http => 443,
        Transport::Git => 9418,
        Transport::Ssh => 22,
    });
    let name = match &host {
        Host::Domain(name) => (*name).to_string(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    let addresses: Vec<IpAddr> = match host {
        Host::Ipv4(ip) => vec![ip.into()],
        Host::Ipv6(ip) => vec![ip.into()],
        Host::Domain(domain) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|_| {
                CoreError::Source(format!("git_url host '{domain}' could not be resolved"))
            })?
            .map(|address: SocketAddr| address.ip())
            .collect(),
    };
    let first = *addresses
        .first()
        .ok_or_else(|| CoreError::Source(format!("git_url host '{name}' has no address")))?;
    if !host_listed(allow_hosts, &name) {
        if let Some((ip, reason)) = addresses
            .iter()
            .find_map(|ip| blocked_reason(*ip).map(|reason| (ip, reason)))
        {
            return Err(CoreError::Source(format!(
                "git_url host '{name}' is {ip}, a {reason} address; refused before connecting \
                 (allow it with CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS)"
            )));
        }
    }
    let mut config = vec!["http.followRedirects=false".to_string()];
    let mut pinned_url = raw.to_string();
    let mut ssh_host = None;
    match transport {
        Transport::Http => {
            if matches!(url.host(), Some(Host::Domain(_))) {
                let all: Vec<String> = addresses.iter().map(|ip| bracket(*ip)).collect();
                config.push(format!(
                    "http.curloptResolve={name}:{port}:{}",
                    all.join(",")
                ));
            }
        }
        Transport::Git => {
            let mut url = url.clone();
            url.set_ip_host(first)
                .map_err(|()| CoreError::Source("git_url host cannot be pinned".into()))?;
            pinned_url = url.to_string();
        }
        Transport::Ssh => ssh_host = Some(first.to_string()),
    }
    Ok(Pinned {
        url: pinned_url,
        config,
        ssh_host,
    })
}

/// An address as curl's resolve list writes it (IPv6 in brackets).
fn bracket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// The transport and URL of a remote; scp-like `user@host:path` is read as `ssh://user@host/path`.
fn parse(raw: &str) -> Result<(Transport, Url)> {
    let invalid = || CoreError::Source("git_url is not a valid remote URL".into());
    let url = if raw.contains("://") {
        Url::parse(raw).map_err(|_| invalid())?
    } else {
        let (authority, path) = raw.split_once(':').ok_or_else(invalid)?;
        if !authority.contains('@') || path.starts_with(':') {
            return Err(invalid());
        }
        Url::parse(&format!(
            "ssh://{authority}/{}",
            path.trim_start_matches('/')
        ))
        .map_err(|_| invalid())?
    };
    let transport = match url.scheme() {
        "https" | "http" => Transport::Http,
        "git" => Transport::Git,
        "ssh" => Transport::Ssh,
        other => {
            return Err(CoreError::Source(format!(
                "git_url scheme '{other}' is not allowed"
            )))
        }
    };
    Ok((transport, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn non_public_literals_and_names_are_refused_unless_allow_listed() {
        for raw in [
            "http://127.0.0.1:9/app.git",
            "https://169.254.169.254/latest/meta-data",
            "git://10.0.0.7/app.git",
            "ssh://git@[::1]/app.git",
            "git@192.168.1.1:team/app.git",
            "https://[::ffff:127.0.0.1]/app.git",
            "git://localhost:9/app.git",
            "https://100.64.0.1/app.git",
        ] {
            let err = pin(raw, &[]).await.unwrap_err().to_string();
            assert!(err.contains("refused before connecting"), "{raw}: {err}");
        }
        let allowed = pin("git://127.0.0.1:9418/app.git", &["127.0.0.1".into()])
            .await
            .unwrap();
        assert_eq!(allowed.url, "git://127.0.0.1:9418/app.git");
    }

    #[tokio::test]
    async fn names_are_pinned_to_the_checked_address_for_every_transport() {
        let allow = ["localhost".to_string()];
        let http = pin("http://localhost:8080/app.git", &allow).await.unwrap();
        assert!(http
            .config
            .iter()
            .any(|c| c.starts_with("http.curloptResolve=localhost:8080:")));
        assert!(http
            .config
            .contains(&"http.followRedirects=false".to_string()));
        let git = pin("git://localhost:9418/app.git", &allow).await.unwrap();
        assert!(!git.url.contains("localhost"), "{}", git.url);
        let ssh = pin("git@localhost:app.git", &allow).await.unwrap();
        assert!(ssh.ssh_host.is_some());
    }

    #[tokio::test]
    async fn other_schemes_and_garbage_are_refused_without_echoing_them() {
        for raw in [
            "ext::sh -c id",
            "ftp://example.com/x",
            "not a url",
            "git@host::x",
        ] {
            let err = pin(raw, &[]).await.unwrap_err().to_string();
            assert!(err.contains("git_url"), "{raw}: {err}");
            assert!(!err.contains(raw), "{raw}: {err}");
        }
    }
}
