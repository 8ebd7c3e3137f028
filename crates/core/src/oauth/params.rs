//! The token request's parameters, from a form body (RFC 6749 §4.4.2,
//! Appendix B) or, as many M2M products accept, a JSON object with the same
//! fields.

use serde_json::Value;

use super::form::parse_pairs;
use super::OAuthError;

/// The client-credentials grant (RFC 6749 §4.4).
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
/// Token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Every grant the token endpoint serves, as discovery lists them.
pub const GRANT_TYPES: [&str; 3] = [CLIENT_CREDENTIALS, TOKEN_EXCHANGE, JWT_BEARER];

/// Token request parameters after syntax checks. RFC 6749 §3.1: "Parameters
/// sent without a value MUST be treated as if they were omitted from the
/// request", so an empty value is `None` here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenParams {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `client_id` (`client_secret_post`, or beside Basic).
    pub client_id: Option<String>,
    /// `client_secret` (`client_secret_post`).
    pub client_secret: Option<String>,
    /// `scope`, space-delimited.
    pub scope: Option<String>,
    /// RFC 8707 §2 allows the `resource` parameter more than once; which
    /// values are acceptable is decided in negotiation, not here.
    pub resource: Vec<String>,
    /// Auth0-style alias for `resource`.
    pub audience: Vec<String>,
    /// `client_assertion_type` (RFC 7521 §4.2).
    pub client_assertion_type: Option<String>,
    /// `client_assertion`: the client's signed JWT (RFC 7523 §2.2).
    pub client_assertion: Option<String>,
    /// `assertion`: a JWT bearer grant (RFC 7523 §2.1).
    pub assertion: Option<String>,
    /// `subject_token` (RFC 8693 §2.1).
    pub subject_token: Option<String>,
    /// `subject_token_type` (RFC 8693 §2.1).
    pub subject_token_type: Option<String>,
    /// `requested_token_type` (RFC 8693 §2.1).
    pub requested_token_type: Option<String>,
    /// `actor_token` (RFC 8693 §2.1): not supported, refused when sent.
    pub actor_token: Option<String>,
    /// `token`: the token to revoke (RFC 7009 §2.1) or introspect (RFC 7662
    /// §2.1); those requests authenticate their client as a token request
    /// does, so the same parameters are read for them.
    pub token: Option<String>,
    /// `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1).
    pub token_type_hint: Option<String>,
}

/// The single-valued parameters. RFC 6749 §3.2: "Request and response
/// parameters MUST NOT be included more than once."
const SINGLE: [&str; 13] = [
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "client_assertion_type",
    "client_assertion",
    "assertion",
    "subject_token",
    "subject_token_type",
    "requested_token_type",
    "actor_token",
    "token",
    "token_type_hint",
];

impl TokenParams {
    fn set(&mut self, name: &str, value: String) -> Result<(), OAuthError> {
        let slot = match name {
            "grant_type" => &mut self.grant_type,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "scope" => &mut self.scope,
            "client_assertion_type" => &mut self.client_assertion_type,
            "client_assertion" => &mut self.client_assertion,
            "assertion" => &mut self.assertion,
            "subject_token" => &mut self.subject_token,
            "subject_token_type" => &mut self.subject_token_type,
            "requested_token_type" => &mut self.requested_token_type,
            "actor_token" => &mut self.actor_token,
            "token" => &mut self.token,
            "token_type_hint" => &mut self.token_type_hint,
            "resource" => {
                push_nonempty(&mut self.resource, value);
                return Ok(());
            }
            "audience" => {
                push_nonempty(&mut self.audience, value);
                return Ok(());
            }
            // RFC 6749 §3.2: "The authorization server MUST ignore
            // unrecognized request parameters."
            _ => return Ok(()),
        };
        if !value.is_empty() {
            *slot = Some(value);
        }
        Ok(())
    }

    /// From an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<TokenParams, OAuthError> {
        let pairs = parse_pairs(body).map_err(|e| OAuthError::invalid_request(e.describe()))?;
        let mut params = TokenParams::default();
        for name in SINGLE {
            if pairs.iter().filter(|(k, _)| k == name).count() > 1 {
                return Err(OAuthError::invalid_request(format!("parameter `{name}` is repeated")));
            }
        }
        for (name, value) in pairs {
            params.set(&name, value)?;
        }
        Ok(params)
    }

    /// From an `application/json` body: an object whose values are strings
    /// (`resource` and `audience` may also be arrays of strings); `null` is
    /// the same as absent. JSON objects cannot repeat a key meaningfully, so
    /// a duplicated key is refused like a repeated form parameter.
    pub fn from_json(body: &[u8]) -> Result<TokenParams, OAuthError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the request body is not valid UTF-8"))?;
        let value: Value = serde_json::from_str(text)
            .map_err(|_| OAuthError::invalid_request("the request body is not valid JSON"))?;
        let Value::Object(object) = value else {
            return Err(OAuthError::invalid_request("the request body must be a JSON object"));
        };
        if has_duplicate_keys(text) {
            return Err(OAuthError::invalid_request("a parameter is repeated in the JSON body"));
        }
        let mut params = TokenParams::default();
        for (name, value) in object {
            match (name.as_str(), value) {
                (_, Value::Null) => {}
                (_, Value::String(s)) => params.set(&name, s)?,
                ("resource" | "audience", Value::Array(items)) => {
                    for item in items {
                        let Value::String(s) = item else {
                            return Err(OAuthError::invalid_request(format!(
                                "`{name}` must be a string or an array of strings"
                            )));
                        };
                        params.set(&name, s)?;
                    }
                }
                (known, _) if SINGLE.contains(&known) || known == "resource" || known == "audience" => {
                    return Err(OAuthError::invalid_request(format!("`{name}` must be a string")));
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

fn push_nonempty(list: &mut Vec<String>, value: String) {
    if !value.is_empty() {
        list.push(value);
    }
}

/// Whether a top-level key occurs twice in a JSON object. serde_json keeps
/// the last duplicate silently; a repeated `client_id` must not be able to
/// smuggle a second value past us.
fn has_duplicate_keys(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Keys(#[serde(deserialize_with = "collect_keys")] bool);

    fn collect_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = bool;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                let mut seen: Vec<String> = Vec::new();
                let mut duplicate = false;
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if seen.contains(&key) {
                        duplicate = true;
                    } else {
                        seen.push(key);
                    }
                }
                Ok(duplicate)
            }
        }
        d.deserialize_map(V)
    }

    serde_json::from_str::<Keys>(text).map(|k| k.0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    #[test]
    fn form_fields() {
        let p = TokenParams::from_form(
            b"grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fapi&client_id=c&ignored=1",
        )
        .unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.scope.as_deref(), Some("a b"));
        assert_eq!(p.resource, vec!["https://api".to_string()]);
        assert_eq!(p.client_id.as_deref(), Some("c"));
        assert_eq!(p.client_secret, None);
    }

    #[test]
    fn empty_value_is_omitted() {
        let p = TokenParams::from_form(b"grant_type=client_credentials&scope=&resource=").unwrap();
        assert_eq!(p.scope, None);
        assert!(p.resource.is_empty());
    }

    #[test]
    fn repeated_single_parameter_is_invalid_request() {
        for body in [&b"scope=a&scope=b"[..], b"grant_type=x&grant_type=x", b"client_id=a&client_id=a"] {
            let e = TokenParams::from_form(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{}", String::from_utf8_lossy(body));
            assert!(e.description.contains("repeated"));
        }
    }

    #[test]
    fn resource_may_repeat_at_parse_time() {
        let p = TokenParams::from_form(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").unwrap();
        assert_eq!(p.resource.len(), 2);
    }

    #[test]
    fn bad_encoding_is_invalid_request() {
        assert_eq!(TokenParams::from_form(b"scope=%G1").unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(TokenParams::from_form(b"scope=%FF").unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn json_fields() {
        let p = TokenParams::from_json(
            br#"{"grant_type":"client_credentials","client_id":"c","client_secret":"s","audience":["https://x"],"extra":5,"scope":null}"#,
        )
        .unwrap();
        assert_eq!(p.client_secret.as_deref(), Some("s"));
        assert_eq!(p.audience, vec!["https://x".to_string()]);
        assert_eq!(p.scope, None);
    }

    #[test]
    fn json_wrong_shapes() {
        for body in [
            &b"[1,2]"[..],
            b"\"x\"",
            b"{",
            br#"{"scope":5}"#,
            br#"{"grant_type":["a"]}"#,
            br#"{"resource":[1]}"#,
            br#"{"client_id":"a","client_id":"b"}"#,
            b"\xff\xfe",
        ] {
            let e = TokenParams::from_json(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{}", String::from_utf8_lossy(body));
        }
    }
}
