//! The host-test world: the app with the in-memory store, a fixed clock
//! and the p256 signer, keys cached per "isolate" by the same
//! [`IsolateKeys`] the Worker uses; tokens checked with jwt-compact against
//! the served JWKS.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jwt_compact::alg::Es256;
use jwt_compact::{AlgorithmExt, UntrustedToken};
use p256::ecdsa::VerifyingKey;
use serde_json::{json, Value};
use std::rc::Rc;

use m2m_edge_core::app::{self, Ports, Runtime};
use m2m_edge_core::config::Config;
use m2m_edge_core::federation::keys::FederationKeys;
use m2m_edge_core::http::{Method, Request, Response};
use m2m_edge_core::keys::isolate::{IsolateKeys, RequestKeys};
use m2m_edge_core::limits::{Limits, Lockouts};
use m2m_edge_core::ports::{Clock, OsRandom};
use m2m_edge_core::store::cache::{CachedStore, IsolateCache};

use crate::crypto::{HostCrypto, P256Import, P256Signer};
use crate::doubles::{FixedClock, MapFetcher, MemoryLimiter, MemoryLogger};
use crate::memory::MemoryStore;

/// The origin host-test requests arrive at (the issuer when `ISSUER` is unset).
pub const ORIGIN: &str = "https://auth.test";
/// The admin API key a [`World`] is configured with.
pub const ADMIN_KEY: &str = "admin-key-for-tests-0123456789abcdef";
/// Where a [`World`]'s clock starts.
pub const NOW: i64 = 1_800_000_000;
/// RFC 7515 Appendix A.3's ES256 key as a `SIGNING_KEYS` secret.
pub const A3: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}"#;

/// The host's [`Runtime`]: memory store behind the isolate cache, p256
/// keys, RustCrypto sealing.
pub struct Host;

impl Runtime for Host {
    type Store = CachedStore<MemoryStore>;
    type Key = P256Signer;
    type Crypto = HostCrypto;
    type Limiter = MemoryLimiter;
    type Fetcher = MapFetcher;
}

/// One deployment and one isolate of it, on the host.
pub struct World {
    /// Settings, as `Config::from_lookup` read them.
    pub config: Config,
    /// The `SIGNING_KEYS` secret, if set.
    pub signing_keys: Option<String>,
    /// Storage.
    pub store: MemoryStore,
    /// The clock every request sees.
    pub clock: FixedClock,
    /// What the server logged.
    pub log: MemoryLogger,
    /// The isolate's keys, kept between requests as in the Worker.
    pub keys: IsolateKeys<P256Signer>,
    /// The isolate's read cache (`CLIENT_CACHE_TTL`), in front of `store` as in the Worker.
    pub cache: Rc<IsolateCache>,
    /// The rate limiter, shared by every isolate of the deployment; no
    /// limits until a test sets them.
    pub limiter: MemoryLimiter,
    /// The isolate's client lockouts.
    pub lockouts: Lockouts,
    /// The network as trusted issuers' documents (shared by isolates).
    pub fetcher: Rc<MapFetcher>,
    /// The trusted issuers' keys this isolate holds.
    pub federation_keys: FederationKeys,
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}

impl World {
    /// Bring-your-own keys (the RFC 7515 A.3 key) and the admin API on.
    pub fn new() -> World {
        World::with(&[], Some(A3))
    }

    /// These vars and secrets (later ones win), plus `ADMIN_API_KEY` and
    /// `ISSUER` = [`ORIGIN`] unless `vars` set them (`("ISSUER", "")` unsets it).
    pub fn with(vars: &[(&str, &str)], signing_keys: Option<&str>) -> World {
        let mut all: Vec<(String, String)> =
            vec![("ADMIN_API_KEY".into(), ADMIN_KEY.into()), ("ISSUER".into(), ORIGIN.into())];
        if let Some(keys) = signing_keys {
            all.push(("SIGNING_KEYS".into(), keys.into()));
        }
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_lookup(|n| all.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        World {
            config,
            signing_keys: signing_keys.map(str::to_string),
            store: MemoryStore::default(),
            clock: FixedClock::at(NOW),
            log: MemoryLogger::default(),
            keys: IsolateKeys::default(),
            cache: Rc::default(),
            limiter: MemoryLimiter::default(),
            lockouts: Lockouts::default(),
            fetcher: Rc::default(),
            federation_keys: FederationKeys::default(),
        }
    }

    /// Another isolate of the same deployment: same settings, same storage
    /// and clock time, its own caches.
    pub fn another_isolate(&self) -> World {
        World {
            config: self.config.clone(),
            signing_keys: self.signing_keys.clone(),
            store: self.store.clone(),
            clock: FixedClock::at(self.clock.now()),
            log: MemoryLogger::default(),
            keys: IsolateKeys::default(),
            cache: Rc::default(),
            limiter: self.limiter.clone(),
            lockouts: Lockouts::default(),
            fetcher: Rc::clone(&self.fetcher),
            federation_keys: FederationKeys::default(),
        }
    }

    /// Managed keys (KEY_MODE "managed") sealed under `kek`.
    pub fn managed(kek: Option<&str>) -> World {
        let mut vars = vec![("KEY_MODE", "managed")];
        if let Some(k) = kek {
            vars.push(("KEY_ENCRYPTION_KEY", k));
        }
        World::with(&vars, None)
    }

    /// What the Cron Trigger does: prune the audit trail and used
    /// assertion ids, apply the
    /// managed-key policy now and, as in the Worker, drop this isolate's
    /// copy when the set changed. Whether the key set changed.
    pub fn run_cron(&self) -> bool {
        let now = self.clock.now();
        let retention = self.config.audit_retention_secs();
        pollster::block_on(m2m_edge_core::store::prune(&self.store, retention, now))
            .unwrap_or_else(|e| panic!("cron: pruning: {e}"));
        if self.config.key_mode != m2m_edge_core::config::KeyMode::Managed {
            return false;
        }
        let env = self.config.key_env(&self.store, &HostCrypto, &OsRandom, self.clock.now());
        let changed =
            pollster::block_on(env.scheduled()).map(|(_, changed)| changed).unwrap_or_else(|e| panic!("cron: {e}"));
        if changed {
            self.keys.invalidate();
        }
        changed
    }

    /// The keys a request gets, by the same code the Worker runs.
    async fn request_keys(&self) -> RequestKeys<P256Signer> {
        let env = self.config.key_env(&self.store, &HostCrypto, &OsRandom, self.clock.now());
        let signing_keys = self.signing_keys.as_deref();
        self.config.request_keys(&self.keys, signing_keys, &env, &P256Import, self.clock.now() * 1000, &self.log).await
    }

    /// One request, served as the Worker serves it: keys from the isolate
    /// copy, the app, the effects applied, the signature slot filled.
    pub fn call(&self, req: impl Into<Request>) -> Response {
        pollster::block_on(self.serve(req.into()))
    }

    /// Requests served concurrently by this isolate, as workerd interleaves
    /// the requests one isolate holds; the answers in the same order.
    pub fn call_all(&self, reqs: Vec<Request>) -> Vec<Response> {
        pollster::block_on(futures_util::future::join_all(reqs.into_iter().map(|req| self.serve(req))))
    }

    async fn serve(&self, req: Request) -> Response {
        let ((response, effects), signer) = self.with_ports(async |ports| app::handle(&req, ports).await).await;
        if effects.keys_changed {
            self.keys.invalidate();
        }
        // The glue's part: sign into the slot the app left (glue.js in the Worker).
        match signer {
            Some(signer) => signer.sign_response(response),
            None => response,
        }
    }

    /// `run` with this isolate's ports, built as the Worker builds them;
    /// what it returned, and the key for a signature slot.
    async fn with_ports<T>(&self, run: impl AsyncFnOnce(&Ports<'_, Host>) -> T) -> (T, Option<Rc<P256Signer>>) {
        let keys = self.request_keys().await;
        let store =
            CachedStore::new(self.store.clone(), self.cache.clone(), self.config.client_cache_ttl, self.clock.now());
        let ports: Ports<'_, Host> = Ports {
            config: &self.config,
            store: &store,
            jwks: keys.jwks.as_deref(),
            signer: keys.signer.as_deref(),
            crypto: &HostCrypto,
            clock: &self.clock,
            random: &OsRandom,
            log: &self.log,
            limits: Limits { limiter: &self.limiter, lockouts: &self.lockouts },
            fetcher: &*self.fetcher,
            federation_keys: &self.federation_keys,
        };
        let out = run(&ports).await;
        (out, keys.signer.ok())
    }

    /// A service binding's `verify(authorization, options)` (the Worker's
    /// RPC method), served by this isolate as the Worker serves it: the
    /// answer, or `{"invalid_options": …}` where the Worker rejects the call.
    pub fn verify_rpc(&self, authorization: &str, options: Value) -> Value {
        let call = json!({"authorization": authorization, "options": options});
        let response = self.call(Request::from_service_binding(app::rpc::VERIFY_PATH, call.to_string()));
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        match response.status {
            200 => body,
            _ => json!({"invalid_options": body["error_description"]}),
        }
    }

    /// An admin API call with the right key, and a JSON body if given.
    pub fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let req = Req::new(method, path).bearer(ADMIN_KEY);
        self.call(match body {
            Some(b) => req.json(&b),
            None => req.build(),
        })
    }

    /// An admin API call with this bearer token (an admin token), and a
    /// JSON body if given.
    pub fn with_token(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
        let req = Req::new(method, path).bearer(token);
        self.call(match body {
            Some(b) => req.json(&b),
            None => req.build(),
        })
    }

    /// Create a client; returns (client_id, client_secret).
    pub fn create(&self, body: Value) -> (String, String) {
        let r = self.admin(Method::Post, "/admin/clients", Some(body));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let v = r.body_json();
        (v["client_id"].as_str().unwrap().into(), v["client_secret"].as_str().unwrap().into())
    }

    /// A client with one grant: `https://api.test`, scopes `read write`.
    pub fn simple_client(&self) -> (String, String) {
        self.create(json!({"name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read", "write"]}]}))
    }

    /// A token request with `client_secret_basic` and this form body.
    pub fn token_basic(&self, id: &str, secret: &str, form: &str) -> Response {
        self.call(Req::token().basic(id, secret).form(form))
    }

    /// A token request with only this form body.
    pub fn token_form(&self, form: &str) -> Response {
        self.call(Req::token().form(form))
    }

    /// The JWKS document as served.
    pub fn jwks(&self) -> Value {
        self.call(Req::get("/.well-known/jwks.json").build()).body_json()
    }

    /// Verify a token's signature against the served JWKS; return (header, claims).
    pub fn verify(&self, token: &str) -> (Value, Value) {
        let jwks = self.jwks();
        let untrusted = UntrustedToken::new(token).unwrap();
        let kid = untrusted.header().key_id.clone().unwrap();
        let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap());
        sec1.extend(URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap());
        let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        Es256.validator::<Value>(&vk).validate(&untrusted).expect("signature verifies");
        let mut parts = token.split('.');
        let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
        let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
        (header, claims)
    }
}

/// The `error` member of a JSON error response.
pub fn error_of(r: &Response) -> String {
    r.body_json()["error"].as_str().unwrap_or("<none>").to_string()
}

/// Builds host-test requests: `Req::token().basic(id, secret).form("…")`.
/// Headers go through [`Request::with_header`], so they reach the app as
/// they would in the Worker.
pub struct Req(Request);

impl Req {
    /// `method path` at [`ORIGIN`].
    pub fn new(method: Method, path: &str) -> Req {
        Req(Request::new(method, path, ORIGIN))
    }

    /// `GET path`.
    pub fn get(path: &str) -> Req {
        Req::new(Method::Get, path)
    }

    /// `POST path`.
    pub fn post(path: &str) -> Req {
        Req::new(Method::Post, path)
    }

    /// `POST /oauth2/token`.
    pub fn token() -> Req {
        Req::post("/oauth2/token")
    }

    /// The request arrives at `origin` (`scheme://host[:port]`) instead of [`ORIGIN`].
    pub fn at(mut self, origin: &str) -> Req {
        self.0.origin = origin.to_string();
        self
    }

    /// Any header.
    pub fn header(self, name: &str, value: &str) -> Req {
        Req(self.0.with_header(name, value))
    }

    /// `Authorization: Basic base64(id:secret)` (RFC 7617).
    pub fn basic(self, id: &str, secret: &str) -> Req {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        self.header("authorization", &format!("Basic {credentials}"))
    }

    /// `Authorization: Bearer token` (RFC 6750 §2.1).
    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(self, body: &str) -> Request {
        self.header("content-type", "application/x-www-form-urlencoded").body(body)
    }

    /// A JSON body.
    pub fn json(self, body: &Value) -> Request {
        self.header("content-type", "application/json").body(body.to_string())
    }

    /// This body, with whatever content type was set.
    pub fn body(self, body: impl Into<Vec<u8>>) -> Request {
        self.0.with_body(body)
    }

    /// The request without a body.
    pub fn build(self) -> Request {
        self.0
    }
}

impl From<Req> for Request {
    fn from(req: Req) -> Request {
        req.0
    }
}
