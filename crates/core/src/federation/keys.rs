//! Trusted issuers' keys, fetched from their JWKS and held per isolate
//! under the verifier crate's cache policy (`m2m_edge_verify::cache`):
//! `max-age` bounded to 1 min – 1 h, an unknown `kid` refetched at most
//! every 30 s (so forged `kid`s cannot make this server hammer an issuer),
//! the last good set used for an hour past its freshness while the issuer
//! is unreachable, a failed fetch retried after 10 s, and one fetch per
//! issuer in flight at a time, which the isolate's other requests for that
//! issuer wait for (`m2m_edge_verify::flight`: at a JS promise in the
//! Worker). Every fetch is bounded (`m2m_edge_verify::fetch`): 5 s, no
//! redirect, 64 KiB, 32 keys.

use std::cell::RefCell;
use std::collections::HashMap;

use m2m_edge_verify::cache::{self, Decision, Holder, KeyCache};
use m2m_edge_verify::discovery::{self, Metadata};
use m2m_edge_verify::jwks::{self, VerificationKey};
use m2m_edge_verify::token::Algorithm;
use m2m_edge_verify::{document, max_age, Fetcher, Rejection};
use serde_json::Value;

use super::issuer::TrustedIssuer;
use crate::ports::Clock;
use crate::refusal::Refusal;
use crate::validate::https_url;

/// Every trusted issuer's keys in this isolate.
#[derive(Default)]
pub struct FederationKeys {
    caches: RefCell<HashMap<String, KeyCache<(), VerificationKey>>>,
}

/// Which cache an issuer's keys are in: its URL, where its keys are and
/// its algorithm, so that changing either starts afresh.
fn cache_key(issuer: &TrustedIssuer) -> String {
    format!("{} {} {}", issuer.issuer, issuer.jwks_uri.as_deref().unwrap_or("(discovery)"), issuer.algorithm.as_str())
}

/// One issuer's cache in the isolate's map.
struct Held<'a> {
    keys: &'a FederationKeys,
    name: &'a str,
}

impl Holder<(), VerificationKey> for Held<'_> {
    fn with<R>(&self, f: impl FnOnce(&mut KeyCache<(), VerificationKey>) -> R) -> R {
        let mut caches = self.keys.caches.borrow_mut();
        // Found by reference: the name is copied only into a new entry.
        if let Some(cache) = caches.get_mut(self.name) {
            return f(cache);
        }
        f(caches.entry(self.name.to_string()).or_default())
    }
}

impl FederationKeys {
    /// The key `kid` of `issuer`, fetching its set when the policy says;
    /// refused as [`Rejection::UnknownKey`] when the token names no `kid`
    /// or one the issuer does not publish, [`Refusal::KeysUnavailable`]
    /// when the keys cannot be fetched and no recent copy is held.
    /// `clock` is read afresh at each step: a request that waited for
    /// another's fetch judges that fetch by the time it ended, not by when
    /// this request began.
    pub async fn key<F: Fetcher>(
        &self,
        issuer: &TrustedIssuer,
        kid: Option<&str>,
        fetcher: &F,
        clock: &dyn Clock,
    ) -> Result<VerificationKey, Refusal> {
        let kid = kid.ok_or(Rejection::UnknownKey)?;
        let name = cache_key(issuer);
        let held = Held { keys: self, name: &name };
        // Why this request's own fetch failed, for the log.
        let failure = RefCell::new(None);
        let refetch = || async {
            let fetched = fetch(issuer, fetcher).await;
            held.with(|cache| match fetched {
                Ok((keys, max_age)) => cache.fetched(keys.into_iter().map(|k| (k, ())).collect(), max_age, clock.now()),
                Err(why) => {
                    cache.failed(clock.now());
                    *failure.borrow_mut() = Some(why);
                }
            });
        };
        match cache::resolve(&held, kid, || clock.now(), refetch).await {
            Decision::Use(()) => held.with(|cache| cache_lookup(cache, kid)),
            Decision::Unknown => Err(Rejection::UnknownKey.into()),
            Decision::Refetch | Decision::Unavailable => Err(Refusal::KeysUnavailable(
                failure.take().unwrap_or_else(|| "the last fetch of its keys failed; retrying shortly".into()),
            )),
        }
    }
}

/// The held key for `kid` (the cache holds `()` per key: the public key is
/// what is needed, and it is imported per use).
fn cache_lookup(cache: &KeyCache<(), VerificationKey>, kid: &str) -> Result<VerificationKey, Refusal> {
    cache.held().find(|k| k.kid() == kid).cloned().ok_or(Rejection::UnknownKey.into())
}

/// The issuer's keys of its algorithm, and the JWKS `max-age`: from
/// `jwks_uri`, or from the one its metadata names (OpenID Connect
/// Discovery 1.0 §4 first, as platforms are OpenID providers, then RFC 8414
/// §3: [`discovery`]; the metadata's `issuer` must be it).
async fn fetch<F: Fetcher>(issuer: &TrustedIssuer, fetcher: &F) -> Result<(Vec<VerificationKey>, Option<u64>), String> {
    let jwks_uri = match &issuer.jwks_uri {
        Some(uri) => uri.clone(),
        None => {
            let uri = discovery::jwks_uri(fetcher, &issuer.issuer, Metadata::OpenId).await.map_err(|e| e.0)?;
            https_url("jwks_uri", &Value::String(uri)).map_err(|_| "its metadata has no usable jwks_uri".to_string())?
        }
    };
    let fetched = document(fetcher, &jwks_uri).await.map_err(|e| e.0)?;
    let keys: Vec<VerificationKey> = match issuer.algorithm {
        Algorithm::Es256 => jwks::parse(&fetched.body).map(|k| k.into_iter().map(VerificationKey::Es256).collect()),
        Algorithm::Rs256 => jwks::parse_rsa(&fetched.body).map(|k| k.into_iter().map(VerificationKey::Rs256).collect()),
    }
    .map_err(|e| format!("{jwks_uri} {e}"))?;
    Ok((keys, fetched.cache_control.as_deref().and_then(max_age)))
}
