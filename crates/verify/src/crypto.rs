//! ES256 signature checks (RFC 7518 §3.4), one back end per target:
//!
//! - natively, `ring` (feature `ring`, on by default): its P-256 arithmetic
//!   is assembly on x86_64 and aarch64, several times faster than the
//!   portable `p256` crate (`make bench` prints both beside `jsonwebtoken`);
//! - natively without `ring`, the `p256` crate: pure Rust, for targets `ring`
//!   cannot be built for (no C compiler, an unsupported architecture);
//! - on wasm32, WebCrypto (`crypto.subtle.verify`), which runs in the
//!   runtime's native code instead of compiled-to-wasm arithmetic.
//!
//! Each takes the key once per `kid` ([`import`]), refusing a point that is
//! not on the curve there, and is handed only signatures whose `r` and `s`
//! are in `[1, n-1]` ([`crate::in_range`]), so none has to be trusted to
//! refuse a zero or oversized scalar.

use crate::jwks::{PublicKey, RsaPublicKey, VerificationKey};

/// Whether `signature` is `key`'s over `input`, with a key used once and
/// not held: a DPoP proof's own key (RFC 9449 §4.3), ES256 or RS256 as the
/// key is. An ES256 signature is range-checked first, as every other is.
pub async fn verify_once(key: &VerificationKey, input: &[u8], signature: &[u8]) -> bool {
    match key {
        VerificationKey::Es256(key) => match <[u8; 64]>::try_from(signature) {
            Ok(signature) => crate::in_range(&signature) && verify_es256_once(key, input, &signature).await,
            Err(_) => false,
        },
        // PKCS #1 v1.5: the signature is exactly as long as the modulus.
        VerificationKey::Rs256(key) => signature.len() == key.n.len() && verify_rs256(key, input, signature).await,
    }
}

/// Whether holding an imported key ([`import`]) spares work on its later
/// checks: WebCrypto and `p256` parse and validate the point on import,
/// which [`verify_once`] repeats on every check; `ring` parses nothing
/// ahead, and its `import` adds a key agreement (its curve check) that
/// [`verify_once`] does without.
pub const HOLDING_KEYS_PAYS: bool = !cfg!(all(not(target_arch = "wasm32"), feature = "ring"));

/// The SEC 1 uncompressed encoding of `jwk`'s point: `04 || x || y`.
#[cfg(not(target_arch = "wasm32"))]
fn uncompressed(jwk: &PublicKey) -> [u8; 65] {
    let mut point = [0u8; 65];
    point[0] = 4;
    point[1..33].copy_from_slice(&jwk.x);
    point[33..].copy_from_slice(&jwk.y);
    point
}

#[cfg(all(not(target_arch = "wasm32"), feature = "ring"))]
mod ring_backend {
    use ring::agreement::{self, EphemeralPrivateKey, ECDH_P256};
    use ring::rand::SystemRandom;
    use ring::signature::{
        RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
    };

    use super::{PublicKey, RsaPublicKey};

    /// An imported verification key: the point, checked on the curve.
    pub type Key = UnparsedPublicKey<[u8; 65]>;

    /// The key of `jwk`, or `None` if its point is not on the curve.
    ///
    /// `ring` has no call that only validates a public point; key agreement
    /// validates its peer's point first (SP 800-56A §5.6.2.3.4, "partial
    /// public-key validation": on the curve, not the identity), so one
    /// agreement with a throwaway key is that check, once per key.
    pub async fn import(jwk: &PublicKey) -> Option<Key> {
        let point = super::uncompressed(jwk);
        let ours = EphemeralPrivateKey::generate(&ECDH_P256, &SystemRandom::new()).ok()?;
        agreement::agree_ephemeral(ours, &agreement::UnparsedPublicKey::new(&ECDH_P256, &point), |_| ()).ok()?;
        Some(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point))
    }

    /// Whether `signature` (`r || s`, RFC 7518 §3.4) is `key`'s over `input`.
    pub async fn verify(key: &Key, input: &[u8], signature: &[u8; 64]) -> bool {
        key.verify(input, signature).is_ok()
    }

    /// [`verify`] with a key not imported: `ring` checks that the point is
    /// on the curve as it verifies.
    pub async fn verify_es256_once(key: &PublicKey, input: &[u8], signature: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, super::uncompressed(key)).verify(input, signature).is_ok()
    }

    /// Whether `signature` is `key`'s RS256 (PKCS #1 v1.5, SHA-256) signature of `input`.
    pub async fn verify_rs256(key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
        let key = RsaPublicKeyComponents { n: &key.n, e: &key.e };
        key.verify(&RSA_PKCS1_2048_8192_SHA256, input, signature).is_ok()
    }
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "ring")))]
mod rust_crypto {
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::{PublicKey, RsaPublicKey};

    /// An imported verification key.
    pub type Key = VerifyingKey;

    /// The key of `jwk`, or `None` if its point is not on the curve.
    pub async fn import(jwk: &PublicKey) -> Option<Key> {
        VerifyingKey::from_sec1_bytes(&super::uncompressed(jwk)).ok()
    }

    /// Whether `signature` is `key`'s over `input` (SHA-256, ECDSA).
    pub async fn verify(key: &Key, input: &[u8], signature: &[u8; 64]) -> bool {
        Signature::from_slice(signature).is_ok_and(|s| key.verify(input, &s).is_ok())
    }

    /// [`verify`] with a key not imported.
    pub async fn verify_es256_once(key: &PublicKey, input: &[u8], signature: &[u8; 64]) -> bool {
        match import(key).await {
            Some(key) => verify(&key, input, signature).await,
            None => false,
        }
    }

    /// RS256 is not checked without `ring`: no pure-Rust RSA back end is
    /// built in, so an RS256 DPoP proof is refused (ES256 ones, what
    /// DPoP libraries make by default, are checked).
    pub async fn verify_rs256(_key: &RsaPublicKey, _input: &[u8], _signature: &[u8]) -> bool {
        false
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

    use super::{PublicKey, RsaPublicKey};

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

    /// [`verify`] with a key imported for this one check.
    pub async fn verify_es256_once(key: &PublicKey, input: &[u8], signature: &[u8; 64]) -> bool {
        match import(key).await {
            Some(key) => verify(&key, input, signature).await,
            None => false,
        }
    }

    /// Whether `signature` is `key`'s RS256 signature of `input`
    /// (WebCrypto's RSASSA-PKCS1-v1_5 with SHA-256).
    pub async fn verify_rs256(key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
        let checked = async {
            let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok()?;
            let subtle: SubtleCrypto = Reflect::get(&crypto, &JsValue::from_str("subtle")).ok()?.unchecked_into();
            let (n, e) = (URL_SAFE_NO_PAD.encode(&key.n), URL_SAFE_NO_PAD.encode(&key.e));
            let jwk = object(&[("kty", "RSA"), ("n", &n), ("e", &e)])?;
            let algorithm = object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")])?;
            let usages = Array::of1(&JsValue::from_str("verify"));
            let promise = subtle.import_key_with_object("jwk", &jwk, &algorithm, false, &usages).ok()?;
            let key: CryptoKey = JsFuture::from(promise).await.ok()?.unchecked_into();
            let promise =
                subtle.verify_with_object_and_u8_array_and_u8_array(&algorithm, &key, signature, input).ok()?;
            JsFuture::from(promise).await.ok()?.as_bool()
        };
        checked.await == Some(true)
    }
}

#[cfg(all(not(target_arch = "wasm32"), feature = "ring"))]
pub use ring_backend::{import, verify, Key};
#[cfg(all(not(target_arch = "wasm32"), feature = "ring"))]
use ring_backend::{verify_es256_once, verify_rs256};
#[cfg(all(not(target_arch = "wasm32"), not(feature = "ring")))]
pub use rust_crypto::{import, verify, Key};
#[cfg(all(not(target_arch = "wasm32"), not(feature = "ring")))]
use rust_crypto::{verify_es256_once, verify_rs256};
#[cfg(target_arch = "wasm32")]
pub use webcrypto::{import, verify, Key};
#[cfg(target_arch = "wasm32")]
use webcrypto::{verify_es256_once, verify_rs256};
