//! What a fetch may do: which hosts may be non-public or plain http, which extra CA to trust, how long to
//! wait, and which local directories `file://` may read.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How long a fetch may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Limit for establishing one TCP (and TLS) connection.
    pub connect: Duration,
    /// Limit for a whole fetch, redirects, token requests and body included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60),
        }
    }
}

/// Settings for every fetcher of this crate. The default allows only public https hosts and no files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Hosts or IP literals that may resolve to (or be) loopback, private or other non-public addresses.
    pub allow_hosts: Vec<String>,
    /// PEM certificates trusted in addition to the webpki roots (private registries, tests).
    pub extra_ca_pem: Option<Vec<u8>>,
    pub timeouts: Timeouts,
    /// Hosts that may be reached over plain `http` (OCI registries and their token realms, blob redirects).
    pub allow_plain_http_for: Vec<String>,
    /// Directories `file://` URIs may read below; empty refuses every `file://` URI.
    pub file_roots: Vec<PathBuf>,
}

impl FetchPolicy {
    /// Whether `host` (a name or IP literal, IPv6 with or without brackets) may be non-public.
    pub fn allows_host(&self, host: &str) -> bool {
        host_listed(&self.allow_hosts, host)
    }

    /// Whether `host` may be reached over plain http.
    pub fn allows_plain_http(&self, host: &str) -> bool {
        host_listed(&self.allow_plain_http_for, host)
    }
}

/// Whether `host` is in `list`, comparing names case-insensitively without a trailing dot and IP literals by
/// value (IPv6 with or without brackets): the one allow-list rule for every outbound connection.
pub fn host_listed(list: &[String], host: &str) -> bool {
    let wanted = normalize(host);
    list.iter().any(|entry| normalize(entry) == wanted)
}

fn normalize(host: &str) -> String {
    let bare = host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => bare.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lists_match_names_and_ip_spellings() {
        let policy = FetchPolicy {
            allow_hosts: vec!["Registry.Local".into(), "::1".into(), "127.0.0.1".into()],
            allow_plain_http_for: vec!["[0:0::1]".into()],
            ..FetchPolicy::default()
        };
        assert!(policy.allows_host("registry.local"));
        assert!(policy.allows_host("registry.local."));
        assert!(policy.allows_host("[::1]"));
        assert!(policy.allows_host("127.0.0.1"));
        assert!(!policy.allows_host("127.0.0.2"));
        assert!(!policy.allows_host("evil.local"));
        assert!(policy.allows_plain_http("::1"));
        assert!(!policy.allows_plain_http("registry.local"));
    }
}
