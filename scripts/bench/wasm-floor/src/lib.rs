//! Test-only (`make bench`): the runtime's floor for a token as a
//! Rust/wasm Worker. It does what `scripts/bench/floor.mjs` and
//! `cold-floor.js` do in JS — read the body; with a `DB` binding, read one
//! client row; import the signing key from `SIGNING_KEYS` once per isolate
//! (or generate one without it); make one ES256 signature; answer ~700 bytes
//! of JSON — and nothing else, built by the same toolchain as m2m-edge's
//! token service (worker-build, wasm-bindgen, opt-level "z", `wasm-opt`).
//! Its figures beside the JS floor's are what being a Rust/wasm Worker
//! costs by itself here: the wasm module, its glue and the crossings, with
//! no protocol work. `GET` answers a small JSON document, as the JWKS does.
//! `POST /exchange` adds what `floor.mjs`'s does: one WebCrypto RS256
//! verification (the key made once per isolate) before the token, against
//! a token exchange's body.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, Headers, Request, Response, ResponseInit, SubtleCrypto};
use worker::Env;

/// What every token uses, made once per isolate, as the JS floor's
/// constants are (and as m2m-edge keeps `crypto.subtle` and its signing
/// algorithm).
struct Constants {
    subtle: SubtleCrypto,
    /// `{name: "ECDSA", hash: "SHA-256"}`.
    algorithm: Object,
    /// The signing input, the size of a token's.
    input: Uint8Array,
    /// The response, the size of a token response.
    body: String,
}

impl Constants {
    fn new() -> Result<Constants, JsValue> {
        Ok(Constants {
            subtle: subtle()?,
            algorithm: object(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            input: Uint8Array::from("e".repeat(480).as_bytes()),
            body: format!(r#"{{"access_token":"{}","token_type":"Bearer","expires_in":3600}}"#, "e".repeat(566)),
        })
    }
}

thread_local! {
    static CONSTANTS: Result<Rc<Constants>, JsValue> = Constants::new().map(Rc::new);
    /// The signing key, imported (or generated) by the isolate's first token.
    static KEY: RefCell<Option<CryptoKey>> = const { RefCell::new(None) };
    /// The platform token's key and signature, made by the isolate's first exchange.
    static PLATFORM: RefCell<Option<Rc<Platform>>> = const { RefCell::new(None) };
}

/// What `/exchange` verifies: a 900-byte signing input, as a platform
/// token's, signed once with an RS256 key of 2048 bits.
struct Platform {
    key: CryptoKey,
    input: Uint8Array,
    signature: Uint8Array,
}

const RS256: &str = "RSASSA-PKCS1-v1_5";

/// One RS256 verification of the platform token, as `floor.mjs` makes it.
async fn platform_token(subtle: &SubtleCrypto) -> Result<(), JsValue> {
    let held = PLATFORM.with(|p| p.borrow().clone());
    let platform = match held {
        Some(platform) => platform,
        None => {
            let algorithm = object(&[("name", RS256), ("hash", "SHA-256")]);
            Reflect::set(&algorithm, &JsValue::from_str("modulusLength"), &JsValue::from_f64(2048.0))?;
            Reflect::set(&algorithm, &JsValue::from_str("publicExponent"), &Uint8Array::from(&[1u8, 0, 1][..]))?;
            let usages = Array::of2(&JsValue::from_str("sign"), &JsValue::from_str("verify"));
            let pair = JsFuture::from(subtle.generate_key_with_object(&algorithm, false, &usages)?).await?;
            let private: CryptoKey = Reflect::get(&pair, &JsValue::from_str("privateKey"))?.unchecked_into();
            let input = Uint8Array::from("p".repeat(900).as_bytes());
            let signature = JsFuture::from(subtle.sign_with_str_and_buffer_source(RS256, &private, &input)?).await?;
            let key = Reflect::get(&pair, &JsValue::from_str("publicKey"))?.unchecked_into();
            let platform = Rc::new(Platform { key, input, signature: Uint8Array::new(&signature) });
            PLATFORM.with(|p| *p.borrow_mut() = Some(platform.clone()));
            platform
        }
    };
    let verified = subtle.verify_with_str_and_buffer_source_and_buffer_source(
        RS256,
        &platform.key,
        &platform.signature,
        &platform.input,
    )?;
    match JsFuture::from(verified).await?.as_bool() {
        Some(true) => Ok(()),
        _ => Err(JsValue::from_str("wasm floor: RS256 refused")),
    }
}

fn object(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    Ok(crypto.unchecked_into::<web_sys::Crypto>().subtle())
}

fn respond(body: &str, no_store: bool) -> Result<JsValue, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    if no_store {
        headers.set("cache-control", "no-store")?;
    }
    let init = ResponseInit::new();
    init.set_headers(&headers);
    Ok(Response::new_with_opt_str_and_init(Some(body), &init)?.into())
}

/// The isolate's key: imported from the first JWK of `SIGNING_KEYS`, or a
/// fresh P-256 key when the worker runs without it.
async fn key(env: &JsValue, subtle: &SubtleCrypto) -> Result<CryptoKey, JsValue> {
    if let Some(key) = KEY.with(|k| k.borrow().clone()) {
        return Ok(key);
    }
    let algorithm = object(&[("name", "ECDSA"), ("namedCurve", "P-256")]);
    let usages = Array::of1(&JsValue::from_str("sign"));
    let key: CryptoKey = match Reflect::get(env, &JsValue::from_str("SIGNING_KEYS"))?.as_string() {
        Some(keys) => {
            let set = JSON::parse(&keys)?;
            let jwk = Reflect::get(&Reflect::get(&set, &JsValue::from_str("keys"))?, &JsValue::from_f64(0.0))?;
            let jwk: Object = jwk.unchecked_into();
            let _ = Reflect::set(&jwk, &JsValue::from_str("ext"), &JsValue::TRUE);
            JsFuture::from(subtle.import_key_with_object("jwk", &jwk, &algorithm, false, &usages)?)
                .await?
                .unchecked_into()
        }
        None => {
            let pair = JsFuture::from(subtle.generate_key_with_object(&algorithm, false, &usages)?).await?;
            Reflect::get(&pair, &JsValue::from_str("privateKey"))?.unchecked_into()
        }
    };
    KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
    Ok(key)
}

/// `target.method(...args)`, as JS would call it.
fn call(target: &JsValue, method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    f.apply(target, args)
}

async fn token(req: Request, env: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(req.array_buffer()?).await?;
    let c = CONSTANTS.with(Clone::clone)?;
    if req.url().ends_with("/exchange") {
        platform_token(&c.subtle).await?;
    }
    let db = Reflect::get(&env, &JsValue::from_str("DB"))?;
    if !db.is_undefined() {
        let sql = JsValue::from_str("SELECT id, secret_hash, status FROM clients WHERE id = ?");
        let statement = call(&db, "prepare", &Array::of1(&sql))?;
        let bound = call(&statement, "bind", &Array::of1(&JsValue::from_str("m2m_floor")))?;
        JsFuture::from(js_sys::Promise::from(call(&bound, "first", &Array::new())?)).await?;
    }
    let key = key(&env, &c.subtle).await?;
    JsFuture::from(c.subtle.sign_with_object_and_buffer_source(&c.algorithm, &key, &c.input)?).await?;
    respond(&c.body, true)
}

/// The fetch handler: `GET` answers at once; a token is a promise.
#[wasm_bindgen(js_name = fetch)]
pub fn fetch(req: Request, env: Env, _ctx: JsValue) -> JsValue {
    if req.method() == "GET" {
        return respond(r#"{"keys":[]}"#, false).unwrap_or_else(|e| e);
    }
    wasm_bindgen_futures::future_to_promise(token(req, env.into())).into()
}
