//! ES256 signature checks (RFC 7518 §3.4), one back end per target:
//!
//! - natively, `aws-lc-rs` (feature `aws-lc-rs`, on by default): AWS-LC's
//!   P-256 arithmetic is assembly on x86_64 and aarch64, several times
//!   faster than the portable `p256` crate, and its parsed keys are held, so
//!   a check does not parse the point again (`make bench` prints both
//!   beside `jsonwebtoken`);
//! - natively without it, the `p256` crate: pure Rust, for targets AWS-LC
//!   cannot be built for (no C compiler, an unsupported architecture);
//! - on wasm32, WebCrypto (`crypto.subtle.verify`), which runs in the
//!   runtime's native code instead of compiled-to-wasm arithmetic.
//!
//! Each takes the key once per `kid` ([`import`]), refusing a point that is
//! not on the curve there, and is handed only signatures whose `r` and `s`
//! are in `[1, n-1]` ([`crate::in_range`]), so none has to be trusted to
//! refuse a zero or oversized scalar. Every back end parses and validates
//! the point on import, so holding an imported key spares that work on its
//! later checks.
//!
//! RS256 ([`verify_rs256_once`]) is for DPoP proofs only (RFC 9449 §4.3):
//! their keys are taken as they come, not held.

use crate::jwks::{PublicKey, RsaPublicKey};

/// Whether `signature` is `key`'s RS256 signature of `input` (RFC 7518
/// §3.3), the key used once and not held: a DPoP proof's own.
pub async fn verify_rs256_once(key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
    // PKCS #1 v1.5: the signature is exactly as long as the modulus.
    signature.len() == key.n.len() && verify_rs256(key, input, signature).await
}

/// The SEC 1 uncompressed encoding of `jwk`'s point: `04 || x || y`.
#[cfg(not(target_arch = "wasm32"))]
fn uncompressed(jwk: &PublicKey) -> [u8; 65] {
    let mut point = [0u8; 65];
    point[0] = 4;
    point[1..33].copy_from_slice(&jwk.x);
    point[33..].copy_from_slice(&jwk.y);
    point
}

#[cfg(all(not(target_arch = "wasm32"), feature = "aws-lc-rs"))]
mod aws_lc {
    use aws_lc_rs::signature::{
        ParsedPublicKey, RsaPublicKeyComponents, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256,
    };

    use super::{PublicKey, RsaPublicKey};

    /// An imported verification key: AWS-LC's parsed point, checked on the
    /// curve once, so that a check does not parse it again.
    pub type Key = std::sync::Arc<ParsedPublicKey>;

    /// The key of `jwk`, or `None` if its point is not on the curve.
    pub async fn import(jwk: &PublicKey) -> Option<Key> {
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, super::uncompressed(jwk)).ok().map(std::sync::Arc::new)
    }

    /// Whether `signature` (`r || s`, RFC 7518 §3.4) is `key`'s over `input`.
    /// AWS-LC verifies the DER form; handed `r || s`, aws-lc-rs would make
    /// it through two big numbers and an allocated encoding on every check,
    /// so the verifier encodes it itself ([`der`]).
    pub async fn verify(key: &Key, input: &[u8], signature: &[u8; 64]) -> bool {
        let (encoded, len) = der(signature);
        key.verify_sig(input, &encoded[..len]).is_ok()
    }

    /// Whether `signature` is `key`'s RS256 (PKCS #1 v1.5, SHA-256) signature of `input`.
    pub async fn verify_rs256(key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
        let key = RsaPublicKeyComponents { n: &key.n, e: &key.e };
        key.verify(&RSA_PKCS1_2048_8192_SHA256, input, signature).is_ok()
    }

    /// The DER form of an ECDSA signature `r || s` (RFC 3279 §2.2.3:
    /// `SEQUENCE { r INTEGER, s INTEGER }`), in a buffer and its length: each
    /// integer in its shortest two's-complement form (X.690 §8.3.2), so with
    /// leading zero bytes dropped and one put back where the top bit is set.
    /// At most 2 + 2 × (2 + 33) = 72 bytes. `r` and `s` are never zero here
    /// ([`crate::in_range`] comes first); a zero would encode as one zero byte.
    fn der(signature: &[u8; 64]) -> ([u8; 72], usize) {
        fn integer(out: &mut [u8; 72], at: usize, value: &[u8]) -> usize {
            let first = value.iter().position(|b| *b != 0).unwrap_or(value.len() - 1);
            let value = &value[first..];
            let pad = usize::from(value[0] & 0x80 != 0);
            let len = pad + value.len();
            out[at] = 0x02;
            out[at + 1] = len as u8; // ≤ 33
            out[at + 2] = 0;
            out[at + 2 + pad..at + 2 + len].copy_from_slice(value);
            at + 2 + len
        }
        let mut out = [0u8; 72];
        let end = integer(&mut out, 2, &signature[..32]);
        let end = integer(&mut out, end, &signature[32..]);
        out[0] = 0x30;
        out[1] = (end - 2) as u8; // ≤ 70
        (out, end)
    }

    #[cfg(test)]
    mod tests {
        use p256::ecdsa::Signature;
        use proptest::prelude::*;

        proptest! {
            /// The encoding is the one the `p256` crate makes, for any `r`
            /// and `s` in range: short ones (leading zeros), top bits set.
            #[test]
            fn der_is_the_standard_encoding(
                r in proptest::array::uniform32(any::<u8>()),
                s in proptest::array::uniform32(any::<u8>()),
                r_zeros in 0usize..4,
                s_zeros in 0usize..4,
            ) {
                let mut rs = [0u8; 64];
                rs[..32].copy_from_slice(&r);
                rs[32..].copy_from_slice(&s);
                rs[..r_zeros].fill(0);
                rs[32..32 + s_zeros].fill(0);
                prop_assume!(crate::in_range(&rs));
                let expected = Signature::from_slice(&rs).unwrap().to_der();
                let (der, len) = super::der(&rs);
                prop_assert_eq!(&der[..len], expected.as_bytes());
            }
        }
    }
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "aws-lc-rs")))]
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

    /// RS256 is not checked without `aws-lc-rs`: no pure-Rust RSA back end is
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

#[cfg(all(not(target_arch = "wasm32"), feature = "aws-lc-rs"))]
use aws_lc::verify_rs256;
#[cfg(all(not(target_arch = "wasm32"), feature = "aws-lc-rs"))]
pub use aws_lc::{import, verify, Key};
#[cfg(all(not(target_arch = "wasm32"), not(feature = "aws-lc-rs")))]
use rust_crypto::verify_rs256;
#[cfg(all(not(target_arch = "wasm32"), not(feature = "aws-lc-rs")))]
pub use rust_crypto::{import, verify, Key};
#[cfg(target_arch = "wasm32")]
use webcrypto::verify_rs256;
#[cfg(target_arch = "wasm32")]
pub use webcrypto::{import, verify, Key};
