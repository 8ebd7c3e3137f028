//! ES256 signature checks (RFC 7518 §3.4): the `p256` crate natively,
//! WebCrypto (`crypto.subtle.verify`) on wasm32, where it runs in the
//! runtime's native code instead of compiled-to-wasm arithmetic. Both take
//! the key once per `kid` ([`import`]) and are handed only signatures whose
//! `r` and `s` are in `[1, n-1]` ([`crate::in_range`]), so neither has to be
//! trusted to refuse a zero or oversized scalar.

use crate::jwks::PublicKey;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};
    use p256::EncodedPoint;

    use super::PublicKey;

    /// An imported verification key.
    pub type Key = VerifyingKey;

    /// The key of `jwk`, or `None` if its point is not on the curve.
    pub async fn import(jwk: &PublicKey) -> Option<Key> {
        let point = EncodedPoint::from_affine_coordinates(&jwk.x.into(), &jwk.y.into(), false);
        VerifyingKey::from_encoded_point(&point).ok()
    }

    /// Whether `signature` is `key`'s over `input` (SHA-256, ECDSA).
    pub async fn verify(key: &Key, input: &[u8], signature: &[u8; 64]) -> bool {
        Signature::from_slice(signature).is_ok_and(|s| key.verify(input, &s).is_ok())
    }
}

#[cfg(target_arch = "wasm32")]
mod webcrypto {
    use js_sys::{Array, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{CryptoKey, SubtleCrypto};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::PublicKey;

    /// An imported verification key, with what `verify` needs alongside.
    #[derive(Clone, Debug)]
    pub struct Key {
        subtle: SubtleCrypto,
        key: CryptoKey,
        algorithm: Object,
    }

    fn object(pairs: &[(&str, &str)]) -> Option<Object> {
        let o = Object::new();
        for (k, v) in pairs {
            Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v)).ok()?;
        }
        Some(o)
    }

    /// The key of `jwk` imported into WebCrypto, or `None` if it refuses it.
    pub async fn import(jwk: &PublicKey) -> Option<Key> {
        let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok()?;
        let subtle: SubtleCrypto = Reflect::get(&crypto, &JsValue::from_str("subtle")).ok()?.unchecked_into();
        let (x, y) = (URL_SAFE_NO_PAD.encode(jwk.x), URL_SAFE_NO_PAD.encode(jwk.y));
        let jwk = object(&[("kty", "EC"), ("crv", "P-256"), ("x", &x), ("y", &y)])?;
        let import = object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?;
        let usages = Array::of1(&JsValue::from_str("verify"));
        let promise = subtle.import_key_with_object("jwk", &jwk, &import, false, &usages).ok()?;
        let key: CryptoKey = JsFuture::from(promise).await.ok()?.unchecked_into();
        let algorithm = object(&[("name", "ECDSA"), ("hash", "SHA-256")])?;
        Some(Key { subtle, key, algorithm })
    }

    /// Whether `signature` is `key`'s over `input`: WebCrypto takes the raw
    /// `r || s` form JWS uses (RFC 7518 §3.4). Both are passed as views of
    /// wasm memory, which `verify` copies before it returns (WebCrypto,
    /// "get a copy of the bytes held by" each argument).
    pub async fn verify(key: &Key, input: &[u8], signature: &[u8; 64]) -> bool {
        let Ok(promise) =
            key.subtle.verify_with_object_and_u8_array_and_u8_array(&key.algorithm, &key.key, signature, input)
        else {
            return false;
        };
        JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()) == Some(true)
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{import, verify, Key};
#[cfg(target_arch = "wasm32")]
pub use webcrypto::{import, verify, Key};
