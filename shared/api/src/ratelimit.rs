//! Request rate limits of `certus serve`: a token bucket per authenticated caller (an API key, or a token's
//! tenant and subject, whatever token of theirs is presented), and one per client
//! address for the routes without authentication and for requests whose authentication failed. A request
//! over its bucket is answered 429 with `Retry-After` (whole seconds until a token is back) and a JSON
//! `detail`; `/health` is never limited. The tables of buckets are bounded: a bucket that has refilled
//! completely is the same as a new one and is dropped first, and when a table is still full the buckets
//! heard from longest ago go (an eighth of the table at once, so that a flood of new names costs no more
//! than a sort per eighth of the table).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::auth::Principal;
use crate::error::ApiError;

/// One bucket's shape: how many requests may come at once, and how fast the allowance comes back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Requests allowed in a burst (the bucket's size).
    pub burst: u32,
    /// Requests per second the bucket refills with.
    pub per_second: f64,
}

/// The request rate limits of `certus serve`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Per authenticated credential (one API key, one bearer token), whatever its address.
    pub per_key: Bucket,
    /// Per client address (an IPv6 client by its /64) for the routes without authentication (console,
    /// OpenAPI document, push webhooks) and for failed authentications.
    pub per_client: Bucket,
    /// Buckets kept per table (credentials, client addresses) at most.
    pub max_tracked: usize,
}

impl Default for RateLimits {
    /// 120 requests at once and 20 per second per credential; 60 at once and 10 per second per client address
    /// without a valid credential; 10 000 buckets per table (about 1 MB each at most).
    fn default() -> Self {
        Self {
            per_key: Bucket {
                burst: 120,
                per_second: 20.0,
            },
            per_client: Bucket {
                burst: 60,
                per_second: 10.0,
            },
            max_tracked: 10_000,
        }
    }
}

impl RateLimits {
    /// Refuses limits that would refuse everything or nothing meaningful: every figure must be positive and
    /// finite. The error names the field.
    pub fn check(&self) -> Result<(), String> {
        for (name, bucket) in [("per_key", self.per_key), ("per_client", self.per_client)] {
            if bucket.burst == 0 {
                return Err(format!("rate limit {name}.burst must be at least 1"));
            }
            if !(bucket.per_second.is_finite() && bucket.per_second > 0.0) {
                return Err(format!(
                    "rate limit {name}.per_second must be a positive number"
                ));
            }
        }
        if self.max_tracked == 0 {
            return Err("rate limit max_tracked must be at least 1".into());
        }
        Ok(())
    }
}

/// A bucket's state: tokens left when last seen.
#[derive(Debug, Clone, Copy)]
struct State {
    tokens: f64,
    seen: Instant,
}

/// Buckets of one shape, by subject, at most `max` of them.
struct Table<K> {
    shape: Bucket,
    max: usize,
    buckets: Mutex<HashMap<K, State>>,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(shape: Bucket, max: usize) -> Self {
        Self {
            shape,
            max,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, State>> {
        // Only plain numbers live under this lock; a panic elsewhere cannot leave them half-updated.
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tokens in the subject's bucket at `now` (a full bucket for a subject not seen).
    fn refilled(&self, state: Option<&State>, now: Instant) -> f64 {
        let burst = f64::from(self.shape.burst);
        match state {
            None => burst,
            Some(state) => {
                let elapsed = now.saturating_duration_since(state.seen).as_secs_f64();
                (state.tokens + elapsed * self.shape.per_second).min(burst)
            }
        }
    }

    /// Takes one token from `subject`'s bucket, or says how long until one is back.
    fn take(&self, subject: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let tokens = self.refilled(buckets.get(subject), now);
        if tokens < 1.0 {
            if let Some(state) = buckets.get_mut(subject) {
                *state = State { tokens, seen: now };
            }
            let wait = (1.0 - tokens) / self.shape.per_second;
            return Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX));
        }
        if !buckets.contains_key(subject) && buckets.len() >= self.max {
            self.evict(&mut buckets, now);
        }
        buckets.insert(
            subject.clone(),
            State {
                tokens: tokens - 1.0,
                seen: now,
            },
        );
        Ok(())
    }

    /// Makes room for one more bucket: drops every bucket that has refilled completely (forgetting it
    /// changes nothing), then, if none had, the eighth of the table heard from longest ago.
    fn evict(&self, buckets: &mut HashMap<K, State>, now: Instant) {
        let burst = f64::from(self.shape.burst);
        buckets.retain(|_, state| self.refilled(Some(state), now) < burst);
        if buckets.len() < self.max {
            return;
        }
        let mut seen: Vec<Instant> = buckets.values().map(|state| state.seen).collect();
        let cut = (seen.len() / 8).max(1);
        let (_, oldest_kept, _) = seen.select_nth_unstable(cut - 1);
        let threshold = *oldest_kept;
        buckets.retain(|_, state| state.seen > threshold);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A client address as the limiter counts it: IPv4 (and IPv4-mapped IPv6) addresses each, other IPv6
/// addresses by their /64, which one host usually holds whole.
fn client_subject(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
            v4 => v4,
        },
        v4 => v4,
    }
}

/// The limiter `certus serve` puts in front of its routes (as a request extension; without it nothing is
/// limited, as on AWS, where API Gateway throttles).
pub struct RateLimiter {
    keys: Table<String>,
    clients: Table<IpAddr>,
}

/// The address of the client a request came from, attached by the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl RateLimiter {
    /// A limiter with empty tables; refuses limits [`RateLimits::check`] refuses.
    pub fn new(limits: RateLimits) -> Result<Arc<Self>, ApiError> {
        limits.check().map_err(ApiError::InvalidLimits)?;
        Ok(Arc::new(Self {
            keys: Table::new(limits.per_key, limits.max_tracked),
            clients: Table::new(limits.per_client, limits.max_tracked),
        }))
    }

    /// Counts one request of the credential named `key` (a digest, see
    /// `credential_name`).
    pub fn admit_key(&self, key: &str, now: Instant) -> Result<(), ApiError> {
        self.keys
            .take(&key.to_string(), now)
            .map_err(|wait| refusal("these credentials", wait))
    }

    /// Counts one unauthenticated (or failed) request from `client`.
    pub fn admit_client(&self, client: IpAddr, now: Instant) -> Result<(), ApiError> {
        self.clients
            .take(&client_subject(client), now)
            .map_err(|wait| refusal("this client address", wait))
    }

    /// Buckets held: (credentials, client addresses).
    pub fn tracked(&self) -> (usize, usize) {
        (self.keys.len(), self.clients.len())
    }
}

fn refusal(whose: &str, wait: Duration) -> ApiError {
    // Whole seconds, rounded up, at least one: a client that waits that long gets its token.
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::RateLimited {
        whose: whose.to_string(),
        retry_after: retry_after.max(1),
    }
}

/// The limiter and the client of a request, when `certus serve` attached them.
pub(crate) fn of(request: &Request) -> Option<(Arc<RateLimiter>, Option<IpAddr>)> {
    let limiter = request.extensions().get::<Arc<RateLimiter>>()?.clone();
    let client = request.extensions().get::<ClientAddr>().map(|c| c.0);
    Some((limiter, client))
}

/// Middleware for the routes without authentication: one token of the client address's bucket.
pub(crate) async fn limit_client(
    limiter: Option<Extension<Arc<RateLimiter>>>,
    client: Option<Extension<ClientAddr>>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(Extension(limiter)), Some(Extension(ClientAddr(client)))) = (limiter, client) {
        if let Err(refused) = limiter.admit_client(client, Instant::now()) {
            return refused.into_response();
        }
    }
    next.run(request).await
}

/// After an authentication: a token of the caller's bucket when it succeeded (an API key's own, a token
/// caller's by tenant and subject: [`Principal::rate_key`]); when it failed, a token of the client address's
/// bucket, and 429 instead of the authentication error once that bucket is empty.
pub(crate) fn after_authentication(
    limiter: Option<&(Arc<RateLimiter>, Option<IpAddr>)>,
    credential: impl FnOnce() -> String,
    authenticated: Result<Principal, ApiError>,
) -> Result<Principal, ApiError> {
    let Some((limiter, client)) = limiter else {
        return authenticated;
    };
    let now = Instant::now();
    match authenticated {
        Ok(principal) => limiter
            .admit_key(&principal.rate_key(credential), now)
            .map(|()| principal),
        Err(refused) => {
            if let Some(client) = client {
                limiter.admit_client(*client, now)?;
            }
            Err(refused)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(burst: u32, per_second: f64, max_tracked: usize) -> RateLimits {
        let bucket = Bucket { burst, per_second };
        RateLimits {
            per_key: bucket,
            per_client: bucket,
            max_tracked,
        }
    }

    fn retry_after(error: ApiError) -> u64 {
        match error {
            ApiError::RateLimited { retry_after, .. } => retry_after,
            other => panic!("not a rate limit: {other}"),
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_a_token_is_back() {
        let limiter = RateLimiter::new(limits(3, 0.5, 10)).unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            limiter.admit_key("a", start).expect("within the burst");
        }
        let refused = limiter.admit_key("a", start).expect_err("over the burst");
        assert_eq!(refused.status().as_u16(), 429);
        assert_eq!(retry_after(refused), 2, "one token every 2 s");
        // Another credential has its own bucket.
        limiter.admit_key("b", start).expect("another key");
        // 1.5 s later half a token is back: still refused, and told to wait the rest (rounded up).
        let later = start + Duration::from_millis(1500);
        assert_eq!(retry_after(limiter.admit_key("a", later).unwrap_err()), 1);
        limiter
            .admit_key("a", start + Duration::from_secs(2))
            .expect("a token is back");
        assert!(limiter
            .admit_key("a", start + Duration::from_secs(2))
            .is_err());
        // Refilling never exceeds the burst.
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            limiter.admit_key("a", much_later).expect("full again");
        }
        assert!(limiter.admit_key("a", much_later).is_err());
    }

    #[test]
    fn the_tables_stay_bounded_dropping_refilled_buckets_first_then_the_oldest() {
        let limiter = RateLimiter::new(limits(2, 1.0, 16)).unwrap();
        let start = Instant::now();
        // A flood of new names: the table never holds more than its cap.
        for i in 0..1000u32 {
            limiter
                .admit_key(
                    &format!("k{i}"),
                    start + Duration::from_millis(u64::from(i)),
                )
                .expect("a new name starts with a full bucket");
            assert!(limiter.tracked().0 <= 16);
        }
        // The most recent names are kept: k999 has one token left, then none.
        let now = start + Duration::from_millis(999);
        limiter.admit_key("k999", now).expect("its second token");
        assert!(limiter.admit_key("k999", now).is_err(), "k999 spent both");
        // A bucket still refilling survives the eviction of refilled ones.
        let limiter = RateLimiter::new(limits(2, 1.0, 4)).unwrap();
        limiter.admit_key("busy", start).unwrap();
        limiter.admit_key("busy", start).unwrap();
        for name in ["x", "y", "z"] {
            limiter.admit_key(name, start).unwrap();
        }
        // 1 s later busy holds one token (not full); x, y, z two (full: dropped to make room).
        let later = start + Duration::from_secs(1);
        limiter.admit_key("new", later).unwrap();
        assert_eq!(limiter.tracked().0, 2, "busy and new");
        limiter.admit_key("busy", later).unwrap();
        assert!(limiter.admit_key("busy", later).is_err());
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_its_64() {
        let limiter = RateLimiter::new(limits(1, 0.01, 10)).unwrap();
        let now = Instant::now();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        let other_64: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        limiter.admit_client(a, now).unwrap();
        assert!(limiter.admit_client(same_64, now).is_err());
        limiter.admit_client(other_64, now).unwrap();
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        limiter.admit_client(v4, now).unwrap();
        assert!(limiter.admit_client(mapped, now).is_err());
        limiter
            .admit_client("127.0.0.3".parse().unwrap(), now)
            .unwrap();
    }

    #[test]
    fn limits_that_cannot_work_are_refused_naming_the_field() {
        let mut bad = RateLimits::default();
        bad.per_key.burst = 0;
        assert!(bad.check().unwrap_err().contains("per_key.burst"));
        let mut bad = RateLimits::default();
        bad.per_client.per_second = f64::NAN;
        assert!(bad.check().unwrap_err().contains("per_client.per_second"));
        let bad = RateLimits {
            max_tracked: 0,
            ..RateLimits::default()
        };
        assert!(bad.check().unwrap_err().contains("max_tracked"));
        assert!(matches!(
            RateLimiter::new(bad),
            Err(ApiError::InvalidLimits(reason)) if reason.contains("max_tracked")
        ));
        RateLimits::default().check().unwrap();
    }
}
