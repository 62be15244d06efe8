//! Live fan-out of a job's events to its WebSocket watchers: one broadcast channel per watched job, created
//! by the first watcher and dropped with the last one. Delivery never waits for a watcher. The hub also
//! counts open watchers against [`WatcherLimits`] (per credential, per tenant, in total): a watcher over a
//! limit is refused before its WebSocket is upgraded, and every [`WatcherPermit`] is returned when dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use certus_core::event::Event;
use certus_core::ports::EventSink;
use tokio::sync::broadcast;

/// Events buffered per job for slow watchers; a watcher that falls further behind re-reads the store.
pub const CHANNEL_CAPACITY: usize = 256;

/// How many WebSocket watchers may be open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatcherLimits {
    /// Per credential (one API key, one bearer token).
    pub per_key: usize,
    /// Per tenant, over all its credentials.
    pub per_tenant: usize,
    /// In the whole server.
    pub total: usize,
}

impl Default for WatcherLimits {
    /// 32 per credential, 128 per tenant, 512 in total.
    fn default() -> Self {
        Self {
            per_key: 32,
            per_tenant: 128,
            total: 512,
        }
    }
}

/// Which watcher limit a refused watcher reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatcherLimit {
    PerKey,
    PerTenant,
    Total,
}

impl WatcherLimit {
    pub fn describe(self) -> &'static str {
        match self {
            Self::PerKey => "these credentials already have as many open watchers as allowed",
            Self::PerTenant => "this tenant already has as many open watchers as allowed",
            Self::Total => "the server already has as many open watchers as allowed",
        }
    }
}

#[derive(Default)]
struct WatcherCounts {
    total: usize,
    per_key: HashMap<String, usize>,
    per_tenant: HashMap<String, usize>,
}

/// The `EventSink` that feeds WebSocket watchers. Put it into `Services.sinks` of the server's services.
#[derive(Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<String, broadcast::Sender<Event>>>,
    limits: WatcherLimits,
    watchers: Mutex<WatcherCounts>,
}

/// One open watcher, counted against the limits until dropped.
pub struct WatcherPermit {
    hub: Arc<LiveHub>,
    key: String,
    tenant: String,
}

impl Drop for WatcherPermit {
    fn drop(&mut self) {
        let mut counts = self.hub.counts();
        counts.total = counts.total.saturating_sub(1);
        release(&mut counts.per_key, &self.key);
        release(&mut counts.per_tenant, &self.tenant);
    }
}

fn release(map: &mut HashMap<String, usize>, name: &str) {
    if let Some(count) = map.get_mut(name) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(name);
        }
    }
}

/// A watcher's receiving end; unsubscribes when dropped.
pub struct Subscription {
    hub: Arc<LiveHub>,
    test_id: String,
    pub receiver: broadcast::Receiver<Event>,
}

impl LiveHub {
    /// A hub with the default [`WatcherLimits`].
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn with_limits(limits: WatcherLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            ..Self::default()
        })
    }

    /// Counts one more watcher for the credential `key` (an opaque name, such as a hash of the credential)
    /// of `tenant`, or names the limit it would exceed.
    pub fn admit_watcher(
        self: &Arc<Self>,
        key: &str,
        tenant: &str,
    ) -> Result<WatcherPermit, WatcherLimit> {
        let mut counts = self.counts();
        let of_key = counts.per_key.get(key).copied().unwrap_or(0);
        let of_tenant = counts.per_tenant.get(tenant).copied().unwrap_or(0);
        if of_key >= self.limits.per_key {
            return Err(WatcherLimit::PerKey);
        }
        if of_tenant >= self.limits.per_tenant {
            return Err(WatcherLimit::PerTenant);
        }
        if counts.total >= self.limits.total {
            return Err(WatcherLimit::Total);
        }
        counts.total += 1;
        counts.per_key.insert(key.to_string(), of_key + 1);
        counts.per_tenant.insert(tenant.to_string(), of_tenant + 1);
        Ok(WatcherPermit {
            hub: self.clone(),
            key: key.to_string(),
            tenant: tenant.to_string(),
        })
    }

    /// How many watchers are open.
    pub fn open_watchers(&self) -> usize {
        self.counts().total
    }

    fn counts(&self) -> MutexGuard<'_, WatcherCounts> {
        // Only counters live under this lock: keep serving after a panic elsewhere.
        self.watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts receiving the job's live events (those delivered from now on).
    pub fn subscribe(self: &Arc<Self>, test_id: &str) -> Subscription {
        let mut channels = self.lock();
        let sender = channels
            .entry(test_id.to_string())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0);
        Subscription {
            hub: self.clone(),
            test_id: test_id.to_string(),
            receiver: sender.subscribe(),
        }
    }

    /// How many jobs have at least one watcher.
    pub fn watched_jobs(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, broadcast::Sender<Event>>> {
        // A panic while holding this lock cannot leave the map inconsistent: keep serving.
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.lock();
        // This subscription's receiver is still alive here: it is the last one when the count is 1.
        if channels
            .get(&self.test_id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            channels.remove(&self.test_id);
        }
    }
}

#[async_trait]
impl EventSink for LiveHub {
    async fn deliver(&self, event: &Event) {
        if let Some(sender) = self.lock().get(&event.test_id) {
            // No receiver left is not an error: the watchers went away.
            let _ = sender.send(event.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::event::EventBody;

    #[tokio::test]
    async fn watchers_receive_and_the_channel_goes_with_the_last() {
        let hub = LiveHub::new();
        let mut a = hub.subscribe("test_000000000001");
        let mut b = hub.subscribe("test_000000000001");
        hub.deliver(&Event::new("test_000000000001", 1, EventBody::phase("x")))
            .await;
        hub.deliver(&Event::new(
            "test_000000000002",
            1,
            EventBody::phase("other job"),
        ))
        .await;
        assert_eq!(a.receiver.recv().await.unwrap().seq, 1);
        assert_eq!(b.receiver.recv().await.unwrap().seq, 1);
        assert!(a.receiver.try_recv().is_err());
        assert_eq!(hub.watched_jobs(), 1);
        drop(a);
        assert_eq!(hub.watched_jobs(), 1);
        drop(b);
        assert_eq!(hub.watched_jobs(), 0);
    }

    #[test]
    fn watcher_limits_apply_per_key_per_tenant_and_in_total_and_permits_return() {
        let hub = LiveHub::with_limits(WatcherLimits {
            per_key: 2,
            per_tenant: 3,
            total: 4,
        });
        let a1 = hub.admit_watcher("key-a", "acme").unwrap();
        let a2 = hub.admit_watcher("key-a", "acme").unwrap();
        assert_eq!(
            hub.admit_watcher("key-a", "acme").err(),
            Some(WatcherLimit::PerKey)
        );
        let b1 = hub.admit_watcher("key-b", "acme").unwrap();
        assert_eq!(
            hub.admit_watcher("key-b", "acme").err(),
            Some(WatcherLimit::PerTenant)
        );
        let g1 = hub.admit_watcher("key-g", "globex").unwrap();
        assert_eq!(
            hub.admit_watcher("key-g", "globex").err(),
            Some(WatcherLimit::Total)
        );
        assert_eq!(hub.open_watchers(), 4);
        drop((a1, a2, b1, g1));
        assert_eq!(hub.open_watchers(), 0);
        assert!(hub.admit_watcher("key-a", "acme").is_ok());
    }
}
