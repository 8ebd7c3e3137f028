//! JWT assertions presented at the token endpoint (RFC 7521, RFC 7523): a
//! client's own signed JWT instead of a secret (`private_key_jwt`). The
//! claim checks are pure; single use needs storage, behind
//! [`ReplayStore`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use m2m_edge_verify::members::{ClaimSet, Members};
use m2m_edge_verify::time::{self, TimeRules};
use serde_json::Value;

use crate::ports::StoreError;
use crate::refusal::Refusal;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Seconds of clock difference tolerated in assertions' times.
pub const LEEWAY_SECS: i64 = 30;

/// The `typ` of a client authentication JWT (draft-ietf-oauth-rfc7523bis,
/// adding to RFC 7523 §3.2): by it a client declares that its assertion
/// follows the draft's audience rule.
pub const CLIENT_AUTHENTICATION_TYPE: &str = "client-authentication+jwt";

/// What an assertion's claims are checked against.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The authorization server's issuer identifier (RFC 8414 §2): `aud`
    /// must be it, as its sole value (draft-ietf-oauth-rfc7523bis,
    /// replacing RFC 7523 §3 point 3).
    pub issuer: &'a str,
    /// The token endpoint URL, which RFC 7523 §3 point 3 allowed as `aud`
    /// and Authlib, Spring Security and MSAL send: accepted as the sole
    /// value from an assertion not typed [`CLIENT_AUTHENTICATION_TYPE`]. It
    /// names only this server, and it is the one URL that takes client
    /// assertions here.
    pub token_endpoint: &'a str,
    /// The URL of the endpoint the assertion was presented at — the token,
    /// revocation or introspection endpoint (RFC 7009 §2.1 and RFC 7662
    /// §2.1 authenticate clients as the token endpoint does): accepted
    /// like the token endpoint, since Authlib's client puts the URL it
    /// calls there.
    pub called: &'a str,
    /// Unix seconds.
    pub now: i64,
    /// The longest validity accepted: `exp` − `iat` (or − now), seconds.
    pub max_lifetime: i64,
}

/// The claims of an assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `jti`: what makes it single-use.
    pub jti: String,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
}

/// Whether `aud` names the issuer identifier `issuer`: exactly, or but for
/// one trailing `/` either way. An issuer identifier has no query or
/// fragment (RFC 8414 §2), so the two name the same server; the MCP SDK
/// builds `aud` from the metadata URL and sends the one with a slash, which
/// the MCP conformance server of its workload identity federation draft
/// accepts beside the exact one.
/// Only an `https` or `http` URL is an issuer identifier; any other
/// audience (`sts.amazonaws.com`, `api://…`) is compared exactly.
pub(crate) fn names_issuer(aud: &str, issuer: &str) -> bool {
    let url = issuer.starts_with("https://") || issuer.starts_with("http://");
    aud == issuer || (url && (aud.strip_suffix('/') == Some(issuer) || issuer.strip_suffix('/') == Some(aud)))
}

/// Whether `aud` — one string, or an array of them (RFC 7519 §4.1.3) —
/// holds an audience `accepts`.
pub(crate) fn audience_is(claims: &impl ClaimSet, accepts: impl Fn(&str) -> bool) -> bool {
    if let Some(aud) = claims.string("aud") {
        return accepts(&aud);
    }
    match claims.value("aud").as_deref() {
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(&accepts)),
        _ => false,
    }
}

/// A string claim of a compact JWS's payload, read before anything is
/// checked: only to choose whose keys to verify it with, or to say whose
/// request was refused — never to trust. Read from the second
/// dot-separated part of anything that has one, so that a token refused
/// later for its form (not three parts, say) is still charged to the
/// client it names.
pub fn claimed(jwt: &str, name: &str) -> Option<String> {
    let payload = URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1)?).ok()?;
    let claims = Members::parse(&payload, "payload").ok()?;
    claims.string(name).map(|value| value.into_owned())
}

fn text<'a>(claims: &'a impl ClaimSet, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    claims.string(name).filter(|s| !s.is_empty())
}

/// Whether a header's `typ` is [`CLIENT_AUTHENTICATION_TYPE`]: a media
/// type, compared case-insensitively, `application/` optional (RFC 7515
/// §4.1.9).
pub fn is_client_authentication_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/").unwrap_or(&typ) == CLIENT_AUTHENTICATION_TYPE
}

/// A client assertion's `aud` (draft-ietf-oauth-rfc7523bis): one value,
/// as a string or an array of one (RFC 7519 §4.1.3), that is the issuer —
/// or, unless the assertion is `typed` [`CLIENT_AUTHENTICATION_TYPE`], the
/// token endpoint URL. Compared as simple strings (RFC 3986 §6.2.1).
fn audience(claims: &impl ClaimSet, typed: bool, expected: &Expected<'_>) -> Result<(), Refusal> {
    let aud = claims.value("aud");
    let sole = match aud.as_deref() {
        Some(Value::String(aud)) => Some(aud.as_str()),
        Some(Value::Array(list)) if list.len() > 1 => return Err(Refusal::SeveralAudiences),
        Some(Value::Array(list)) => list.first().and_then(Value::as_str),
        _ => None,
    };
    match sole {
        Some(aud) if names_issuer(aud, expected.issuer) => Ok(()),
        Some(aud) if aud == expected.token_endpoint || aud == expected.called => match typed {
            true => Err(Refusal::TypedAudience),
            false => Ok(()),
        },
        _ => Err(Refusal::Audience),
    }
}

/// Check a client assertion's claims (RFC 7523 §3), `typ` its header's:
/// `iss` = `sub`, `aud` as [`Expected::issuer`] says, `exp` not passed and
/// not further off than the maximum lifetime, `nbf`/`iat` not in the
/// future, a `jti`. Times with [`LEEWAY_SECS`].
pub fn check(typ: Option<&str>, claims: &impl ClaimSet, expected: &Expected<'_>) -> Result<Checked, Refusal> {
    let (Some(issuer), Some(subject)) = (text(claims, "iss"), text(claims, "sub")) else {
        return Err(Refusal::Subject);
    };
    if issuer != subject {
        return Err(Refusal::Subject);
    }
    audience(claims, typ.is_some_and(is_client_authentication_type), expected)?;
    let rules = TimeRules {
        now: expected.now,
        leeway: LEEWAY_SECS,
        require_iat: false,
        max_age: None,
        max_lifetime: Some(expected.max_lifetime),
    };
    let times = time::check(claims, &rules)?;
    let jti = text(claims, "jti").ok_or(Refusal::NoJti)?;
    Ok(Checked {
        issuer: issuer.into_owned(),
        subject: subject.into_owned(),
        jti: jti.into_owned(),
        expires_at: times.expires_at,
    })
}

/// Where used assertion ids are remembered until their assertion expires,
/// so that each assertion authenticates once (RFC 7523 §3 point 7). It must
/// be consistent: of two concurrent first uses, exactly one wins.
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait ReplayStore {
    /// Record `key` as used until `expires_at`: `true` if this is its
    /// first use, `false` if it was used before (a replay).
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, StoreError>;
    /// Forget uses whose assertions expired before `before`; how many.
    async fn prune_used(&self, before: i64) -> Result<u64, StoreError>;
}

/// The replay key of an assertion: who vouched for it and its `jti`, so
/// that two clients' (or issuers') ids never collide.
pub fn replay_key(issuer: &str, jti: &str) -> String {
    format!("{issuer} {jti}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use m2m_edge_verify::Rejection;
    use serde_json::{json, Map};

    const NOW: i64 = 1_800_000_000;
    const AUD: [&str; 2] = ["https://auth.example.com", "https://auth.example.com/oauth2/token"];

    fn expected() -> Expected<'static> {
        Expected { issuer: AUD[0], token_endpoint: AUD[1], called: AUD[1], now: NOW, max_lifetime: 300 }
    }

    fn good() -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": AUD[1], "exp": NOW + 60, "iat": NOW, "jti": "j1"})
    }

    fn refusal(change: impl FnOnce(&mut Map<String, Value>)) -> Refusal {
        let mut claims = good().as_object().unwrap().clone();
        change(&mut claims);
        check(None, &claims, &expected()).unwrap_err()
    }

    #[test]
    fn a_good_assertion_passes_with_either_audience() {
        let checked = check(None, good().as_object().unwrap(), &expected()).unwrap();
        assert_eq!((checked.subject.as_str(), checked.jti.as_str(), checked.expires_at), ("c1", "j1", NOW + 60));
        let mut issuer_aud = good();
        issuer_aud["aud"] = json!([AUD[0]]);
        assert!(check(None, issuer_aud.as_object().unwrap(), &expected()).is_ok());
        issuer_aud["aud"] = json!(format!("{}/", AUD[0]));
        assert!(check(None, issuer_aud.as_object().unwrap(), &expected()).is_ok(), "with a trailing slash");
    }

    #[test]
    fn a_typed_assertion_names_the_issuer_alone() {
        let mut typed = good();
        assert_eq!(
            check(Some("client-authentication+jwt"), typed.as_object().unwrap(), &expected()),
            Err(Refusal::TypedAudience)
        );
        typed["aud"] = json!(AUD[0]);
        for typ in ["client-authentication+jwt", "Application/Client-Authentication+JWT", "JWT"] {
            assert!(check(Some(typ), typed.as_object().unwrap(), &expected()).is_ok(), "{typ}");
        }
        assert!(!is_client_authentication_type("client-authentication+jwt; x=y"));
        assert!(!is_client_authentication_type("text/client-authentication+jwt"));
    }

    #[test]
    fn every_rule_refuses() {
        assert_eq!(refusal(|c| drop(c.remove("iss"))), Refusal::Subject);
        assert_eq!(refusal(|c| drop(c.insert("sub".into(), json!("c2")))), Refusal::Subject);
        assert_eq!(
            refusal(|c| drop(c.insert("aud".into(), json!("https://auth.example.com/other")))),
            Refusal::Audience
        );
        assert_eq!(refusal(|c| drop(c.insert("aud".into(), json!(7)))), Refusal::Audience);
        assert_eq!(refusal(|c| drop(c.insert("aud".into(), json!([])))), Refusal::Audience);
        assert_eq!(refusal(|c| drop(c.insert("aud".into(), json!(AUD)))), Refusal::SeveralAudiences);
        assert_eq!(refusal(|c| drop(c.remove("exp"))), Refusal::Token(Rejection::Claim("exp")));
        assert_eq!(
            refusal(|c| drop(c.insert("exp".into(), json!(NOW - LEEWAY_SECS)))),
            Refusal::Token(Rejection::Expired)
        );
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!("soon")))), Refusal::Token(Rejection::Claim("exp")));
        assert_eq!(refusal(|c| drop(c.insert("iat".into(), json!("now")))), Refusal::Token(Rejection::Claim("iat")));
        assert_eq!(refusal(|c| drop(c.insert("nbf".into(), json!(NOW + 31)))), Refusal::Token(Rejection::NotYetValid));
        assert_eq!(refusal(|c| drop(c.insert("iat".into(), json!(NOW + 31)))), Refusal::Token(Rejection::NotYetValid));
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(NOW + 331)))), Refusal::Token(Rejection::TooLong));
        assert_eq!(
            refusal(|c| {
                c.remove("iat");
                c.insert("exp".into(), json!(NOW + 400));
            }),
            Refusal::Token(Rejection::TooLong)
        );
        assert_eq!(refusal(|c| drop(c.remove("jti"))), Refusal::NoJti);
        assert_eq!(refusal(|c| drop(c.insert("jti".into(), json!("")))), Refusal::NoJti);
    }

    #[test]
    fn times_at_the_edges_of_i64_are_refused_not_wrapped() {
        assert_eq!(refusal(|c| drop(c.insert("iat".into(), json!(i64::MIN)))), Refusal::Token(Rejection::TooLong));
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(i64::MAX)))), Refusal::Token(Rejection::TooLong));
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(i64::MIN)))), Refusal::Token(Rejection::Expired));
        assert_eq!(refusal(|c| drop(c.insert("nbf".into(), json!(i64::MAX)))), Refusal::Token(Rejection::NotYetValid));
    }

    #[test]
    fn the_leeway_is_inclusive_of_thirty_seconds() {
        let mut late = good();
        late["exp"] = json!(NOW - 29);
        late["iat"] = json!(NOW - 60);
        assert!(check(None, late.as_object().unwrap(), &expected()).is_ok());
    }
}
