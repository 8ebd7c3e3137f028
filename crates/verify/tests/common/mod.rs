//! A test issuer: ES256 keys, a JWKS served from memory through a
//! [`Fetcher`] that counts and can fail, tokens signed on demand.
#![allow(dead_code)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

use m2m_edge_verify::{FetchError, Fetched, Fetcher, Verifier};

pub const ISSUER: &str = "https://auth.example.com";
pub const JWKS_URI: &str = "https://auth.example.com/.well-known/jwks.json";
pub const AUDIENCE: &str = "https://orders.example.com";
pub const REVOCATIONS_URI: &str = "https://auth.example.com/oauth2/revocations";
pub const NOW: i64 = 1_800_000_000;

thread_local! {
    static CLOCK: Cell<i64> = const { Cell::new(NOW) };
}

/// The test clock (per test thread).
pub fn clock() -> i64 {
    CLOCK.with(Cell::get)
}

/// Move the test clock to `t`.
pub fn set_time(t: i64) {
    CLOCK.with(|c| c.set(t));
}

/// A signing key with its `kid`.
pub struct Key {
    pub kid: String,
    pub signing: SigningKey,
}

impl Key {
    pub fn new(kid: &str, seed: u8) -> Key {
        let mut bytes = [seed; 32];
        bytes[0] = 1;
        Key { kid: kid.into(), signing: SigningKey::from_slice(&bytes).unwrap() }
    }

    pub fn jwk(&self) -> Value {
        let point = self.signing.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    /// `header.payload.signature`, signed by this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&b64(header.to_string().as_bytes()), &b64(claims.to_string().as_bytes()))
    }

    pub fn sign_raw(&self, header_b64: &str, payload_b64: &str) -> String {
        let input = format!("{header_b64}.{payload_b64}");
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }

    /// The usual header for this key.
    pub fn header(&self) -> Value {
        json!({"alg": "ES256", "typ": "at+jwt", "kid": self.kid})
    }

    /// A valid token with these claims over [`claims`].
    pub fn token(&self, changes: Value) -> String {
        self.sign(&self.header(), &claims(changes))
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// m2m-edge's claims for a client, at the test clock, with `changes`
/// merged (a `null` removes the claim).
pub fn claims(changes: Value) -> Value {
    let now = clock();
    let mut claims = json!({
        "iss": ISSUER, "sub": "m2m_client", "aud": AUDIENCE, "exp": now + 600, "iat": now, "nbf": now,
        "jti": "jti-1", "client_id": "m2m_client", "scope": "orders:read orders:write",
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// The issuer as its fetcher sees it. Clones share state.
#[derive(Clone, Default)]
pub struct Issuer(Arc<IssuerState>);

#[derive(Default)]
pub struct IssuerState {
    pub jwks: Mutex<Value>,
    pub metadata: Mutex<Option<Value>>,
    /// Where `metadata` is served: RFC 8414's URL for [`ISSUER`] unless set.
    pub metadata_at: Mutex<Option<String>>,
    pub fetched: Mutex<Vec<String>>,
    pub count: AtomicU32,
    pub failing: AtomicBool,
    pub max_age: Mutex<Option<u64>>,
    /// Make each fetch yield once before answering, so concurrent callers overlap.
    pub yielding: AtomicBool,
    /// Answer the JWKS URI with this status and body instead of the set.
    pub jwks_answer: Mutex<Option<(u16, Vec<u8>)>>,
    /// The revocation list served at [`REVOCATIONS_URI`], if any.
    pub revocations: Mutex<Option<Value>>,
}

impl Issuer {
    pub fn publishing(keys: &[&Key]) -> Issuer {
        let issuer = Issuer::default();
        issuer.publish(keys);
        *issuer.0.max_age.lock().unwrap() = Some(300);
        issuer
    }

    pub fn publish(&self, keys: &[&Key]) {
        *self.0.jwks.lock().unwrap() = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    pub fn fetches(&self) -> u32 {
        self.0.count.load(Ordering::SeqCst)
    }

    pub fn urls(&self) -> Vec<String> {
        self.0.fetched.lock().unwrap().clone()
    }

    pub fn set_failing(&self, failing: bool) {
        self.0.failing.store(failing, Ordering::SeqCst);
    }

    pub fn state(&self) -> &IssuerState {
        &self.0
    }

    /// A verifier for [`AUDIENCE`] with keys from [`JWKS_URI`] on the test clock.
    pub fn verifier(&self) -> Verifier<Issuer> {
        Verifier::with_jwks_uri(ISSUER, JWKS_URI, self.clone()).audience(AUDIENCE).clock(clock)
    }
}

struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Fetcher for Issuer {
    async fn get(&self, url: &str, _limit: usize) -> Result<Fetched, FetchError> {
        if self.0.yielding.load(Ordering::SeqCst) {
            YieldOnce(false).await;
        }
        self.0.count.fetch_add(1, Ordering::SeqCst);
        self.0.fetched.lock().unwrap().push(url.to_string());
        if self.0.failing.load(Ordering::SeqCst) {
            return Err(FetchError("connection refused (test)".into()));
        }
        let cache_control = self.0.max_age.lock().unwrap().map(|s| format!("public, max-age={s}"));
        if let (true, Some((status, body))) = (url == JWKS_URI, self.0.jwks_answer.lock().unwrap().clone()) {
            return Ok(Fetched { status, cache_control, body });
        }
        if url == JWKS_URI {
            let body = self.0.jwks.lock().unwrap().to_string().into_bytes();
            return Ok(Fetched { status: 200, cache_control, body });
        }
        let list_url = url.split('?').next() == Some(REVOCATIONS_URI);
        if let (true, Some(list)) = (list_url, self.0.revocations.lock().unwrap().clone()) {
            return Ok(Fetched { status: 200, cache_control: None, body: list.to_string().into_bytes() });
        }
        let metadata_at = self.0.metadata_at.lock().unwrap().clone();
        let metadata_at = metadata_at.unwrap_or_else(|| format!("{ISSUER}/.well-known/oauth-authorization-server"));
        match &*self.0.metadata.lock().unwrap() {
            Some(m) if url == metadata_at => {
                Ok(Fetched { status: 200, cache_control: None, body: m.to_string().into_bytes() })
            }
            _ => Ok(Fetched { status: 404, cache_control: None, body: Vec::new() }),
        }
    }
}
