//! Private keys at rest: AES-256-GCM under the `KEY_ENCRYPTION_KEY` secret
//! (256 bits, base64url), a fresh 96-bit IV per seal, and the key's `kid` as
//! associated data, so a sealed key moved onto another record fails to open.
//! Stored form: base64url(IV ‖ ciphertext ‖ tag).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub const IV_LEN: usize = 12;

/// The key-encryption key. Not `Debug`.
pub struct Kek(pub [u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekError {
    Missing,
    Malformed,
}

impl fmt::Display for KekError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KekError::Missing => "KEY_ENCRYPTION_KEY is not set",
            KekError::Malformed => "KEY_ENCRYPTION_KEY must be 32 bytes, base64url without padding",
        })
    }
}

impl Kek {
    pub fn parse(raw: Option<&str>) -> Result<Kek, KekError> {
        let raw = raw.map(str::trim).filter(|s| !s.is_empty()).ok_or(KekError::Missing)?;
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| KekError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KekError::Malformed)?;
        Ok(Kek(bytes))
    }
}

/// A fresh key pair, base64url coordinates and scalar. Not `Debug`.
pub struct KeyMaterial {
    pub d: Vec<u8>,
    pub x: String,
    pub y: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoError(pub String);

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Key generation and sealing: WebCrypto in the Worker, RustCrypto on the host.
#[allow(async_fn_in_trait)]
pub trait KeyCrypto {
    /// A new EC P-256 key pair.
    async fn generate(&self) -> Result<KeyMaterial, CryptoError>;
    /// AES-256-GCM encrypt `plaintext` under `kek` with `aad`, returning IV ‖ ciphertext ‖ tag.
    async fn seal(&self, kek: &Kek, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// The inverse of [`KeyCrypto::seal`]; an error for a wrong key, AAD or a damaged record.
    async fn open(&self, kek: &Kek, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

#[cfg(not(target_arch = "wasm32"))]
pub use host::HostCrypto;

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::{CryptoError, Kek, KeyCrypto, KeyMaterial, IV_LEN};

    /// Host implementation (tests, tools): p256 and aes-gcm, OS randomness.
    pub struct HostCrypto;

    fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
        let mut out = [0u8; N];
        getrandom::getrandom(&mut out).map_err(|_| CryptoError("random source failed".into()))?;
        Ok(out)
    }

    impl KeyCrypto for HostCrypto {
        async fn generate(&self) -> Result<KeyMaterial, CryptoError> {
            loop {
                // A random 256-bit value is a valid scalar but with negligible
                // probability; retry the rare one that is not.
                let d = random::<32>()?;
                if let Ok(secret) = p256::SecretKey::from_slice(&d) {
                    let point =
                        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
                    let (Some(x), Some(y)) = (point.x(), point.y()) else { continue };
                    return Ok(KeyMaterial {
                        d: d.to_vec(),
                        x: URL_SAFE_NO_PAD.encode(x),
                        y: URL_SAFE_NO_PAD.encode(y),
                    });
                }
            }
        }

        async fn seal(&self, kek: &Kek, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
            let cipher = Aes256Gcm::new_from_slice(&kek.0).map_err(|_| CryptoError("bad key length".into()))?;
            let iv = random::<IV_LEN>()?;
            let ct = cipher
                .encrypt(&Nonce::from(iv), Payload { msg: plaintext, aad })
                .map_err(|_| CryptoError("AES-GCM seal failed".into()))?;
            Ok([iv.as_slice(), &ct].concat())
        }

        async fn open(&self, kek: &Kek, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
            if sealed.len() < IV_LEN + 16 {
                return Err(CryptoError("sealed key too short".into()));
            }
            let cipher = Aes256Gcm::new_from_slice(&kek.0).map_err(|_| CryptoError("bad key length".into()))?;
            let (iv, ct) = sealed.split_at(IV_LEN);
            let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError("sealed key too short".into()))?;
            cipher
                .decrypt(&Nonce::from(iv), Payload { msg: ct, aad })
                .map_err(|_| CryptoError("AES-GCM open failed".into()))
        }
    }
}

/// Encode / decode the stored form.
pub fn encode(sealed: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sealed)
}

pub fn decode(stored: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(stored).ok()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        pollster::block_on(async {
            let c = HostCrypto;
            let kek = Kek([7u8; 32]);
            let m = c.generate().await.unwrap();
            assert_eq!(m.d.len(), 32);
            let sealed = c.seal(&kek, b"kid-1", &m.d).await.unwrap();
            assert_eq!(sealed.len(), IV_LEN + 32 + 16);
            assert_eq!(c.open(&kek, b"kid-1", &sealed).await.unwrap(), m.d);
            assert!(c.open(&Kek([8u8; 32]), b"kid-1", &sealed).await.is_err(), "wrong KEK");
            assert!(c.open(&kek, b"kid-2", &sealed).await.is_err(), "kid is bound as AAD");
            let mut damaged = sealed.clone();
            damaged[20] ^= 1;
            assert!(c.open(&kek, b"kid-1", &damaged).await.is_err());
        });
    }

    #[test]
    fn kek_parsing() {
        assert_eq!(Kek::parse(None).err(), Some(KekError::Missing));
        assert_eq!(Kek::parse(Some("short")).err(), Some(KekError::Malformed));
        assert!(Kek::parse(Some(&URL_SAFE_NO_PAD.encode([1u8; 32]))).is_ok());
    }
}
