//! Signing keys in both modes. Bring-your-own keys come parsed from the
//! `SIGNING_KEYS` secret ([`crate::jose::jwk`]); managed keys
//! (KEY_MODE = "managed") are owned by the worker: kept encrypted at rest
//! and rotated on a schedule with pre-publication and retirement overlap
//! (the model: Auth0, Keycloak).
//!
//! - [`rotation`]: the states and the one pure function that moves them.
//! - [`sealed`]: AES-256-GCM sealing of private keys under KEY_ENCRYPTION_KEY.
//! - [`manager`]: loading, bootstrapping and saving a key set through the
//!   ports; what the cron, the admin API and the token path call.
//! - [`isolate`]: what one isolate keeps between requests, and when it
//!   reads the key set again.

pub mod isolate;
pub mod manager;
pub mod rotation;
pub mod sealed;

use std::fmt;

pub use rotation::{KeyState, ManagedKey, Policy};

use crate::jose::JwkError;
use crate::ports::StoreError;
use sealed::{CryptoError, KekError};

/// Why there is no key to sign with (or no JWKS to serve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Bring-your-own: the `SIGNING_KEYS` secret is unusable.
    Jwk(JwkError),
    /// Managed: KEY_ENCRYPTION_KEY missing or malformed.
    Kek(KekError),
    /// Managed: the stored key `kid` does not open with the configured
    /// KEY_ENCRYPTION_KEY (a different key, or a damaged record).
    Unseal {
        /// The key that would not open.
        kid: String,
    },
    /// Managed: the key set could not be read or written.
    Storage(StoreError),
    /// Managed: the key set kept changing under concurrent writers.
    Contended,
    /// Managed: key generation or sealing failed.
    Crypto(CryptoError),
    /// Managed: the stored set has no current key.
    NoCurrent,
    /// Managed: as many retired keys are published as allowed; the oldest
    /// leaves at `until` (Unix seconds).
    AtCap {
        /// When rotating works again.
        until: i64,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Jwk(e) => write!(f, "{e}"),
            KeyError::Kek(e) => write!(f, "{e}"),
            KeyError::Unseal { kid } => write!(
                f,
                "KEY_ENCRYPTION_KEY does not decrypt managed key {kid}: the secret is not the one the keys were sealed with, or the record is damaged"
            ),
            KeyError::Storage(e) => write!(f, "managed key set: {e}"),
            KeyError::Contended => f.write_str("managed key set: it kept changing under concurrent writers"),
            KeyError::Crypto(e) => write!(f, "managed keys: {e}"),
            KeyError::NoCurrent => f.write_str("managed key set has no current key"),
            KeyError::AtCap { until } => write!(
                f,
                "{} retired keys are still published (each until every token it signed has expired); the oldest leaves at {}: rotate then, or revoke the current key instead",
                rotation::MAX_RETIRED,
                crate::time::rfc3339(*until)
            ),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Jwk(e) => Some(e),
            KeyError::Kek(e) => Some(e),
            KeyError::Storage(e) => Some(e),
            KeyError::Crypto(e) => Some(e),
            KeyError::Unseal { .. } | KeyError::Contended | KeyError::NoCurrent | KeyError::AtCap { .. } => None,
        }
    }
}

impl From<JwkError> for KeyError {
    fn from(e: JwkError) -> KeyError {
        KeyError::Jwk(e)
    }
}

impl From<StoreError> for KeyError {
    fn from(e: StoreError) -> KeyError {
        KeyError::Storage(e)
    }
}

impl From<CryptoError> for KeyError {
    fn from(e: CryptoError) -> KeyError {
        KeyError::Crypto(e)
    }
}

/// The managed signing-key set as stored, with the version a writer must
/// still see for its write to land (0: nothing stored yet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredKeys {
    /// Every key, in the order [`rotation`] keeps them.
    pub keys: Vec<ManagedKey>,
    /// Bumped by every successful [`KeyStore::save_keys`].
    pub version: i64,
}

/// Where the managed key set is kept (D1, KV, or memory in tests).
#[allow(async_fn_in_trait)]
pub trait KeyStore {
    /// The stored set, or an empty one at version 0.
    async fn load_keys(&self) -> Result<StoredKeys, StoreError>;

    /// Replace the whole key set if the stored version is still `expected`
    /// (compare-and-swap); `false` if another writer got there first. This is
    /// what keeps two cron runs from producing two `current` keys.
    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError>;
}
