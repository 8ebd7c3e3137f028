//! The issuer's JWK set (RFC 7517 §5): the EC P-256 public keys it
//! publishes for ES256, by `kid` — and, for servers that accept other
//! issuers' tokens (a platform's identity tokens), its RSA keys for RS256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One published verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `kid`.
    pub kid: String,
    /// The curve point, 32 bytes each (RFC 7518 §6.2.1).
    pub x: [u8; 32],
    /// See `x`.
    pub y: [u8; 32],
}

#[derive(Deserialize)]
struct Set {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: Option<String>,
    kid: Option<String>,
    x: Option<String>,
    y: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    d: Option<serde_json::Value>,
}

/// Most members a JWK set may have: issuers publish a handful (the
/// current key and the next or previous), and each one costs work.
pub const MAX_KEYS: usize = 32;

/// Why a body is no JWK set to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetError {
    /// Not JSON of the RFC 7517 §5 shape.
    NotAKeySet,
    /// More than [`MAX_KEYS`] members.
    TooManyKeys,
}

impl std::fmt::Display for KeySetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySetError::NotAKeySet => f.write_str("is not a JWK set"),
            KeySetError::TooManyKeys => write!(f, "holds more than {MAX_KEYS} keys"),
        }
    }
}

/// The members of a JWK set: at most [`MAX_KEYS`].
fn members(body: &[u8]) -> Result<Vec<serde_json::Value>, KeySetError> {
    let set: Set = serde_json::from_slice(body).map_err(|_| KeySetError::NotAKeySet)?;
    if set.keys.len() > MAX_KEYS {
        return Err(KeySetError::TooManyKeys);
    }
    Ok(set.keys)
}

/// The ES256 verification keys of a JWK set: `kty` EC, `crv` P-256, a
/// `kid`, `use` absent or `sig`, `alg` absent or `ES256`. Other keys (RSA,
/// other curves, encryption keys, a member that is not a JWK) are skipped,
/// as RFC 7517 §5 asks; so is a key carrying private material, which a
/// published set must never hold. A set of more than [`MAX_KEYS`] members
/// is refused whole.
pub fn parse(body: &[u8]) -> Result<Vec<PublicKey>, KeySetError> {
    let keys = members(body)?
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter(|k| k.kty == "EC" && k.crv.as_deref() == Some("P-256") && k.d.is_none())
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig") && k.alg.as_deref().is_none_or(|a| a == "ES256"))
        .filter_map(|k| {
            let coordinate = |c: &Option<String>| -> Option<[u8; 32]> {
                URL_SAFE_NO_PAD.decode(c.as_deref()?).ok()?.try_into().ok()
            };
            Some(PublicKey { kid: k.kid.filter(|kid| !kid.is_empty())?, x: coordinate(&k.x)?, y: coordinate(&k.y)? })
        })
        .collect();
    Ok(keys)
}

/// One published RSA verification key (RFC 7518 §6.3.1), for RS256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// `kid`.
    pub kid: String,
    /// The modulus, big-endian, without leading zeros.
    pub n: Vec<u8>,
    /// The public exponent, big-endian.
    pub e: Vec<u8>,
}

/// The smallest modulus accepted: 2048 bits (RFC 7518 §3.3 "a key of
/// size 2048 bits or larger MUST be used").
pub const MIN_RSA_BITS: usize = 2048;

#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    d: Option<serde_json::Value>,
}

/// The RS256 verification keys of a JWK set: `kty` RSA, a `kid`, `use`
/// absent or `sig`, `alg` absent or `RS256`, a modulus of at least
/// [`MIN_RSA_BITS`] and the exponent 65537. Other members are skipped as
/// [`parse`] skips them.
pub fn parse_rsa(body: &[u8]) -> Result<Vec<RsaPublicKey>, KeySetError> {
    let keys = members(body)?
        .into_iter()
        .filter_map(|value| serde_json::from_value::<RsaJwk>(value).ok())
        .filter(|k| k.kty == "RSA" && k.d.is_none())
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig") && k.alg.as_deref().is_none_or(|a| a == "RS256"))
        .filter_map(|k| {
            let n = URL_SAFE_NO_PAD.decode(k.n.as_deref()?).ok()?;
            let e = URL_SAFE_NO_PAD.decode(k.e.as_deref()?).ok()?;
            // 65537 only: what every platform publishes, and no small-exponent pitfalls.
            rsa_key(k.kid.filter(|kid| !kid.is_empty())?, &n, &e)
        })
        .collect();
    Ok(keys)
}

/// A published verification key of either algorithm this crate takes
/// apart: the key decides the algorithm, never the token (RFC 8725 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationKey {
    /// An EC P-256 key: ES256.
    Es256(PublicKey),
    /// An RSA key: RS256.
    Rs256(RsaPublicKey),
}

impl VerificationKey {
    /// Its `kid`.
    pub fn kid(&self) -> &str {
        match self {
            VerificationKey::Es256(k) => &k.kid,
            VerificationKey::Rs256(k) => &k.kid,
        }
    }

    /// The one algorithm it verifies.
    pub fn algorithm(&self) -> crate::token::Algorithm {
        match self {
            VerificationKey::Es256(_) => crate::token::Algorithm::Es256,
            VerificationKey::Rs256(_) => crate::token::Algorithm::Rs256,
        }
    }
}

/// An RSA public key's parts, checked as [`parse_rsa`] checks them: a
/// modulus of at least [`MIN_RSA_BITS`] (leading zeros dropped) and the
/// exponent 65537.
pub fn rsa_key(kid: String, n: &[u8], e: &[u8]) -> Option<RsaPublicKey> {
    let n: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    let bits = n.first().map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    (bits >= MIN_RSA_BITS && e == [1, 0, 1]).then(|| RsaPublicKey { kid, n, e: e.to_vec() })
}

/// The RFC 7638 §3 thumbprint of a key given by its required members
/// (name, base64url value): SHA-256 over the JSON object of those members
/// in lexicographic order without whitespace, base64url. What a DPoP-bound
/// token's `cnf.jkt` names (RFC 9449 §6.1), and m2m-edge's default `kid`.
pub fn thumbprint(members: &[(&str, &str)]) -> String {
    let mut sorted = members.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut canonical = String::from("{");
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&serde_json::Value::String((*name).to_string()).to_string());
        canonical.push(':');
        canonical.push_str(&serde_json::Value::String((*value).to_string()).to_string());
    }
    canonical.push('}');
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// RFC 7638 §3.2: an EC P-256 key's required members are `crv`, `kty`, `x`, `y`.
pub fn ec_thumbprint(x: &str, y: &str) -> String {
    thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", x), ("y", y)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    #[test]
    fn rfc7638_thumbprint() {
        // RFC 7638 §3.1's example RSA key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(&[("kty", "RSA"), ("n", n), ("e", "AQAB")]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn keeps_only_es256_verification_keys() {
        let body = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "a", "x": X, "y": Y, "use": "sig", "alg": "ES256"},
            {"kty": "EC", "crv": "P-256", "kid": "b", "x": X, "y": Y},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "x": X, "y": Y, "use": "enc"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": X, "y": Y},
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y},
            {"kty": "EC", "crv": "P-256", "kid": "private", "x": X, "y": Y, "d": "AAAA"},
            {"kty": "EC", "crv": "P-256", "kid": "short", "x": "AAAA", "y": Y},
            "not a key"
        ]});
        let keys = parse(body.to_string().as_bytes()).unwrap();
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["a", "b"]);
        assert_eq!(parse(b"{}"), Err(KeySetError::NotAKeySet));
        assert_eq!(parse(b"[]"), Err(KeySetError::NotAKeySet));
        let crowd = serde_json::json!({"keys": vec![serde_json::json!({"kty": "EC"}); MAX_KEYS + 1]});
        assert_eq!(parse(crowd.to_string().as_bytes()), Err(KeySetError::TooManyKeys));
        assert_eq!(parse_rsa(crowd.to_string().as_bytes()), Err(KeySetError::TooManyKeys));
    }

    #[test]
    fn keeps_only_rs256_keys_of_2048_bits_and_exponent_65537() {
        let n2048 = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let n1024 = URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": n2048, "e": "AQAB", "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "kid": "short", "n": n1024, "e": "AQAB"},
            {"kty": "RSA", "kid": "e3", "n": n2048, "e": "Aw"},
            {"kty": "RSA", "kid": "ps", "n": n2048, "e": "AQAB", "alg": "PS256"},
            {"kty": "RSA", "n": n2048, "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": X, "y": Y}
        ]});
        let keys = parse_rsa(body.to_string().as_bytes()).unwrap();
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["a"]);
        assert_eq!(keys[0].n.len(), 256);
    }
}
