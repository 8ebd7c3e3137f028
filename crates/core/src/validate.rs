//! Checks shared by every admin input: the body's shape, display names and
//! token lifetimes. Every rejection names the field by its JSON path, so an
//! operator can fix the request without guessing.

use std::fmt;

use serde_json::{Map, Value};

/// Shortest token lifetime a client or resource may set, in seconds.
pub const MIN_TOKEN_TTL: u32 = 60;
/// Longest token lifetime, in seconds (one day).
pub const MAX_TOKEN_TTL: u32 = 86_400;
const MAX_NAME_CHARS: usize = 200;

/// A rejected field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON path of the field, e.g. `grants[0].scopes[1]`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl FieldError {
    /// `field` (a JSON path such as `grants[0].audience`) is wrong because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// The body as a JSON object whose keys are all in `allowed`.
pub fn as_object<'a>(body: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, FieldError> {
    let Value::Object(map) = body else {
        return Err(FieldError::new("body", "must be a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(FieldError::new(
            unknown.as_str(),
            format!("unknown field; expected one of: {}", allowed.join(", ")),
        ));
    }
    Ok(map)
}

/// A display name: 1–200 characters without control characters as sent
/// (the limits the OpenAPI document states), then trimmed and not blank.
pub fn name(v: &Value) -> Result<String, FieldError> {
    let s = v.as_str().ok_or_else(|| FieldError::new("name", "must be a string"))?;
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new("name", "must be at most 200 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must not contain control characters"));
    }
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::new("name", "must not be empty"));
    }
    Ok(s.to_string())
}

/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Free text for operators: a string of at most 2000 characters, or null;
/// empty means none.
pub fn description(v: &Value) -> Result<Option<String>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(FieldError::new("description", "must be at most 2000 characters"))
        }
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(FieldError::new("description", "must be a string or null")),
    }
}

/// A token lifetime in seconds (60–86400), or null.
pub fn token_ttl(v: &Value) -> Result<Option<u32>, FieldError> {
    if v.is_null() {
        return Ok(None);
    }
    match v.as_u64() {
        Some(n) if (u64::from(MIN_TOKEN_TTL)..=u64::from(MAX_TOKEN_TTL)).contains(&n) => Ok(Some(n as u32)),
        _ => Err(FieldError::new("token_ttl", "must be an integer number of seconds between 60 and 86400, or null")),
    }
}

/// The longest URL [`https_url`] accepts.
const MAX_URL_CHARS: usize = 512;

/// An `https` URL, or `http` on this machine (a local issuer for
/// development and tests): a DNS name or address as host (RFC 3986
/// §3.2.2, no user info), an optional port, an optional path of printable
/// ASCII; no query, no fragment.
pub fn https_url(field: &str, v: &Value) -> Result<String, FieldError> {
    let refused = || {
        FieldError::new(field, "must be an https URL (http only on 127.0.0.1 or localhost), without query or fragment")
    };
    let s = v.as_str().ok_or_else(|| FieldError::new(field, "must be a URL string"))?;
    if s.len() > MAX_URL_CHARS {
        return Err(refused());
    }
    let (local, rest) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
        (Some(rest), _) => (false, rest),
        (None, Some(rest)) => (true, rest),
        _ => return Err(refused()),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // The port is what follows the last colon outside an IPv6 literal.
    let (host, port) = match authority.rfind(':').filter(|at| !authority[*at..].contains(']')) {
        Some(at) => (&authority[..at], Some(&authority[at + 1..])),
        None => (authority, None),
    };
    let dns_name = !host.is_empty()
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let host_ok = if local { ["127.0.0.1", "localhost", "[::1]"].contains(&host) } else { dns_name };
    let port_ok = port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let path_ok = path.bytes().all(|b| (0x21..=0x7E).contains(&b) && b != b'#' && b != b'?');
    if !(host_ok && port_ok && path_ok) {
        return Err(refused());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The OpenAPI document says a name is at most 200 characters with no
    // control character: that holds for the string sent, not only for what
    // is left after trimming (schemathesis sends schema-violating names).
    #[test]
    fn a_name_is_checked_as_sent_then_trimmed() {
        assert_eq!(name(&json!("  Billing  ")).unwrap(), "Billing");
        assert!(name(&json!(format!(" {}", "x".repeat(200)))).is_err());
        assert!(name(&json!("\tBilling")).is_err());
        assert!(name(&json!("Billing\n")).is_err());
        assert!(name(&json!("   ")).is_err());
        assert_eq!(name(&json!("x".repeat(200))).unwrap().len(), 200);
    }

    // schemathesis found URLs with a malformed authority (`https://[`,
    // `http://[::1]:[`) accepted and stored; an issuer URL must be one a
    // URL parser takes apart.
    #[test]
    fn a_url_has_a_host_an_optional_port_and_a_path() {
        for good in [
            "https://token.actions.githubusercontent.com",
            "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123",
            "https://issuer.example.com:8443/realms/x",
            "http://127.0.0.1:8080",
            "http://localhost/k8s",
            "http://[::1]:9000/a",
        ] {
            assert_eq!(https_url("u", &json!(good)).unwrap(), good);
        }
        for bad in [
            "https://",
            "https://[",
            "https://a:b",
            "https://a:123456",
            "https://a..b",
            "https://.a",
            "https://a/b?c",
            "https://a/#b",
            "http://example.com",
            "http://[::1]:[",
            "http://127.0.0.1.evil.com",
            "https://a b",
            "https://a@b",
        ] {
            assert!(https_url("u", &json!(bad)).is_err(), "{bad}");
        }
    }
}
