//! What one isolate keeps of the signing keys between requests, in both key
//! modes, and when it reads the managed key set again. The Worker holds one
//! [`IsolateKeys`] per isolate with WebCrypto keys in it; the host tests hold
//! one with p256 keys: the same code decides for both.
//!
//! Kept: the JWKS text and the imported key, so the hot path does no
//! parsing, decryption or import. Bring-your-own keys are parsed once per
//! secret text. Managed keys are re-read after [`MANAGED_CACHE_MS`]; one
//! request re-reads while the others keep the copy (no stampede of reads,
//! unseals and imports when the copy expires under load).

use std::cell::RefCell;
use std::rc::Rc;

use super::manager::{open_current, resolve, KeyEnv};
use super::sealed::KeyCrypto;
use super::{KeyError, KeyStore};
use crate::future::apart;
use crate::jose::{jwk, IssuingKey, SigningKey};
use crate::ports::Logger;

/// How long an isolate trusts its copy of the managed key set before reading
/// it again: with the time that one read takes, bounds how late a rotation
/// made elsewhere (another isolate, the cron) is noticed here. Changes made
/// by this isolate drop the copy at once ([`IsolateKeys::invalidate`]).
pub const MANAGED_CACHE_MS: i64 = 10_000;

/// How long one request's re-read of the key set may take before another
/// request starts its own (in case the first never finishes).
pub const REFRESH_GRACE_MS: i64 = 5_000;

/// How long after its last successful read the isolate keeps serving its
/// copy of the managed keys while re-reads fail (stale-if-error). Far
/// shorter than a retired key stays published, so a copy this old still
/// signs with a key every verifier knows.
pub const STALE_IF_ERROR_MS: i64 = 300_000;

/// After a failed re-read, how soon the next one is tried.
pub const RETRY_AFTER_ERROR_MS: i64 = 1_000;

/// How this runtime turns a private key into a key tokens can be issued
/// under: WebCrypto's `importKey` in the Worker, p256 on the host.
#[allow(async_fn_in_trait)]
pub trait KeyImport {
    /// The imported key.
    type Key: IssuingKey;

    /// Import `key` for signing; [`crate::jose::JwkError::Rejected`] if the
    /// runtime refuses it.
    async fn import(&self, key: &SigningKey) -> Result<Self::Key, KeyError>;
}

/// The keys one request uses: each may be missing for its own reason, so a
/// key problem fails only the requests that need what is broken (with a
/// wrong KEY_ENCRYPTION_KEY the JWKS still serves while signing fails).
pub struct RequestKeys<K> {
    /// The JWKS document.
    pub jwks: Result<Rc<str>, KeyError>,
    /// The key new tokens are issued under.
    pub signer: Result<Rc<K>, KeyError>,
}

impl<K> RequestKeys<K> {
    /// Both the JWKS and the signer are there.
    fn is_good(&self) -> bool {
        self.jwks.is_ok() && self.signer.is_ok()
    }
}

impl<K> Clone for RequestKeys<K> {
    fn clone(&self) -> RequestKeys<K> {
        RequestKeys { jwks: self.jwks.clone(), signer: self.signer.clone() }
    }
}

struct ManagedCopy<K> {
    /// When the set was read.
    loaded_ms: i64,
    /// From when a request re-reads the set: the copy's interval after a
    /// good read, sooner after a failed one, and pushed back by the grace
    /// while one request is re-reading, so the others keep the copy.
    next_read_ms: i64,
    /// The KEY_ENCRYPTION_KEY the copy was opened with: a copy made under
    /// another KEK is never reused.
    kek: Option<String>,
    keys: RequestKeys<K>,
}

/// What a managed-mode request does with the isolate's copy.
#[derive(Debug)]
pub enum Decision<K> {
    /// Use the copy as it is.
    Use(RequestKeys<K>),
    /// Re-read the set; the copy, if any, may stand in (its imported key
    /// reused while still current, the whole copy if the read fails).
    Refresh(Option<Previous<K>>),
}

/// The copy a re-read starts from.
#[derive(Debug)]
pub struct Previous<K> {
    /// What the copy holds.
    pub keys: RequestKeys<K>,
    /// When it was last read successfully.
    pub loaded_ms: i64,
}

impl<K> std::fmt::Debug for RequestKeys<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestKeys").field("jwks", &self.jwks.is_ok()).field("signer", &self.signer.is_ok()).finish()
    }
}

/// Everything an isolate keeps of the signing keys.
pub struct IsolateKeys<K> {
    byok: RefCell<Option<(String, RequestKeys<K>)>>,
    managed: RefCell<Option<ManagedCopy<K>>>,
}

impl<K> Default for IsolateKeys<K> {
    fn default() -> IsolateKeys<K> {
        IsolateKeys { byok: RefCell::new(None), managed: RefCell::new(None) }
    }
}

impl<K: IssuingKey> IsolateKeys<K> {
    /// Drop the managed copy: this isolate changed the key set.
    pub fn invalidate(&self) {
        *self.managed.borrow_mut() = None;
    }

    /// Bring-your-own keys from the `SIGNING_KEYS` text: parsed and imported
    /// once per text (a new secret deploys new isolates anyway).
    pub async fn byok<I: KeyImport<Key = K>>(&self, raw: Option<&str>, import: &I) -> RequestKeys<K> {
        let cached = self.byok.borrow().as_ref().filter(|(seen, _)| Some(seen.as_str()) == raw).map(|(_, k)| k.clone());
        match cached {
            Some(keys) => keys,
            // Once per isolate: its code apart from the path every request takes.
            None => apart(self.load_byok(raw, import)).await,
        }
    }

    /// `SIGNING_KEYS` parsed, its current key imported, and both kept.
    async fn load_byok<I: KeyImport<Key = K>>(&self, raw: Option<&str>, import: &I) -> RequestKeys<K> {
        let keys = match jwk::parse(raw) {
            Err(e) => RequestKeys { jwks: Err(e.clone().into()), signer: Err(e.into()) },
            Ok(set) => RequestKeys {
                signer: import.import(set.current()).await.map(Rc::new),
                jwks: Ok(Rc::from(set.jwks_json.as_str())),
            },
        };
        if let Some(raw) = raw {
            *self.byok.borrow_mut() = Some((raw.to_string(), keys.clone()));
        }
        keys
    }

    /// Whether a managed-mode request at `now_ms` uses the copy or re-reads
    /// the set. Deciding to re-read marks the copy as being refreshed, so
    /// the requests that follow within [`REFRESH_GRACE_MS`] keep using it.
    pub fn decide(&self, kek: Option<&str>, now_ms: i64) -> Decision<K> {
        match self.managed.borrow_mut().as_mut() {
            Some(copy) if copy.kek.as_deref() == kek => {
                if now_ms < copy.next_read_ms {
                    return Decision::Use(copy.keys.clone());
                }
                copy.next_read_ms = now_ms + REFRESH_GRACE_MS;
                Decision::Refresh(Some(Previous { keys: copy.keys.clone(), loaded_ms: copy.loaded_ms }))
            }
            _ => Decision::Refresh(None),
        }
    }

    /// Managed keys: the isolate's copy, or the set read (on first use,
    /// created), its current key unsealed and imported — unless the
    /// imported key is still the current one. When the read fails for a
    /// reason that passes (storage, a lost race), a good copy keeps serving
    /// for up to [`STALE_IF_ERROR_MS`] after it was read, and the read is
    /// retried after [`RETRY_AFTER_ERROR_MS`]; `log` says so.
    pub async fn managed<I, S, C>(
        &self,
        env: &KeyEnv<'_, S, C>,
        import: &I,
        now_ms: i64,
        log: &dyn Logger,
    ) -> RequestKeys<K>
    where
        I: KeyImport<Key = K>,
        S: KeyStore,
        C: KeyCrypto,
    {
        match self.decide(env.kek, now_ms) {
            Decision::Use(keys) => keys,
            // At most once per MANAGED_CACHE_MS: apart from the path every request takes.
            Decision::Refresh(previous) => apart(self.refresh(env, import, now_ms, log, previous)).await,
        }
    }

    /// The set read again (see [`IsolateKeys::managed`]), with the copy
    /// it replaces, if any.
    async fn refresh<I, S, C>(
        &self,
        env: &KeyEnv<'_, S, C>,
        import: &I,
        now_ms: i64,
        log: &dyn Logger,
        previous: Option<Previous<K>>,
    ) -> RequestKeys<K>
    where
        I: KeyImport<Key = K>,
        S: KeyStore,
        C: KeyCrypto,
    {
        let resolved = resolve(env).await;
        if let (Some(problem @ (KeyError::Storage(_) | KeyError::Contended)), Some(last)) =
            (&resolved.problem, &previous)
        {
            if last.keys.is_good() && now_ms - last.loaded_ms < STALE_IF_ERROR_MS {
                log.error(&format!(
                    "{problem}; serving the last good signing keys, read {} s ago, and retrying in {} s",
                    (now_ms - last.loaded_ms) / 1000,
                    RETRY_AFTER_ERROR_MS / 1000
                ));
                if let Some(copy) = self.managed.borrow_mut().as_mut() {
                    copy.next_read_ms = now_ms + RETRY_AFTER_ERROR_MS;
                }
                return last.keys.clone();
            }
        }
        let previous_signer = previous.and_then(|p| p.keys.signer.ok());
        let signer = match resolved.problem {
            Some(e) => Err(e),
            None => match previous_signer.filter(|s| Some(s.kid()) == resolved.current_kid()) {
                Some(signer) => Ok(signer),
                None => match open_current(&resolved.keys, env.crypto, env.kek).await {
                    Ok(key) => import.import(&key).await.map(Rc::new),
                    Err(e) => Err(e),
                },
            },
        };
        let keys = RequestKeys { jwks: resolved.jwks.map(|j| Rc::from(j.as_str())), signer };
        // A copy that holds an error is read again soon, not after the full interval.
        let interval = if keys.is_good() { MANAGED_CACHE_MS } else { RETRY_AFTER_ERROR_MS };
        *self.managed.borrow_mut() = Some(ManagedCopy {
            loaded_ms: now_ms,
            next_read_ms: now_ms + interval,
            kek: env.kek.map(str::to_string),
            keys: keys.clone(),
        });
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Named(&'static str);

    impl IssuingKey for Named {
        fn kid(&self) -> &str {
            self.0
        }
        fn header_b64(&self) -> &str {
            ""
        }
    }

    fn seeded(at_ms: i64) -> IsolateKeys<Named> {
        let keys = IsolateKeys::default();
        *keys.managed.borrow_mut() = Some(ManagedCopy {
            loaded_ms: at_ms,
            next_read_ms: at_ms + MANAGED_CACHE_MS,
            kek: Some("kek".into()),
            keys: RequestKeys { jwks: Ok(Rc::from("{}")), signer: Ok(Rc::new(Named("k1"))) },
        });
        keys
    }

    #[test]
    fn fresh_copy_is_used() {
        let keys = seeded(0);
        assert!(matches!(keys.decide(Some("kek"), MANAGED_CACHE_MS - 1), Decision::Use(_)));
    }

    #[test]
    fn one_request_refreshes_an_expired_copy_while_the_others_use_it() {
        let keys = seeded(0);
        let t = MANAGED_CACHE_MS;
        match keys.decide(Some("kek"), t) {
            Decision::Refresh(Some(previous)) => {
                assert_eq!(previous.keys.signer.unwrap().kid(), "k1", "the imported key is offered for reuse")
            }
            other => panic!("first after expiry must refresh: {other:?}"),
        }
        for later in [t, t + 1, t + REFRESH_GRACE_MS - 1] {
            assert!(matches!(keys.decide(Some("kek"), later), Decision::Use(_)), "at {later}: no stampede");
        }
        // A refresh that never finished: after the grace another one starts.
        assert!(matches!(keys.decide(Some("kek"), t + REFRESH_GRACE_MS), Decision::Refresh(_)));
    }

    #[test]
    fn a_copy_under_another_kek_is_never_reused() {
        let keys = seeded(0);
        assert!(matches!(keys.decide(Some("other"), 1), Decision::Refresh(None)));
        assert!(matches!(keys.decide(None, 1), Decision::Refresh(None)));
        keys.invalidate();
        assert!(matches!(keys.decide(Some("kek"), 1), Decision::Refresh(None)));
    }
}
