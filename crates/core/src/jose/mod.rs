//! JOSE for ES256 access tokens: the signing key set (RFC 7517, RFC 7638
//! thumbprints), compact JWS assembly (RFC 7515) and the issuing key.

pub mod jwk;
pub mod jws;
pub mod key;

pub use jwk::{JwkError, KeySet, SigningKey};
pub use key::IssuingKey;
