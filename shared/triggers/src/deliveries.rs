//! Delivery ids already handled (GitHub `X-GitHub-Delivery`, GitLab `X-Gitlab-Event-UUID`, the EventBridge
//! event id), kept in memory with their outcome, a bounded number, oldest forgotten first. A replayed id
//! answers its recorded outcome and touches nothing; after a restart the derived job id still makes a
//! replay start nothing. The log is kept per scope (the registrations whose credential authenticated the
//! delivery), so one registrant's delivery id never answers another registrant's delivery.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::push::Outcome;
use crate::registration::Provider;

const MAX_DELIVERY_ID_LEN: usize = 128;

#[derive(Debug)]
pub struct DeliveryLog {
    capacity: usize,
    seen: Mutex<Seen>,
}

/// Provider, scope, delivery id.
type Key = (Provider, String, String);

#[derive(Debug, Default)]
struct Seen {
    outcomes: HashMap<Key, Outcome>,
    order: VecDeque<Key>,
}

impl DeliveryLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The outcome recorded for a delivery id within `scope`, if it was handled before.
    pub fn recorded(&self, provider: Provider, scope: &str, delivery: &str) -> Option<Outcome> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.outcomes
            .get(&(provider, scope.to_string(), delivery.to_string()))
            .cloned()
    }

    pub fn record(&self, provider: Provider, scope: &str, delivery: &str, outcome: &Outcome) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (provider, scope.to_string(), delivery.to_string());
        if seen.outcomes.insert(key.clone(), outcome.clone()).is_none() {
            seen.order.push_back(key);
        }
        while seen.order.len() > self.capacity {
            if let Some(oldest) = seen.order.pop_front() {
                seen.outcomes.remove(&oldest);
            }
        }
    }
}

/// A delivery id is printable ASCII, at most 128 characters.
pub(crate) fn is_delivery_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_DELIVERY_ID_LEN
        && text.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_outcomes_are_found_and_the_oldest_are_forgotten() {
        let log = DeliveryLog::new(2);
        let outcome = Outcome::ignored("ping");
        log.record(Provider::Github, "a", "d1", &outcome);
        log.record(Provider::Github, "a", "d2", &outcome);
        assert_eq!(
            log.recorded(Provider::Github, "a", "d1"),
            Some(outcome.clone())
        );
        assert_eq!(log.recorded(Provider::Gitlab, "a", "d1"), None);
        assert_eq!(log.recorded(Provider::Github, "b", "d1"), None);
        log.record(Provider::Github, "a", "d3", &outcome);
        assert_eq!(log.recorded(Provider::Github, "a", "d1"), None);
        assert!(log.recorded(Provider::Github, "a", "d3").is_some());
    }

    #[test]
    fn delivery_ids_are_printable_and_short() {
        assert!(is_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        assert!(!is_delivery_id(""));
        assert!(!is_delivery_id("a b"));
        assert!(!is_delivery_id(&"x".repeat(129)));
    }
}
