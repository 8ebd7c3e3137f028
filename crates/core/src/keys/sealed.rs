//! Private keys at rest: AES-256-GCM under the `KEY_ENCRYPTION_KEY` secret
//! (256 bits, base64url), a fresh 96-bit IV per seal, and the key's `kid` as
//! associated data, so a sealed key moved onto another record fails to open.
//! Stored form: base64url(IV ‖ ciphertext ‖ tag).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::ports::Random;

/// AES-GCM's 96-bit IV (NIST SP 800-38D §8.2: a fresh random IV per
/// encryption under one key).
pub const IV_LEN: usize = 12;
/// AES-GCM's 128-bit authentication tag.
pub const TAG_LEN: usize = 16;

/// The key-encryption key. Not `Debug`.
pub struct Kek(pub [u8; 32]);

/// Why the KEY_ENCRYPTION_KEY secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekError {
    /// The secret is not set.
    Missing,
    /// Not 32 bytes of base64url.
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

impl std::error::Error for KekError {}

impl Kek {
    /// The KEK from the secret's text.
    pub fn parse(raw: Option<&str>) -> Result<Kek, KekError> {
        let raw = raw.map(str::trim).filter(|s| !s.is_empty()).ok_or(KekError::Missing)?;
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| KekError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KekError::Malformed)?;
        Ok(Kek(bytes))
    }
}

/// A fresh key pair, base64url coordinates and scalar. Not `Debug`.
pub struct KeyMaterial {
    /// The private scalar, 32 bytes.
    pub d: Vec<u8>,
    /// The public point's coordinates, base64url.
    pub x: String,
    /// See `x`.
    pub y: String,
}

/// A key-generation or AES-GCM failure: a wrong key, AAD or damaged
/// record on open, or the runtime's crypto refusing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoError(pub String);

impl std::error::Error for CryptoError {}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key, IV and associated data of one AES-256-GCM operation.
pub struct Gcm<'a> {
    /// The key-encryption key.
    pub kek: &'a Kek,
    /// A fresh IV per encryption.
    pub iv: &'a [u8; IV_LEN],
    /// Bound to the ciphertext: opening with other AAD fails.
    pub aad: &'a [u8],
}

/// Which way [`KeyCrypto::aes_gcm`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext in; ciphertext followed by the 16-byte tag out.
    Encrypt,
    /// Ciphertext and tag in; plaintext out, or an error for a wrong key,
    /// IV, AAD or damaged input.
    Decrypt,
}

/// The crypto primitives managed keys and admin tokens need: WebCrypto in
/// the Worker, RustCrypto on the host (`m2m-edge-testkit`). The stored framing (IV
/// drawn through the [`Random`] port, IV ‖ ciphertext ‖ tag) is this
/// module's alone: [`seal`] and [`open`].
#[allow(async_fn_in_trait)]
pub trait KeyCrypto {
    /// A new EC P-256 key pair.
    async fn generate(&self) -> Result<KeyMaterial, CryptoError>;

    /// AES-256-GCM with `gcm`'s key, IV and AAD, in `direction`.
    async fn aes_gcm(&self, direction: Direction, gcm: &Gcm<'_>, input: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Whether `signature` (raw `r || s`, already range-checked) is
    /// `key`'s ES256 signature of `input`: how the admin API checks the
    /// access tokens this deployment issued.
    async fn verify_es256(&self, key: &m2m_edge_verify::jwks::PublicKey, input: &[u8], signature: &[u8; 64]) -> bool;

    /// `key`'s RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature of `input`:
    /// how a trusted issuer's RSA-signed identity tokens are checked.
    async fn verify_rs256(&self, key: &m2m_edge_verify::jwks::RsaPublicKey, input: &[u8], signature: &[u8]) -> bool;
}

/// Encrypt `plaintext` under `kek` with a fresh random IV, `aad` bound:
/// IV ‖ ciphertext ‖ tag.
pub async fn seal<C: KeyCrypto>(
    crypto: &C,
    random: &dyn Random,
    kek: &Kek,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut iv = [0u8; IV_LEN];
    random.fill(&mut iv).map_err(|e| CryptoError(format!("IV: {e}")))?;
    let ciphertext = crypto.aes_gcm(Direction::Encrypt, &Gcm { kek, iv: &iv, aad }, plaintext).await?;
    Ok([iv.as_slice(), &ciphertext].concat())
}

/// The inverse of [`seal`].
pub async fn open<C: KeyCrypto>(crypto: &C, kek: &Kek, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < IV_LEN + TAG_LEN {
        return Err(CryptoError("sealed key too short".into()));
    }
    let (iv, ciphertext) = sealed.split_at(IV_LEN);
    let iv: &[u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError("sealed key too short".into()))?;
    crypto.aes_gcm(Direction::Decrypt, &Gcm { kek, iv, aad }, ciphertext).await
}

/// The stored text of sealed bytes (base64url).
pub fn encode(sealed: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sealed)
}

/// The sealed bytes from their stored text.
pub fn decode(stored: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(stored).ok()
}
