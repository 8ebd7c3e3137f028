//! The public keys of a `private_key_jwt` client (RFC 7523 §2.2, OpenID
//! Connect Core §9): registered inline as a JWK set, EC P-256 for ES256
//! (RFC 7518 §3.4) or RSA of at least 2048 bits with exponent 65537 for
//! RS256 (§3.3). Each key fixes its algorithm. A key without a `kid` is
//! given its RFC 7638 thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use m2m_edge_verify::jwks::{rsa_key, PublicKey, VerificationKey};
use serde_json::{json, Value};

use crate::jose::jwk::{ec_thumbprint, public_jwk, thumbprint};
use crate::validate::FieldError;

/// Most keys one client may register: enough for a rotation with overlap.
pub const MAX_CLIENT_KEYS: usize = 5;

/// A client's verification keys, each with a distinct `kid`. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeys(Vec<VerificationKey>);

impl ClientKeys {
    /// The keys.
    pub fn keys(&self) -> &[VerificationKey] {
        &self.0
    }

    /// The key an assertion's header names: its `kid`, or without one the
    /// client's only key.
    pub fn find(&self, kid: Option<&str>) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self.0.iter().find(|k| k.kid() == kid),
            None => match self.0.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }

    /// The public JWK set, as stored and shown.
    pub fn to_json(&self) -> Value {
        let keys: Vec<Value> = self
            .0
            .iter()
            .map(|k| match k {
                VerificationKey::Es256(k) => {
                    public_jwk(&k.kid, &URL_SAFE_NO_PAD.encode(k.x), &URL_SAFE_NO_PAD.encode(k.y))
                }
                VerificationKey::Rs256(k) => json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&k.n),
                    "e": URL_SAFE_NO_PAD.encode(&k.e), "kid": k.kid, "use": "sig", "alg": "RS256"}),
            })
            .collect();
        json!({ "keys": keys })
    }

    /// The keys of a JWK set given to the admin API (`jwks`), every key
    /// checked: errors name the member (`jwks.keys[1].crv`).
    pub fn parse(value: &Value) -> Result<ClientKeys, FieldError> {
        let Some(items) = value.get("keys").and_then(Value::as_array).filter(|_| value.is_object()) else {
            return Err(FieldError::new("jwks", "must be a JWK set: {\"keys\": [...]}"));
        };
        if items.is_empty() || items.len() > MAX_CLIENT_KEYS {
            return Err(FieldError::new("jwks.keys", "must hold 1 to 5 keys"));
        }
        let mut keys: Vec<VerificationKey> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let key = one(i, item)?;
            if keys.iter().any(|k| k.kid() == key.kid()) {
                return Err(FieldError::new(format!("jwks.keys[{i}].kid"), "repeats the kid of another key"));
            }
            keys.push(key);
        }
        Ok(ClientKeys(keys))
    }
}

/// One key of a client's JWK set.
fn one(i: usize, item: &Value) -> Result<VerificationKey, FieldError> {
    let field = |member: &str| format!("jwks.keys[{i}].{member}");
    let member = |name: &str| item.get(name).and_then(Value::as_str);
    if !item.is_object() {
        return Err(FieldError::new(format!("jwks.keys[{i}]"), "must be a JWK object"));
    }
    let rsa = match (member("kty"), member("crv")) {
        (Some("EC"), Some("P-256")) => false,
        (Some("RSA"), None) => true,
        _ => {
            return Err(FieldError::new(field("kty"), "must be an EC P-256 key (ES256) or an RSA key (RS256)"));
        }
    };
    let algorithm = if rsa { "RS256" } else { "ES256" };
    // RFC 7517 §4.2/§4.4: a key meant for this is a signature key of its algorithm.
    if member("use").is_some_and(|u| u != "sig") || item.get("use").is_some_and(|u| !u.is_string()) {
        return Err(FieldError::new(field("use"), "must be \"sig\" or absent"));
    }
    if member("alg").is_some_and(|a| a != algorithm) || item.get("alg").is_some_and(|a| !a.is_string()) {
        return Err(FieldError::new(field("alg"), format!("must be \"{algorithm}\" for this key type, or absent")));
    }
    if let Some(private) = ["d", "p", "q", "dp", "dq", "qi"].iter().find(|m| item.get(**m).is_some()) {
        return Err(FieldError::new(field(private), "is private key material: register the public key only"));
    }
    let bytes = |name: &str| member(name).and_then(|c| URL_SAFE_NO_PAD.decode(c).ok());
    let kid = match item.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= 128 => Some(kid.clone()),
        Some(_) => return Err(FieldError::new(field("kid"), "must be a string of 1 to 128 characters")),
    };
    if rsa {
        let (n, e) = match (bytes("n"), bytes("e")) {
            (Some(n), Some(e)) => (n, e),
            _ => return Err(FieldError::new(field("n"), "n and e must be base64url")),
        };
        let kid = kid.unwrap_or_else(|| {
            thumbprint(&[("e", &URL_SAFE_NO_PAD.encode(&e)), ("kty", "RSA"), ("n", &URL_SAFE_NO_PAD.encode(&n))])
        });
        return rsa_key(kid, &n, &e).map(VerificationKey::Rs256).ok_or_else(|| {
            FieldError::new(field("n"), "must be a modulus of at least 2048 bits, with e = 65537 (AQAB)")
        });
    }
    let coordinate = |name: &str| -> Result<[u8; 32], FieldError> {
        bytes(name)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| FieldError::new(field(name), "must be 32 bytes of base64url"))
    };
    let (x, y) = (coordinate("x")?, coordinate("y")?);
    let kid = kid.unwrap_or_else(|| ec_thumbprint(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y)));
    Ok(VerificationKey::Es256(PublicKey { kid, x, y }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: Option<&str>) -> Value {
        let mut k = json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])});
        if let Some(kid) = kid {
            k["kid"] = json!(kid);
        }
        k
    }

    #[test]
    fn keys_round_trip_and_a_missing_kid_is_the_thumbprint() {
        let keys = ClientKeys::parse(&json!({"keys": [key(Some("a")), key(None)]})).unwrap();
        assert_eq!(keys.keys()[0].kid(), "a");
        assert_eq!(keys.keys()[1].kid().len(), 43, "RFC 7638 SHA-256 thumbprint");
        assert_eq!(ClientKeys::parse(&keys.to_json()).unwrap(), keys);
        assert_eq!(keys.find(Some("a")).unwrap().kid(), "a");
        assert!(keys.find(None).is_none(), "two keys: the assertion must name one");
        assert!(keys.find(Some("b")).is_none());
    }

    #[test]
    fn every_bad_key_is_named() {
        let field = |v: Value| ClientKeys::parse(&v).unwrap_err().field;
        let with = |k: &str, v: Value| {
            let mut j = key(Some("a"));
            j[k] = v;
            json!({"keys": [j]})
        };
        assert_eq!(field(json!([])), "jwks");
        assert_eq!(field(json!({"keys": []})), "jwks.keys");
        assert_eq!(field(with("kty", json!("RSA"))), "jwks.keys[0].kty");
        assert_eq!(field(with("crv", json!("P-384"))), "jwks.keys[0].kty");
        assert_eq!(field(with("use", json!("enc"))), "jwks.keys[0].use");
        assert_eq!(field(with("alg", json!("RS256"))), "jwks.keys[0].alg");
        assert_eq!(field(with("d", json!("secret"))), "jwks.keys[0].d");
        assert_eq!(field(with("x", json!("short"))), "jwks.keys[0].x");
        assert_eq!(field(with("kid", json!(""))), "jwks.keys[0].kid");
        assert_eq!(field(json!({"keys": [key(Some("a")), key(Some("a"))]})), "jwks.keys[1].kid");
    }

    #[test]
    fn rsa_keys_of_2048_bits_with_exponent_65537_are_rs256_keys() {
        let rsa = |n: &[u8], e: &str| json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": e});
        let keys = ClientKeys::parse(&json!({"keys": [rsa(&[0xC5; 256], "AQAB"), key(Some("ec"))]})).unwrap();
        assert_eq!(keys.keys()[0].algorithm(), m2m_edge_verify::token::Algorithm::Rs256);
        assert_eq!(keys.keys()[1].algorithm(), m2m_edge_verify::token::Algorithm::Es256);
        assert_eq!(ClientKeys::parse(&keys.to_json()).unwrap(), keys);
        let field = |v: Value| ClientKeys::parse(&json!({"keys": [v]})).unwrap_err().field;
        assert_eq!(field(rsa(&[0xC5; 128], "AQAB")), "jwks.keys[0].n", "1024 bits");
        assert_eq!(field(rsa(&[0xC5; 256], "Aw")), "jwks.keys[0].n", "e = 3");
        let mut private = rsa(&[0xC5; 256], "AQAB");
        private["p"] = json!("AAAA");
        assert_eq!(field(private), "jwks.keys[0].p");
        let mut es = rsa(&[0xC5; 256], "AQAB");
        es["alg"] = json!("ES256");
        assert_eq!(field(es), "jwks.keys[0].alg");
    }
}
