//! A trusted issuer: whose identity tokens this deployment accepts, and on
//! what terms.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{as_object, https_url, name, FieldError};
use m2m_edge_verify::token::Algorithm;

crate::ids::prefixed_id!(
    /// A trusted issuer's id: `tis_` + 32 hex digits.
    IssuerId,
    "tis_"
);

/// The oldest token accepted by default (`iat` at most an hour ago).
pub const DEFAULT_MAX_TOKEN_AGE: u32 = 3600;
/// Most trusted issuers per deployment.
pub const MAX_ISSUERS: usize = 50;
/// Most audiences per issuer.
const MAX_AUDIENCES: usize = 10;
/// The longest URL or audience accepted.
const MAX_URL_LEN: usize = 512;

/// One trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// Its id.
    pub id: IssuerId,
    /// Its `iss`, exactly (OpenID Connect Discovery 1.0 §3: the URL its
    /// metadata lives under).
    pub issuer: String,
    /// A display name.
    pub name: String,
    /// Where its JWK set is; `None`: found through its metadata
    /// (`m2m_edge_verify::discovery`, OpenID Connect Discovery first).
    pub jwks_uri: Option<String>,
    /// Its tokens must carry one of these in `aud` (GitHub lets the
    /// workflow choose; Kubernetes the pod spec).
    pub audiences: Vec<String>,
    /// The one algorithm its tokens may use (RFC 8725 §3.1).
    #[serde(with = "algorithm")]
    pub algorithm: Algorithm,
    /// The oldest token accepted: `now − iat`, seconds.
    pub max_token_age: u32,
    /// Each token with a `jti` works once (RFC 7523 §3 point 7). Off for
    /// platforms that hand a workload one token to reuse until it rotates
    /// (Kubernetes projected service-account tokens).
    pub single_use: bool,
    /// Its access tokens (`typ` at+jwt, RFC 9068) are taken as well as its
    /// identity tokens: exchanging an access token is what RFC 8693 is
    /// mainly for, and `audiences` already confines them to this
    /// deployment. On unless turned off; a set stored before the setting
    /// existed reads as on.
    #[serde(default = "accept_access_tokens_by_default")]
    pub accept_access_tokens: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// +1 on every change: the issuer's `ETag`.
    pub version: i64,
}

fn accept_access_tokens_by_default() -> bool {
    true
}

mod algorithm {
    use m2m_edge_verify::token::Algorithm;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Algorithm, D::Error> {
        match String::deserialize(d)?.as_str() {
            "RS256" => Ok(Algorithm::Rs256),
            "ES256" => Ok(Algorithm::Es256),
            other => Err(serde::de::Error::custom(format!("algorithm {other}"))),
        }
    }
}

/// The checked body of `POST /admin/federation/issuers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssuer {
    /// `issuer`.
    pub issuer: String,
    /// `name` (the issuer URL when absent).
    pub name: String,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `audiences`.
    pub audiences: Vec<String>,
    /// `algorithm`.
    pub algorithm: Algorithm,
    /// `max_token_age`.
    pub max_token_age: u32,
    /// `single_use`.
    pub single_use: bool,
    /// `accept_access_tokens`.
    pub accept_access_tokens: bool,
}

/// `PATCH /admin/federation/issuers/{id}`: `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssuerPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new JWKS location, or `Some(None)` for discovery.
    pub jwks_uri: Option<Option<String>>,
    /// New audiences.
    pub audiences: Option<Vec<String>>,
    /// A new algorithm.
    pub algorithm: Option<Algorithm>,
    /// A new maximum age.
    pub max_token_age: Option<u32>,
    /// Single use on or off.
    pub single_use: Option<bool>,
    /// Access tokens taken or not.
    pub accept_access_tokens: Option<bool>,
}

fn audiences(v: &Value) -> Result<Vec<String>, FieldError> {
    let items = v.as_array().ok_or_else(|| FieldError::new("audiences", "must be an array of strings"))?;
    if items.is_empty() || items.len() > MAX_AUDIENCES {
        return Err(FieldError::new("audiences", "must hold 1 to 10 audiences"));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let a = item
            .as_str()
            .filter(|a| !a.is_empty() && a.len() <= MAX_URL_LEN && !a.chars().any(char::is_control))
            .ok_or_else(|| FieldError::new(format!("audiences[{i}]"), "must be a string of 1 to 512 characters"))?;
        if out.iter().any(|o| o == a) {
            return Err(FieldError::new(format!("audiences[{i}]"), "repeats an audience"));
        }
        out.push(a.to_string());
    }
    Ok(out)
}

fn algorithm(v: &Value) -> Result<Algorithm, FieldError> {
    match v.as_str() {
        Some("RS256") => Ok(Algorithm::Rs256),
        Some("ES256") => Ok(Algorithm::Es256),
        _ => Err(FieldError::new("algorithm", "must be \"RS256\" or \"ES256\"")),
    }
}

fn max_token_age(v: &Value) -> Result<u32, FieldError> {
    v.as_u64()
        .filter(|n| (60..=86_400).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| FieldError::new("max_token_age", "must be an integer number of seconds between 60 and 86400"))
}

fn flag(field: &str, v: &Value) -> Result<bool, FieldError> {
    v.as_bool().ok_or_else(|| FieldError::new(field, "must be true or false"))
}

fn optional<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// A trusted issuer's fields, as created and (but `issuer`) changed.
const FIELDS: [&str; 8] =
    ["issuer", "name", "jwks_uri", "audiences", "algorithm", "max_token_age", "single_use", "accept_access_tokens"];

/// The checked body of `POST /admin/federation/issuers`.
pub fn parse_new(body: &Value) -> Result<NewIssuer, FieldError> {
    let map = as_object(body, &FIELDS)?;
    let issuer = https_url("issuer", map.get("issuer").ok_or_else(|| FieldError::new("issuer", "is required"))?)?;
    Ok(NewIssuer {
        name: optional(map, "name").map(name).transpose()?.unwrap_or_else(|| issuer.clone()),
        jwks_uri: optional(map, "jwks_uri").map(|v| https_url("jwks_uri", v)).transpose()?,
        audiences: audiences(map.get("audiences").ok_or_else(|| FieldError::new("audiences", "is required"))?)?,
        algorithm: optional(map, "algorithm").map(algorithm).transpose()?.unwrap_or(Algorithm::Rs256),
        max_token_age: optional(map, "max_token_age").map(max_token_age).transpose()?.unwrap_or(DEFAULT_MAX_TOKEN_AGE),
        single_use: optional(map, "single_use").map(|v| flag("single_use", v)).transpose()?.unwrap_or(true),
        accept_access_tokens: optional(map, "accept_access_tokens")
            .map(|v| flag("accept_access_tokens", v))
            .transpose()?
            .unwrap_or_else(accept_access_tokens_by_default),
        issuer,
    })
}

/// The checked body of `PATCH /admin/federation/issuers/{id}`; the issuer
/// URL never changes (credentials name it).
pub fn parse_patch(body: &Value) -> Result<IssuerPatch, FieldError> {
    // `issuer` is named so that an attempt to change it gets its own answer.
    let map = as_object(body, &FIELDS)?;
    if map.contains_key("issuer") {
        return Err(FieldError::new("issuer", "cannot change: credentials name it; register another issuer"));
    }
    Ok(IssuerPatch {
        name: map.get("name").map(name).transpose()?,
        jwks_uri: map
            .get("jwks_uri")
            .map(|v| if v.is_null() { Ok(None) } else { https_url("jwks_uri", v).map(Some) })
            .transpose()?,
        audiences: map.get("audiences").map(audiences).transpose()?,
        algorithm: map.get("algorithm").map(algorithm).transpose()?,
        max_token_age: map.get("max_token_age").map(max_token_age).transpose()?,
        single_use: map.get("single_use").map(|v| flag("single_use", v)).transpose()?,
        accept_access_tokens: map.get("accept_access_tokens").map(|v| flag("accept_access_tokens", v)).transpose()?,
    })
}

impl TrustedIssuer {
    /// Apply `patch`.
    pub fn apply(&mut self, patch: IssuerPatch) {
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(jwks_uri) = patch.jwks_uri {
            self.jwks_uri = jwks_uri;
        }
        if let Some(audiences) = patch.audiences {
            self.audiences = audiences;
        }
        if let Some(algorithm) = patch.algorithm {
            self.algorithm = algorithm;
        }
        if let Some(age) = patch.max_token_age {
            self.max_token_age = age;
        }
        if let Some(single_use) = patch.single_use {
            self.single_use = single_use;
        }
        if let Some(accept) = patch.accept_access_tokens {
            self.accept_access_tokens = accept;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_github_issuer_with_defaults() {
        let new = parse_new(&json!({"issuer": "https://token.actions.githubusercontent.com", "audiences": ["https://auth.example.com"]})).unwrap();
        assert_eq!(new.algorithm, Algorithm::Rs256);
        assert_eq!(new.max_token_age, 3600);
        assert!(new.single_use);
        assert!(new.accept_access_tokens);
        assert_eq!(new.name, "https://token.actions.githubusercontent.com");
        assert_eq!(new.jwks_uri, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let field = |v: Value| parse_new(&v).unwrap_err().field;
        let aud = json!(["a"]);
        assert_eq!(field(json!({"audiences": aud})), "issuer");
        assert_eq!(field(json!({"issuer": "http://evil.example.com", "audiences": aud})), "issuer");
        assert_eq!(field(json!({"issuer": "https://x/?q", "audiences": aud})), "issuer");
        assert_eq!(field(json!({"issuer": "https://x"})), "audiences");
        assert_eq!(field(json!({"issuer": "https://x", "audiences": []})), "audiences");
        assert_eq!(field(json!({"issuer": "https://x", "audiences": ["a", "a"]})), "audiences[1]");
        assert_eq!(field(json!({"issuer": "https://x", "audiences": aud, "algorithm": "HS256"})), "algorithm");
        assert_eq!(field(json!({"issuer": "https://x", "audiences": aud, "max_token_age": 10})), "max_token_age");
        assert_eq!(field(json!({"issuer": "https://x", "audiences": aud, "jwks_uri": "ftp://x"})), "jwks_uri");
        assert_eq!(field(json!({"issuer": "https://x", "audiences": aud, "single_use": "no"})), "single_use");
        assert_eq!(
            field(json!({"issuer": "https://x", "audiences": aud, "accept_access_tokens": 1})),
            "accept_access_tokens"
        );
        assert!(parse_new(&json!({"issuer": "http://127.0.0.1:8080", "audiences": aud})).is_ok());
        assert_eq!(parse_patch(&json!({"issuer": "https://y"})).unwrap_err().field, "issuer");
    }

    #[test]
    fn a_set_stored_before_access_tokens_were_a_setting_takes_them() {
        let stored = json!({"id": "tis_00000000000000000000000000000001", "issuer": "https://x", "name": "x",
            "jwks_uri": null, "audiences": ["a"], "algorithm": "RS256", "max_token_age": 3600, "single_use": true,
            "created_at": 1, "updated_at": 1, "version": 1});
        let issuer: TrustedIssuer = serde_json::from_value(stored).unwrap();
        assert!(issuer.accept_access_tokens);
    }
}
