//! m2m-edge as a Cloudflare Worker (wasm32 only): the `fetch` and
//! `scheduled` exports and the composition root that plugs the Worker's
//! adapters — D1, WebCrypto, the JS clock and console — into
//! `m2m-edge-core`'s app. Nothing here decides protocol behaviour: the glue
//! moves bytes (docs/architecture.md, "The glue contract").
//!
//! Built twice (docs/architecture.md, "Two Workers"): without the feature
//! `admin` it is the token service, which hands `/admin/...` requests to
//! the admin Worker over the `ADMIN` service binding; with it, the admin
//! Worker, which serves the admin API (and would serve every route).
//!
//! On the host this crate is empty, so a host `cargo test --workspace`
//! passes over it; `make build` builds it for wasm32 with worker-build.
#![cfg(target_arch = "wasm32")]

mod binding;
mod d1;
mod fetch;
mod ffi;
mod limiter;
mod task;
mod webcrypto;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;
#[cfg(feature = "admin")]
use worker::{event, ScheduleContext, ScheduledEvent};

use m2m_edge_core::app::{self, Ports, Runtime};
#[cfg(feature = "admin")]
use m2m_edge_core::config::KeyMode;
use m2m_edge_core::config::{Config, ConfigError};
use m2m_edge_core::federation::keys::FederationKeys;
use m2m_edge_core::http::{Body, Method, Request, Response, MAX_BODY_BYTES};
use m2m_edge_core::keys::isolate::IsolateKeys;
#[cfg(feature = "admin")]
use m2m_edge_core::limits::Limit;
use m2m_edge_core::limits::{Limits, Lockouts};
use m2m_edge_core::ports::{Clock, Logger, PooledRandom};
use m2m_edge_core::store::cache::{CachedStore, IsolateCache};

use d1::D1Store;
use fetch::GlobalFetch;
use limiter::{Answered, BindingLimiter};
use webcrypto::{WebCryptoImport, WebCryptoKeys, WebCryptoSigner};

struct JsClock;

impl Clock for JsClock {
    fn now(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }

    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// Milliseconds, for the isolate key cache's intervals.
fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

struct ConsoleLog;

impl Logger for ConsoleLog {
    fn error(&self, message: &str) {
        worker::console_error!("m2m-edge: {}", message);
    }
}

/// The Worker's [`Runtime`].
struct Worker;

impl Runtime for Worker {
    type Store = CachedStore<D1Store>;
    type Key = WebCryptoSigner;
    type Crypto = WebCryptoKeys;
    type Limiter = BindingLimiter;
    type Fetcher = GlobalFetch;
}

thread_local! {
    /// Client records and resource lookups this isolate has read recently
    /// (`CLIENT_CACHE_TTL`).
    static READ_CACHE: Rc<IsolateCache> = Rc::new(IsolateCache::default());
    /// Configuration and the SIGNING_KEYS text, read from the bindings once
    /// per isolate: vars and secrets are fixed for an isolate's lifetime (a
    /// change deploys a new version, which starts new isolates), and reading
    /// the dozen bindings on every request cost more than signing a token.
    static SETTINGS: RefCell<Option<Rc<Settings>>> = const { RefCell::new(None) };
    /// Random bytes for `jti`s, drawn from crypto.getRandomValues a block at a time.
    static RANDOM: Rc<PooledRandom> = Rc::new(PooledRandom::default());
    /// The signing keys and JWKS this isolate holds.
    static KEYS: Rc<IsolateKeys<WebCryptoSigner>> = Rc::new(IsolateKeys::default());
    /// Trusted issuers' keys this isolate has fetched.
    static FEDERATION_KEYS: Rc<FederationKeys> = Rc::new(FederationKeys::default());
    /// Client ids this isolate has seen go over the failure limit.
    static LOCKOUTS: Rc<Lockouts> = Rc::new(Lockouts::default());
}

struct Settings {
    config: Result<Config, ConfigError>,
    signing_keys: Option<String>,
}

fn settings(env: &Env) -> Rc<Settings> {
    if let Some(s) = SETTINGS.with(|s| s.borrow().clone()) {
        return s;
    }
    let fresh = Rc::new(Settings {
        config: Config::from_lookup(|name| string_binding(env, name)),
        signing_keys: string_binding(env, "SIGNING_KEYS"),
    });
    SETTINGS.with(|s| *s.borrow_mut() = Some(fresh.clone()));
    fresh
}

fn string_binding(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// The fetch handler (worker-build's entry calls the export named `fetch`).
///
/// Written by hand instead of `#[event(fetch)]`: that macro starts every
/// request as a spawned future, and each trip through the JS promise
/// machinery (spawn, body read, signature) costs CPU comparable to the rest
/// of a JWKS request (docs/architecture.md, "Performance decisions"). Here
/// a request without a body runs at once; a body is read by a JS `then`
/// that calls straight back into Rust ([`BODY_READ`]); and the app's future
/// is polled at once ([`task::run`]), so it only becomes a promise when it
/// really waits (a verification, a storage read), and a WebCrypto promise
/// it waits on resumes it through one JS `then`.
#[wasm_bindgen(js_name = fetch)]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> JsValue {
    let described = ffi::Description::of(&req);
    let mut plain = match described.request() {
        Ok(plain) => plain,
        Err(why) => return fallback(&format!("request not readable: {why}")),
    };
    #[cfg(not(feature = "admin"))]
    if app::is_admin(&plain.path) {
        return forward_admin(req, env, plain);
    }
    // The admin Worker serves the admin API only: whatever reached it
    // otherwise (a route added by mistake) finds no token endpoint without
    // its rate limits there, nor anything else.
    #[cfg(feature = "admin")]
    if !app::is_admin(&plain.path) {
        return ffi::respond(&app::not_found())
            .unwrap_or_else(|e| fallback(&format!("Response not built: {}", reason(&e))));
    }
    match (plain.method, plain.declared_length()) {
        (Method::Get | Method::Head, _) => serve(plain, env),
        (_, Some(n)) if n > MAX_BODY_BYTES as u64 => {
            plain.body = Body::TooLarge;
            serve(plain, env)
        }
        (_, declared) => {
            // The per-address count, made while the body is read.
            let count = app::address_limit(&plain)
                .and_then(|(limit, key)| limiter::binding(&env, limit).map(|binding| (binding, key)));
            let count = count.as_ref().map(|(binding, key)| (binding, key.as_str()));
            BODY_READ
                .with(|next| ffi::with_body(&req, &described, &env, declared.is_some(), MAX_BODY_BYTES, count, next))
        }
    }
}

thread_local! {
    /// The continuation after the body is read (`glue.js` `withBody`): built
    /// once per isolate rather than once per request.
    static BODY_READ: ffi::BodyContinuation = Closure::new(|_: web_sys::Request, env: Env, bytes: JsValue, within: JsValue, described: JsValue| {
        let Some(described) = ffi::Description::handed_back(described) else {
            return fallback("request description not handed back");
        };
        let mut plain = match described.request() {
            Ok(plain) => plain,
            Err(why) => return fallback(&format!("request not readable: {why}")),
        };
        plain.body = match bytes.dyn_into::<Uint8Array>() {
            Ok(bytes) if bytes.length() as usize > MAX_BODY_BYTES => Body::TooLarge,
            // A chunked body abandoned past the limit.
            Err(flag) if flag.as_bool() == Some(false) => Body::TooLarge,
            Ok(bytes) => Body::Bytes(bytes.to_vec()),
            // An unreadable body (the client went away mid-upload) is the
            // same as a malformed one: the parsers see nothing and answer 400.
            Err(_) => {
                ConsoleLog.error("request body unreadable; answered as an empty body");
                Body::Bytes(Vec::new())
            }
        };
        let answered = app::address_limit(&plain).and_then(|(limit, key)| Answered::from_js(limit, &key, &within));
        serve_counted(plain, env, answered)
    });
}

/// Run the app on one request: the reply itself when the app finishes
/// without waiting on JS, otherwise a promise of it.
fn serve(plain: Request, env: Env) -> JsValue {
    serve_counted(plain, env, None)
}

/// [`serve`], with a rate-limit count the glue already made.
fn serve_counted(plain: Request, env: Env, answered: Option<Answered>) -> JsValue {
    task::run(async move {
        let (response, signer) = handle(plain, env, answered).await;
        to_js(response, signer.as_deref())
    })
}

/// The app's response, and the key for its signature slot, if any.
async fn handle(plain: Request, env: Env, answered: Option<Answered>) -> (Response, Option<Rc<WebCryptoSigner>>) {
    let settings = settings(&env);
    let config = match &settings.config {
        Ok(config) => config,
        Err(problem) => {
            ConsoleLog.error(&format!("configuration: {problem}"));
            return (app::server_error_response(), None);
        }
    };
    #[cfg(feature = "admin")]
    let answered = answered.or_else(|| counted_upstream(&plain));
    let limiter = BindingLimiter::new(env.clone(), answered);
    let lockouts = LOCKOUTS.with(Rc::clone);
    let store = D1Store::new(env, config.read_replicas);
    let now = JsClock.now();
    let isolate_keys = KEYS.with(Rc::clone);
    let federation_keys = FEDERATION_KEYS.with(Rc::clone);
    let random = RANDOM.with(Rc::clone);
    let key_env = config.key_env(&store, &WebCryptoKeys, &*random, now);
    let signing_keys = settings.signing_keys.as_deref();
    let keys =
        config.request_keys(&isolate_keys, signing_keys, &key_env, &WebCryptoImport, now_ms(), &ConsoleLog).await;
    let cached = CachedStore::new(store, READ_CACHE.with(Rc::clone), config.client_cache_ttl, now);
    let ports: Ports<'_, Worker> = Ports {
        config,
        store: &cached,
        jwks: keys.jwks.as_deref(),
        signer: keys.signer.as_deref(),
        crypto: &WebCryptoKeys,
        clock: &JsClock,
        random: &*random,
        log: &ConsoleLog,
        limits: Limits { limiter: &limiter, lockouts: &lockouts },
        fetcher: &GlobalFetch,
        federation_keys: &federation_keys,
    };
    let (response, effects) = app::handle(&plain, &ports).await;
    if effects.keys_changed {
        isolate_keys.invalidate();
    }
    (response, keys.signer.ok())
}

/// `verify(authorization, options)`: the RPC method an API bound to this
/// Worker calls (`env.AUTH.verify(…)`; worker-build puts every export on
/// the entrypoint). `authorization` is the header's value or a bare token;
/// `options` `{audience, scopes?, maxTokenAge?, projectId?, realm?}`. Served by the app
/// as a service-binding request (`app::rpc`): a promise of the claims or of
/// the RFC 6750 answer, rejected with a `TypeError` for options that are
/// not these (`glue.js` `rpcAnswer`).
#[wasm_bindgen(js_name = verify)]
pub fn verify(authorization: String, options: JsValue) -> JsValue {
    // `undefined`, a function or a symbol stringify to `undefined`, not a
    // string: the call then has no options, which the app refuses.
    let options = js_sys::JSON::stringify(&options).ok().and_then(|json| json.as_string());
    let call = format!(
        r#"{{"authorization":{},"options":{}}}"#,
        serde_json::Value::String(authorization),
        options.as_deref().unwrap_or("null")
    );
    let req = Request::from_service_binding(app::rpc::VERIFY_PATH, call);
    ffi::rpc_answer(&serve(req, ffi::bindings()))
}

/// The service binding to the admin Worker (wrangler.toml `[[services]]`).
#[cfg(not(feature = "admin"))]
const ADMIN_BINDING: &str = "ADMIN";

/// Hand an admin API request to the admin Worker as it came (body unread;
/// that Worker authenticates), once it is counted against the admin API's
/// per-address limit here, and answer with that Worker's response.
#[cfg(not(feature = "admin"))]
fn forward_admin(req: web_sys::Request, env: Env, plain: Request) -> JsValue {
    wasm_bindgen_futures::future_to_promise(async move {
        let limiter = BindingLimiter::new(env.clone(), None);
        let lockouts = LOCKOUTS.with(Rc::clone);
        let limits = Limits { limiter: &limiter, lockouts: &lockouts };
        if let Err(refused) = app::within_address_limit(&plain, &limits, &ConsoleLog).await {
            return Ok(to_js(refused, None));
        }
        let service = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(ADMIN_BINDING)).ok();
        let Some(service) = service.filter(|s| !s.is_undefined()) else {
            return Ok(fallback(
                "no ADMIN service binding: the admin API is the admin Worker's (wrangler.toml [[services]])",
            ));
        };
        // A promise of the admin Worker's answer, which this one adopts.
        // Once a write is answered, this isolate sees it at once, as when it
        // wrote itself: it drops the records and keys it holds and its next
        // reads start at the primary. Not after a refusal (4xx), which
        // changed nothing and which anyone can send. Other isolates — and
        // this one, if the call failed after the write committed — see it
        // within CLIENT_CACHE_TTL, REPLICA_ANCHOR_SECS and MANAGED_CACHE_MS,
        // as any change made elsewhere.
        let writes = !matches!(plain.method, Method::Get | Method::Head);
        let forwarded = WROTE_ELSEWHERE
            .with(|wrote| FORWARD_FAILED.with(|failed| ffi::forward(&service, &req, writes.then_some(wrote), failed)));
        Ok(forwarded.unwrap_or_else(forward_failed))
    })
    .into()
}

#[cfg(not(feature = "admin"))]
thread_local! {
    /// Run when the admin Worker has answered a write without refusing it.
    static WROTE_ELSEWHERE: Closure<dyn FnMut()> = Closure::new(|| {
        READ_CACHE.with(|cache| cache.forget_records());
        d1::records_written();
        KEYS.with(|keys| keys.invalidate());
    });
    /// The answer when the admin Worker cannot be reached.
    static FORWARD_FAILED: Closure<dyn FnMut(JsValue) -> JsValue> = Closure::new(forward_failed);
}

#[cfg(not(feature = "admin"))]
fn forward_failed(why: JsValue) -> JsValue {
    fallback(&format!("the admin Worker did not answer: {}", reason(&why)))
}

/// In the admin Worker, the admin API's per-address limit: the token
/// service counted it before it handed the request on, and hands on only
/// what is within it.
#[cfg(feature = "admin")]
fn counted_upstream(plain: &Request) -> Option<Answered> {
    app::address_limit(plain)
        .filter(|(limit, _)| *limit == Limit::AdminByAddress)
        .map(|(limit, key)| Answered::counted_upstream(limit, &key))
}

/// The Cron Trigger (`[triggers] crons` in wrangler.admin.toml: the admin
/// Worker's, management off the token path): prune the audit trail past
/// `AUDIT_RETENTION_DAYS`, expired assertion ids and revocations, and apply
/// the managed-key rotation policy. Concurrent runs are safe: pruning is
/// idempotent and the key set is replaced by compare-and-swap
/// (docs/storage.md). Token service isolates see a rotation within
/// `MANAGED_CACHE_MS`.
#[cfg(feature = "admin")]
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let settings = settings(&env);
    let config = match &settings.config {
        Ok(c) => c,
        Err(problem) => return ConsoleLog.error(&format!("scheduled: configuration: {problem}")),
    };
    let store = D1Store::new(env, config.read_replicas);
    let now = JsClock.now();
    if let Err(e) = m2m_edge_core::store::prune(&store, config.audit_retention_secs(), now).await {
        ConsoleLog.error(&format!("scheduled pruning: {e}"));
    }
    if config.key_mode != KeyMode::Managed {
        return;
    }
    let random = RANDOM.with(Rc::clone);
    let keys = config.key_env(&store, &WebCryptoKeys, &*random, now);
    match keys.scheduled().await {
        Ok((set, true)) => {
            KEYS.with(|k| k.invalidate());
            let states: Vec<String> = set.iter().map(|k| format!("{}={:?}", k.kid, k.state)).collect();
            worker::console_log!("m2m-edge: signing keys rotated: {}", states.join(", "));
        }
        Ok((_, false)) => {}
        Err(e) => ConsoleLog.error(&format!("scheduled key rotation: {e}")),
    }
}

/// The JS `Response`, built in one call (`glue.js`): `respond`, or
/// `signThenRespond` when the body still lacks its signature.
fn to_js(response: Response, signer: Option<&WebCryptoSigner>) -> JsValue {
    match (&response.signature, signer) {
        (None, _) => {
            ffi::respond(&response).unwrap_or_else(|e| fallback(&format!("Response not built: {}", reason(&e))))
        }
        (Some(slot), Some(signer)) => {
            SIGN_FAILED.with(|failed| signer.sign_then_respond(&response, slot, failed)).unwrap_or_else(sign_failed)
        }
        // The app leaves a slot only when it has a signer; never a token unsigned.
        (Some(_), None) => fallback("a token without a signing key"),
    }
}

/// The `server_error` response, for when the intended one cannot be
/// built; `why` goes to the log.
fn fallback(why: &str) -> JsValue {
    ConsoleLog.error(why);
    let error = app::server_error_response();
    ffi::respond(&error).unwrap_or(JsValue::UNDEFINED)
}

thread_local! {
    /// The answer when WebCrypto rejects a signature (`glue.js`).
    static SIGN_FAILED: Closure<dyn FnMut(JsValue) -> JsValue> = Closure::new(sign_failed);
}

fn sign_failed(why: JsValue) -> JsValue {
    fallback(&format!("cannot sign tokens: {}", reason(&why)))
}

/// A JS error's message, or what the value says of itself.
fn reason(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| value.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| "no reason given".to_string())
}
