//! `ApiGatewayFanout`: the `EventSink` that sends each persisted event to the job's WebSocket subscribers
//! through the management API. Subscribers come from the connections table's `by_test_id` index (a Query,
//! never a Scan); a gone client's connection is removed; every other failure is logged and never fails the
//! job.

use std::sync::Arc;

use async_trait::async_trait;
use certus_core::event::Event;
use certus_core::ports::EventSink;
use futures_util::StreamExt;

use crate::delivery::Delivery;

/// Subscribers of one job served at once.
const PARALLEL_POSTS: usize = 16;

pub struct ApiGatewayFanout {
    delivery: Arc<Delivery>,
}

impl ApiGatewayFanout {
    pub fn new(delivery: Arc<Delivery>) -> Self {
        Self { delivery }
    }
}

#[async_trait]
impl EventSink for ApiGatewayFanout {
    async fn deliver(&self, event: &Event) {
        let subscribers = match self
            .delivery
            .connections()
            .subscribers(&event.test_id)
            .await
        {
            Ok(subscribers) => subscribers,
            Err(error) => {
                tracing::warn!(test_id = %event.test_id, seq = event.seq, error = %error, "cannot list the job's subscribers");
                return;
            }
        };
        futures_util::stream::iter(subscribers)
            .for_each_concurrent(PARALLEL_POSTS, |connection_id| async move {
                match self
                    .delivery
                    .catch_up(&connection_id, &event.test_id, Some(event))
                    .await
                {
                    Ok(outcome) => tracing::debug!(test_id = %event.test_id, seq = event.seq, connection_id = %connection_id, ?outcome, "fan-out"),
                    Err(error) => tracing::warn!(test_id = %event.test_id, seq = event.seq, connection_id = %connection_id, error = %error, "fan-out to a subscriber failed"),
                }
            })
            .await;
    }
}
