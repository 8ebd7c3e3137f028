//! Every import from `glue.js`, with typed wrappers: the one place where
//! Rust and the glue's JS meet (docs/architecture.md, "The glue contract").
//! The JS half moves bytes and makes the signature; it never decides what
//! a response says.

use js_sys::Object;
use wasm_bindgen::prelude::*;
use web_sys::{CryptoKey, SubtleCrypto};
use worker::Env;

use m2m_edge_core::http::{Header, Method, Request, Response, SignatureSlot};

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = describe)]
    fn js_describe(req: &web_sys::Request, names: &str) -> js_sys::JsString;

    /// The Worker's bindings (`env` of "cloudflare:workers").
    #[wasm_bindgen(js_name = bindings)]
    pub fn bindings() -> Env;

    /// The JSON body of a service-binding call's response (or a promise of
    /// it): its value, or a `TypeError` for a 400.
    #[wasm_bindgen(js_name = rpcAnswer)]
    pub fn rpc_answer(response: &JsValue) -> JsValue;

    #[wasm_bindgen(js_name = withBody)]
    fn js_with_body(
        req: &web_sys::Request,
        env: &Env,
        next: &BodyContinuation,
        limiter: &JsValue,
        key: &str,
        described: &js_sys::JsString,
    ) -> JsValue;

    #[wasm_bindgen(js_name = withBoundedBody)]
    fn js_with_bounded_body(
        req: &web_sys::Request,
        env: &Env,
        next: &BodyContinuation,
        limit: u32,
        limiter: &JsValue,
        key: &str,
        described: &js_sys::JsString,
    ) -> JsValue;

    #[wasm_bindgen(js_name = whenSettled)]
    fn js_when_settled(promise: &js_sys::Promise, task: u32, next: &Resumption) -> JsValue;

    #[wasm_bindgen(catch, js_name = rateLimit)]
    fn js_rate_limit(limiter: &JsValue, key: &str) -> Result<js_sys::Promise, JsValue>;

    #[wasm_bindgen(catch, js_name = respond)]
    fn js_respond(status: u16, body: &[u8], headers: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = forward)]
    fn js_forward(
        service: &JsValue,
        request: &web_sys::Request,
        answered: Option<&Closure<dyn FnMut()>>,
        failed: &Closure<dyn FnMut(JsValue) -> JsValue>,
    ) -> Result<JsValue, JsValue>;

    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(catch, js_name = signThenRespond)]
    fn js_sign_then_respond(
        subtle: &SubtleCrypto,
        algorithm: &Object,
        key: &CryptoKey,
        status: u16,
        body: &[u8],
        input_start: u32,
        input_end: u32,
        at: u32,
        headers: &str,
        failed: &Closure<dyn FnMut(JsValue) -> JsValue>,
    ) -> Result<JsValue, JsValue>;
}

/// The Rust side of `withBody`: `(request, env, bytes or undefined, the
/// rate limiter's outcome: true, false, null if it failed, undefined if not
/// asked; the request's [`Description`] as `with_body` was given it)`.
pub type BodyContinuation = Closure<dyn FnMut(web_sys::Request, Env, JsValue, JsValue, JsValue) -> JsValue>;

/// What the runtime says of a request without its body — method, URL and
/// the headers the app reads — as one JS string: asked once per request,
/// read by [`Description::request`], and handed through the body read.
pub struct Description(js_sys::JsString);

/// What the runtime handed over could not be described as a request.
#[derive(Debug)]
pub struct Undescribable(&'static str);

impl std::fmt::Display for Undescribable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Description {
    /// Method, URL and the headers the app reads, in one JS call rather
    /// than six. Repeated headers arrive joined with ", " (Fetch's
    /// `Headers.get`), as [`Request::with_header`] joins them on the host.
    pub fn of(req: &web_sys::Request) -> Description {
        Description(js_describe(req, Header::NAMES))
    }

    /// The description `with_body` handed back to its continuation.
    pub fn handed_back(value: JsValue) -> Option<Description> {
        value.dyn_into::<js_sys::JsString>().ok().map(Description)
    }

    /// The plain request it describes, without its body.
    pub fn request(&self) -> Result<Request, Undescribable> {
        let text = String::from(&self.0);
        let mut lines = text.split('\n');
        let method = Method::parse(lines.next().ok_or(Undescribable("no method"))?);
        let url = lines.next().ok_or(Undescribable("no URL"))?;
        let mut plain = Request::for_url(method, url).ok_or(Undescribable("URL without a scheme"))?;
        for (name, line) in Header::NAMES.split('\n').zip(lines) {
            // "=value" for a header that is present (even if empty), "" for one that is not.
            if let Some(value) = line.strip_prefix('=') {
                plain = plain.with_header(name, value);
            }
        }
        Ok(plain)
    }
}

/// Read the body in JS, then continue in `next`. With a declared length
/// (already checked against the limit) the runtime delivers at most that
/// many bytes and the body is read in one call; without one (chunked),
/// it is read piece by piece and abandoned past `limit` bytes, and `next`
/// gets `false` instead of the bytes. With `count` (a Rate Limiting
/// binding and a key), one event is counted meanwhile and `next` gets the
/// outcome.
pub fn with_body(
    req: &web_sys::Request,
    described: &Description,
    env: &Env,
    declared: bool,
    limit: usize,
    count: Option<(&JsValue, &str)>,
    next: &BodyContinuation,
) -> JsValue {
    let undefined = JsValue::UNDEFINED;
    let (limiter, key) = count.unwrap_or((&undefined, ""));
    if declared {
        js_with_body(req, env, next, limiter, key, &described.0)
    } else {
        js_with_bounded_body(req, env, next, limit as u32, limiter, key, &described.0)
    }
}

/// The Rust side of `whenSettled`: `(task, the promise's value or reason,
/// whether it was fulfilled)`, answering with the task's reply or a
/// promise of it.
pub type Resumption = Closure<dyn FnMut(u32, JsValue, bool) -> JsValue>;

/// A promise of what `next(task, …)` answers once `promise` settles.
pub fn when_settled(promise: &js_sys::Promise, task: u32, next: &Resumption) -> JsValue {
    js_when_settled(promise, task, next)
}

/// A promise of whether one more event for `key` is within `limiter`'s
/// limit (a Rate Limiting binding's `limit({key})`, its `success`).
pub fn rate_limit(limiter: &JsValue, key: &str) -> Result<js_sys::Promise, JsValue> {
    js_rate_limit(limiter, key)
}

/// The headers as `glue.js` takes them: "name\nvalue\n" each. A value
/// holding a newline would split the list; none can (they come from the
/// app's own constants and validated input), and one that did is dropped.
fn header_lines(response: &Response) -> String {
    let mut lines = String::new();
    for (name, value) in &response.headers {
        if !value.contains('\n') {
            lines.push_str(name);
            lines.push('\n');
            lines.push_str(value);
            lines.push('\n');
        }
    }
    lines
}

/// The JS `Response`, built in one call; `Err` with the reason if JS threw.
pub fn respond(response: &Response) -> Result<JsValue, JsValue> {
    js_respond(response.status, &response.body, &header_lines(response))
}

/// What signing needs from the imported key.
pub struct SigningParts<'a> {
    /// `crypto.subtle`.
    pub subtle: &'a SubtleCrypto,
    /// `{name: "ECDSA", hash: "SHA-256"}`.
    pub algorithm: &'a Object,
    /// The non-extractable private key.
    pub key: &'a CryptoKey,
}

/// A promise of the `Response` once `slot` is signed (`signThenRespond`);
/// `failed` answers instead if WebCrypto rejects, `Err` if it throws at once.
pub fn sign_then_respond(
    key: SigningParts<'_>,
    response: &Response,
    slot: &SignatureSlot,
    failed: &Closure<dyn FnMut(JsValue) -> JsValue>,
) -> Result<JsValue, JsValue> {
    js_sign_then_respond(
        key.subtle,
        key.algorithm,
        key.key,
        response.status,
        &response.body,
        slot.input.start as u32,
        slot.input.end as u32,
        slot.at as u32,
        &header_lines(response),
        failed,
    )
}

/// A promise of `service`'s response to `request`, handed over unread
/// (`forward`), with `answered` run once it arrives unless it is a refusal
/// (4xx); `failed` answers instead if the call fails, `Err` if it throws
/// at once.
#[cfg(not(feature = "admin"))]
pub fn forward(
    service: &JsValue,
    request: &web_sys::Request,
    answered: Option<&Closure<dyn FnMut()>>,
    failed: &Closure<dyn FnMut(JsValue) -> JsValue>,
) -> Result<JsValue, JsValue> {
    js_forward(service, request, answered, failed)
}
