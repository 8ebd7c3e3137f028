//! JOSE for ES256 access tokens: the signing key set (RFC 7517, RFC 7638
//! thumbprints), compact JWS assembly (RFC 7515) and the signer abstraction.

pub mod jwk;
pub mod jws;
pub mod signer;

pub use jwk::{KeyError, KeySet, SigningKey};
pub use signer::Signer;
