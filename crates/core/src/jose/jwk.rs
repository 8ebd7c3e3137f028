//! The `SIGNING_KEYS` secret: a JWK set of EC P-256 private keys. The first
//! key signs; all are published. Errors name the problem and the key's
//! position, never key material.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

/// One private signing key. Not `Debug`: `d` must never be printed.
pub struct SigningKey {
    /// The key id published in the JWKS and sent in the token header.
    pub kid: String,
    /// base64url coordinates and private scalar, each 32 bytes once decoded.
    pub x: String,
    /// See `x`.
    pub y: String,
    d: String,
}

impl SigningKey {
    /// A key from its parts (managed keys, once unsealed).
    pub fn new(kid: String, x: String, y: String, d: String) -> SigningKey {
        SigningKey { kid, x, y, d }
    }

    /// The private scalar, base64url. Only signers call this.
    pub fn private_d(&self) -> &str {
        &self.d
    }

    /// The public JWK as published.
    pub fn public_jwk(&self) -> Value {
        public_jwk(&self.kid, &self.x, &self.y)
    }
}

/// A published EC P-256 signing key (RFC 7517 §4, RFC 7518 §6.2): public
/// parts only, whichever key mode it comes from.
pub fn public_jwk(kid: &str, x: &str, y: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"})
}

/// A JWK Set document (RFC 7517 §5) of the given public keys.
pub fn jwks_document(keys: impl Iterator<Item = Value>) -> String {
    json!({ "keys": keys.collect::<Vec<_>>() }).to_string()
}

/// The parsed key set with its JWKS document rendered once. Only [`parse`]
/// builds one, and it refuses an empty set: there is always a current key.
pub struct KeySet {
    current: SigningKey,
    /// Every key's public part; the others only ever matter here.
    pub jwks_json: String,
}

impl KeySet {
    /// The key that signs new tokens (the first in the secret).
    pub fn current(&self) -> &SigningKey {
        &self.current
    }
}

/// Why the `SIGNING_KEYS` secret (or one key in it) cannot be used. Names
/// the problem and the key's position, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkError {
    /// The secret is not set.
    Missing,
    /// Not JSON, or not a JWK, JWK array or JWK set.
    NotJson,
    /// A JWK set with no keys.
    Empty,
    /// Key number `index` (from 0) is unusable, for `reason`.
    BadKey {
        /// Position in the set, from 0.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Key number `index` has the `kid` of an earlier key.
    DuplicateKid {
        /// Position in the set, from 0.
        index: usize,
    },
    /// The runtime refused the key (WebCrypto import, or p256 on the host).
    Rejected {
        /// The refused key.
        kid: String,
    },
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkError::Missing => f.write_str("SIGNING_KEYS is not set"),
            JwkError::NotJson => f.write_str("SIGNING_KEYS is not valid JSON (expected a JWK set {\"keys\": [...]})"),
            JwkError::Empty => f.write_str("SIGNING_KEYS contains no keys"),
            JwkError::BadKey { index, reason } => write!(f, "SIGNING_KEYS key #{index}: {reason}"),
            JwkError::DuplicateKid { index } => {
                write!(f, "SIGNING_KEYS key #{index}: its kid repeats an earlier key's")
            }
            JwkError::Rejected { kid } => {
                write!(f, "signing key {kid}: the private key was refused as an EC P-256 key")
            }
        }
    }
}

impl std::error::Error for JwkError {}

/// Parse the secret. Accepts a JWK set `{"keys": [...]}`, a bare array of
/// JWKs, or a single JWK.
pub fn parse(raw: Option<&str>) -> Result<KeySet, JwkError> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty()).ok_or(JwkError::Missing)?;
    let value: Value = serde_json::from_str(raw).map_err(|_| JwkError::NotJson)?;
    let items = match value {
        Value::Object(mut o) if o.contains_key("keys") => match o.remove("keys") {
            Some(Value::Array(a)) => a,
            _ => return Err(JwkError::NotJson),
        },
        Value::Object(o) => vec![Value::Object(o)],
        Value::Array(a) => a,
        _ => return Err(JwkError::NotJson),
    };
    if items.is_empty() {
        return Err(JwkError::Empty);
    }
    let mut keys: Vec<SigningKey> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let key = parse_key(index, item)?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(JwkError::DuplicateKid { index });
        }
        keys.push(key);
    }
    let jwks_json = jwks_document(keys.iter().map(SigningKey::public_jwk));
    let current = keys.into_iter().next().ok_or(JwkError::Empty)?;
    Ok(KeySet { current, jwks_json })
}

fn parse_key(index: usize, item: &Value) -> Result<SigningKey, JwkError> {
    let bad = |reason| JwkError::BadKey { index, reason };
    let obj: &Map<String, Value> = item.as_object().ok_or(bad("not a JSON object"))?;
    let text = |name: &str| obj.get(name).and_then(Value::as_str);
    if text("kty") != Some("EC") {
        return Err(bad("kty must be \"EC\""));
    }
    if text("crv") != Some("P-256") {
        return Err(bad("crv must be \"P-256\""));
    }
    if obj.get("use").is_some_and(|u| u != "sig") {
        return Err(bad("use must be \"sig\" when present"));
    }
    if obj.get("alg").is_some_and(|a| a != "ES256") {
        return Err(bad("alg must be \"ES256\" when present"));
    }
    let coordinate = |name: &str, reason| -> Result<String, JwkError> {
        let v = text(name).ok_or(bad(reason))?;
        match URL_SAFE_NO_PAD.decode(v) {
            Ok(bytes) if bytes.len() == 32 => Ok(v.to_string()),
            _ => Err(bad(reason)),
        }
    };
    let x = coordinate("x", "x must be 32 bytes, base64url without padding")?;
    let y = coordinate("y", "y must be 32 bytes, base64url without padding")?;
    let d = coordinate("d", "d (the private key) is missing or not 32 bytes of base64url")?;
    let kid = match obj.get("kid") {
        None => ec_thumbprint(&x, &y),
        Some(Value::String(k)) if !k.is_empty() && k.len() <= 128 => k.clone(),
        Some(_) => return Err(bad("kid must be a non-empty string of at most 128 characters")),
    };
    Ok(SigningKey { kid, x, y, d })
}

// RFC 7638 thumbprints: the verifier crate's, which DPoP's `cnf.jkt` uses too.
pub use m2m_edge_verify::jwks::{ec_thumbprint, thumbprint};

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515 Appendix A.3.1: the ES256 example key.
    pub const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    pub const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    pub const A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

    fn a3(extra: &str) -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_Y}","d":"{A3_D}"{extra}}}"#)
    }

    #[test]
    fn parses_set_single_and_array() {
        for raw in [format!(r#"{{"keys":[{}]}}"#, a3("")), a3(""), format!("[{}]", a3(""))] {
            let set = parse(Some(&raw)).unwrap();
            let jwks: Value = serde_json::from_str(&set.jwks_json).unwrap();
            assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
            assert_eq!(set.current().kid, ec_thumbprint(A3_X, A3_Y));
        }
    }

    #[test]
    fn explicit_kid_is_kept_and_jwks_is_public() {
        let set = parse(Some(&a3(r#","kid":"k1","use":"sig""#))).unwrap();
        assert_eq!(set.current().kid, "k1");
        assert!(!set.jwks_json.contains(A3_D));
        let jwks: Value = serde_json::from_str(&set.jwks_json).unwrap();
        assert_eq!(
            jwks["keys"][0],
            json!({"kty":"EC","crv":"P-256","x":A3_X,"y":A3_Y,"kid":"k1","use":"sig","alg":"ES256"})
        );
    }

    #[test]
    fn errors_name_the_problem_not_the_key() {
        let cases: Vec<(Option<String>, &str)> = vec![
            (None, "not set"),
            (Some("  ".into()), "not set"),
            (Some("{nope".into()), "not valid JSON"),
            (Some(r#"{"keys":[]}"#.into()), "no keys"),
            (Some(a3("").replace("\"EC\"", "\"RSA\"")), "kty"),
            (Some(a3("").replace("P-256", "P-384")), "crv"),
            (Some(a3("").replace(A3_D, "short")), "private key"),
            (Some(a3(r#","alg":"RS256""#)), "alg"),
            (Some(a3(r#","use":"enc""#)), "use"),
            (Some(a3(r#","kid":5"#)), "kid"),
            (Some(format!("[{},{}]", a3(""), a3(""))), "repeats"),
        ];
        for (raw, expected) in cases {
            let msg = parse(raw.as_deref()).err().unwrap().to_string();
            assert!(msg.contains(expected), "{msg} should mention {expected}");
            assert!(!msg.contains(A3_D) && !msg.contains(A3_X), "{msg}");
        }
    }
}
