//! Signing keys per isolate, for both key modes. The decisions (what is
//! current, when to create or rotate) are in `crate::keys`; this module only
//! caches: the parsed key set, the JWKS text, and the imported WebCrypto
//! `CryptoKey`, so the hot path does no parsing, decryption or import.

use std::cell::RefCell;
use std::rc::Rc;

use super::webcrypto::{WebCryptoKeys, WebCryptoSigner};
use super::AnyStore;
use crate::config::{Config, KeyMode};
use crate::jose::{jwk, KeyError, Signer};
use crate::keys::manager::{open_current, resolve, KeyEnv};

/// How long an isolate trusts its copy of the managed key set before reading
/// it again: with the time that one read takes, bounds how late a rotation
/// made elsewhere (another isolate, the cron) is noticed here. Changes made
/// by this isolate drop the copy at once.
const MANAGED_CACHE_MS: f64 = 10_000.0;

pub struct RequestKeys {
    pub jwks: Result<Rc<str>, KeyError>,
    pub signer: Result<Rc<WebCryptoSigner>, KeyError>,
}

impl Clone for RequestKeys {
    fn clone(&self) -> RequestKeys {
        RequestKeys { jwks: self.jwks.clone(), signer: self.signer.clone() }
    }
}

struct ManagedCache {
    loaded_ms: f64,
    /// When a request of this isolate began re-reading the set; until it
    /// is done (or [`REFRESH_GRACE_MS`] has passed, in case it never
    /// finishes) the others keep using this copy.
    refreshing_since: Option<f64>,
    kek: Option<String>,
    keys: RequestKeys,
}

/// How long a re-read of the key set may take before another request
/// starts its own.
const REFRESH_GRACE_MS: f64 = 5_000.0;

/// What a managed-mode request does with the isolate's copy of the keys.
enum Cached {
    Use(RequestKeys),
    /// Re-read the set; the signer may be reused if its key is still current.
    Refresh(Option<Rc<WebCryptoSigner>>),
}

thread_local! {
    /// BYOK: the SIGNING_KEYS text last seen and what it gave.
    static BYOK: RefCell<Option<(String, RequestKeys)>> = const { RefCell::new(None) };
    /// Managed: the last resolved key set and its signer.
    static MANAGED: RefCell<Option<ManagedCache>> = const { RefCell::new(None) };
}

/// Drop the managed-key copy (after this isolate changed the key set).
pub fn invalidate() {
    MANAGED.with(|m| *m.borrow_mut() = None);
}

pub async fn for_request(config: &Config, signing_keys: Option<&str>, store: &AnyStore, now: i64) -> RequestKeys {
    match config.key_mode {
        KeyMode::Byok => byok(signing_keys).await,
        KeyMode::Managed => managed(config, store, now).await,
    }
}

async fn byok(raw: Option<&str>) -> RequestKeys {
    let cached =
        BYOK.with(|b| b.borrow().as_ref().filter(|(seen, _)| Some(seen.as_str()) == raw).map(|(_, k)| k.clone()));
    if let Some(keys) = cached {
        return keys;
    }
    let keys = match jwk::parse(raw) {
        Err(e) => RequestKeys { jwks: Err(e.clone()), signer: Err(e) },
        Ok(set) => RequestKeys {
            signer: WebCryptoSigner::import(set.current()).await.map(Rc::new),
            jwks: Ok(Rc::from(set.jwks_json.as_str())),
        },
    };
    if let Some(raw) = raw {
        BYOK.with(|b| *b.borrow_mut() = Some((raw.to_string(), keys.clone())));
    }
    keys
}

async fn managed(config: &Config, store: &AnyStore, now: i64) -> RequestKeys {
    let now_ms = js_sys::Date::now();
    let kek = config.key_encryption_key.clone();
    // One request re-reads an expired copy; the requests that arrive
    // meanwhile keep using it rather than each reading, unsealing and
    // importing the same keys again.
    let cached = MANAGED.with(|m| match m.borrow_mut().as_mut() {
        Some(cache) if cache.kek == kek => {
            let fresh = now_ms - cache.loaded_ms < MANAGED_CACHE_MS;
            let being_refreshed = cache.refreshing_since.is_some_and(|t| now_ms - t < REFRESH_GRACE_MS);
            if fresh || being_refreshed {
                return Cached::Use(cache.keys.clone());
            }
            cache.refreshing_since = Some(now_ms);
            Cached::Refresh(cache.keys.signer.as_ref().ok().cloned())
        }
        _ => Cached::Refresh(None),
    });
    let previous_signer = match cached {
        Cached::Use(keys) => return keys,
        Cached::Refresh(signer) => signer,
    };
    let env = KeyEnv::new(store, &WebCryptoKeys, config, now);
    let resolved = resolve(&env).await;
    let signer = match resolved.problem {
        Some(e) => Err(e),
        // Keep the imported key while it is still the current one (the KEK
        // is unchanged: a copy under another KEK is never reused);
        // otherwise unseal and import the new current key.
        None => match previous_signer.filter(|s| Some(s.kid()) == resolved.current_kid()) {
            Some(signer) => Ok(signer),
            None => match open_current(&resolved.keys, &WebCryptoKeys, kek.as_deref()).await {
                Ok(key) => WebCryptoSigner::import(&key).await.map(Rc::new),
                Err(e) => Err(e),
            },
        },
    };
    let keys = RequestKeys { jwks: resolved.jwks.map(|j| Rc::from(j.as_str())), signer };
    MANAGED.with(|m| {
        *m.borrow_mut() = Some(ManagedCache { loaded_ms: now_ms, refreshing_since: None, kek, keys: keys.clone() })
    });
    keys
}
