//! WebCrypto (`crypto.subtle`, BoringSSL inside workerd): ES256 signing
//! keys, key generation and AES-256-GCM for managed keys. WebCrypto signs
//! more than an order of magnitude faster than p256 compiled to wasm
//! (BENCHMARKS.md). The private key is imported once per isolate as a
//! non-extractable `CryptoKey`; `glue.js` signs with it while it builds the
//! token response (`m2m_edge_core::http::SignatureSlot`). Public keys that
//! verify client assertions and platform tokens are imported once per
//! isolate as well (importing an RSA key cost more than verifying with it).

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CryptoKey, SubtleCrypto};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use m2m_edge_core::http::{Response, SignatureSlot};
use m2m_edge_core::jose::{jws, IssuingKey, JwkError, SigningKey};
use m2m_edge_core::keys::isolate::KeyImport;
use m2m_edge_core::keys::sealed::{CryptoError, Direction, Gcm, Kek, KeyCrypto, KeyMaterial};
use m2m_edge_core::keys::KeyError;
use m2m_edge_verify::jwks::{PublicKey, RsaPublicKey};

use crate::ffi::{self, SigningParts};
use crate::task::Settled;

/// An ES256 private key imported into WebCrypto.
pub struct WebCryptoSigner {
    kid: String,
    header_b64: String,
    subtle: SubtleCrypto,
    key: CryptoKey,
    /// `{name: "ECDSA", hash: "SHA-256"}`, built once.
    algorithm: Object,
}

fn object(pairs: &[(&str, &JsValue)]) -> Result<Object, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v)?;
    }
    Ok(o)
}

impl WebCryptoSigner {
    /// Import `key` non-extractable, for signing only.
    pub async fn import(key: &SigningKey) -> Result<WebCryptoSigner, KeyError> {
        let rejected = |_| KeyError::Jwk(JwkError::Rejected { kid: key.kid.clone() });
        let subtle = subtle().map_err(|_| KeyError::Jwk(JwkError::Rejected { kid: key.kid.clone() }))?;
        let s = |v: &str| JsValue::from_str(v);
        let jwk = object(&[
            ("kty", &s("EC")),
            ("crv", &s("P-256")),
            ("x", &s(&key.x)),
            ("y", &s(&key.y)),
            ("d", &s(key.private_d())),
        ])
        .map_err(rejected)?;
        let import_algorithm = object(&[("name", &s("ECDSA")), ("namedCurve", &s("P-256"))]).map_err(rejected)?;
        let usages = Array::of1(&s("sign"));
        // extractable = false: the key cannot be read back out of the isolate.
        let promise =
            subtle.import_key_with_object("jwk", &jwk, &import_algorithm, false, &usages).map_err(rejected)?;
        let crypto_key: CryptoKey = Settled::of(promise).await.map_err(rejected)?.unchecked_into();
        let algorithm = object(&[("name", &s("ECDSA")), ("hash", &s("SHA-256"))]).map_err(rejected)?;
        Ok(WebCryptoSigner {
            kid: key.kid.clone(),
            header_b64: jws::access_token_header(&key.kid),
            subtle,
            key: crypto_key,
            algorithm,
        })
    }
}

impl IssuingKey for WebCryptoSigner {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn header_b64(&self) -> &str {
        &self.header_b64
    }
}

impl WebCryptoSigner {
    /// A promise of the `Response` once the slot is signed (`glue.js`
    /// `signThenRespond`); `failed` answers instead if the promise rejects,
    /// `Err` if WebCrypto throws at once.
    pub fn sign_then_respond(
        &self,
        response: &Response,
        slot: &SignatureSlot,
        failed: &Closure<dyn FnMut(JsValue) -> JsValue>,
    ) -> Result<JsValue, JsValue> {
        let parts = SigningParts { subtle: &self.subtle, algorithm: &self.algorithm, key: &self.key };
        ffi::sign_then_respond(parts, response, slot, failed)
    }
}

/// Imports keys into WebCrypto, for the isolate's key cache.
pub struct WebCryptoImport;

impl KeyImport for WebCryptoImport {
    type Key = WebCryptoSigner;

    async fn import(&self, key: &SigningKey) -> Result<WebCryptoSigner, KeyError> {
        WebCryptoSigner::import(key).await
    }
}

/// Key generation and AES-256-GCM sealing through WebCrypto, for managed keys.
pub struct WebCryptoKeys;

thread_local! {
    /// `crypto.subtle`, looked up once per isolate: every verification of a
    /// platform token or client assertion asks for it, and each lookup is
    /// two property reads across the JS boundary with their names decoded.
    static SUBTLE: std::cell::OnceCell<SubtleCrypto> = const { std::cell::OnceCell::new() };
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    if let Some(held) = SUBTLE.with(|s| s.get().cloned()) {
        return Ok(held);
    }
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).map_err(|_| js_failed("crypto"))?;
    let subtle: SubtleCrypto =
        Reflect::get(&crypto, &JsValue::from_str("subtle")).map_err(|_| js_failed("crypto.subtle"))?.unchecked_into();
    Ok(SUBTLE.with(|s| s.get_or_init(|| subtle).clone()))
}

fn js_failed(what: &str) -> CryptoError {
    CryptoError(format!("WebCrypto {what} failed"))
}

async fn aes_key(subtle: &SubtleCrypto, kek: &Kek, usage: &str) -> Result<CryptoKey, CryptoError> {
    let raw = Uint8Array::from(&kek.0[..]);
    let algorithm = object(&[("name", &JsValue::from_str("AES-GCM"))]).map_err(|_| js_failed("AES key"))?;
    let promise = subtle
        .import_key_with_object("raw", &raw, &algorithm, false, &Array::of1(&JsValue::from_str(usage)))
        .map_err(|_| js_failed("AES import"))?;
    Ok(Settled::of(promise).await.map_err(|_| js_failed("AES import"))?.unchecked_into())
}

fn gcm_params(iv: &[u8], aad: &[u8]) -> Result<Object, CryptoError> {
    object(&[
        ("name", &JsValue::from_str("AES-GCM")),
        ("iv", &Uint8Array::from(iv).into()),
        ("additionalData", &Uint8Array::from(aad).into()),
    ])
    .map_err(|_| js_failed("AES-GCM params"))
}

impl KeyCrypto for WebCryptoKeys {
    async fn generate(&self) -> Result<KeyMaterial, CryptoError> {
        let subtle = subtle()?;
        let algorithm = object(&[("name", &JsValue::from_str("ECDSA")), ("namedCurve", &JsValue::from_str("P-256"))])
            .map_err(|_| js_failed("generateKey params"))?;
        // Extractable only so the scalar can be sealed for storage; the
        // signing key used afterwards is re-imported non-extractable.
        let promise = subtle
            .generate_key_with_object(&algorithm, true, &Array::of1(&JsValue::from_str("sign")))
            .map_err(|_| js_failed("generateKey"))?;
        let pair = Settled::of(promise).await.map_err(|_| js_failed("generateKey"))?;
        let private: CryptoKey = Reflect::get(&pair, &JsValue::from_str("privateKey"))
            .map_err(|_| js_failed("privateKey"))?
            .unchecked_into();
        let jwk = Settled::of(subtle.export_key("jwk", &private).map_err(|_| js_failed("exportKey"))?)
            .await
            .map_err(|_| js_failed("exportKey"))?;
        let field = |name: &str| Reflect::get(&jwk, &JsValue::from_str(name)).ok().and_then(|v| v.as_string());
        let (Some(d), Some(x), Some(y)) = (field("d"), field("x"), field("y")) else {
            return Err(js_failed("exported JWK"));
        };
        let d = URL_SAFE_NO_PAD.decode(d).map_err(|_| js_failed("exported d"))?;
        Ok(KeyMaterial { d, x, y })
    }

    async fn aes_gcm(&self, direction: Direction, gcm: &Gcm<'_>, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let subtle = subtle()?;
        let (usage, what) = match direction {
            Direction::Encrypt => ("encrypt", "AES-GCM encrypt"),
            Direction::Decrypt => ("decrypt", "AES-GCM decrypt"),
        };
        let key = aes_key(&subtle, gcm.kek, usage).await?;
        let params = gcm_params(gcm.iv, gcm.aad)?;
        let promise = match direction {
            Direction::Encrypt => subtle.encrypt_with_object_and_u8_array(&params, &key, input),
            Direction::Decrypt => subtle.decrypt_with_object_and_u8_array(&params, &key, input),
        }
        .map_err(|_| js_failed(what))?;
        // A wrong key, AAD or damaged record rejects the promise.
        Ok(Uint8Array::new(&Settled::of(promise).await.map_err(|_| js_failed(what))?).to_vec())
    }

    async fn verify_es256(&self, key: &PublicKey, input: &[u8], signature: &[u8; 64]) -> bool {
        let id = [b"ES256 ".as_slice(), &key.x, &key.y].concat();
        let jwk = || PublicJwk {
            fields: [
                ("kty", "EC".into()),
                ("crv", "P-256".into()),
                ("x", URL_SAFE_NO_PAD.encode(key.x)),
                ("y", URL_SAFE_NO_PAD.encode(key.y)),
            ],
            import: &[("namedCurve", "P-256")],
        };
        verify_with(id, jwk, "ECDSA", &[("hash", "SHA-256")], input, signature).await
    }

    async fn verify_rs256(&self, key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
        // The modulus's length first, so that no other (n, e) reads the same.
        let n_len = (key.n.len() as u32).to_be_bytes();
        let id = [b"RS256 ".as_slice(), &n_len, &key.n, &key.e].concat();
        let jwk = || PublicJwk {
            fields: [
                ("kty", "RSA".into()),
                ("n", URL_SAFE_NO_PAD.encode(&key.n)),
                ("e", URL_SAFE_NO_PAD.encode(&key.e)),
                ("alg", "RS256".into()),
            ],
            import: &[("hash", "SHA-256")],
        };
        verify_with(id, jwk, "RSASSA-PKCS1-v1_5", &[], input, signature).await
    }
}

/// Most public keys an isolate keeps imported; past it, it starts over.
const MAX_VERIFICATION_KEYS: usize = 256;

thread_local! {
    /// Public keys imported for verification, by their algorithm and raw
    /// key bytes ([`verify_with`]'s `id`).
    /// Importing is a function of the key's own bytes, so an entry never
    /// goes stale: a rotated or removed key is simply not asked for again.
    /// The keys come from clients' registered sets, trusted issuers'
    /// fetched ones (at most 32 each), and DPoP proofs' headers — the one
    /// kind a request brings: a flood of proof keys at worst empties the
    /// map (each is imported again when next used), never grows it past
    /// the bound.
    /// Each with the parameters `verify` takes for it, built once too.
    static VERIFICATION_KEYS: RefCell<HashMap<Vec<u8>, (CryptoKey, Object)>> = RefCell::new(HashMap::new());
}

/// A public key as the JWK WebCrypto imports, and the import parameters
/// its algorithm needs beside `name`.
struct PublicJwk {
    fields: [(&'static str, String); 4],
    import: &'static [(&'static str, &'static str)],
}

/// A JS object of string members.
fn text_object(pairs: &[(&str, &str)]) -> Option<Object> {
    let values: Vec<JsValue> = pairs.iter().map(|(_, v)| JsValue::from_str(v)).collect();
    let pairs: Vec<(&str, &JsValue)> = pairs.iter().zip(&values).map(|((k, _), v)| (*k, v)).collect();
    object(&pairs).ok()
}

/// Whether `signature` over `input` verifies with the key `id` names
/// under `algorithm` (with `verify_params` beside `name`): imported from
/// `jwk()`, and those parameters built, once per isolate. `id` is the
/// algorithm and the key's raw bytes, so a warm verification encodes no
/// JWK.
async fn verify_with(
    id: Vec<u8>,
    jwk: impl FnOnce() -> PublicJwk,
    algorithm: &str,
    verify_params: &[(&str, &str)],
    input: &[u8],
    signature: &[u8],
) -> bool {
    let named = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("name", algorithm)];
        pairs.extend_from_slice(extra);
        text_object(&pairs)
    };
    let verified = async {
        let subtle = subtle().ok()?;
        let verify = |public: &CryptoKey, params: &Object| {
            subtle.verify_with_object_and_u8_array_and_u8_array(params, public, signature, input).ok()
        };
        let held = VERIFICATION_KEYS.with(|keys| keys.borrow().get(&id).map(|(public, params)| verify(public, params)));
        let promise = match held {
            Some(promise) => promise?,
            None => {
                let key = jwk();
                let fields: Vec<(&str, &str)> = key.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (jwk, import) = (text_object(&fields)?, named(key.import)?);
                let usages = Array::of1(&JsValue::from_str("verify"));
                let promise = subtle.import_key_with_object("jwk", &jwk, &import, false, &usages).ok()?;
                let public: CryptoKey = Settled::of(promise).await.ok()?.unchecked_into();
                let params = named(verify_params)?;
                let promise = verify(&public, &params);
                VERIFICATION_KEYS.with(|keys| {
                    let mut keys = keys.borrow_mut();
                    if keys.len() >= MAX_VERIFICATION_KEYS {
                        keys.clear();
                    }
                    keys.insert(id, (public, params));
                });
                promise?
            }
        };
        Settled::of(promise).await.ok()?.as_bool()
    };
    verified.await == Some(true)
}
