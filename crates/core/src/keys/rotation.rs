//! Key states and rotation.
//!
//! A key is `next` (published in the JWKS, not signing), then `current`
//! (signing; one at a time), then `retired` (published until every token it
//! signed has expired), then removed. [`rotate`] is pure: given the key set,
//! the time and the policy (and the fresh keys [`needed`] asked for) it
//! returns the new key set. The cron, the first request and the admin API
//! all go through it, so the simulation in the tests covers all of them.

use serde::{Deserialize, Serialize};

/// Where a managed key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signing; one at a time.
    Current,
    /// Published until every token it signed has expired.
    Retired,
}

/// One managed key with its state and timestamps (Unix seconds). The
/// private scalar is only ever held sealed (see [`super::sealed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Where it is in its life.
    pub state: KeyState,
    /// The public point's coordinates, base64url.
    pub x: String,
    /// See `x`.
    pub y: String,
    /// base64url(IV ‖ AES-256-GCM ciphertext ‖ tag) of `d`, kid as AAD.
    pub sealed_d: String,
    /// When the key was created, and so first published.
    pub created_at: i64,
    /// When it became `current`.
    #[serde(default)]
    pub activated_at: Option<i64>,
    /// When it stopped signing.
    #[serde(default)]
    pub retired_at: Option<i64>,
}

/// Rotation policy, from vars (README, "Signing keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long a key signs before the next one takes over (default 30 days).
    pub rotation_interval: i64,
    /// How long a key is published before it may sign (default 2 days):
    /// longer than the JWKS max-age plus KV propagation, so every verifier
    /// has seen a key before any token signed by it exists.
    pub prepublish_lead: i64,
    /// How long a retired key stays published: the longest token lifetime
    /// plus a clock-skew allowance.
    pub retire_after: i64,
}

/// Seconds in a day.
pub const DAY: i64 = 86_400;

impl Default for Policy {
    fn default() -> Policy {
        Policy { rotation_interval: 30 * DAY, prepublish_lead: 2 * DAY, retire_after: DAY + 300 }
    }
}

fn find(keys: &[ManagedKey], state: KeyState) -> Option<&ManagedKey> {
    keys.iter().find(|k| k.state == state)
}

/// The key that signs, if any.
pub fn current(keys: &[ManagedKey]) -> Option<&ManagedKey> {
    find(keys, KeyState::Current)
}

fn expired(key: &ManagedKey, now: i64, policy: &Policy) -> bool {
    key.state == KeyState::Retired && key.retired_at.is_some_and(|t| t + policy.retire_after <= now)
}

/// Whether the current key is due to hand over and the next one has been
/// published long enough to take over.
fn due(current: &ManagedKey, next: &ManagedKey, now: i64, policy: &Policy) -> bool {
    current.activated_at.unwrap_or(current.created_at) + policy.rotation_interval <= now
        && next.created_at + policy.prepublish_lead <= now
}

/// How many fresh keys [`rotate`] will need for this key set at `now`: two
/// for a first pair, one after a promotion or when `next` is missing.
pub fn needed(keys: &[ManagedKey], now: i64, policy: &Policy) -> usize {
    match (find(keys, KeyState::Current), find(keys, KeyState::Next)) {
        (None, None) => 2,
        (None, Some(_)) => 1,
        (Some(_), None) => 1,
        (Some(c), Some(n)) => usize::from(due(c, n, now, policy)),
    }
}

/// The key set after applying the policy at `now`. `fresh` supplies new keys
/// (created at `now`) as [`needed`] said; any not needed are dropped.
pub fn rotate(keys: &[ManagedKey], now: i64, policy: &Policy, fresh: Vec<ManagedKey>) -> Vec<ManagedKey> {
    let mut fresh = fresh.into_iter();
    let mut out: Vec<ManagedKey> = keys.iter().filter(|k| !expired(k, now, policy)).cloned().collect();
    let has = |out: &[ManagedKey], s| out.iter().any(|k| k.state == s);

    if !has(&out, KeyState::Current) {
        // Nothing signs. Promote `next` at once (it is already published),
        // or, on a first run, make a fresh key current: no token and no
        // cached JWKS can predate the first key.
        if let Some(next) = out.iter_mut().find(|k| k.state == KeyState::Next) {
            activate(next, now);
        } else if let Some(mut first) = fresh.next() {
            activate(&mut first, now);
            out.push(first);
        }
    } else {
        let handover = match (find(&out, KeyState::Current), find(&out, KeyState::Next)) {
            (Some(c), Some(n)) => due(c, n, now, policy),
            _ => false,
        };
        if handover {
            for key in out.iter_mut() {
                match key.state {
                    KeyState::Current => {
                        key.state = KeyState::Retired;
                        key.retired_at = Some(now);
                    }
                    KeyState::Next => activate(key, now),
                    KeyState::Retired => {}
                }
            }
        }
    }
    if !has(&out, KeyState::Next) {
        if let Some(mut next) = fresh.next() {
            next.state = KeyState::Next;
            next.created_at = now;
            next.activated_at = None;
            next.retired_at = None;
            out.push(next);
        }
    }
    order(out)
}

/// Most retired keys published at once: with `next` and `current`, the
/// JWKS holds at most `MAX_RETIRED + 2` keys. A retired key stays published
/// until every token it signed has expired (`Policy::retire_after`), so
/// rotating in a loop would otherwise grow the JWKS without bound.
pub const MAX_RETIRED: usize = 3;

/// When a rotation that retires the current key would pass [`MAX_RETIRED`],
/// the time (Unix seconds) the oldest retired key leaves the set: rotating
/// works again then. `None` when there is room.
pub fn retired_cap_reached(keys: &[ManagedKey], now: i64, policy: &Policy) -> Option<i64> {
    let mut leaving: Vec<i64> = keys
        .iter()
        .filter(|k| k.state == KeyState::Retired && !expired(k, now, policy))
        .map(|k| k.retired_at.unwrap_or(now).saturating_add(policy.retire_after))
        .collect();
    if leaving.len() < MAX_RETIRED {
        return None;
    }
    leaving.sort_unstable();
    leaving.first().copied()
}

/// How many fresh keys [`rotate_now`] will need: one, two if there is no `next`.
pub fn needed_now(keys: &[ManagedKey]) -> usize {
    if find(keys, KeyState::Next).is_some() {
        1
    } else {
        2
    }
}

/// Emergency rotation (`POST /admin/keys/rotate`): `next` signs from now on
/// and a fresh `next` is published. With `revoke_current` the old current key
/// is dropped at once — every token it signed stops verifying — instead of
/// being retired. Needs one fresh key, two if there was no `next`.
pub fn rotate_now(keys: &[ManagedKey], now: i64, revoke_current: bool, fresh: Vec<ManagedKey>) -> Vec<ManagedKey> {
    let mut out: Vec<ManagedKey> = Vec::with_capacity(keys.len() + 1);
    for key in keys {
        match key.state {
            KeyState::Current if revoke_current => {}
            KeyState::Current => {
                out.push(ManagedKey { state: KeyState::Retired, retired_at: Some(now), ..key.clone() })
            }
            _ => out.push(key.clone()),
        }
    }
    // With the current key gone, `rotate` promotes `next` (or a fresh key)
    // and publishes a fresh `next`. A zero interval is irrelevant here.
    let no_expiry = Policy { rotation_interval: i64::MAX / 4, prepublish_lead: 0, retire_after: i64::MAX / 4 };
    rotate(&out, now, &no_expiry, fresh)
}

fn activate(key: &mut ManagedKey, now: i64) {
    key.state = KeyState::Current;
    key.activated_at = Some(now);
    key.retired_at = None;
}

/// Current first, then next, then retired (newest first): the JWKS order.
fn order(mut keys: Vec<ManagedKey>) -> Vec<ManagedKey> {
    let rank = |s: KeyState| match s {
        KeyState::Current => 0,
        KeyState::Next => 1,
        KeyState::Retired => 2,
    };
    keys.sort_by(|a, b| rank(a.state).cmp(&rank(b.state)).then(b.created_at.cmp(&a.created_at)));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fresh_key(n: &mut u32) -> ManagedKey {
        *n += 1;
        ManagedKey {
            kid: format!("k{n}"),
            state: KeyState::Next,
            x: String::new(),
            y: String::new(),
            sealed_d: String::new(),
            created_at: 0,
            activated_at: None,
            retired_at: None,
        }
    }

    fn step(keys: &[ManagedKey], now: i64, policy: &Policy, n: &mut u32) -> Vec<ManagedKey> {
        let want = needed(keys, now, policy);
        let fresh = (0..want).map(|_| fresh_key(n)).collect();
        rotate(keys, now, policy, fresh)
    }

    fn count(keys: &[ManagedKey], s: KeyState) -> usize {
        keys.iter().filter(|k| k.state == s).count()
    }

    #[test]
    fn first_run_creates_current_and_next() {
        let policy = Policy::default();
        let mut n = 0;
        let keys = step(&[], 1000, &policy, &mut n);
        assert_eq!(count(&keys, KeyState::Current), 1);
        assert_eq!(count(&keys, KeyState::Next), 1);
        assert_eq!(keys[0].state, KeyState::Current);
        assert_eq!(needed(&keys, 1001, &policy), 0);
        assert_eq!(step(&keys, 1001, &policy, &mut n), keys, "nothing to do before the interval");
    }

    /// A simulated year with hourly cron runs and a token every hour: every
    /// unexpired token verifies against the published set; no token is signed
    /// by a key published less than the lead before (except the very first
    /// key); at most one key is current; retired keys leave after the window.
    #[test]
    fn simulated_year_of_rotations() {
        let policy = Policy::default();
        let token_ttl = DAY; // the longest a token may live
        let start = 1_800_000_000;
        let mut n = 0;
        let mut keys = step(&[], start, &policy, &mut n);
        let first_kid = keys[0].kid.clone();
        let mut published_at: HashMap<String, i64> = HashMap::new();
        let mut tokens: Vec<(String, i64)> = Vec::new(); // (kid, exp)
        let mut rotations = 0;
        let mut previous_current = first_kid.clone();

        for hour in 0..(365 * 24) {
            let now = start + hour * 3600;
            keys = step(&keys, now, &policy, &mut n);
            for k in &keys {
                published_at.entry(k.kid.clone()).or_insert(now);
            }
            assert_eq!(count(&keys, KeyState::Current), 1, "exactly one current key at {now}");
            assert!(count(&keys, KeyState::Next) <= 1);
            let current = keys.iter().find(|k| k.state == KeyState::Current).unwrap();
            if current.kid != previous_current {
                rotations += 1;
                previous_current = current.kid.clone();
            }
            if current.kid != first_kid {
                assert!(
                    published_at[&current.kid] + policy.prepublish_lead <= now,
                    "key {} signs before it was published for the lead time",
                    current.kid
                );
            }
            tokens.push((current.kid.clone(), now + token_ttl));
            tokens.retain(|(_, exp)| *exp > now);
            for (kid, _) in &tokens {
                assert!(keys.iter().any(|k| &k.kid == kid), "token by {kid} would not verify at {now}");
            }
            assert!(keys.len() <= 4, "retired keys are removed once unneeded");
        }
        assert_eq!(rotations, 12, "one rotation per 30 days over a year");
    }

    #[test]
    fn handover_waits_for_the_prepublication_lead() {
        // An interval shorter than the lead: the next key must still wait.
        let policy = Policy { rotation_interval: 3600, prepublish_lead: 2 * DAY, retire_after: DAY };
        let mut n = 0;
        let keys = step(&[], 0, &policy, &mut n);
        let after_interval = step(&keys, 7200, &policy, &mut n);
        assert_eq!(after_interval, keys);
        let after_lead = step(&keys, 2 * DAY, &policy, &mut n);
        assert_ne!(after_lead.iter().find(|k| k.state == KeyState::Current).unwrap().kid, keys[0].kid);
    }

    #[test]
    fn emergency_rotation() {
        let policy = Policy::default();
        let mut n = 0;
        let keys = step(&[], 0, &policy, &mut n);
        let old = keys[0].kid.clone();
        let next = keys[1].kid.clone();
        let rotated = rotate_now(&keys, 60, false, vec![fresh_key(&mut n)]);
        assert_eq!(rotated[0].kid, next);
        assert_eq!(rotated[0].state, KeyState::Current);
        assert_eq!(rotated.iter().find(|k| k.kid == old).unwrap().state, KeyState::Retired);
        assert_eq!(count(&rotated, KeyState::Next), 1);
        let revoked = rotate_now(&rotated, 120, true, vec![fresh_key(&mut n)]);
        assert!(revoked.iter().all(|k| k.kid != next), "a revoked key leaves the set at once");
        assert_eq!(count(&revoked, KeyState::Current), 1);
        assert_eq!(count(&revoked, KeyState::Next), 1);
        assert!(revoked.iter().any(|k| k.kid == old), "earlier retired keys stay until their window ends");
    }
}
