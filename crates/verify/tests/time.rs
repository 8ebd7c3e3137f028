//! The one time check (`time::check`) over extreme values: whatever a
//! token's `exp`, `nbf` and `iat` and the caller's clock, leeway, maximum
//! age and lifetime, it never panics (debug builds check overflow) and
//! decides as exact arithmetic would (the rules restated over i128, where
//! no sum or difference of two i64 can overflow), on the edges of i64
//! where saturating or wrapping arithmetic would decide otherwise.

#![cfg(not(target_arch = "wasm32"))]

use m2m_edge_verify::time::{check, TimeRules, Times};
use m2m_edge_verify::Rejection;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const NOW: i64 = 1_800_000_000;

/// Times near the edges of i64 and near now, and anything at all.
fn instant() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 1),
        Just(i64::MAX),
        Just(i64::MAX - 1),
        Just(0),
        (-400i64..400).prop_map(|d| NOW + d),
        (-100_000i64..100_000).prop_map(|d| NOW + d * 60),
        any::<i64>(),
    ]
}

fn bound() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        Just(Some(i64::MAX)),
        Just(Some(i64::MIN)),
        (0i64..100_000).prop_map(Some),
        any::<i64>().prop_map(Some)
    ]
}

/// The same rules in i128, where no sum of two i64 overflows.
fn exact(exp: Option<i64>, nbf: Option<i64>, iat: Option<i64>, r: &TimeRules) -> Result<Times, Rejection> {
    let wide = i128::from;
    let leeway = wide(r.leeway.max(0));
    let now = wide(r.now);
    let exp = exp.ok_or(Rejection::Claim("exp"))?;
    if now >= wide(exp) + leeway {
        return Err(Rejection::Expired);
    }
    if nbf.is_some_and(|nbf| wide(nbf) > now + leeway) {
        return Err(Rejection::NotYetValid);
    }
    if iat.is_none() && (r.require_iat || r.max_age.is_some()) {
        return Err(Rejection::Claim("iat"));
    }
    if iat.is_some_and(|iat| wide(iat) > now + leeway) {
        return Err(Rejection::NotYetValid);
    }
    if let (Some(max_age), Some(iat)) = (r.max_age, iat) {
        if now - wide(iat) > wide(max_age) + leeway {
            return Err(Rejection::TooOld);
        }
    }
    if let Some(max_lifetime) = r.max_lifetime {
        if wide(exp) - wide(iat.unwrap_or(r.now)) > wide(max_lifetime) + leeway {
            return Err(Rejection::TooLong);
        }
    }
    Ok(Times { expires_at: exp, not_before: nbf, issued_at: iat })
}

fn claims(exp: Option<i64>, nbf: Option<i64>, iat: Option<i64>) -> Map<String, Value> {
    let mut claims = Map::new();
    for (name, value) in [("exp", exp), ("nbf", nbf), ("iat", iat)] {
        if let Some(v) = value {
            claims.insert(name.into(), json!(v));
        }
    }
    claims
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn decides_as_exact_arithmetic_would(
        exp in proptest::option::weighted(0.9, instant()),
        nbf in proptest::option::of(instant()),
        iat in proptest::option::weighted(0.8, instant()),
        now in instant(),
        leeway in prop_oneof![Just(0i64), Just(30), Just(300), Just(i64::MAX), Just(i64::MIN), any::<i64>()],
        require_iat in any::<bool>(),
        max_age in bound(),
        max_lifetime in bound(),
    ) {
        let rules = TimeRules { now, leeway, require_iat, max_age, max_lifetime };
        prop_assert_eq!(check(&claims(exp, nbf, iat), &rules), exact(exp, nbf, iat, &rules));
    }
}

#[test]
fn the_dawn_of_time_is_too_old_not_in_the_future() {
    let rules = TimeRules { max_age: Some(3600), ..TimeRules::at(NOW, 30) };
    assert_eq!(check(&claims(Some(NOW + 60), None, Some(i64::MIN)), &rules), Err(Rejection::TooOld));
    let lifetime = TimeRules { require_iat: false, max_lifetime: Some(300), ..TimeRules::at(NOW, 30) };
    assert_eq!(check(&claims(Some(i64::MAX), None, Some(i64::MIN)), &lifetime), Err(Rejection::TooLong));
    assert_eq!(check(&claims(Some(i64::MAX), None, None), &lifetime), Err(Rejection::TooLong));
    // Where saturation would be wrong: exp + leeway beyond i64::MAX is
    // still after a clock at i64::MAX.
    let end_of_time = TimeRules::at(i64::MAX, 1);
    assert!(check(&claims(Some(i64::MAX), None, Some(0)), &end_of_time).is_ok());
}
