//! The audit trail: one event per admin change — who (`root` or the admin
//! client), when, which project, what was done to what, and which fields
//! it set — never a secret, a hash or key material. Failed admin
//! authentications are counted per minute rather than stored one by one,
//! and each isolate writes its counts at most once per
//! [`AUTH_FAILURE_WRITE_SECS`] ([`FailureTally`]), so a flood of bad keys
//! costs no write per request. Kept `AUDIT_RETENTION_DAYS` (pruned by the
//! Cron Trigger on D1; on KV each event expires by itself).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ports::{Random, RandomError, StoreError};
use crate::project::ProjectId;

/// How long per-minute failure counts are kept (at most; never longer than
/// the events): a week of minutes is 10,080 entries.
pub const AUTH_FAILURE_RETENTION_SECS: i64 = 7 * 24 * 3600;

/// An isolate writes its failed-authentication counts at most once per
/// this many seconds.
pub const AUTH_FAILURE_WRITE_SECS: i64 = 10;

/// Failed admin authentications one isolate has counted and not yet
/// written, per minute. A failure is written at once when the isolate has
/// not written for [`AUTH_FAILURE_WRITE_SECS`]; otherwise it waits for the
/// isolate's next write, made by its first failure that many seconds on.
/// So a flood costs each isolate one write per 10 s, a trickle is written
/// as it comes, and what the counts served miss is bounded: in the isolate
/// that counted them, nothing (its reads add what it holds); elsewhere, the
/// failures an isolate saw in the 10 s after its last write, until its next
/// failure — never written if it sees none before it is evicted.
#[derive(Default)]
pub struct FailureTally {
    pending: RefCell<BTreeMap<i64, u64>>,
    last_write: Cell<Option<i64>>,
}

impl FailureTally {
    /// `count` more failures in `minute`, at `now`: the counts to write now
    /// (every minute held), if it is time to write; they are no longer held.
    pub fn add(&self, minute: i64, count: u64, now: i64) -> Option<Vec<AuthFailures>> {
        let mut pending = self.pending.borrow_mut();
        *pending.entry(minute).or_default() += count;
        if self.last_write.get().is_some_and(|at| now.saturating_sub(at) < AUTH_FAILURE_WRITE_SECS) {
            return None;
        }
        self.last_write.set(Some(now));
        Some(std::mem::take(&mut *pending).into_iter().map(|(minute, count)| AuthFailures { minute, count }).collect())
    }

    /// Counts whose write failed, held again for the next one (minutes
    /// past [`AUTH_FAILURE_RETENTION_SECS`] are dropped: they would be
    /// pruned anyway).
    pub fn unwritten(&self, counts: &[AuthFailures], now: i64) {
        let oldest = (now - AUTH_FAILURE_RETENTION_SECS).div_euclid(60);
        let mut pending = self.pending.borrow_mut();
        for c in counts.iter().filter(|c| c.minute >= oldest) {
            *pending.entry(c.minute).or_default() += c.count;
        }
    }

    /// `counts` read from storage, with what this isolate holds since
    /// `since_minute` added: oldest first.
    pub fn with_held(&self, counts: Vec<AuthFailures>, since_minute: i64) -> Vec<AuthFailures> {
        let mut all: BTreeMap<i64, u64> = counts.into_iter().map(|c| (c.minute, c.count)).collect();
        for (&minute, &count) in self.pending.borrow().range(since_minute..) {
            *all.entry(minute).or_default() += count;
        }
        all.into_iter().map(|(minute, count)| AuthFailures { minute, count }).collect()
    }
}

/// One admin change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Sorts by time: Unix milliseconds in 14 decimal digits, `-`, 16
    /// random hex digits (events of one millisecond in any order).
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// `root` or the admin client's id.
    pub actor: String,
    /// The project the change concerns, if any.
    pub project_id: Option<String>,
    /// What was done, e.g. `client.create`, `client.rotation.start`, `keys.rotate`.
    pub action: String,
    /// The id of what it was done to.
    pub target: String,
    /// The fields the request set (names only).
    pub changed_fields: Vec<String>,
}

impl AuditEvent {
    /// An id for an event at `at_ms` (Unix milliseconds): time-ordered,
    /// unique by 64 random bits.
    pub fn new_id(at_ms: i64, random: &dyn Random) -> Result<String, RandomError> {
        let mut bytes = [0u8; 8];
        random.fill(&mut bytes)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{:014}-{hex}", at_ms.max(0)))
    }

    /// Whether `s` has the shape of an event id (a cursor the API issued).
    pub fn is_id(s: &str) -> bool {
        let (time, random) = s.split_at_checked(14).unwrap_or(("", ""));
        time.bytes().all(|b| b.is_ascii_digit())
            && random.len() == 17
            && random.starts_with('-')
            && random[1..].bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// Which events a reading returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this project's.
    pub project_id: Option<ProjectId>,
    /// Only events at or after this time (Unix seconds).
    pub since: Option<i64>,
}

impl AuditFilter {
    /// Whether `event` passes.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.project_id.as_ref().is_none_or(|p| event.project_id.as_deref() == Some(p.as_str()))
            && self.since.is_none_or(|t| event.at >= t)
    }
}

/// One page of events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// Where the next page starts; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Failed admin authentications in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailures {
    /// The minute: Unix seconds / 60.
    pub minute: i64,
    /// How many.
    pub count: u64,
}

/// Where the audit trail is kept.
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait AuditStore {
    /// Append one event, kept until `expires_at` (Unix seconds).
    async fn append(&self, event: &AuditEvent, expires_at: i64) -> Result<(), StoreError>;
    /// Events passing `filter`, oldest first, after `cursor`: up to `limit`
    /// (fewer where the backend filters as it scans).
    async fn events(&self, filter: &AuditFilter, cursor: Option<&str>, limit: usize) -> Result<AuditPage, StoreError>;
    /// Remove events from before `events_before` and minute counts from
    /// before `counts_before` (Unix seconds); how many events went.
    async fn prune(&self, events_before: i64, counts_before: i64) -> Result<u64, StoreError>;
    /// `count` more failed admin authentications in `minute`, kept until
    /// `expires_at` (through the isolate cache, batched: [`FailureTally`]).
    async fn count_auth_failures(&self, minute: i64, count: u64, expires_at: i64) -> Result<(), StoreError>;
    /// The per-minute counts since `minute`, oldest first.
    async fn auth_failures(&self, since_minute: i64) -> Result<Vec<AuthFailures>, StoreError>;
}

/// What the Cron Trigger does with the trail: drop events older than
/// `retention_secs`, and minute counts older than the shorter of that and
/// [`AUTH_FAILURE_RETENTION_SECS`]; how many events went.
pub async fn prune_expired<S: AuditStore>(store: &S, retention_secs: i64, now: i64) -> Result<u64, StoreError> {
    let counts = retention_secs.min(AUTH_FAILURE_RETENTION_SECS);
    store.prune(now - retention_secs, now - counts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_writes_at_once_after_a_quiet_spell_and_once_per_interval_in_a_flood() {
        let tally = FailureTally::default();
        assert_eq!(tally.add(100, 1, 6000), Some(vec![AuthFailures { minute: 100, count: 1 }]));
        for t in 6000..6000 + AUTH_FAILURE_WRITE_SECS {
            assert_eq!(tally.add(100, 1, t), None, "at {t}");
        }
        assert_eq!(
            tally.with_held(vec![AuthFailures { minute: 100, count: 1 }], 0),
            [AuthFailures { minute: 100, count: 11 }]
        );
        assert_eq!(tally.with_held(Vec::new(), 101), []);
        let written = tally.add(101, 1, 6000 + AUTH_FAILURE_WRITE_SECS);
        assert_eq!(
            written,
            Some(vec![AuthFailures { minute: 100, count: 10 }, AuthFailures { minute: 101, count: 1 }])
        );
        tally.unwritten(&written.unwrap_or_default(), 6010);
        assert_eq!(
            tally.with_held(Vec::new(), 0).iter().map(|c| c.count).sum::<u64>(),
            11,
            "a failed write is held again"
        );
    }
}
