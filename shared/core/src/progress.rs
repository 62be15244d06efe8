//! Emitting events: each gets the next per-job `seq`, is persisted first, then delivered live.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::error::{CoreError, Result};
use crate::event::{Event, EventBody};
use crate::ports::{EventLog, EventSink};

/// How often a seq conflict (another writer for the same job) is retried before giving up.
const SEQ_RETRIES: usize = 8;

pub struct Progress {
    test_id: String,
    log: Arc<dyn EventLog>,
    sinks: Vec<Arc<dyn EventSink>>,
    next_seq: Mutex<u64>,
}

impl Progress {
    /// Continues the job's sequence where the persisted history ends.
    pub async fn open(
        test_id: &str,
        log: Arc<dyn EventLog>,
        sinks: Vec<Arc<dyn EventSink>>,
    ) -> Result<Self> {
        let next = log.last_seq(test_id).await? + 1;
        Ok(Self {
            test_id: test_id.to_string(),
            log,
            sinks,
            next_seq: Mutex::new(next),
        })
    }

    pub fn test_id(&self) -> &str {
        &self.test_id
    }

    /// Persists and delivers one event.
    pub async fn emit(&self, body: EventBody) -> Result<Event> {
        let mut next = self.next_seq.lock().await;
        for _ in 0..SEQ_RETRIES {
            let event = Event::new(&self.test_id, *next, body.clone());
            match self.log.append(&event).await {
                Ok(()) => {
                    *next += 1;
                    drop(next);
                    self.deliver(&event).await;
                    return Ok(event);
                }
                Err(CoreError::EventSeqTaken { .. }) => {
                    *next = self.log.last_seq(&self.test_id).await? + 1;
                }
                Err(e) => return Err(e),
            }
        }
        Err(CoreError::Storage(format!(
            "could not append an event for job '{}' after {SEQ_RETRIES} seq conflicts",
            self.test_id
        )))
    }

    /// The terminal event with the next seq, not yet persisted: it goes into the bundle first and is committed
    /// (persisted and delivered) only once the record and bundle are final.
    pub async fn prepare_terminal(&self, body: EventBody) -> Event {
        let next = self.next_seq.lock().await;
        Event::new(&self.test_id, *next, body)
    }

    /// Persists and delivers an event prepared by [`Progress::prepare_terminal`], keeping its seq.
    pub async fn commit(&self, event: &Event) -> Result<()> {
        let mut next = self.next_seq.lock().await;
        self.log.append(event).await?;
        *next = event.seq + 1;
        drop(next);
        self.deliver(event).await;
        Ok(())
    }

    async fn deliver(&self, event: &Event) {
        for sink in &self.sinks {
            sink.deliver(event).await;
        }
    }
}
