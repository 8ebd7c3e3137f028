//! The claims of a verified token: RFC 9068 §4's checks, and the typed result.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::time::{self, TimeRules};
use crate::Rejection;

/// What a request needs of a token beyond its validity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every one must be in the token's `scope` (Stytch's `required_scopes`).
    pub required_scopes: Vec<String>,
    /// Refuse a token whose `iat` is older than this many seconds (Stytch's
    /// `max_token_age`), whatever its `exp`.
    pub max_token_age: Option<u64>,
    /// Claims that must hold exactly these string values: an API serving
    /// one tenant requires its `project_id`, so a valid token of another
    /// project is refused ([`Requirements::claim`]).
    pub required_claims: Vec<(String, String)>,
    /// Refuse bearer tokens: take only DPoP-bound ones, with their proof
    /// (RFC 9728's `dpop_bound_access_tokens_required`).
    pub dpop_bound: bool,
}

impl Requirements {
    /// No scope, no age limit: any valid token.
    pub fn none() -> Requirements {
        Requirements::default()
    }

    /// These scopes, all of them.
    pub fn scopes<I, S>(scopes: I) -> Requirements
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Requirements { required_scopes: scopes.into_iter().map(Into::into).collect(), ..Requirements::default() }
    }

    /// The same, refusing tokens issued more than `seconds` ago.
    pub fn max_token_age(mut self, seconds: u64) -> Requirements {
        self.max_token_age = Some(seconds);
        self
    }

    /// The same, refusing tokens whose claim `name` is not the string
    /// `value` (absent, another type, or another value): for an API of one
    /// tenant, `.claim("project_id", "acme")`. Project ids are unique in a
    /// deployment and a client never changes project, so with the issuer
    /// and audience checked this confines the API to that project's
    /// clients.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Requirements {
        self.required_claims.push((name.into(), value.into()));
        self
    }

    /// The same, refusing bearer tokens: only a DPoP-bound token presented
    /// with its proof ([`crate::Verifier::verify_dpop`]) is taken.
    pub fn dpop_bound(mut self) -> Requirements {
        self.dpop_bound = true;
        self
    }
}

/// How the token was presented, which its binding must match (RFC 9449
/// §7.1): a token bound to a key (`cnf.jkt`) is worth nothing without a
/// proof by that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// As a bearer token: refused if it is bound to a key.
    Bearer,
    /// With a DPoP proof by the key of this RFC 7638 thumbprint, already
    /// checked: the token must be bound to that key.
    Proven(&'a str),
    /// Handed back to its issuer (revocation, introspection), not used:
    /// whoever holds it may ask, bound or not.
    Any,
}

/// A token whose signature and claims passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// `client_id` (RFC 9068 §2.2): the client the token was issued to.
    pub client_id: String,
    /// `sub`: for m2m-edge's client-credentials tokens, the client id again.
    pub subject: String,
    /// `aud`, as a list (a single string becomes a list of one).
    pub audience: Vec<String>,
    /// `scope`, split on spaces; empty without one.
    pub scopes: Vec<String>,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `jti`: unique per token.
    pub jti: String,
    /// Every other claim (custom claims, `project_id`, …), for
    /// [`VerifiedToken::claim`] and [`VerifiedToken::custom`].
    pub claims: Map<String, Value>,
}

impl VerifiedToken {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// One custom claim, typed: `None` if absent, `Some(Err)` if of another shape.
    pub fn claim<T: DeserializeOwned>(&self, name: &str) -> Option<Result<T, serde_json::Error>> {
        self.claims.get(name).map(|v| T::deserialize(v))
    }

    /// All custom claims as one typed value (a struct with `#[derive(Deserialize)]`).
    pub fn custom<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.claims.clone()))
    }
}

/// What the claims are checked against.
pub struct Expected<'a> {
    /// `iss`, exactly.
    pub issuer: &'a str,
    /// `aud` must hold one of these.
    pub audiences: &'a [String],
    /// Seconds of clock difference tolerated.
    pub leeway: i64,
    /// Unix seconds.
    pub now: i64,
    /// How the token was presented.
    pub binding: Binding<'a>,
}

/// Check the payload's claims (RFC 9068 §4, RFC 7519 §4.1) and the
/// request's requirements; the scope comes last, so a 403 means
/// everything else was right.
pub fn check(
    mut claims: Map<String, Value>,
    expected: &Expected<'_>,
    required: &Requirements,
) -> Result<VerifiedToken, Rejection> {
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(Rejection::Issuer);
    }
    let audience = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(Rejection::Audience)?,
        _ => return Err(Rejection::Audience),
    };
    if !audience.iter().any(|a| expected.audiences.contains(a)) {
        return Err(Rejection::Audience);
    }
    let rules = TimeRules {
        max_age: required.max_token_age.map(|age| i64::try_from(age).unwrap_or(i64::MAX)),
        ..TimeRules::at(expected.now, expected.leeway)
    };
    let times = time::check(&claims, &rules)?;
    let issued_at = times.issued_at.ok_or(Rejection::Claim("iat"))?;
    for name in ["client_id", "sub", "jti"] {
        string(&claims, name)?;
    }
    let scopes: Vec<String> = match claims.get("scope") {
        None => Vec::new(),
        Some(Value::String(s)) => s.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        Some(_) => return Err(Rejection::Claim("scope")),
    };
    if let Some((name, _)) =
        required.required_claims.iter().find(|(name, value)| claims.get(name).and_then(Value::as_str) != Some(value))
    {
        return Err(Rejection::ClaimValue(name.clone()));
    }
    bound_as_presented(&claims, expected.binding, required.dpop_bound)?;
    let missing: Vec<&str> =
        required.required_scopes.iter().filter(|r| !scopes.contains(r)).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(Rejection::InsufficientScope { required: required.required_scopes.join(" ") });
    }
    let mut take = |name| match claims.remove(name) {
        Some(Value::String(s)) => s,
        _ => String::new(), // checked above: a non-empty string
    };
    let (client_id, subject, jti) = (take("client_id"), take("sub"), take("jti"));
    for registered in ["iss", "aud", "exp", "nbf", "iat", "scope"] {
        claims.remove(registered);
    }
    Ok(VerifiedToken { client_id, subject, audience, scopes, issued_at, expires_at: times.expires_at, jti, claims })
}

/// Whether the token's binding (`cnf.jkt`) is how it was presented.
fn bound_as_presented(claims: &Map<String, Value>, binding: Binding<'_>, dpop_bound: bool) -> Result<(), Rejection> {
    match (binding, crate::dpop::confirmation(claims)?) {
        (Binding::Any, _) => Ok(()),
        (Binding::Bearer, None) if !dpop_bound => Ok(()),
        (Binding::Bearer, None) => Err(Rejection::Bound("this API takes DPoP-bound tokens only")),
        (Binding::Bearer, Some(_)) => {
            Err(Rejection::Bound("the token is DPoP-bound: present it with the DPoP scheme and a proof"))
        }
        (Binding::Proven(key), Some(jkt)) if key == jkt => Ok(()),
        (Binding::Proven(_), Some(_)) => Err(Rejection::Proof("signed by another key than the token is bound to")),
        (Binding::Proven(_), None) => {
            Err(Rejection::Bound("the token is not DPoP-bound: present it as a bearer token"))
        }
    }
}

/// The non-empty string claim `name`.
fn string<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, Rejection> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Rejection::Claim(name)),
    }
}
