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
    /// Fetch attempts so far: a caller that waited for another's fetch
    /// sees it changed and decides again instead of fetching twice.
    pub attempts: u64,
    /// Fetches started and not finished (by callers that do not wait for
    /// each other: `Verifier::share_fetches`).
    pub in_flight: u32,
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
            attempts: 0,
            in_flight: 0,
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

    /// For a caller that will not wait on another's fetch and was told to
    /// [`Decision::Refetch`]: `None` if no fetch is in flight (fetch), else
    /// what the held set offers meanwhile — the key if it is held and not
    /// past the stale bound ([`Decision::Use`]), or [`Decision::Unknown`] if
    /// a set is held without it; `None` again if nothing usable is held.
    pub fn while_fetching(&self, kid: &str, now: i64) -> Option<Decision<K>> {
        if self.in_flight == 0 || !self.loaded || now >= self.stale_until {
            return None;
        }
        Some(match self.keys.iter().find(|(k, _)| k.kid() == kid) {
            Some((_, key)) => Decision::Use(key.clone()),
            None => Decision::Unknown,
        })
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
        self.attempts += 1;
    }

    /// A fetch failed at `now`: the held set stays as it was.
    pub fn failed(&mut self, now: i64) {
        self.last_attempt = Some(now);
        self.last_failed = true;
        self.attempts += 1;
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
    fn while_another_fetches_the_held_set_serves_within_the_stale_bound() {
        let mut cache = cache_with(&["a"], Some(60), 0);
        assert_eq!(cache.while_fetching("a", 61), None, "nothing in flight: fetch");
        cache.in_flight = 1;
        assert_eq!(cache.while_fetching("a", 61), Some(Decision::Use(7)));
        assert_eq!(cache.while_fetching("b", 61), Some(Decision::Unknown));
        assert_eq!(cache.while_fetching("a", 60 + STALE_IF_ERROR_SECS), None, "too stale: fetch too");
        assert_eq!(KeyCache::<u8> { in_flight: 1, ..KeyCache::default() }.while_fetching("a", 0), None);
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
