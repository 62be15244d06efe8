//! The DNS resolver given to reqwest: it resolves with the system resolver and refuses names that resolve to
//! any non-public address, at connect time, so DNS rebinding cannot slip past a check done earlier.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address::blocked_reason;
use crate::error::FetchError;
use crate::policy::FetchPolicy;

/// Resolves names, refusing non-public results unless the name is allowlisted.
pub struct GuardedResolver {
    policy: Arc<FetchPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<FetchPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.policy.allows_host(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|error| FetchError::Resolve {
                    host: host.clone(),
                    reason: error.to_string(),
                })?
                .collect();
            if !allowed {
                check_public(&host, &addrs)?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Refuses the whole name when any address it resolves to is non-public.
fn check_public(host: &str, addrs: &[SocketAddr]) -> Result<(), FetchError> {
    for addr in addrs {
        if let Some(reason) = blocked_reason(addr.ip()) {
            return Err(FetchError::BlockedAddress {
                host: host.to_owned(),
                address: addr.ip().to_string(),
                reason: reason.to_owned(),
            });
        }
    }
    Ok(())
}
