//! When to use the held JWK set and when to fetch it again: pure policy,
//! so every rule is tested with a number for "now".
//!
//! - A fetched set is used for its `Cache-Control: max-age`, bounded to
//!   [`MIN_FRESH_SECS`]–[`MAX_FRESH_SECS`] ([`DEFAULT_FRESH_SECS`] without one).
//! - A `kid` the fresh set lacks (a key rotated in since) triggers a
//!   refetch, at most once per [`UNKNOWN_KID_REFETCH_SECS`]: a flood of
//!   forged `kid`s cannot make the verifier hammer the issuer.
//! - A failed refetch keeps the last good set in use for up to
//!   [`STALE_IF_ERROR_SECS`] past its freshness, retried every
//!   [`RETRY_AFTER_FAILURE_SECS`].
//! - One fetch at a time ([`KeyCache::meanwhile`]): while one request
//!   fetches, the others use the held key if there is one and wait for the
//!   fetch ([`crate::flight`]) if not, for at most [`MAX_FLIGHT_SECS`].
//!   [`resolve`] is the loop every holder of a cache runs.

use std::future::Future;

use crate::fetch::FETCH_TIMEOUT_MS;
use crate::flight::{Gate, Waiter};
use crate::jwks::{PublicKey, RsaPublicKey, VerificationKey};

/// A published key as the cache holds it: found by its `kid`, and compared
/// whole to tell a key held from a new one under the same `kid`.
pub trait Published: PartialEq {
    /// Its `kid`.
    fn kid(&self) -> &str;
}

impl Published for PublicKey {
    fn kid(&self) -> &str {
        &self.kid
    }
}

impl Published for RsaPublicKey {
    fn kid(&self) -> &str {
        &self.kid
    }
}

impl Published for VerificationKey {
    fn kid(&self) -> &str {
        VerificationKey::kid(self)
    }
}

/// Shortest time a fetched set is used before it is fetched again.
pub const MIN_FRESH_SECS: i64 = 60;
/// Longest time a fetched set is used before it is fetched again.
pub const MAX_FRESH_SECS: i64 = 3600;
/// Used when the JWKS response has no `max-age` (m2m-edge sends 300).
pub const DEFAULT_FRESH_SECS: i64 = 300;
/// At most one refetch per this many seconds for an unknown `kid`.
pub const UNKNOWN_KID_REFETCH_SECS: i64 = 30;
/// How long past its freshness the last good set stays in use while
/// refetches fail.
pub const STALE_IF_ERROR_SECS: i64 = 3600;
/// Seconds between attempts after a failed fetch.
pub const RETRY_AFTER_FAILURE_SECS: i64 = 10;
/// The longest a fetch in flight is waited for: three fetches (two
/// metadata locations, then the set) of at most [`FETCH_TIMEOUT_MS`] each,
/// and a second more. A fetch not over by then is taken as abandoned (its
/// request was cancelled midway) and the next request fetches.
pub const MAX_FLIGHT_SECS: i64 = 3 * FETCH_TIMEOUT_MS as i64 / 1000 + 1;

/// The held keys (each imported once, as `K`; published as `P`, ES256
/// keys unless said otherwise) and the times that govern them.
#[derive(Debug)]
pub struct KeyCache<K, P = PublicKey> {
    keys: Vec<(P, K)>,
    loaded: bool,
    fresh_until: i64,
    stale_until: i64,
    last_attempt: Option<i64>,
    last_failed: bool,
    flight: Option<Flight>,
    flights: u64,
}

/// The fetch in flight: when it started, and where to wait for it.
#[derive(Debug)]
struct Flight {
    id: u64,
    started: i64,
    waiter: Waiter,
}

impl<K, P> Default for KeyCache<K, P> {
    fn default() -> Self {
        KeyCache {
            keys: Vec::new(),
            loaded: false,
            fresh_until: 0,
            stale_until: 0,
            last_attempt: None,
            last_failed: false,
            flight: None,
            flights: 0,
        }
    }
}

impl<K, P> KeyCache<K, P> {
    /// Fetch `flight` is over (its outcome recorded, or abandoned).
    pub fn landed(&mut self, flight: u64) {
        if self.flight.as_ref().is_some_and(|f| f.id == flight) {
            self.flight = None;
        }
    }
}

/// What to do for one `kid` at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<K> {
    /// Verify with this key.
    Use(K),
    /// Fetch the set (again), then decide again.
    Refetch,
    /// The issuer publishes no such key (as far as may be asked now).
    Unknown,
    /// No usable set: never fetched successfully, or too stale.
    Unavailable,
}

/// What a request told to [`Decision::Refetch`] does, given the fetch in
/// flight, if any.
#[derive(Debug)]
pub enum Meanwhile<K> {
    /// No fetch in flight: fetch, hold `gate` until the outcome is recorded,
    /// then call [`KeyCache::landed`] with `flight`.
    Fetch {
        /// Dropped, it lets the requests waiting for this fetch go on.
        gate: Gate,
        /// Which fetch this is.
        flight: u64,
    },
    /// Another request is fetching, and the held key serves meanwhile.
    Use(K),
    /// Another request is fetching and nothing held serves: wait for it,
    /// at most `millis`, then decide again.
    Wait {
        /// Where to wait.
        waiter: Waiter,
        /// How long at most.
        millis: u32,
    },
}

impl<K: Clone, P: Published> KeyCache<K, P> {
    /// The decision for `kid` at `now`.
    pub fn decide(&self, kid: &str, now: i64) -> Decision<K> {
        let since_attempt = self.last_attempt.map_or(i64::MAX, |t| now.saturating_sub(t));
        let found = self.keys.iter().find(|(k, _)| k.kid() == kid).map(|(_, key)| key.clone());
        if !self.loaded {
            return if since_attempt >= RETRY_AFTER_FAILURE_SECS { Decision::Refetch } else { Decision::Unavailable };
        }
        if now < self.fresh_until {
            return match found {
                Some(key) => Decision::Use(key),
                None if since_attempt >= UNKNOWN_KID_REFETCH_SECS => Decision::Refetch,
                None => Decision::Unknown,
            };
        }
        // Expired: fetch again, unless a fetch just failed; then the last
        // good set serves while it is not too stale.
        if !self.last_failed || since_attempt >= RETRY_AFTER_FAILURE_SECS {
            return Decision::Refetch;
        }
        match found {
            _ if now >= self.stale_until => Decision::Unavailable,
            Some(key) => Decision::Use(key),
            None => Decision::Unknown,
        }
    }

    /// For a request told to [`Decision::Refetch`] for `kid` at `now`:
    /// fetch if no fetch is in flight (or the one in flight is older than
    /// [`MAX_FLIGHT_SECS`]); otherwise use the key held, if it is and the
    /// set is within the stale bound, or wait for the fetch.
    pub fn meanwhile(&mut self, kid: &str, now: i64) -> Meanwhile<K> {
        if let Some(flight) = &self.flight {
            let age = now.saturating_sub(flight.started).max(0);
            if age < MAX_FLIGHT_SECS {
                let held = (self.loaded && now < self.stale_until)
                    .then(|| self.keys.iter().find(|(k, _)| k.kid() == kid))
                    .flatten();
                return match held {
                    Some((_, key)) => Meanwhile::Use(key.clone()),
                    None => Meanwhile::Wait {
                        waiter: flight.waiter.clone(),
                        millis: u32::try_from((MAX_FLIGHT_SECS - age) * 1000).unwrap_or(u32::MAX),
                    },
                };
            }
        }
        self.flights += 1;
        let gate = Gate::new();
        self.flight = Some(Flight { id: self.flights, started: now, waiter: gate.waiter() });
        Meanwhile::Fetch { gate, flight: self.flights }
    }

    /// The published keys held.
    pub fn held(&self) -> impl Iterator<Item = &P> {
        self.keys.iter().map(|(public, _)| public)
    }

    /// The imported key already held for `public`, if its point is the same.
    pub fn imported(&self, public: &P) -> Option<K> {
        self.keys.iter().find(|(k, _)| k == public).map(|(_, key)| key.clone())
    }

    /// A fetch succeeded at `now` with these keys and this `max-age`.
    pub fn fetched(&mut self, keys: Vec<(P, K)>, max_age: Option<u64>, now: i64) {
        let fresh = max_age
            .map_or(DEFAULT_FRESH_SECS, |s| i64::try_from(s).unwrap_or(i64::MAX))
            .clamp(MIN_FRESH_SECS, MAX_FRESH_SECS);
        self.keys = keys;
        self.loaded = true;
        self.fresh_until = now + fresh;
        self.stale_until = self.fresh_until + STALE_IF_ERROR_SECS;
        self.last_attempt = Some(now);
        self.last_failed = false;
    }

    /// A fetch failed at `now`: the held set stays as it was.
    pub fn failed(&mut self, now: i64) {
        self.last_attempt = Some(now);
        self.last_failed = true;
    }
}

/// Where a [`KeyCache`] is held: behind a lock, or in an isolate's map.
pub trait Holder<K, P> {
    /// Run `f` on the cache (never across an await).
    fn with<R>(&self, f: impl FnOnce(&mut KeyCache<K, P>) -> R) -> R;
}

impl<K, P> Holder<K, P> for std::sync::Mutex<KeyCache<K, P>> {
    fn with<R>(&self, f: impl FnOnce(&mut KeyCache<K, P>) -> R) -> R {
        f(&mut self.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// The decision for `kid`, after fetching or waiting for another request's
/// fetch where the policy says: `fetch` fetches and records the outcome
/// (`fetched` or `failed`) in the cache; the fetch counts as over when it
/// returns or is dropped. Never [`Decision::Refetch`]: a fetch or a wait
/// always leaves another decision for the moment after it, and past three
/// rounds (each fetch abandoned) the keys are [`Decision::Unavailable`].
pub async fn resolve<K, P, H, Fut>(
    holder: &H,
    kid: &str,
    clock: impl Fn() -> i64,
    fetch: impl Fn() -> Fut,
) -> Decision<K>
where
    K: Clone,
    P: Published,
    H: Holder<K, P>,
    Fut: Future<Output = ()>,
{
    for _ in 0..3 {
        let now = clock();
        let step = holder.with(|cache| match cache.decide(kid, now) {
            Decision::Refetch => Ok(cache.meanwhile(kid, now)),
            decided => Err(decided),
        });
        match step {
            Err(decided) => return decided,
            Ok(Meanwhile::Use(key)) => return Decision::Use(key),
            Ok(Meanwhile::Wait { waiter, millis }) => waiter.wait(millis).await,
            Ok(Meanwhile::Fetch { gate, flight }) => {
                let _landing = Landing { holder, flight, _gate: gate, _keys: std::marker::PhantomData };
                fetch().await;
            }
        }
    }
    Decision::Unavailable
}

/// Ends a fetch when it is dropped: the flight cleared, then the gate
/// dropped (fields drop after `drop`), so waiters see the outcome.
struct Landing<'a, K, P, H: Holder<K, P>> {
    holder: &'a H,
    flight: u64,
    _gate: Gate,
    _keys: std::marker::PhantomData<fn() -> (K, P)>,
}

impl<K, P, H: Holder<K, P>> Drop for Landing<'_, K, P, H> {
    fn drop(&mut self) {
        self.holder.with(|cache| cache.landed(self.flight));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str) -> PublicKey {
        PublicKey { kid: kid.into(), x: [1; 32], y: [2; 32] }
    }

    fn cache_with(kids: &[&str], max_age: Option<u64>, now: i64) -> KeyCache<u8> {
        let mut cache = KeyCache::default();
        cache.fetched(kids.iter().map(|k| (key(k), 7)).collect(), max_age, now);
        cache
    }

    #[test]
    fn nothing_held_means_fetch_and_a_failed_first_fetch_is_retried_after_a_pause() {
        let mut cache = KeyCache::<u8>::default();
        assert_eq!(cache.decide("a", 0), Decision::Refetch);
        cache.failed(0);
        assert_eq!(cache.decide("a", 5), Decision::Unavailable);
        assert_eq!(cache.decide("a", RETRY_AFTER_FAILURE_SECS), Decision::Refetch);
    }

    #[test]
    fn freshness_follows_max_age_within_bounds() {
        let cache = cache_with(&["a"], Some(300), 1000);
        assert_eq!(cache.decide("a", 1299), Decision::Use(7));
        assert_eq!(cache.decide("a", 1300), Decision::Refetch);
        assert_eq!(cache_with(&["a"], Some(1), 0).decide("a", MIN_FRESH_SECS - 1), Decision::Use(7));
        assert_eq!(cache_with(&["a"], Some(86400), 0).decide("a", MAX_FRESH_SECS), Decision::Refetch);
        assert_eq!(cache_with(&["a"], None, 0).decide("a", DEFAULT_FRESH_SECS), Decision::Refetch);
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_per_interval() {
        let mut cache = cache_with(&["a"], Some(3600), 0);
        assert_eq!(cache.decide("forged", 10), Decision::Unknown, "just fetched");
        assert_eq!(cache.decide("forged", UNKNOWN_KID_REFETCH_SECS), Decision::Refetch);
        cache.fetched(vec![(key("a"), 7)], Some(3600), UNKNOWN_KID_REFETCH_SECS);
        for t in UNKNOWN_KID_REFETCH_SECS..2 * UNKNOWN_KID_REFETCH_SECS {
            assert_eq!(cache.decide("forged", t), Decision::Unknown);
        }
    }

    #[test]
    fn while_another_fetches_the_held_key_serves_and_without_one_a_request_waits() {
        let mut cache = cache_with(&["a"], Some(60), 0);
        let Meanwhile::Fetch { gate, flight } = cache.meanwhile("a", 61) else { panic!("nothing in flight: fetch") };
        assert!(matches!(cache.meanwhile("a", 61), Meanwhile::Use(7)));
        assert!(
            matches!(cache.meanwhile("b", 61), Meanwhile::Wait { millis, .. } if millis == MAX_FLIGHT_SECS as u32 * 1000)
        );
        cache.landed(flight);
        drop(gate);
        let Meanwhile::Fetch { gate, flight } = cache.meanwhile("a", 59 + STALE_IF_ERROR_SECS) else { panic!() };
        assert!(matches!(cache.meanwhile("a", 60 + STALE_IF_ERROR_SECS), Meanwhile::Wait { .. }), "too stale: wait");
        cache.landed(flight);
        drop(gate);
        assert!(matches!(cache.meanwhile("a", 62), Meanwhile::Fetch { .. }), "landed: the next one fetches");
    }

    #[test]
    fn a_fetch_in_flight_too_long_is_taken_as_abandoned() {
        let mut cache = KeyCache::<u8>::default();
        let Meanwhile::Fetch { flight: first, .. } = cache.meanwhile("a", 0) else { panic!() };
        assert!(
            matches!(cache.meanwhile("a", 1), Meanwhile::Wait { millis, .. } if millis == (MAX_FLIGHT_SECS as u32 - 1) * 1000)
        );
        let Meanwhile::Fetch { flight: second, .. } = cache.meanwhile("a", MAX_FLIGHT_SECS) else { panic!() };
        cache.landed(first);
        assert!(
            matches!(cache.meanwhile("a", MAX_FLIGHT_SECS), Meanwhile::Wait { .. }),
            "the stale one's end ends nothing"
        );
        cache.landed(second);
        assert!(matches!(cache.meanwhile("a", MAX_FLIGHT_SECS), Meanwhile::Fetch { .. }));
    }

    #[test]
    fn a_failed_refresh_serves_the_last_good_set_for_a_bounded_time() {
        let mut cache = cache_with(&["a"], Some(60), 0);
        assert_eq!(cache.decide("a", 60), Decision::Refetch);
        cache.failed(60);
        assert_eq!(cache.decide("a", 61), Decision::Use(7));
        assert_eq!(cache.decide("b", 61), Decision::Unknown);
        assert_eq!(cache.decide("a", 60 + RETRY_AFTER_FAILURE_SECS), Decision::Refetch);
        cache.failed(60 + STALE_IF_ERROR_SECS);
        assert_eq!(cache.decide("a", 60 + STALE_IF_ERROR_SECS + 1), Decision::Unavailable);
    }
}
