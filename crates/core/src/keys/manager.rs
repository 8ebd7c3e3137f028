//! Managed key operations over the ports: what the cron trigger, the first
//! request, the admin API and the token path call. Every change goes through
//! [`super::rotation`] and is saved with a compare-and-swap on the key set's
//! version, retried on conflict: two isolates racing end with one key set.

use super::rotation::{self, KeyState, ManagedKey, Policy};
use super::sealed::{self, Kek, KeyCrypto};
use super::{KeyError, KeyStore};
use crate::jose::jwk::{ec_thumbprint, jwks_document, public_jwk, SigningKey};
use crate::ports::Random;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// What the operations need.
pub struct KeyEnv<'a, S: KeyStore, C: KeyCrypto> {
    /// Where the set is kept.
    pub store: &'a S,
    /// Key generation and AES-GCM.
    pub crypto: &'a C,
    /// Sealing IVs.
    pub random: &'a dyn Random,
    /// `KEY_ENCRYPTION_KEY`, raw: parsed where used, so that a bad one fails
    /// signing but not the JWKS.
    pub kek: Option<&'a str>,
    /// When keys rotate and retire.
    pub policy: Policy,
    /// Unix seconds.
    pub now: i64,
}

/// How many times a compare-and-swap is retried against concurrent writers.
const ATTEMPTS: usize = 3;

impl<S: KeyStore, C: KeyCrypto> KeyEnv<'_, S, C> {
    fn kek(&self) -> Result<Kek, KeyError> {
        Kek::parse(self.kek).map_err(KeyError::Kek)
    }

    /// `n` new keys, created now, private parts sealed under the KEK.
    async fn fresh(&self, n: usize) -> Result<Vec<ManagedKey>, KeyError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let kek = self.kek()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let m = self.crypto.generate().await?;
            let kid = ec_thumbprint(&m.x, &m.y);
            let sealed = sealed::seal(self.crypto, self.random, &kek, kid.as_bytes(), &m.d).await?;
            out.push(ManagedKey {
                kid,
                state: KeyState::Next,
                x: m.x,
                y: m.y,
                sealed_d: sealed::encode(&sealed),
                created_at: self.now,
                activated_at: None,
                retired_at: None,
            });
        }
        Ok(out)
    }

    /// Load, change with `change(keys, fresh)` (given `need(keys)` fresh
    /// keys), and save if anything changed; retried when another writer won.
    /// Returns the set it replaced and the set now stored.
    async fn update(
        &self,
        need: impl Fn(&[ManagedKey]) -> usize,
        change: impl Fn(&[ManagedKey], Vec<ManagedKey>) -> Result<Vec<ManagedKey>, KeyError>,
    ) -> Result<Updated, KeyError> {
        for _ in 0..ATTEMPTS {
            let stored = self.store.load_keys().await?;
            let fresh = self.fresh(need(&stored.keys)).await?;
            let next = change(&stored.keys, fresh)?;
            if next == stored.keys {
                return Ok(Updated { before: stored.keys, after: next, changed: false });
            }
            if self.store.save_keys(stored.version, &next).await? {
                return Ok(Updated { before: stored.keys, after: next, changed: true });
            }
        }
        Err(KeyError::Contended)
    }

    /// The key set; on the very first use, the first pair is created.
    pub async fn load(&self) -> Result<Vec<ManagedKey>, KeyError> {
        let stored = self.store.load_keys().await?;
        if rotation::current(&stored.keys).is_some() {
            return Ok(stored.keys);
        }
        self.scheduled().await.map(|(keys, _)| keys)
    }

    /// The cron trigger's work: apply the policy. Returns the set and
    /// whether it changed.
    pub async fn scheduled(&self) -> Result<(Vec<ManagedKey>, bool), KeyError> {
        let (now, policy) = (self.now, self.policy);
        let updated = self
            .update(
                |keys| rotation::needed(keys, now, &policy),
                |keys, fresh| Ok(rotation::rotate(keys, now, &policy, fresh)),
            )
            .await?;
        Ok((updated.after, updated.changed))
    }

    /// `POST /admin/keys/rotate`: the new set, and the kid that was current
    /// before the rotation. A rotation that would retire one key too many
    /// ([`rotation::MAX_RETIRED`]) is refused with [`KeyError::AtCap`]; a
    /// revoking one drops the current key instead and is always allowed.
    pub async fn rotate_now(&self, revoke_current: bool) -> Result<(Vec<ManagedKey>, Option<String>), KeyError> {
        let (now, policy) = (self.now, self.policy);
        let updated = self
            .update(rotation::needed_now, |keys, fresh| {
                if let (false, Some(until)) = (revoke_current, rotation::retired_cap_reached(keys, now, &policy)) {
                    return Err(KeyError::AtCap { until });
                }
                Ok(rotation::rotate_now(keys, now, revoke_current, fresh))
            })
            .await?;
        let previous = rotation::current(&updated.before).map(|k| k.kid.clone());
        Ok((updated.after, previous))
    }
}

/// The result of one compare-and-swap update of the key set.
struct Updated {
    before: Vec<ManagedKey>,
    after: Vec<ManagedKey>,
    changed: bool,
}

/// What a request in managed mode gets: the key set and its JWKS, or why
/// there is none. Unsealing the current key is left to the caller, which
/// caches the imported key per isolate and unseals only when the current
/// kid changes.
pub struct Resolved {
    /// The stored set (empty when it could not be loaded).
    pub keys: Vec<ManagedKey>,
    /// The JWKS document, or why there is none.
    pub jwks: Result<String, KeyError>,
    /// Set when signing cannot work whatever the caller has cached.
    pub problem: Option<KeyError>,
}

impl Resolved {
    /// The kid that signs now, if any.
    pub fn current_kid(&self) -> Option<&str> {
        rotation::current(&self.keys).map(|k| k.kid.as_str())
    }
}

/// Load (or on first use create) the key set and render the JWKS. Without a
/// usable KEY_ENCRYPTION_KEY before any key exists, the JWKS is an empty set
/// and signing fails; once keys exist the JWKS serves them whatever the KEK.
pub async fn resolve<S: KeyStore, C: KeyCrypto>(env: &KeyEnv<'_, S, C>) -> Resolved {
    match env.load().await {
        Ok(keys) => Resolved { jwks: Ok(jwks_json(&keys)), problem: None, keys },
        Err(KeyError::Kek(e)) => {
            Resolved { keys: Vec::new(), jwks: Ok(jwks_json(&[])), problem: Some(KeyError::Kek(e)) }
        }
        Err(e) => Resolved { keys: Vec::new(), jwks: Err(e.clone()), problem: Some(e) },
    }
}

/// The current key, unsealed, ready for a signer to import.
pub async fn open_current<C: KeyCrypto>(
    keys: &[ManagedKey],
    crypto: &C,
    kek: Option<&str>,
) -> Result<SigningKey, KeyError> {
    let kek = Kek::parse(kek).map_err(KeyError::Kek)?;
    let current = rotation::current(keys).ok_or(KeyError::NoCurrent)?;
    let unseal = || KeyError::Unseal { kid: current.kid.clone() };
    let sealed = sealed::decode(&current.sealed_d).ok_or_else(unseal)?;
    let d = sealed::open(crypto, &kek, current.kid.as_bytes(), &sealed).await.map_err(|_| unseal())?;
    Ok(SigningKey::new(current.kid.clone(), current.x.clone(), current.y.clone(), URL_SAFE_NO_PAD.encode(d)))
}

/// The JWKS document: every key in the set — `next`, `current` and
/// `retired` — public parts only.
pub fn jwks_json(keys: &[ManagedKey]) -> String {
    jwks_document(keys.iter().map(|k| public_jwk(&k.kid, &k.x, &k.y)))
}
