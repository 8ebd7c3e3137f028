//! A JWS signature checked with a published key through the `KeyCrypto`
//! port: the key decides the algorithm (RFC 8725 §3.1), and an ES256
//! signature's halves are range-checked before any back end sees them.

use m2m_edge_verify::jwks::VerificationKey;
use m2m_edge_verify::token::Jws;

use crate::keys::sealed::KeyCrypto;

/// Whether `jws`'s signature verifies with `key` (of the algorithm the
/// JWS was parsed for: the caller pairs them).
pub async fn verifies<C: KeyCrypto>(crypto: &C, key: &VerificationKey, jws: &Jws<'_>) -> bool {
    match key {
        VerificationKey::Es256(key) => match <[u8; 64]>::try_from(jws.signature.as_slice()) {
            Ok(sig) => m2m_edge_verify::in_range(&sig) && crypto.verify_es256(key, jws.signing_input, &sig).await,
            Err(_) => false,
        },
        // PKCS #1 v1.5: the signature is exactly as long as the modulus.
        VerificationKey::Rs256(key) => {
            jws.signature.len() == key.n.len() && crypto.verify_rs256(key, jws.signing_input, &jws.signature).await
        }
    }
}
