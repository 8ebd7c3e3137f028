//! The Worker glue (wasm32 only): turns a `worker::Request` into a plain
//! request, reads bindings, picks the store, hands everything to the app and
//! turns the reply back. Nothing here decides protocol behaviour.

mod d1;
mod keys;
mod kv;
mod webcrypto;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use std::future::Future;
use std::task::Poll;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{event, Env, ScheduleContext, ScheduledEvent};

use crate::app::{self, Ports};
use crate::client::{ClientId, ClientRecord};
use crate::config::{Config, KeyMode, StorageKind};
use crate::http::{Body, Method, Request, Response, MAX_BODY_BYTES};
use crate::keys::manager::KeyEnv;
use crate::keys::ManagedKey;
use crate::ports::{Clock, Logger, PooledRandom};
use crate::resource::{ApiResource, ResourceId};
use crate::store::cache::{CachedStore, IsolateCache};
use crate::store::{ClientStore, KeyStore, Page, ResourceStore, StoreError, StoredKeys};
use d1::D1Store;
use kv::KvBackend;
use webcrypto::{WebCryptoKeys, WebCryptoSigner};

struct JsClock;

impl Clock for JsClock {
    fn now(&self) -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }
}

struct ConsoleLog;

impl Logger for ConsoleLog {
    fn error(&self, message: &str) {
        worker::console_error!("m2m-edge: {}", message);
    }
}

thread_local! {
    /// Client records and resource lookups this isolate has read recently
    /// (`CLIENT_CACHE_TTL`).
    static READ_CACHE: Rc<IsolateCache> = Rc::new(IsolateCache::default());
    /// Configuration and the SIGNING_KEYS text, read from the bindings once
    /// per isolate: vars and secrets are fixed for an isolate's lifetime (a
    /// change deploys a new version, which starts new isolates). Reading the
    /// dozen bindings on every request cost more than signing a token.
    static SETTINGS: RefCell<Option<Rc<Settings>>> = const { RefCell::new(None) };
    /// Random bytes for `jti`s, drawn from crypto.getRandomValues a block at a time.
    static RANDOM: Rc<PooledRandom> = Rc::new(PooledRandom::default());
}

struct Settings {
    config: Result<Config, String>,
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

/// The configured backend, or why there is none (every call then fails as a
/// storage error: `server_error` out, the reason in the log).
enum Backend {
    D1(D1Store),
    Kv(KvBackend),
    Unavailable(String),
}

/// The configured backend, bound on first use: requests that never touch
/// storage (JWKS, a cached client) skip the binding lookup.
pub(crate) struct AnyStore {
    env: Env,
    kind: StorageKind,
    backend: std::cell::OnceCell<Backend>,
}

fn store_for(env: &Env, config: &Config) -> AnyStore {
    AnyStore { env: env.clone(), kind: config.storage, backend: std::cell::OnceCell::new() }
}

impl AnyStore {
    fn backend(&self) -> &Backend {
        self.backend.get_or_init(|| match self.kind {
            StorageKind::D1 => match self.env.d1("DB") {
                Ok(db) => Backend::D1(D1Store::new(db)),
                Err(_) => Backend::Unavailable("STORAGE is \"d1\" but the D1 binding `DB` is missing".into()),
            },
            StorageKind::Kv => match self.env.kv("KV") {
                Ok(kv) => Backend::Kv(KvBackend::new(kv)),
                Err(_) => Backend::Unavailable("STORAGE is \"kv\" but the KV binding `KV` is missing".into()),
            },
        })
    }
}

/// Forward a store call to whichever backend is configured.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self.backend() {
            Backend::D1($store) => $call.await,
            Backend::Kv($store) => $call.await,
            Backend::Unavailable(why) => Err(StoreError::Backend(why.clone())),
        }
    };
}

impl ClientStore for AnyStore {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        dispatch!(self, s => s.get(id))
    }
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.create(client))
    }
    async fn update(&self, client: &ClientRecord) -> Result<bool, StoreError> {
        dispatch!(self, s => s.update(client))
    }
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete(id))
    }
    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        dispatch!(self, s => s.list(cursor, limit))
    }
}

impl KeyStore for AnyStore {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError> {
        dispatch!(self, s => s.load_keys())
    }
    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError> {
        dispatch!(self, s => s.save_keys(expected, keys))
    }
}

impl ResourceStore for AnyStore {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError> {
        dispatch!(self, s => s.resource(id))
    }
    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError> {
        dispatch!(self, s => s.resource_by_identifier(identifier))
    }
    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError> {
        dispatch!(self, s => s.resources())
    }
    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError> {
        dispatch!(self, s => s.create_resource(resource))
    }
    async fn update_resource(&self, resource: &ApiResource) -> Result<bool, StoreError> {
        dispatch!(self, s => s.update_resource(resource))
    }
    async fn delete_resource(&self, resource: &ApiResource) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_resource(resource))
    }
}

/// The fetch handler (worker-build's entry calls the export named `fetch`).
///
/// Written by hand instead of `#[event(fetch)]`: that macro starts every
/// request as a spawned future, and each trip through the JS promise
/// machinery (spawn, body read, signature) cost ~10 µs of CPU, as much as
/// the rest of a JWKS request. Here a request without a body runs at once;
/// a body is read by a JS `then` that calls straight back into Rust
/// ([`BODY_READ`]); and the app's future is polled once before anything is
/// spawned, so it only becomes a promise when it really waits (a storage
/// read, a signature).
#[wasm_bindgen(js_name = fetch)]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> JsValue {
    let Some(mut plain) = describe(&req) else { return fallback() };
    let declared = plain.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    match (plain.method, declared) {
        (Method::Get | Method::Head, _) => serve(plain, env),
        (_, Some(n)) if n > MAX_BODY_BYTES as u64 => {
            plain.body = Body::TooLarge;
            serve(plain, env)
        }
        _ => BODY_READ.with(|next| glue::withBody(&req, &env, next)),
    }
}

thread_local! {
    /// The continuation after the body is read (`glue.js` `withBody`): built
    /// once per isolate rather than once per request.
    static BODY_READ: Closure<dyn FnMut(web_sys::Request, Env, JsValue) -> JsValue> =
        Closure::new(|req: web_sys::Request, env: Env, bytes: JsValue| {
            let Some(mut plain) = describe(&req) else { return fallback() };
            plain.body = match bytes.dyn_into::<Uint8Array>() {
                Ok(bytes) if bytes.length() as usize > MAX_BODY_BYTES => Body::TooLarge,
                Ok(bytes) => Body::Bytes(bytes.to_vec()),
                // An unreadable body is the same as a malformed one: the
                // parsers see nothing and answer with a 400.
                Err(_) => Body::Bytes(Vec::new()),
            };
            serve(plain, env)
        });
}

mod glue {
    use super::*;

    #[wasm_bindgen(module = "/src/wasm/glue.js")]
    extern "C" {
        #[wasm_bindgen(js_name = withBody)]
        pub fn withBody(
            req: &web_sys::Request,
            env: &Env,
            next: &Closure<dyn FnMut(web_sys::Request, Env, JsValue) -> JsValue>,
        ) -> JsValue;

        #[wasm_bindgen(catch)]
        pub fn respond(status: u16, body: &[u8], headers: &str) -> Result<JsValue, JsValue>;

        pub fn describe(req: &web_sys::Request, names: &str) -> String;
    }
}

/// Run the app on one request: the reply itself when the app finishes
/// without waiting on JS, otherwise a promise of it.
fn serve(plain: Request, env: Env) -> JsValue {
    let mut reply = Box::pin(handle(plain, env));
    match reply.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready((response, signer)) => to_js(response, signer.as_deref()),
        // The spawned task polls again with a real waker. A promise that
        // settled in between woke only the no-op waker, but a JS future keeps
        // its outcome until polled, so that poll finds it.
        Poll::Pending => wasm_bindgen_futures::future_to_promise(async move {
            let (response, signer) = reply.await;
            Ok(to_js(response, signer.as_deref()))
        })
        .into(),
    }
}

/// The app's response, and the signer for its signature slot, if any.
async fn handle(plain: Request, env: Env) -> (Response, Option<Rc<WebCryptoSigner>>) {
    let log = ConsoleLog;
    let settings = settings(&env);
    let config = match &settings.config {
        Ok(config) => config,
        Err(problem) => {
            log.error(&format!("configuration: {problem}"));
            return (app::server_error_response(), None);
        }
    };
    let store = store_for(&env, config);
    let now = JsClock.now();
    let keys = keys::for_request(config, settings.signing_keys.as_deref(), &store, now).await;
    let random = RANDOM.with(Rc::clone);
    let read_cache = READ_CACHE.with(Rc::clone);
    let cached = CachedStore::new(&store, &read_cache, config.client_cache_ttl, now);
    let keys_changed = Cell::new(false);
    let ports = Ports {
        config,
        store: &cached,
        jwks: keys.jwks.as_deref(),
        signer: keys.signer.as_deref(),
        crypto: &WebCryptoKeys,
        clock: &JsClock,
        random: &*random,
        log: &log,
        keys_changed: &keys_changed,
    };
    let response = app::handle(&plain, &ports).await;
    if keys_changed.get() {
        keys::invalidate();
    }
    (response, keys.signer.ok())
}

/// The Cron Trigger (`[triggers] crons` in wrangler.toml): apply the
/// managed-key rotation policy. Concurrent runs are safe: the key set is
/// replaced by compare-and-swap (docs/storage.md).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let log = ConsoleLog;
    let settings = settings(&env);
    let config = match &settings.config {
        Ok(c) => c,
        Err(problem) => return log.error(&format!("scheduled: configuration: {problem}")),
    };
    if config.key_mode != KeyMode::Managed {
        return;
    }
    let store = store_for(&env, config);
    let keys = KeyEnv::new(&store, &WebCryptoKeys, config, JsClock.now());
    match keys.scheduled().await {
        Ok((set, true)) => {
            keys::invalidate();
            let states: Vec<String> = set.iter().map(|k| format!("{}={:?}", k.kid, k.state)).collect();
            worker::console_log!("m2m-edge: signing keys rotated: {}", states.join(", "));
        }
        Ok((_, false)) => {}
        Err(e) => log.error(&format!("scheduled key rotation: {e}")),
    }
}

/// The request headers the app looks at (`http::Request::header` callers).
const FORWARDED_HEADERS: &str = "authorization\ncontent-type\ncontent-length";

/// The plain request, without its body: method, URL and the headers the
/// app reads, fetched in one JS call (`glue.js` `describe`) rather than six
/// (method, URL, the header list, three lookups).
fn describe(req: &web_sys::Request) -> Option<Request> {
    let text = glue::describe(req, FORWARDED_HEADERS);
    let mut lines = text.split('\n');
    let method = Method::parse(lines.next()?);
    // The runtime hands over an absolute, normalized URL
    // (`scheme://host[:port]/path?query`); slicing it is all that is needed
    // (parsing it again with the `url` crate cost CPU and 34 KB of wasm).
    let url = lines.next()?;
    let after_scheme = url.find("://")? + 3;
    let path_start = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    let origin = &url[..path_start];
    let rest = url[path_start..].split('#').next().unwrap_or("");
    let mut plain = Request::new(method, if rest.is_empty() { "/" } else { rest }, origin);
    for (name, line) in FORWARDED_HEADERS.split('\n').zip(lines) {
        // "=value" for a header that is present (even if empty), "" for one that is not.
        let Some(value) = line.strip_prefix('=') else { continue };
        // The Fetch API joins repeated headers with ", "; a Basic or Bearer
        // credential never contains a comma, so one marks a repeat.
        let repeats = if name == "authorization" { value.split(',').count() } else { 1 };
        for _ in 0..repeats {
            plain.headers.push((name.to_string(), value.to_string()));
        }
    }
    Some(plain)
}

/// The JS `Response`, built in one call (`glue.js`): `respond`, or
/// `signThenRespond` when the body still lacks its signature.
fn to_js(response: Response, signer: Option<&WebCryptoSigner>) -> JsValue {
    let headers = header_lines(&response);
    match (&response.signature, signer) {
        (None, _) => glue::respond(response.status, &response.body, &headers).unwrap_or_else(|_| fallback()),
        (Some(slot), Some(signer)) => SIGN_FAILED
            .with(|failed| signer.sign_then_respond(&response, slot, &headers, failed))
            .unwrap_or_else(sign_failed),
        // The app leaves a slot only when it has a signer; never a token unsigned.
        (Some(_), None) => fallback(),
    }
}

/// The headers as `glue.js` takes them: "name\nvalue\n" each.
fn header_lines(response: &Response) -> String {
    let mut lines = String::new();
    for (name, value) in &response.headers {
        // A newline would split the list; no header value may hold one anyway.
        if !value.contains('\n') {
            lines.push_str(name);
            lines.push('\n');
            lines.push_str(value);
            lines.push('\n');
        }
    }
    lines
}

/// The `server_error` response, for when the intended one cannot be built.
fn fallback() -> JsValue {
    let error = app::server_error_response();
    glue::respond(error.status, &error.body, &header_lines(&error)).unwrap_or(JsValue::UNDEFINED)
}

thread_local! {
    /// The answer when WebCrypto rejects a signature (`glue.js`).
    static SIGN_FAILED: Closure<dyn FnMut(JsValue) -> JsValue> = Closure::new(sign_failed);
}

fn sign_failed(reason: JsValue) -> JsValue {
    let reason = reason.as_string().or_else(|| reason.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())));
    ConsoleLog.error(&format!("cannot sign tokens: {}", reason.as_deref().unwrap_or("WebCrypto sign rejected")));
    fallback()
}
