//! Bounded retries for the Trust call: how many attempts, and how long to wait between them
//! (exponential backoff with full jitter; a 429's `Retry-After` honoured up to a cap).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles for each later one.
    pub base_delay: Duration,
    /// The backoff ceiling never exceeds this.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is cut to it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Attempts in all, never less than one.
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The wait before retry number `retry` (0 for the first retry): uniformly random in
    /// `[0, min(max_delay, base_delay · 2^retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        match getrandom::u64() {
            Ok(random) if ceiling_ms > 0 => Duration::from_millis(random % (ceiling_ms + 1)),
            _ => ceiling,
        }
    }

    /// The wait a `Retry-After` header asks for (delta-seconds form), capped; `None` when absent or not a
    /// number of seconds.
    pub fn retry_after(&self, header: Option<&str>) -> Option<Duration> {
        let seconds: u64 = header?.trim().parse().ok()?;
        Some(Duration::from_secs(seconds).min(self.max_retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_growing_capped_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(2),
        };
        for _ in 0..200 {
            assert!(policy.backoff(0) <= Duration::from_millis(100));
            assert!(policy.backoff(1) <= Duration::from_millis(200));
            assert!(policy.backoff(5) <= Duration::from_millis(300));
            assert!(policy.backoff(40) <= Duration::from_millis(300));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(3)).collect();
        assert!(spread.len() > 1, "full jitter varies the wait");
    }

    #[test]
    fn retry_after_is_parsed_and_capped() {
        let policy = RetryPolicy {
            max_retry_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.retry_after(Some("1")), Some(Duration::from_secs(1)));
        assert_eq!(
            policy.retry_after(Some("3600")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(policy.retry_after(Some("-1")), None);
        assert_eq!(policy.retry_after(None), None);
    }

    #[test]
    fn at_least_one_attempt() {
        let policy = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.attempts(), 1);
    }
}
