//! The public keys of a `private_key_jwt` client (RFC 7523 §2.2, OpenID
//! Connect Core §9): registered inline as a JWK set, ES256 only (EC P-256,
//! RFC 7518 §3.4). A key without a `kid` is given its RFC 7638 thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use m2m_edge_verify::jwks::PublicKey;
use serde_json::{json, Value};

use crate::jose::jwk::{ec_thumbprint, public_jwk};
use crate::validate::FieldError;

/// Most keys one client may register: enough for a rotation with overlap.
pub const MAX_CLIENT_KEYS: usize = 5;

/// A client's verification keys, each with a distinct `kid`. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeys(Vec<PublicKey>);

impl ClientKeys {
    /// The keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.0
    }

    /// The key an assertion's header names: its `kid`, or without one the
    /// client's only key.
    pub fn find(&self, kid: Option<&str>) -> Option<&PublicKey> {
        match kid {
            Some(kid) => self.0.iter().find(|k| k.kid == kid),
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
            .map(|k| public_jwk(&k.kid, &URL_SAFE_NO_PAD.encode(k.x), &URL_SAFE_NO_PAD.encode(k.y)))
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
        let mut keys: Vec<PublicKey> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = |member: &str| format!("jwks.keys[{i}].{member}");
            let member = |name: &str| item.get(name).and_then(Value::as_str);
            if !item.is_object() {
                return Err(FieldError::new(format!("jwks.keys[{i}]"), "must be a JWK object"));
            }
            if member("kty") != Some("EC") || member("crv") != Some("P-256") {
                return Err(FieldError::new(field("kty"), "must be an EC P-256 key (ES256 is the algorithm accepted)"));
            }
            // RFC 7517 §4.2/§4.4: a key meant for this is a signature key for ES256.
            if member("use").is_some_and(|u| u != "sig") || item.get("use").is_some_and(|u| !u.is_string()) {
                return Err(FieldError::new(field("use"), "must be \"sig\" or absent"));
            }
            if member("alg").is_some_and(|a| a != "ES256") || item.get("alg").is_some_and(|a| !a.is_string()) {
                return Err(FieldError::new(field("alg"), "must be \"ES256\" or absent"));
            }
            if item.get("d").is_some() {
                return Err(FieldError::new(field("d"), "is private key material: register the public key only"));
            }
            let coordinate = |name: &str| -> Result<[u8; 32], FieldError> {
                member(name)
                    .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| FieldError::new(field(name), "must be 32 bytes of base64url"))
            };
            let (x, y) = (coordinate("x")?, coordinate("y")?);
            let kid = match item.get("kid") {
                None | Some(Value::Null) => ec_thumbprint(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y)),
                Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= 128 => kid.clone(),
                Some(_) => return Err(FieldError::new(field("kid"), "must be a string of 1 to 128 characters")),
            };
            if keys.iter().any(|k| k.kid == kid) {
                return Err(FieldError::new(field("kid"), "repeats the kid of another key"));
            }
            keys.push(PublicKey { kid, x, y });
        }
        Ok(ClientKeys(keys))
    }
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
        assert_eq!(keys.keys()[0].kid, "a");
        assert_eq!(keys.keys()[1].kid.len(), 43, "RFC 7638 SHA-256 thumbprint");
        assert_eq!(ClientKeys::parse(&keys.to_json()).unwrap(), keys);
        assert_eq!(keys.find(Some("a")).unwrap().kid, "a");
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
}
