//! Abuse limits: how often one source address may call the token endpoint
//! and the admin API, and how many failed authentications one client id may
//! have, per window.
//!
//! The counting is the platform's: on Cloudflare, one Rate Limiting binding
//! per [`Limit`] (`[[ratelimits]]` in wrangler.toml, where each limit's
//! count and window are set). The binding was chosen over a Durable Object
//! because it answers from the location serving the request, without a
//! round trip to the one place a Durable Object lives; the price is that its
//! counts are per location and approximate, which is what a flood limit
//! needs (README, "Rate limits").
//!
//! A limiter that fails, or a limit whose binding is not configured, lets
//! the request through: the limits protect against floods, and an outage of
//! the counter must not become an outage of the token endpoint. Failures
//! are logged.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::ports::Logger;

/// One limit: what is counted and under which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Token requests per source address (`CF-Connecting-IP`).
    TokenByAddress,
    /// Admin API requests per source address, counted before the admin key
    /// is checked, so it also bounds guessing the key.
    AdminByAddress,
    /// Failed client authentications per client id and source address.
    /// The pair, as Auth0's brute-force protection keys user logins: keyed
    /// by the client id alone, anyone who knows a client id (it is in every
    /// token the client uses) could lock the client out from elsewhere.
    FailuresByClient,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 3] = [Limit::TokenByAddress, Limit::AdminByAddress, Limit::FailuresByClient];

    /// The name of its binding (`[[ratelimits]] name` in wrangler.toml).
    pub const fn binding(self) -> &'static str {
        match self {
            Limit::TokenByAddress => "TOKEN_RATE_LIMIT",
            Limit::AdminByAddress => "ADMIN_RATE_LIMIT",
            Limit::FailuresByClient => "AUTH_FAILURE_RATE_LIMIT",
        }
    }
}

/// What the limiter said about one more event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Counted, and within the limit.
    Within,
    /// Over the limit for the current window.
    Exceeded,
}

/// The limiter could not answer; the reason is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterError(pub String);

/// Counts events per key against each [`Limit`].
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait RateLimiter {
    /// Count one event for `key` under `limit`. A limit that is not
    /// configured answers [`Verdict::Within`].
    async fn hit(&self, limit: Limit, key: &str) -> Result<Verdict, LimiterError>;
}

/// No limits at all: for tools and tests that do not exercise them.
pub struct Unlimited;

impl RateLimiter for Unlimited {
    async fn hit(&self, _limit: Limit, _key: &str) -> Result<Verdict, LimiterError> {
        Ok(Verdict::Within)
    }
}

/// Seconds a limited caller is told to wait (`Retry-After`, RFC 9110
/// §10.2.3): the longest window the Rate Limiting binding offers, so a
/// caller that waits this long is in a new window whichever is configured.
pub const RETRY_AFTER_SECS: u32 = 60;

/// How many locked-out client ids one isolate remembers; past this the
/// oldest lockout is forgotten (the limiter still counts its failures).
pub const MAX_LOCKOUTS: usize = 1024;

/// Client id and address pairs that went over [`Limit::FailuresByClient`]
/// in this isolate, and until when (Unix seconds). While a lockout lasts, a
/// request for that client from that address is refused before its secret
/// is checked or its record read, so a flood of guesses costs neither a
/// storage read nor a hash.
#[derive(Default)]
pub struct Lockouts {
    until: RefCell<HashMap<String, i64>>,
}

impl Lockouts {
    /// Whether `client_id` is locked out at `now`.
    pub fn locked(&self, client_id: &str, now: i64) -> bool {
        self.until.borrow().get(client_id).is_some_and(|&until| now < until)
    }

    fn lock(&self, client_id: &str, now: i64) {
        let mut until = self.until.borrow_mut();
        until.retain(|_, &mut t| now < t);
        if until.len() >= MAX_LOCKOUTS {
            if let Some(oldest) = until.iter().min_by_key(|(_, &t)| t).map(|(id, _)| id.clone()) {
                until.remove(&oldest);
            }
        }
        until.insert(client_id.to_string(), now + i64::from(RETRY_AFTER_SECS));
    }
}

/// The limiter and this isolate's lockouts, as a request sees them.
pub struct Limits<'a, L: RateLimiter> {
    /// The counter.
    pub limiter: &'a L,
    /// This isolate's lockouts.
    pub lockouts: &'a Lockouts,
}

/// A request went over a limit: answer 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRequests;

impl<L: RateLimiter> Limits<'_, L> {
    /// Whether `client_id`, from `address`, is locked out after too many
    /// failures.
    pub fn locked(&self, client_id: &str, address: Option<&str>, now: i64) -> bool {
        self.lockouts.locked(&failure_key(client_id, address), now)
    }

    /// Count a failed authentication of `client_id` from `address`; over
    /// the limit, lock that pair out in this isolate for [`RETRY_AFTER_SECS`].
    pub async fn failed(
        &self,
        client_id: &str,
        address: Option<&str>,
        now: i64,
        log: &dyn Logger,
    ) -> Result<(), TooManyRequests> {
        let key = failure_key(client_id, address);
        let outcome = self.count(Limit::FailuresByClient, &key, log).await;
        if outcome.is_err() {
            self.lockouts.lock(&key, now);
        }
        outcome
    }

    /// Count one event for `key` under `limit` (for the per-address limits,
    /// the key is the source address).
    pub async fn count(&self, limit: Limit, key: &str, log: &dyn Logger) -> Result<(), TooManyRequests> {
        match self.limiter.hit(limit, key).await {
            Ok(Verdict::Within) => Ok(()),
            Ok(Verdict::Exceeded) => Err(TooManyRequests),
            Err(LimiterError(why)) => {
                log.error(&format!("rate limit {} not applied: {why}", limit.binding()));
                Ok(())
            }
        }
    }
}

/// The [`Limit::FailuresByClient`] key: `client_id address`, or the
/// client id alone for a request without an address. A client id holds no
/// space, so the pair cannot be confused with another.
pub fn failure_key(client_id: &str, address: Option<&str>) -> String {
    match address {
        Some(address) if !address.is_empty() => format!("{client_id} {address}"),
        _ => client_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_expire_and_stay_bounded() {
        let lockouts = Lockouts::default();
        lockouts.lock("a", 100);
        assert!(lockouts.locked("a", 100));
        assert!(lockouts.locked("a", 100 + i64::from(RETRY_AFTER_SECS) - 1));
        assert!(!lockouts.locked("a", 100 + i64::from(RETRY_AFTER_SECS)));
        assert!(!lockouts.locked("b", 100));
        // Expired lockouts are dropped when a new one is taken.
        lockouts.lock("b", 100 + i64::from(RETRY_AFTER_SECS));
        assert_eq!(lockouts.until.borrow().len(), 1);
        // Full: the one that ends first goes.
        lockouts.lock("first", 199);
        for i in 0..MAX_LOCKOUTS + 10 {
            lockouts.lock(&format!("c{i}"), 200);
        }
        assert_eq!(lockouts.until.borrow().len(), MAX_LOCKOUTS);
        assert!(!lockouts.locked("first", 200));
        assert!(lockouts.locked(&format!("c{}", MAX_LOCKOUTS + 9), 200));
    }
}
