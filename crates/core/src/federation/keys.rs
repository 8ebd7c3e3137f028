//! Trusted issuers' keys, fetched from their JWKS and held per isolate
//! under the verifier crate's cache policy (`m2m_edge_verify::cache`):
//! `max-age` bounded to 1 min – 1 h, an unknown `kid` refetched at most
//! every 30 s (so forged `kid`s cannot make this server hammer an issuer),
//! and the last good set used for an hour past its freshness while the
//! issuer is unreachable. A request never waits on another request's fetch
//! (workerd cancels a request blocked on another's I/O).

use std::cell::RefCell;
use std::collections::HashMap;

use m2m_edge_verify::cache::{Decision, KeyCache};
use m2m_edge_verify::discovery::{self, Metadata};
use m2m_edge_verify::jwks::{self, VerificationKey};
use m2m_edge_verify::token::Algorithm;
use m2m_edge_verify::{max_age, Fetcher};
use serde_json::Value;

use super::issuer::TrustedIssuer;
use crate::validate::https_url;

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// The token names no `kid`, or one the issuer does not publish.
    Unknown,
    /// The issuer's keys cannot be fetched, and no recent copy is held.
    Unavailable(String),
}

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

/// Decrements the in-flight count when a fetch ends, however it ends.
struct InFlight<'a>(&'a FederationKeys, &'a str);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(cache) = self.0.caches.borrow_mut().get_mut(self.1) {
            cache.in_flight = cache.in_flight.saturating_sub(1);
        }
    }
}

impl FederationKeys {
    /// The key `kid` of `issuer`, fetching its set when the policy says.
    pub async fn key<F: Fetcher>(
        &self,
        issuer: &TrustedIssuer,
        kid: Option<&str>,
        fetcher: &F,
        now: i64,
    ) -> Result<VerificationKey, KeyProblem> {
        let kid = kid.ok_or(KeyProblem::Unknown)?;
        let name = cache_key(issuer);
        let decision = {
            let mut caches = self.caches.borrow_mut();
            let cache = caches.entry(name.clone()).or_default();
            match cache.decide(kid, now) {
                Decision::Refetch => match cache.while_fetching(kid, now) {
                    Some(meanwhile) => meanwhile,
                    None => {
                        cache.in_flight += 1;
                        Decision::Refetch
                    }
                },
                other => other,
            }
        };
        if let Decision::Refetch = decision {
            let _guard = InFlight(self, &name);
            let fetched = fetch(issuer, fetcher).await;
            let mut caches = self.caches.borrow_mut();
            let cache = caches.entry(name.clone()).or_default();
            let problem = match fetched {
                Ok((keys, max_age)) => {
                    cache.fetched(keys.into_iter().map(|k| (k, ())).collect(), max_age, now);
                    None
                }
                Err(why) => {
                    cache.failed(now);
                    Some(why)
                }
            };
            return match (cache.decide(kid, now), problem) {
                (Decision::Use(()), _) => cache_lookup(cache, kid),
                (Decision::Unknown, _) => Err(KeyProblem::Unknown),
                (_, Some(why)) => Err(KeyProblem::Unavailable(why)),
                (_, None) => Err(KeyProblem::Unknown),
            };
        }
        match decision {
            Decision::Use(()) => {
                let caches = self.caches.borrow();
                caches.get(&name).map_or(Err(KeyProblem::Unknown), |cache| cache_lookup(cache, kid))
            }
            Decision::Unknown => Err(KeyProblem::Unknown),
            _ => Err(KeyProblem::Unavailable("the last fetch of its keys failed; retrying shortly".into())),
        }
    }
}

/// The held key for `kid` (the cache holds `()` per key: the public key is
/// what is needed, and it is imported per use).
fn cache_lookup(cache: &KeyCache<(), VerificationKey>, kid: &str) -> Result<VerificationKey, KeyProblem> {
    cache.held().find(|k| k.kid() == kid).cloned().ok_or(KeyProblem::Unknown)
}

async fn get_json<F: Fetcher>(fetcher: &F, url: &str) -> Result<(Vec<u8>, Option<u64>), String> {
    let fetched = fetcher.get(url).await.map_err(|e| format!("{url}: {e}"))?;
    if fetched.status != 200 {
        return Err(format!("{url} answered {}", fetched.status));
    }
    Ok((fetched.body, fetched.cache_control.as_deref().and_then(max_age)))
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
    let (body, max_age) = get_json(fetcher, &jwks_uri).await?;
    let keys: Vec<VerificationKey> = match issuer.algorithm {
        Algorithm::Es256 => jwks::parse(&body).map(|k| k.into_iter().map(VerificationKey::Es256).collect()),
        Algorithm::Rs256 => jwks::parse_rsa(&body).map(|k| k.into_iter().map(VerificationKey::Rs256).collect()),
    }
    .map_err(|_| format!("{jwks_uri} is not a JWK set"))?;
    Ok((keys, max_age))
}
