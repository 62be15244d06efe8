//! Test helpers: a scripted loopback HTTP(S) server, a throwaway PKI, a real OCI registry process, and a
//! request-counting relay in front of it.

pub mod pki;
pub mod proxy;
pub mod registry;
pub mod server;

use std::time::Duration;

use certus_fetch::{FetchPolicy, Timeouts};

/// A policy for loopback tests: the given hosts allowlisted, short timeouts.
pub fn loopback_policy(allow_hosts: &[&str], extra_ca_pem: Option<&str>) -> FetchPolicy {
    FetchPolicy {
        allow_hosts: allow_hosts.iter().map(|host| host.to_string()).collect(),
        extra_ca_pem: extra_ca_pem.map(|pem| pem.as_bytes().to_vec()),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(15),
        },
        ..FetchPolicy::default()
    }
}
