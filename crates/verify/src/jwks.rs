//! The issuer's JWK set (RFC 7517 §5): the EC P-256 public keys it
//! publishes for ES256, by `kid`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

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

/// The JWK set is not JSON of the RFC 7517 §5 shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAKeySet;

/// The ES256 verification keys of a JWK set: `kty` EC, `crv` P-256, a
/// `kid`, `use` absent or `sig`, `alg` absent or `ES256`. Other keys (RSA,
/// other curves, encryption keys, a member that is not a JWK) are skipped,
/// as RFC 7517 §5 asks; so is a key carrying private material, which a
/// published set must never hold.
pub fn parse(body: &[u8]) -> Result<Vec<PublicKey>, NotAKeySet> {
    let set: Set = serde_json::from_slice(body).map_err(|_| NotAKeySet)?;
    let keys = set
        .keys
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

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

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
        assert_eq!(parse(b"{}"), Err(NotAKeySet));
        assert_eq!(parse(b"[]"), Err(NotAKeySet));
    }
}
