//! Live fan-out of a job's events to its WebSocket watchers: one broadcast channel per watched job, created
//! by the first watcher and dropped with the last one. Delivery never waits for a watcher.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use certus_core::event::Event;
use certus_core::ports::EventSink;
use tokio::sync::broadcast;

/// Events buffered per job for slow watchers; a watcher that falls further behind re-reads the store.
pub const CHANNEL_CAPACITY: usize = 256;

/// The `EventSink` that feeds WebSocket watchers. Put it into `Services.sinks` of the server's services.
#[derive(Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<String, broadcast::Sender<Event>>>,
}

/// A watcher's receiving end; unsubscribes when dropped.
pub struct Subscription {
    hub: Arc<LiveHub>,
    test_id: String,
    pub receiver: broadcast::Receiver<Event>,
}

impl LiveHub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
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
}
