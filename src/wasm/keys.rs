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
/// it again: bounds how late a rotation made elsewhere (another isolate, the
/// cron) is noticed here. Changes made by this isolate drop the copy at once.
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
    kek: Option<String>,
    keys: RequestKeys,
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
    let previous = MANAGED.with(|m| m.borrow_mut().take());
    if let Some(cache) = &previous {
        if now_ms - cache.loaded_ms < MANAGED_CACHE_MS && cache.kek == kek {
            let keys = cache.keys.clone();
            MANAGED.with(|m| *m.borrow_mut() = previous);
            return keys;
        }
    }
    let env = KeyEnv::new(store, &WebCryptoKeys, config, now);
    let resolved = resolve(&env).await;
    let signer = match resolved.problem {
        Some(e) => Err(e),
        None => {
            // Keep the imported key while it is still the current one and the
            // KEK is unchanged; otherwise unseal and import the new current key.
            let reusable = previous
                .as_ref()
                .filter(|c| c.kek == kek)
                .and_then(|c| c.keys.signer.as_ref().ok())
                .filter(|s| Some(s.kid()) == resolved.current_kid())
                .cloned();
            match reusable {
                Some(signer) => Ok(signer),
                None => match open_current(&resolved.keys, &WebCryptoKeys, kek.as_deref()).await {
                    Ok(key) => WebCryptoSigner::import(&key).await.map(Rc::new),
                    Err(e) => Err(e),
                },
            }
        }
    };
    let keys = RequestKeys { jwks: resolved.jwks.map(|j| Rc::from(j.as_str())), signer };
    MANAGED.with(|m| *m.borrow_mut() = Some(ManagedCache { loaded_ms: now_ms, kek, keys: keys.clone() }));
    keys
}
