//! The audit trail: one event per admin change — who (`root` or the admin
//! client), when, which project, what was done to what, and which fields
//! it set — never a secret, a hash or key material. Failed admin
//! authentications are counted per minute rather than stored one by one.
//! Kept `AUDIT_RETENTION_DAYS` (pruned by the Cron Trigger on D1; on KV
//! each event expires by itself).

use serde::{Deserialize, Serialize};

use crate::ports::{Random, RandomError, StoreError};
use crate::project::ProjectId;

/// How long per-minute failure counts are kept (at most; never longer than
/// the events): a week of minutes is 10,080 entries.
pub const AUTH_FAILURE_RETENTION_SECS: i64 = 7 * 24 * 3600;

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
    /// One more failed admin authentication in `minute`, kept until `expires_at`.
    async fn count_auth_failure(&self, minute: i64, expires_at: i64) -> Result<(), StoreError>;
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
