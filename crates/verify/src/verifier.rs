//! The verifier: one per API (per isolate, per process), holding the
//! issuer's keys between requests.

use std::sync::Mutex;

use crate::cache::{self, Decision, KeyCache, MAX_FLIGHT_SECS};
use crate::claims::{self, Binding, Expected, Requirements, VerifiedToken};
use crate::crypto::{self, Key};
use crate::discovery::{self, Metadata};
use crate::dpop::{self, ProofKeys, SeenProofs, Target};
use crate::fetch::{self, max_age, Fetcher, MAX_LIST_BYTES};
use crate::revocation::{HeldList, RevocationList, Step, DEFAULT_REVOCATIONS_WITHIN_SECS};
use crate::token::Scheme;
use crate::{jwks, token, Rejection};

/// Default clock leeway, seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;
/// The most leeway [`Verifier::leeway`] accepts, seconds.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Verifies access tokens of one issuer for one API. Keep one for the
/// lifetime of the process (or Worker isolate): it holds the issuer's keys.
pub struct Verifier<F: Fetcher> {
    issuer: String,
    /// Configured, or found by discovery on first use.
    jwks_uri: Mutex<Option<String>>,
    audiences: Vec<String>,
    leeway: i64,
    fetcher: F,
    cache: Mutex<KeyCache<Key>>,
    clock: fn() -> i64,
    /// Where the issuer's revocation list is: configured, or named by its
    /// metadata (an m2m-edge deployment's `revocation_list_uri`).
    revocation_uri: Mutex<Option<String>>,
    /// Whether revocations are checked at all.
    revocations_on: bool,
    /// Ask the issuer of each token, instead of holding the list.
    revocations_strict: bool,
    /// The longest a held list is trusted, seconds.
    revocations_within: i64,
    revocations: Mutex<HeldList>,
    /// DPoP proofs accepted, for their window.
    proofs: Mutex<SeenProofs>,
    /// The ES256 proof keys of bound tokens accepted, imported.
    proof_keys: Mutex<ProofKeys<Key>>,
}

/// The most [`Verifier::revocations_within`] accepts, seconds.
pub const MAX_REVOCATIONS_WITHIN_SECS: u64 = 3600;

/// Unix seconds from the system clock (`Date.now()` on wasm32).
pub fn system_clock() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    }
}

impl<F: Fetcher> Verifier<F> {
    /// For tokens of `issuer`; its `jwks_uri` is found by discovery on
    /// first use (RFC 8414 §3, then OpenID Connect Discovery 1.0 §4:
    /// [`discovery`]), and the document's `issuer` must match.
    pub fn new(issuer: impl Into<String>, fetcher: F) -> Verifier<F> {
        Verifier {
            issuer: issuer.into(),
            jwks_uri: Mutex::new(None),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY_SECS as i64,
            fetcher,
            cache: Mutex::new(KeyCache::default()),
            clock: system_clock,
            revocation_uri: Mutex::new(None),
            revocations_on: true,
            revocations_strict: false,
            revocations_within: DEFAULT_REVOCATIONS_WITHIN_SECS as i64,
            revocations: Mutex::new(HeldList::default()),
            proofs: Mutex::new(SeenProofs::default()),
            proof_keys: Mutex::new(ProofKeys::default()),
        }
    }

    /// For tokens of `issuer`, with keys from `jwks_uri` (no discovery).
    pub fn with_jwks_uri(issuer: impl Into<String>, jwks_uri: impl Into<String>, fetcher: F) -> Verifier<F> {
        let verifier = Verifier::new(issuer, fetcher);
        *lock(&verifier.jwks_uri) = Some(jwks_uri.into());
        verifier
    }

    /// Accept tokens for `audience` (this API's resource identifier). At
    /// least one is needed: without, every token is refused.
    pub fn audience(mut self, audience: impl Into<String>) -> Verifier<F> {
        self.audiences.push(audience.into());
        self
    }

    /// Tolerate this much clock difference in `exp`, `nbf` and `iat`
    /// (default 30 s; capped at 300 s).
    pub fn leeway(mut self, seconds: u64) -> Verifier<F> {
        self.leeway = seconds.min(MAX_LEEWAY_SECS) as i64;
        self
    }

    /// Learn revocations from the list at `uri` (an m2m-edge deployment's
    /// `revocation_list_uri`, `<issuer>/oauth2/revocations`). A verifier
    /// made by [`Verifier::new`] finds it by discovery; one with a
    /// configured `jwks_uri` needs this.
    pub fn revocations(self, uri: impl Into<String>) -> Verifier<F> {
        *lock(&self.revocation_uri) = Some(uri.into());
        self
    }

    /// Trust a held revocation list for at most this long (default 60 s,
    /// 1 s to an hour): a token revoked at the issuer is refused here within
    /// this bound. Past it, the list is fetched again before a token is
    /// accepted, and while it cannot be had tokens are refused with 503
    /// ([`Rejection::RevocationsUnavailable`]).
    pub fn revocations_within(mut self, seconds: u64) -> Verifier<F> {
        self.revocations_within = seconds.clamp(1, MAX_REVOCATIONS_WITHIN_SECS) as i64;
        self
    }

    /// Ask the issuer about each token before accepting it (the list for
    /// that one token: `<revocation list>?jti=…&client_id=…&project_id=…`),
    /// instead of holding the list: a revocation is seen at once, for one
    /// call per verification (over a service binding in a Worker, a call
    /// that stays in Cloudflare's network). When the issuer cannot answer,
    /// the token is refused with 503.
    pub fn revocations_strict(mut self) -> Verifier<F> {
        self.revocations_strict = true;
        self
    }

    /// Check no revocations, even if the issuer publishes them: a revoked
    /// token is then accepted until it expires.
    pub fn without_revocations(mut self) -> Verifier<F> {
        self.revocations_on = false;
        self
    }

    /// Read the time from `clock` (Unix seconds) instead of the system: for tests.
    pub fn clock(mut self, clock: fn() -> i64) -> Verifier<F> {
        self.clock = clock;
        self
    }

    /// The issuer this verifier accepts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verify the token of an `Authorization` header value (`Bearer …`) or
    /// a bare token, and check `required` of it. A DPoP-bound token is
    /// refused here ([`Rejection::Bound`]): an API that takes them calls
    /// [`Verifier::verify_dpop`].
    pub async fn verify(&self, authorization: &str, required: &Requirements) -> Result<VerifiedToken, Rejection> {
        self.checked(token::bearer(authorization)?, Binding::Bearer, required).await
    }

    /// Verify a request's token as RFC 9449 §7.1 has it presented: given
    /// its `Authorization` value, its `DPoP` header (if any), its method and
    /// its URL. `DPoP <token>` needs a proof for this very request (method,
    /// URL, `ath`) by the key the token is bound to, not used before
    /// ([`dpop::SeenProofs`]); `Bearer <token>` is [`Verifier::verify`]'s,
    /// unless `required` asks for DPoP-bound tokens only. A refusal of the
    /// proof or of the binding is answered with the `DPoP` challenge.
    pub async fn verify_dpop(
        &self,
        authorization: &str,
        proof: Option<&str>,
        method: &str,
        url: &str,
        required: &Requirements,
    ) -> Result<VerifiedToken, Rejection> {
        let presented = match token::credentials(authorization)? {
            (Scheme::Bearer, presented) => return self.checked(presented, Binding::Bearer, required).await,
            (Scheme::Dpop, presented) => presented,
        };
        let proof = proof.ok_or(Rejection::Proof("the request has no DPoP header"))?;
        let now = (self.clock)();
        let proof = dpop::parse(proof, &Target { method, url }, now, self.leeway, Some(presented))?;
        let (signed, imported) = self.proof_signed(&proof).await;
        if !signed {
            return Err(Rejection::Proof("bad signature"));
        }
        let verified = self.checked(presented, Binding::Proven(&proof.jkt), required).await?;
        // Last, so that only a proof that passed everything is used up.
        lock(&self.proofs).first_use(&proof, self.leeway, (self.clock)())?;
        if let Some(key) = imported {
            lock(&self.proof_keys).remember(&proof.jkt, key);
        }
        Ok(verified)
    }

    /// Whether `proof` is signed by the key in its header: an ES256 key
    /// with the import held from an earlier accepted proof, if any, else
    /// imported now — and then handed back, for [`ProofKeys`] to hold once
    /// the request is accepted; an RS256 key checked as it comes.
    async fn proof_signed(&self, proof: &dpop::Proof<'_>) -> (bool, Option<Key>) {
        let public = match &proof.key {
            jwks::VerificationKey::Es256(public) => public,
            jwks::VerificationKey::Rs256(key) => {
                return (crypto::verify_rs256_once(key, proof.jws.signing_input, &proof.jws.signature).await, None)
            }
        };
        let Ok(signature) = <[u8; 64]>::try_from(proof.jws.signature.as_slice()) else {
            return (false, None);
        };
        if !crate::in_range(&signature) {
            return (false, None);
        }
        let held = lock(&self.proof_keys).get(&proof.jkt);
        let (key, imported) = match held {
            Some(key) => (key, false),
            None => match crypto::import(public).await {
                Some(key) => (key, true),
                None => return (false, None),
            },
        };
        let signed = crypto::verify(&key, proof.jws.signing_input, &signature).await;
        (signed, (signed && imported).then_some(key))
    }

    /// The token's signature and claims, `required`, its binding as
    /// presented, and the revocation list.
    async fn checked(
        &self,
        presented: &str,
        binding: Binding<'_>,
        required: &Requirements,
    ) -> Result<VerifiedToken, Rejection> {
        let unverified = token::parse(presented)?;
        if !crate::in_range(&unverified.signature) {
            return Err(Rejection::Signature);
        }
        let key = self.key(&unverified.kid).await?;
        if !crypto::verify(&key, unverified.signing_input, &unverified.signature).await {
            return Err(Rejection::Signature);
        }
        let claims = token::object(&unverified.payload, "payload")?;
        let expected = Expected {
            issuer: &self.issuer,
            audiences: &self.audiences,
            leeway: self.leeway,
            now: (self.clock)(),
            binding,
        };
        let verified = claims::check(claims, &expected, required)?;
        self.not_revoked(&verified).await?;
        Ok(verified)
    }

    /// Refuse `token` if the issuer's revocation list names it, with a list
    /// no older than the bound; nothing to check if the issuer publishes
    /// none (or checks are off).
    async fn not_revoked(&self, token: &VerifiedToken) -> Result<(), Rejection> {
        if !self.revocations_on || lock(&self.revocation_uri).is_none() {
            return Ok(());
        }
        // The URI is copied out only to fetch: a verification against the
        // held list allocates nothing for it. Once set it stays set.
        let uri = || lock(&self.revocation_uri).clone().unwrap_or_default();
        if self.revocations_strict {
            return match self.list_for(&uri(), token).await {
                Some(list) if list.refuses(token) => Err(Rejection::Revoked),
                Some(_) => Ok(()),
                None => Err(Rejection::RevocationsUnavailable),
            };
        }
        for _ in 0..3 {
            let step = lock(&self.revocations).step((self.clock)(), self.revocations_within);
            match step {
                Step::Use(list) if list.refuses(token) => return Err(Rejection::Revoked),
                Step::Use(_) => return Ok(()),
                Step::Unavailable => return Err(Rejection::RevocationsUnavailable),
                Step::Wait(waiter) => waiter.wait(MAX_FLIGHT_SECS as u32 * 1000).await,
                Step::Fetch(gate, flight) => {
                    let outcome = match fetch::document_within(&self.fetcher, &uri(), MAX_LIST_BYTES).await {
                        Ok(fetched) => RevocationList::parse(&fetched.body, &self.issuer).ok(),
                        Err(_) => None,
                    };
                    lock(&self.revocations).landed(flight, outcome, (self.clock)());
                    drop(gate);
                }
            }
        }
        Err(Rejection::RevocationsUnavailable)
    }

    /// The key for `kid`, fetching the set when the cache policy says so:
    /// one fetch at a time, which concurrent misses wait for, natively and
    /// in a Worker alike ([`crate::flight`]).
    async fn key(&self, kid: &str) -> Result<Key, Rejection> {
        match cache::resolve(&self.cache, kid, self.clock, || self.refetch()).await {
            Decision::Use(key) => Ok(key),
            Decision::Unknown => Err(Rejection::UnknownKey),
            Decision::Refetch | Decision::Unavailable => Err(Rejection::KeysUnavailable),
        }
    }

    async fn refetch(&self) {
        let outcome = self.fetch_keys().await;
        let now = (self.clock)();
        let mut cache = lock(&self.cache);
        match outcome {
            Some((keys, max_age)) => cache.fetched(keys, max_age, now),
            None => cache.failed(now),
        }
    }

    /// The issuer's keys, each imported (or reused if already imported), and
    /// the set's `max-age`; `None` if they cannot be had.
    async fn fetch_keys(&self) -> Option<(Vec<(jwks::PublicKey, Key)>, Option<u64>)> {
        let known = lock(&self.jwks_uri).clone();
        let uri = match known {
            Some(uri) => uri,
            None => {
                let uri = self.discover().await?;
                *lock(&self.jwks_uri) = Some(uri.clone());
                uri
            }
        };
        let fetched = fetch::document(&self.fetcher, &uri).await.ok()?;
        let published = jwks::parse(&fetched.body).ok()?;
        let mut keys = Vec::with_capacity(published.len());
        for public in published {
            let held = lock(&self.cache).imported(&public);
            let key = match held {
                Some(key) => key,
                None => match crypto::import(&public).await {
                    Some(key) => key,
                    None => continue,
                },
            };
            keys.push((public, key));
        }
        Some((keys, fetched.cache_control.as_deref().and_then(max_age)))
    }

    /// The issuer's list for `token` alone (strict mode), if it answers.
    async fn list_for(&self, uri: &str, token: &VerifiedToken) -> Option<RevocationList> {
        let mut url = format!("{uri}?jti={}&client_id={}", encode(&token.jti), encode(&token.client_id));
        if let Some(project) = token.claims.get("project_id").and_then(serde_json::Value::as_str) {
            url.push_str(&format!("&project_id={}", encode(project)));
        }
        let fetched = fetch::document_within(&self.fetcher, &url, MAX_LIST_BYTES).await.ok()?;
        RevocationList::parse(&fetched.body, &self.issuer).ok()
    }

    /// `jwks_uri` from the issuer's metadata: RFC 8414 §3 first (an
    /// m2m-edge deployment is an OAuth authorization server), then OpenID
    /// Connect Discovery 1.0 §4; its `issuer` must be ours. The revocation
    /// list it names is taken too, unless one was configured.
    async fn discover(&self) -> Option<String> {
        let located = discovery::locate(&self.fetcher, &self.issuer, Metadata::OAuth).await.ok()?;
        let mut configured = lock(&self.revocation_uri);
        if configured.is_none() {
            *configured = located.revocation_list_uri;
        }
        Some(located.jwks_uri)
    }
}

/// The value behind a std mutex, even if a panic poisoned it (the cache is
/// valid between any two statements).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `value` for a URL query: unreserved characters (RFC 3986 §2.3) as they
/// are, every other byte percent-encoded.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
