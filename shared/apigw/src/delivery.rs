//! Exactly-once, in-order delivery of a job's persisted events to one WebSocket subscriber, shared by the
//! replay on `subscribe` and the live fan-out.
//!
//! Whoever delivers (a replay, the fan-out of any event) first takes the subscriber's lease in the connections
//! table, then posts every persisted event after its `sent_through`, in `seq` order and without gaps,
//! recording each one as sent before the next, then releases the lease and looks at the event log again. A
//! deliverer that finds the lease taken leaves: the holder's look after releasing happens after that event
//! was persisted (events are persisted before they are delivered), so the holder goes round again and sends
//! it. Hence every persisted event is sent, once, in order. An event whose predecessor is not persisted yet
//! (parallel writers) waits for the fan-out of that predecessor. After `scan_complete` the connection is
//! closed and forgotten.

use std::sync::Arc;
use std::time::Duration;

use certus_core::event::Event;
use certus_core::ids::new_test_id;
use certus_core::ports::EventLog;

use crate::connections::ConnectionTable;
use crate::error::Result;
use crate::management::{ManagementApi, Posted};

/// How long a deliverer may hold a subscriber's lease without progress before another may take it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Bound on lease rounds in one call, so a call always ends.
const MAX_ROUNDS: usize = 64;

/// How a delivery call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Every persisted event in sequence has been sent.
    UpToDate,
    /// Another deliverer holds the lease; it will send what is pending.
    Busy,
    /// `scan_complete` was sent and the connection closed.
    Complete,
    /// The client has gone (410) or the connection is no longer recorded; it was forgotten.
    Gone,
}

enum Round {
    /// The lease was released with `sent_through` at this seq.
    Released(u64),
    Ended(Delivered),
}

pub struct Delivery {
    connections: ConnectionTable,
    management: ManagementApi,
    events: Arc<dyn EventLog>,
    lease: Duration,
}

impl Delivery {
    pub fn new(
        connections: ConnectionTable,
        management: ManagementApi,
        events: Arc<dyn EventLog>,
    ) -> Self {
        Self {
            connections,
            management,
            events,
            lease: DEFAULT_LEASE,
        }
    }

    pub fn connections(&self) -> &ConnectionTable {
        &self.connections
    }

    pub fn management(&self) -> &ManagementApi {
        &self.management
    }

    /// Brings the subscriber `connection_id` of `test_id` up to date with the persisted events. `latest`, an
    /// event just persisted, spares reading the log when it is the next one to send.
    pub async fn catch_up(
        &self,
        connection_id: &str,
        test_id: &str,
        latest: Option<&Event>,
    ) -> Result<Delivered> {
        let mut latest = latest;
        for _ in 0..MAX_ROUNDS {
            let owner = new_test_id()?;
            let Some(sent) = self
                .connections
                .take_lease(connection_id, test_id, &owner, self.lease)
                .await?
            else {
                return self.busy_or_gone(connection_id).await;
            };
            let round = self
                .send_pending(connection_id, test_id, &owner, sent, latest.take())
                .await;
            let sent = match round {
                Ok(Round::Ended(ending)) => return Ok(ending),
                Ok(Round::Released(sent)) => sent,
                Err(error) => {
                    self.connections
                        .release_lease(connection_id, &owner)
                        .await?;
                    return Err(error);
                }
            };
            // Events persisted while the lease was held were left to this holder: look again.
            let next = self.events.history(test_id, sent).await?;
            if next.first().is_none_or(|event| event.seq != sent + 1) {
                return Ok(Delivered::UpToDate);
            }
        }
        Ok(Delivered::UpToDate)
    }

    /// Under the lease: sends the events after `sent`, in order, then releases the lease.
    async fn send_pending(
        &self,
        connection_id: &str,
        test_id: &str,
        owner: &str,
        mut sent: u64,
        latest: Option<&Event>,
    ) -> Result<Round> {
        let pending = match latest {
            Some(event) if event.seq == sent + 1 => vec![event.clone()],
            _ => self.events.history(test_id, sent).await?,
        };
        for event in pending {
            if event.seq <= sent {
                continue;
            }
            if event.seq != sent + 1 {
                // Its predecessor is not persisted yet; that event's own fan-out continues from here.
                break;
            }
            let posted = self
                .management
                .post(connection_id, event.to_json_line().as_bytes())
                .await?;
            if posted == Posted::Gone {
                self.connections.remove(connection_id).await?;
                return Ok(Round::Ended(Delivered::Gone));
            }
            if !self
                .connections
                .advance(connection_id, owner, event.seq, self.lease)
                .await?
            {
                // The lease expired and was taken over: the new holder carries on.
                return Ok(Round::Ended(Delivered::Busy));
            }
            sent = event.seq;
            if event.body.is_terminal() {
                self.finish(connection_id).await?;
                return Ok(Round::Ended(Delivered::Complete));
            }
        }
        self.connections.release_lease(connection_id, owner).await?;
        Ok(Round::Released(sent))
    }

    /// Closes the socket and forgets the connection.
    pub async fn finish(&self, connection_id: &str) -> Result<()> {
        self.management.close(connection_id).await?;
        self.connections.remove(connection_id).await
    }

    async fn busy_or_gone(&self, connection_id: &str) -> Result<Delivered> {
        Ok(match self.connections.get(connection_id).await? {
            Some(_) => Delivered::Busy,
            None => Delivered::Gone,
        })
    }
}
