//! Revocation of tokens already issued: one token by its `jti` (RFC 7009,
//! or the admin API), and everything a client or a project was issued up
//! to a moment (a not-before time, as Keycloak calls it). What is kept
//! lives only as long as the tokens it refuses, so the revocation state
//! never grows past the tokens in flight (docs/storage.md).
//!
//! Entries are keyed by `jti`, never by a hash of the token: an ES256
//! signature is malleable (RFC 7515 leaves `(r, n - s)` valid too), so
//! the same token can be presented with other bytes.

use crate::ports::StoreError;
use crate::validate::MAX_TOKEN_TTL;

/// Seconds a revocation is kept past the `exp` of the token it refuses: a
/// verifier tolerates some clock difference (30 s by default, RFC 7519
/// §4.1.4 "some small leeway"), and a token it still takes must still be
/// refused.
pub const KEPT_PAST_EXPIRY: i64 = 300;

/// Seconds after a not-before time when nothing it refuses can still be
/// taken: the longest token lifetime, plus [`KEPT_PAST_EXPIRY`].
pub const NOT_BEFORE_LIFETIME: i64 = MAX_TOKEN_TTL as i64 + KEPT_PAST_EXPIRY;

/// Whom a not-before time covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// Every token issued to this client id.
    Client(&'a str),
    /// Every token issued to a client of this project.
    Project(&'a str),
}

impl Holder<'_> {
    /// The storage key: `client:<id>` or `project:<id>` (neither id holds a
    /// colon, so the two never collide).
    pub fn key(&self) -> String {
        match self {
            Holder::Client(id) => format!("client:{id}"),
            Holder::Project(id) => format!("project:{id}"),
        }
    }
}

/// One revoked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Its `jti`.
    pub jti: String,
    /// The project the revocation is confined to: a project's admin revokes
    /// a `jti` only among its project's tokens. `None`: any token with
    /// this `jti`.
    pub project_id: Option<String>,
    /// When the entry can go: the token's `exp` (or, for a bare `jti`, the
    /// latest `exp` a token issued now could have) plus [`KEPT_PAST_EXPIRY`].
    pub expires_at: i64,
}

/// The token a revocation question is about, as its claims say.
#[derive(Debug, Clone, Copy)]
pub struct Issued<'a> {
    /// `jti`.
    pub jti: &'a str,
    /// `client_id`.
    pub client_id: &'a str,
    /// `project_id`, if the client belongs to a project.
    pub project_id: Option<&'a str>,
}

/// What storage holds against one token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Its `jti` is revoked (in its project, or everywhere).
    pub revoked: bool,
    /// The latest not-before time of its client and its project.
    pub not_before: Option<i64>,
}

impl Standing {
    /// The revocation list of the one token `issued`, as this standing
    /// says: its `jti` (in its project) if revoked, and the later of its
    /// client's and its project's not-before times as its client's.
    pub fn as_list(&self, issued: &Issued<'_>) -> Revocations {
        let mut list = Revocations::default();
        if self.revoked {
            let project_id = issued.project_id.map(str::to_string);
            list.tokens.push(Revoked { jti: issued.jti.to_string(), project_id, expires_at: 0 });
        }
        if let Some(not_before) = self.not_before {
            list.clients.push((issued.client_id.to_string(), not_before));
        }
        list
    }

    /// Whether the token issued at `issued_at` is refused: revoked, or
    /// issued before a not-before time of its client or project.
    pub fn refuses(&self, issued_at: i64) -> bool {
        self.revoked || self.not_before.is_some_and(|not_before| issued_at < not_before)
    }
}

/// The not-before time that revokes every token issued up to and including
/// the second `now`: `iat` has one-second resolution, so a token issued
/// later in this very second is refused too (its client gets another).
pub fn not_before_now(now: i64) -> i64 {
    now + 1
}

/// Everything revoked that can still refuse a token: what the revocation
/// list publishes to verifiers (`GET /oauth2/revocations`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Tokens revoked by `jti`.
    pub tokens: Vec<Revoked>,
    /// Not-before times: (client id, time).
    pub clients: Vec<(String, i64)>,
    /// Not-before times: (project id, time).
    pub projects: Vec<(String, i64)>,
}

impl Revocations {
    /// Sort a not-before time by its holder key (`client:…`, `project:…`).
    pub fn add_not_before(&mut self, holder_key: &str, not_before: i64) {
        if let Some(id) = holder_key.strip_prefix("client:") {
            self.clients.push((id.to_string(), not_before));
        } else if let Some(id) = holder_key.strip_prefix("project:") {
            self.projects.push((id.to_string(), not_before));
        }
    }
}

/// Where revocations are kept. Every write only ever widens what is
/// refused (a later expiry, a later not-before), so two concurrent admin
/// requests cannot undo each other.
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait RevocationStore {
    /// Revoke one token; kept until `revoked.expires_at`.
    async fn revoke(&self, revoked: &Revoked) -> Result<(), StoreError>;
    /// Refuse every token of `holder` issued before `not_before`, unless a
    /// later time is already set.
    async fn set_not_before(&self, holder: Holder<'_>, not_before: i64) -> Result<(), StoreError>;
    /// What is held against `token`, read from the primary: a revocation is
    /// seen by the next request.
    async fn standing(&self, token: &Issued<'_>) -> Result<Standing, StoreError>;
    /// Every entry that can still refuse a token at `now`, read from the
    /// primary.
    async fn revocations(&self, now: i64) -> Result<Revocations, StoreError>;
    /// Forget entries that can refuse nothing any more (every token they
    /// covered has expired by `now`); how many.
    async fn prune_revocations(&self, now: i64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_not_before_time_refuses_what_was_issued_before_it() {
        let standing = Standing { revoked: false, not_before: Some(not_before_now(1_000)) };
        assert!(standing.refuses(999));
        assert!(standing.refuses(1_000), "the second of the revocation itself");
        assert!(!standing.refuses(1_001));
        assert!(!Standing::default().refuses(0));
        assert!(Standing { revoked: true, not_before: None }.refuses(5_000));
    }

    #[test]
    fn holders_never_share_a_key() {
        assert_ne!(Holder::Client("a").key(), Holder::Project("a").key());
    }
}
