//! The times of a JWT (RFC 7519 §4.1.4–4.1.6) against a clock: the one
//! check for access tokens (RFC 9068 §4), client assertions (RFC 7523 §3)
//! and platform identity tokens. Every value comes from the token, so
//! sums and differences are taken in `i128`, where two `i64`s can neither
//! overflow nor wrap: an `iat` of `i64::MIN` is very old, never "in the
//! future" by wrapping around, and an `exp` of `i64::MAX` is merely far
//! off (saturating at `i64::MAX` would be exact everywhere but there).

use serde_json::Value;

use crate::members::ClaimSet;
use crate::Rejection;

/// What the times are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRules {
    /// Unix seconds.
    pub now: i64,
    /// Seconds of clock difference tolerated, each way (negative counts as 0).
    pub leeway: i64,
    /// Whether `iat` must be present (RFC 9068 §2.2 requires it; a client
    /// assertion may leave it out). A `max_age` needs it too.
    pub require_iat: bool,
    /// The oldest token accepted: `now − iat` at most this (plus leeway).
    pub max_age: Option<i64>,
    /// The longest validity accepted: `exp − iat` (or `exp − now` without
    /// `iat`) at most this (plus leeway).
    pub max_lifetime: Option<i64>,
}

impl TimeRules {
    /// `exp` required and not passed, `nbf` and `iat` not in the future,
    /// `iat` required; no age or lifetime bound.
    pub fn at(now: i64, leeway: i64) -> TimeRules {
        TimeRules { now, leeway, require_iat: true, max_age: None, max_lifetime: None }
    }
}

/// The times of a token that passed [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `nbf`, if present.
    pub not_before: Option<i64>,
    /// `iat`, if present (always, when the rules require it).
    pub issued_at: Option<i64>,
}

/// A NumericDate (RFC 7519 §2): an integer or a non-integer number of
/// seconds (the fraction dropped); `None` if `value` is neither.
pub fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f.floor() as i64))
        }
        _ => None,
    }
}

/// The NumericDate claim `name`; `None` if absent.
fn seconds(claims: &(impl ClaimSet + ?Sized), name: &'static str) -> Result<Option<i64>, Rejection> {
    claims.value(name).map(|v| numeric_date(&v).ok_or(Rejection::Claim(name))).transpose()
}

/// Check `exp` (required, not passed), `nbf` and `iat` (not in the
/// future), `iat`'s age and the token's lifetime as `rules` say, each with
/// the leeway. A missing required claim, or one that is not a
/// NumericDate, is [`Rejection::Claim`].
pub fn check(claims: &(impl ClaimSet + ?Sized), rules: &TimeRules) -> Result<Times, Rejection> {
    let wide = i128::from;
    let leeway = wide(rules.leeway.max(0));
    let now = wide(rules.now);
    let exp = seconds(claims, "exp")?.ok_or(Rejection::Claim("exp"))?;
    // RFC 7519 §4.1.4: the current time must be before exp.
    if now >= wide(exp) + leeway {
        return Err(Rejection::Expired);
    }
    let in_future = |t: i64| wide(t) > now + leeway;
    let nbf = seconds(claims, "nbf")?;
    if nbf.is_some_and(in_future) {
        return Err(Rejection::NotYetValid);
    }
    let iat = seconds(claims, "iat")?;
    if iat.is_none() && (rules.require_iat || rules.max_age.is_some()) {
        return Err(Rejection::Claim("iat"));
    }
    if iat.is_some_and(in_future) {
        return Err(Rejection::NotYetValid);
    }
    if let (Some(max_age), Some(iat)) = (rules.max_age, iat) {
        if now - wide(iat) > wide(max_age) + leeway {
            return Err(Rejection::TooOld);
        }
    }
    if let Some(max_lifetime) = rules.max_lifetime {
        // From iat when given (how long it was made to last), else from
        // now (how long it can still be used): either way bounded.
        let from = iat.map_or(now, wide);
        if wide(exp) - from > wide(max_lifetime) + leeway {
            return Err(Rejection::TooLong);
        }
    }
    Ok(Times { expires_at: exp, not_before: nbf, issued_at: iat })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn times(v: Value, rules: &TimeRules) -> Result<Times, Rejection> {
        check(v.as_object().unwrap(), rules)
    }

    #[test]
    fn each_rule_with_its_leeway() {
        let rules = TimeRules { max_age: Some(3600), max_lifetime: Some(300), ..TimeRules::at(NOW, 30) };
        let good = json!({"exp": NOW + 60, "iat": NOW, "nbf": NOW});
        assert_eq!(
            times(good, &rules),
            Ok(Times { expires_at: NOW + 60, not_before: Some(NOW), issued_at: Some(NOW) })
        );
        assert!(times(json!({"exp": NOW - 29, "iat": NOW - 60}), &rules).is_ok());
        assert_eq!(times(json!({"exp": NOW - 30, "iat": NOW - 60}), &rules), Err(Rejection::Expired));
        assert_eq!(times(json!({"exp": NOW + 60, "iat": NOW, "nbf": NOW + 31}), &rules), Err(Rejection::NotYetValid));
        assert_eq!(times(json!({"exp": NOW + 60, "iat": NOW + 31}), &rules), Err(Rejection::NotYetValid));
        assert_eq!(times(json!({"exp": NOW + 60, "iat": NOW - 3631}), &rules), Err(Rejection::TooOld));
        assert_eq!(times(json!({"exp": NOW + 331, "iat": NOW}), &rules), Err(Rejection::TooLong));
        assert_eq!(times(json!({"exp": NOW + 60}), &rules), Err(Rejection::Claim("iat")));
        assert_eq!(times(json!({"iat": NOW}), &rules), Err(Rejection::Claim("exp")));
        assert_eq!(times(json!({"exp": "soon", "iat": NOW}), &rules), Err(Rejection::Claim("exp")));
        assert_eq!(times(json!({"exp": NOW + 60, "iat": NOW, "nbf": null}), &rules), Err(Rejection::Claim("nbf")));
    }

    #[test]
    fn without_iat_the_lifetime_counts_from_now() {
        let rules = TimeRules { require_iat: false, max_lifetime: Some(300), ..TimeRules::at(NOW, 30) };
        assert!(times(json!({"exp": NOW + 330}), &rules).is_ok());
        assert_eq!(times(json!({"exp": NOW + 331}), &rules), Err(Rejection::TooLong));
    }

    #[test]
    fn numeric_dates_may_have_fractions() {
        assert_eq!(numeric_date(&json!(1.9)), Some(1));
        assert_eq!(numeric_date(&json!(-1.5)), Some(-2));
        assert_eq!(numeric_date(&json!(1e300)), None);
        assert_eq!(numeric_date(&json!(u64::MAX)), None);
        assert_eq!(numeric_date(&json!("1")), None);
    }
}
