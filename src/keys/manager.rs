//! Managed key operations over the ports: what the cron trigger, the first
//! request, the admin API and the token path call. Every change goes through
//! [`super::rotation`] and is saved with a compare-and-swap on the key set's
//! version, retried on conflict: two isolates racing end with one key set.

use serde_json::json;

use super::rotation::{self, KeyState, ManagedKey, Policy};
use super::sealed::{self, Kek, KeyCrypto};
use crate::jose::jwk::{ec_thumbprint, jwks_document, public_jwk, KeyError, SigningKey};
use crate::store::KeyStore;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// What the operations need.
pub struct KeyEnv<'a, S: KeyStore, C: KeyCrypto> {
    pub store: &'a S,
    pub crypto: &'a C,
    /// `KEY_ENCRYPTION_KEY`, raw.
    pub kek: Option<&'a str>,
    pub policy: Policy,
    pub now: i64,
}

impl<'a, S: KeyStore, C: KeyCrypto> KeyEnv<'a, S, C> {
    /// The KEK and rotation policy from the configuration.
    pub fn new(store: &'a S, crypto: &'a C, config: &'a crate::config::Config, now: i64) -> KeyEnv<'a, S, C> {
        KeyEnv { store, crypto, kek: config.key_encryption_key.as_deref(), policy: config.key_policy, now }
    }
}

/// How many times a compare-and-swap is retried against concurrent writers.
const ATTEMPTS: usize = 3;

fn storage(e: crate::store::StoreError) -> KeyError {
    KeyError::Storage(e.to_string())
}

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
            let m = self.crypto.generate().await.map_err(|e| KeyError::Crypto(e.to_string()))?;
            let kid = ec_thumbprint(&m.x, &m.y);
            let sealed =
                self.crypto.seal(&kek, kid.as_bytes(), &m.d).await.map_err(|e| KeyError::Crypto(e.to_string()))?;
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
        change: impl Fn(&[ManagedKey], Vec<ManagedKey>) -> Vec<ManagedKey>,
    ) -> Result<Updated, KeyError> {
        for _ in 0..ATTEMPTS {
            let stored = self.store.load_keys().await.map_err(storage)?;
            let fresh = self.fresh(need(&stored.keys)).await?;
            let next = change(&stored.keys, fresh);
            if next == stored.keys {
                return Ok(Updated { before: stored.keys, after: next, changed: false });
            }
            if self.store.save_keys(stored.version, &next).await.map_err(storage)? {
                return Ok(Updated { before: stored.keys, after: next, changed: true });
            }
        }
        Err(KeyError::Storage("the key set kept changing under concurrent writers".into()))
    }

    /// The key set; on the very first use, the first pair is created.
    pub async fn load(&self) -> Result<Vec<ManagedKey>, KeyError> {
        let stored = self.store.load_keys().await.map_err(storage)?;
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
                |keys, fresh| rotation::rotate(keys, now, &policy, fresh),
            )
            .await?;
        Ok((updated.after, updated.changed))
    }

    /// `POST /admin/keys/rotate`: the new set, and the kid that was current
    /// before the rotation.
    pub async fn rotate_now(&self, revoke_current: bool) -> Result<(Vec<ManagedKey>, Option<String>), KeyError> {
        let now = self.now;
        let updated = self
            .update(rotation::needed_now, |keys, fresh| rotation::rotate_now(keys, now, revoke_current, fresh))
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
    pub keys: Vec<ManagedKey>,
    pub jwks: Result<String, KeyError>,
    /// Set when signing cannot work whatever the caller has cached.
    pub problem: Option<KeyError>,
}

impl Resolved {
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
    let d = crypto.open(&kek, current.kid.as_bytes(), &sealed).await.map_err(|_| unseal())?;
    Ok(SigningKey::new(current.kid.clone(), current.x.clone(), current.y.clone(), URL_SAFE_NO_PAD.encode(d)))
}

/// The JWKS document: every key in the set — `next`, `current` and
/// `retired` — public parts only.
pub fn jwks_json(keys: &[ManagedKey]) -> String {
    jwks_document(keys.iter().map(|k| public_jwk(&k.kid, &k.x, &k.y)))
}

/// The admin API's view of a key: never private material.
pub fn key_json(key: &ManagedKey, policy: &Policy) -> serde_json::Value {
    json!({
        "kid": key.kid,
        "state": key.state,
        "created_at": crate::time::rfc3339(key.created_at),
        "activated_at": key.activated_at.map(crate::time::rfc3339),
        "retired_at": key.retired_at.map(crate::time::rfc3339),
        "removed_after": key.retired_at.map(|t| crate::time::rfc3339(t + policy.retire_after)),
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::keys::sealed::HostCrypto;
    use crate::store::memory::MemoryStore;

    fn kek() -> String {
        URL_SAFE_NO_PAD.encode([9u8; 32])
    }

    fn env<'a>(store: &'a MemoryStore, kek: Option<&'a str>, now: i64) -> KeyEnv<'a, MemoryStore, HostCrypto> {
        KeyEnv { store, crypto: &HostCrypto, kek, policy: Policy::default(), now }
    }

    #[test]
    fn bootstrap_then_stable() {
        pollster::block_on(async {
            let store = MemoryStore::default();
            let k = kek();
            let keys = env(&store, Some(&k), 100).load().await.unwrap();
            assert_eq!(keys.len(), 2);
            assert_eq!(env(&store, Some(&k), 200).load().await.unwrap(), keys, "loaded, not recreated");
            let signing = open_current(&keys, &HostCrypto, Some(&k)).await.unwrap();
            assert_eq!(signing.kid, keys[0].kid);
            assert!(!jwks_json(&keys).contains(&keys[0].sealed_d));
        });
    }

    #[test]
    fn wrong_or_missing_kek() {
        pollster::block_on(async {
            let store = MemoryStore::default();
            let k = kek();
            let keys = env(&store, Some(&k), 100).load().await.unwrap();
            let other = URL_SAFE_NO_PAD.encode([1u8; 32]);
            let e = open_current(&keys, &HostCrypto, Some(&other)).await.err().unwrap();
            assert!(matches!(e, KeyError::Unseal { .. }));
            assert!(e.to_string().contains("KEY_ENCRYPTION_KEY"));
            assert!(matches!(open_current(&keys, &HostCrypto, None).await.err().unwrap(), KeyError::Kek(_)));
            // Without a KEK nothing can be created either.
            let empty = MemoryStore::default();
            assert!(matches!(env(&empty, None, 100).load().await.err().unwrap(), KeyError::Kek(_)));
        });
    }

    #[test]
    fn concurrent_writers_keep_one_current() {
        pollster::block_on(async {
            let store = MemoryStore::default();
            let k = kek();
            let keys = env(&store, Some(&k), 0).load().await.unwrap();
            let version = store.load_keys().await.unwrap().version;
            // Another isolate writes first: our compare-and-swap must fail…
            let later = env(&store, Some(&k), 31 * 86_400);
            later.scheduled().await.unwrap();
            assert!(!store.save_keys(version, &keys).await.unwrap());
            // …and a second scheduled run after it has nothing left to do.
            let (after, changed) = later.scheduled().await.unwrap();
            assert!(!changed);
            assert_eq!(after.iter().filter(|k| k.state == KeyState::Current).count(), 1);
        });
    }
}
