//! Abuse limits: how often one source may call the token endpoint and the
//! admin API, and how many failed authentications one client id may have
//! from one source, per window. [`source`] says who a request comes from.
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
use std::net::{IpAddr, Ipv6Addr};

use crate::http::{Header, Request};
use crate::ports::Logger;

/// The /64 Cloudflare sends other zones' Workers' subrequests from
/// (`CF-Connecting-IP: 2a06:98c0:3600::103`,
/// developers.cloudflare.com/workers/runtime-apis/headers/).
const WORKERS_PREFIX: [u16; 4] = [0x2a06, 0x98c0, 0x3600, 0];

/// Who a request comes from, as every limit keys it; `None` for a request
/// that did not come through Cloudflare's edge (no `CF-Connecting-IP`: a
/// service binding, local tools), which no limit counts.
///
/// - IPv4: the address. IPv6: its /64 (`2001:db8:1:2::/64`), the block one
///   host is given (RFC 4291 §2.5.1 interface identifiers are 64 bits), so
///   rotating through its addresses is still one source; an IPv4-mapped
///   address (RFC 4291 §2.5.5.2) is its IPv4 address.
/// - Another zone's Worker: every Worker's subrequest arrives from
///   Cloudflare's one Workers address, so the zone in `CF-Worker` names the
///   source (`worker:example.com`). Only from that address: a client that
///   names a zone from its own address is counted by its address.
///
/// What is believed, and why it holds on Cloudflare: `CF-Connecting-IP` is
/// set by Cloudflare's edge, which replaces whatever a client sends;
/// `CF-Worker` only beside Cloudflare's Workers address, which a client
/// cannot claim through the edge (README, "Rate limits").
pub fn source(req: &Request) -> Option<String> {
    let address: IpAddr = req.header(Header::CfConnectingIp)?.trim().parse().ok()?;
    let v6 = match address {
        IpAddr::V4(v4) => return Some(v4.to_string()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => return Some(v4.to_string()),
            None => v6,
        },
    };
    let s = v6.segments();
    let prefix = [s[0], s[1], s[2], s[3]];
    if prefix == WORKERS_PREFIX {
        if let Some(zone) = req.header(Header::CfWorker).and_then(zone_name) {
            return Some(format!("worker:{zone}"));
        }
    }
    Some(format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
}

/// A zone name as `CF-Worker` carries it, lower-cased; `None` for anything
/// that is not a DNS name (RFC 1035 §2.3.4: at most 253 characters).
fn zone_name(value: &str) -> Option<String> {
    let zone = value.trim().to_ascii_lowercase();
    let valid = !zone.is_empty()
        && zone.len() <= 253
        && zone.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(zone)
}

/// One limit: what is counted and under which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Token requests per [`source`].
    TokenByAddress,
    /// Admin API requests per [`source`], counted before the admin key is
    /// checked, so it also bounds guessing the key.
    AdminByAddress,
    /// Failed client authentications per client id and [`source`]. The
    /// pair, as Auth0's brute-force protection keys user logins: keyed by
    /// the client id alone, anyone who knows a client id (it is in every
    /// token the client uses) could lock the client out from elsewhere. A
    /// request without a source is not counted, for the same reason.
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
    /// Whether `client_id`, from `source` ([`source`]), is locked out after
    /// too many failures. Never without a source.
    pub fn locked(&self, client_id: &str, source: Option<&str>, now: i64) -> bool {
        failure_key(client_id, source).is_some_and(|key| self.lockouts.locked(&key, now))
    }

    /// Count a failed authentication of `client_id` from `source`; over
    /// the limit, lock that pair out in this isolate for [`RETRY_AFTER_SECS`].
    /// Without a source nothing is counted.
    pub async fn failed(
        &self,
        client_id: &str,
        source: Option<&str>,
        now: i64,
        log: &dyn Logger,
    ) -> Result<(), TooManyRequests> {
        let Some(key) = failure_key(client_id, source) else { return Ok(()) };
        let outcome = self.count(Limit::FailuresByClient, &key, log).await;
        if outcome.is_err() {
            self.lockouts.lock(&key, now);
        }
        outcome
    }

    /// Count one event for `key` under `limit` (for the per-address limits,
    /// the key is the request's [`source`]).
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

/// The [`Limit::FailuresByClient`] key: `client_id source`; none without
/// a source. A client id holds no space, so the pair cannot be confused
/// with another.
pub fn failure_key(client_id: &str, source: Option<&str>) -> Option<String> {
    source.filter(|s| !s.is_empty()).map(|source| format!("{client_id} {source}"))
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
