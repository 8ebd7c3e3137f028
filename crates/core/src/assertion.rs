//! JWT assertions presented at the token endpoint (RFC 7521, RFC 7523): a
//! client's own signed JWT instead of a secret (`private_key_jwt`). The
//! claim checks are pure; single use needs storage, behind
//! [`ReplayStore`].

use m2m_edge_verify::time::{self, TimeRules};
use m2m_edge_verify::Rejection;
use serde_json::{Map, Value};

use crate::ports::StoreError;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Seconds of clock difference tolerated in assertions' times.
pub const LEEWAY_SECS: i64 = 30;

/// What an assertion's claims are checked against.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// `aud` must hold one of these (RFC 7523 §3 point 3: the authorization
    /// server's issuer, or its token endpoint URL).
    pub audiences: &'a [&'a str],
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

/// Why an assertion was refused: for the log and the operator, never for
/// the caller (who gets `invalid_client` whatever the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a compact ES256 JWS, typed as an access token, or not JSON.
    Malformed,
    /// `iss` or `sub` missing, or they differ (RFC 7523 §3 points 1–2).
    Subject,
    /// No client with that id, or not active, or it does not use keys.
    UnknownClient,
    /// The header names no key the client registered.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `aud` names neither the issuer nor the token endpoint.
    Audience,
    /// `exp` missing, not a NumericDate, or passed.
    Expired,
    /// `nbf` or `iat` in the future.
    NotYetValid,
    /// Valid for longer than the maximum lifetime.
    TooLong,
    /// No `jti`: the assertion could be replayed.
    NoJti,
    /// Its `jti` was used already.
    Replayed,
}

impl Refusal {
    /// The reason, for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed assertion",
            Refusal::Subject => "iss and sub must both be the client id",
            Refusal::UnknownClient => "no active private_key_jwt client with that id",
            Refusal::UnknownKey => "no registered key matches the kid",
            Refusal::Signature => "signature does not verify",
            Refusal::Audience => "aud is neither the issuer nor the token endpoint",
            Refusal::Expired => "expired, or no exp that is a NumericDate",
            Refusal::NotYetValid => "nbf or iat in the future",
            Refusal::TooLong => "valid for longer than ASSERTION_MAX_LIFETIME",
            Refusal::NoJti => "no jti",
            Refusal::Replayed => "jti already used",
        }
    }
}

/// Whether `aud` — one string, or an array of them (RFC 7519 §4.1.3) —
/// holds an audience `accepts`.
pub(crate) fn audience_is(claims: &Map<String, Value>, accepts: impl Fn(&str) -> bool) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => accepts(a),
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(&accepts)),
        _ => false,
    }
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Check a client assertion's claims (RFC 7523 §3): `iss` = `sub`, `aud`
/// one of `expected.audiences`, `exp` not passed and not further off than
/// the maximum lifetime, `nbf`/`iat` not in the future, a `jti`. Times
/// with [`LEEWAY_SECS`].
pub fn check(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<Checked, Refusal> {
    let (Some(issuer), Some(subject)) = (text(claims, "iss"), text(claims, "sub")) else {
        return Err(Refusal::Subject);
    };
    if issuer != subject {
        return Err(Refusal::Subject);
    }
    if !audience_is(claims, |a| expected.audiences.contains(&a)) {
        return Err(Refusal::Audience);
    }
    let rules = TimeRules {
        now: expected.now,
        leeway: LEEWAY_SECS,
        require_iat: false,
        max_age: None,
        max_lifetime: Some(expected.max_lifetime),
    };
    let times = time::check(claims, &rules).map_err(|r| match r {
        Rejection::Claim("exp") | Rejection::Expired => Refusal::Expired,
        Rejection::NotYetValid => Refusal::NotYetValid,
        Rejection::TooLong => Refusal::TooLong,
        _ => Refusal::Malformed,
    })?;
    let jti = text(claims, "jti").ok_or(Refusal::NoJti)?;
    Ok(Checked {
        issuer: issuer.to_string(),
        subject: subject.to_string(),
        jti: jti.to_string(),
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
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const AUD: [&str; 2] = ["https://auth.example.com", "https://auth.example.com/oauth2/token"];

    fn expected() -> Expected<'static> {
        Expected { audiences: &AUD, now: NOW, max_lifetime: 300 }
    }

    fn good() -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": AUD[1], "exp": NOW + 60, "iat": NOW, "jti": "j1"})
    }

    fn refusal(change: impl FnOnce(&mut Map<String, Value>)) -> Refusal {
        let mut claims = good().as_object().unwrap().clone();
        change(&mut claims);
        check(&claims, &expected()).unwrap_err()
    }

    #[test]
    fn a_good_assertion_passes_with_either_audience() {
        let checked = check(good().as_object().unwrap(), &expected()).unwrap();
        assert_eq!((checked.subject.as_str(), checked.jti.as_str(), checked.expires_at), ("c1", "j1", NOW + 60));
        let mut issuer_aud = good();
        issuer_aud["aud"] = json!(["https://other", AUD[0]]);
        assert!(check(issuer_aud.as_object().unwrap(), &expected()).is_ok());
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
        assert_eq!(refusal(|c| drop(c.remove("exp"))), Refusal::Expired);
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(NOW - LEEWAY_SECS)))), Refusal::Expired);
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!("soon")))), Refusal::Expired);
        assert_eq!(refusal(|c| drop(c.insert("iat".into(), json!("now")))), Refusal::Malformed);
        assert_eq!(refusal(|c| drop(c.insert("nbf".into(), json!(NOW + 31)))), Refusal::NotYetValid);
        assert_eq!(refusal(|c| drop(c.insert("iat".into(), json!(NOW + 31)))), Refusal::NotYetValid);
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(NOW + 331)))), Refusal::TooLong);
        assert_eq!(
            refusal(|c| {
                c.remove("iat");
                c.insert("exp".into(), json!(NOW + 400));
            }),
            Refusal::TooLong
        );
        assert_eq!(refusal(|c| drop(c.remove("jti"))), Refusal::NoJti);
        assert_eq!(refusal(|c| drop(c.insert("jti".into(), json!("")))), Refusal::NoJti);
    }

    #[test]
    fn times_at_the_edges_of_i64_are_refused_not_wrapped() {
        assert_eq!(refusal(|c| drop(c.insert("iat".into(), json!(i64::MIN)))), Refusal::TooLong);
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(i64::MAX)))), Refusal::TooLong);
        assert_eq!(refusal(|c| drop(c.insert("exp".into(), json!(i64::MIN)))), Refusal::Expired);
        assert_eq!(refusal(|c| drop(c.insert("nbf".into(), json!(i64::MAX)))), Refusal::NotYetValid);
    }

    #[test]
    fn the_leeway_is_inclusive_of_thirty_seconds() {
        let mut late = good();
        late["exp"] = json!(NOW - 29);
        late["iat"] = json!(NOW - 60);
        assert!(check(late.as_object().unwrap(), &expected()).is_ok());
    }
}
