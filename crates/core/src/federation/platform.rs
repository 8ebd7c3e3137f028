//! A platform's identity token, once its signature verified: the claim
//! rules of its trusted issuer and the match against a client's federated
//! credentials. Pure; the token path (`app::federation`) fetches the
//! issuer's keys, checks the signature, and records what failed.

use std::borrow::Cow;

use m2m_edge_verify::members::ClaimSet;
use m2m_edge_verify::time::{self, TimeRules, Times};
use m2m_edge_verify::token::Typing;
use m2m_edge_verify::Rejection;

use super::issuer::TrustedIssuer;
use crate::assertion::{audience_is, names_issuer, LEEWAY_SECS};
use crate::client::federated::FederatedCredential;
use crate::oauth::claims::Actor;
use crate::refusal::Refusal;

/// The `iss` of a compact JWS, read before anything is verified: only to
/// choose whose keys to verify it with.
pub fn claimed_issuer(jwt: &str) -> Option<String> {
    crate::assertion::claimed(jwt, "iss")
}

/// Whether a client assertion is a platform's token rather than the
/// client's own: a `private_key_jwt` assertion's `iss` is the client.
pub fn is_platform_token(jwt: &str, client_id: Option<&str>) -> bool {
    match (claimed_issuer(jwt), client_id) {
        (Some(iss), Some(id)) => iss != id,
        _ => false,
    }
}

/// Which of `issuer`'s JWTs are taken (RFC 8725 §3.11): its access tokens
/// too (`typ` at+jwt, RFC 9068) unless it says not, but never when the
/// issuer is this deployment, `own_issuer`: an access token of ours is for
/// the API it names, not a credential to trade for another client's.
pub fn typing(issuer: &TrustedIssuer, own_issuer: &str) -> Typing {
    let ours = issuer.issuer.trim_end_matches('/') == own_issuer.trim_end_matches('/');
    if issuer.accept_access_tokens && !ours {
        Typing::Any
    } else {
        Typing::NotAccessToken
    }
}

/// What a platform token that passed its issuer's terms says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Its times.
    pub times: Times,
    /// Its `sub`, never empty: the subject the issued token's `act` names.
    pub subject: String,
}

/// RFC 7519 §4.1 with this issuer's terms: `iss` exact, `aud` one of its
/// audiences, `exp` not passed, `nbf`/`iat` not in the future, `iat` no
/// older than `max_token_age`, times with 30 s leeway; and a `sub`, since
/// the issued token's `act` names the actor by it (RFC 8693 §4.1). What
/// the token says if it passes; else why not, for the operator.
pub fn check_claims(claims: &impl ClaimSet, issuer: &TrustedIssuer, now: i64) -> Result<Checked, Refusal> {
    if claims.string("iss").as_deref() != Some(issuer.issuer.as_str()) {
        return Err(Rejection::Issuer.into());
    }
    // An audience that is an issuer identifier (this deployment's, as most
    // are) matches with or without a trailing slash (`names_issuer`).
    if !audience_is(claims, |a| issuer.audiences.iter().any(|x| names_issuer(a, x))) {
        return Err(Refusal::IssuerAudience);
    }
    // RFC 9449 §6 / RFC 7800: a token bound to a key is its holder's only
    // with a proof by that key, which a platform token does not come with:
    // taken here, a stolen DPoP-bound token of a trusted issuer would buy a
    // token of ours that is not.
    if claims.has("cnf") {
        return Err(Rejection::Bound("the token is sender-constrained (cnf): not taken as a platform token").into());
    }
    let rules = TimeRules { max_age: Some(i64::from(issuer.max_token_age)), ..TimeRules::at(now, LEEWAY_SECS) };
    let times = time::check(claims, &rules)?;
    let subject = claims.string("sub").filter(|s| !s.is_empty()).ok_or(Refusal::NoSubject)?;
    Ok(Checked { times, subject: subject.into_owned() })
}

/// Until when a used `jti` must be remembered: until the token expires,
/// or stops being young enough, whichever comes first.
pub fn remember_until(times: &Times, issuer: &TrustedIssuer) -> i64 {
    let too_old = times.issued_at.map_or(i64::MAX, |iat| iat.saturating_add(i64::from(issuer.max_token_age)));
    times.expires_at.min(too_old).saturating_add(LEEWAY_SECS)
}

/// The `jti` to use up, when the issuer's tokens are single-use (RFC 7523
/// §3 point 7): one without a `jti` is refused, since nothing would stop
/// its replay. `None` when the issuer's tokens may be reused.
pub fn single_use_jti<'a>(claims: &'a impl ClaimSet, issuer: &TrustedIssuer) -> Result<Option<Cow<'a, str>>, Refusal> {
    if !issuer.single_use {
        return Ok(None);
    }
    match claims.string("jti").filter(|j| !j.is_empty()) {
        Some(jti) => Ok(Some(jti)),
        None => Err(Refusal::NoJti),
    }
}

/// The first of `credentials` that `claims` match, or each one's reason
/// for not matching.
pub fn first_match<'a>(
    credentials: &[&'a FederatedCredential],
    claims: &impl ClaimSet,
) -> Result<&'a FederatedCredential, Vec<(String, Refusal)>> {
    let mut mismatches = Vec::new();
    for credential in credentials {
        match credential.check(claims) {
            Ok(()) => return Ok(credential),
            Err(mismatch) => mismatches.push((credential.name.clone(), mismatch)),
        }
    }
    Err(mismatches)
}

/// The `act` claim (RFC 8693 §4.1) of a token issued for `credential`'s
/// client on the strength of `token`.
pub fn actor(issuer: &TrustedIssuer, token: Checked, credential: &FederatedCredential) -> Actor {
    Actor { iss: issuer.issuer.clone(), sub: token.subject, federated_credential: credential.name.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::issuer::{IssuerId, DEFAULT_MAX_TOKEN_AGE};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use m2m_edge_verify::token::Algorithm;
    use serde_json::{json, Map, Value};

    const NOW: i64 = 1_800_000_000;
    const GITHUB: &str = "https://token.actions.githubusercontent.com";

    fn github() -> TrustedIssuer {
        TrustedIssuer {
            id: IssuerId::parse("tis_00000000000000000000000000000001").unwrap(),
            issuer: GITHUB.into(),
            name: "GitHub Actions".into(),
            jwks_uri: None,
            audiences: vec!["https://auth.example.com".into()],
            algorithm: Algorithm::Rs256,
            max_token_age: DEFAULT_MAX_TOKEN_AGE,
            single_use: true,
            accept_access_tokens: true,
            created_at: NOW,
            updated_at: NOW,
            version: 1,
        }
    }

    fn token() -> Map<String, Value> {
        json!({"iss": GITHUB, "aud": "https://auth.example.com", "sub": "repo:acme/deploy:environment:production",
               "repository": "acme/deploy", "iat": NOW - 10, "exp": NOW + 300, "jti": "j"})
        .as_object()
        .unwrap()
        .clone()
    }

    fn reason(change: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = token();
        change(&mut claims);
        check_claims(&claims, &github(), NOW).unwrap_err().to_string()
    }

    #[test]
    fn the_issuer_terms_each_refuse_with_their_reason() {
        assert!(check_claims(&token(), &github(), NOW).is_ok());
        assert_eq!(reason(|c| drop(c.insert("iss".into(), json!("https://gitlab.com")))), "wrong issuer");
        assert_eq!(
            reason(|c| drop(c.insert("aud".into(), json!(["https://other.example.com"])))),
            "aud is none of the issuer's allowed audiences"
        );
        assert_eq!(
            reason(|c| drop(c.insert("iat".into(), json!(NOW - 3631)))),
            "older than the issuer's max_token_age"
        );
        assert_eq!(reason(|c| drop(c.insert("exp".into(), json!(NOW - 30)))), "the token has expired");
        assert_eq!(reason(|c| drop(c.remove("iat"))), "claim `iat` missing or invalid");
        for sub in [json!(""), json!(5), Value::Null] {
            assert!(reason(|c| drop(c.insert("sub".into(), sub))).starts_with("no sub"));
        }
    }

    #[test]
    fn a_used_jti_is_remembered_while_the_token_could_still_be_used() {
        let times = check_claims(&token(), &github(), NOW).unwrap().times;
        assert_eq!(remember_until(&times, &github()), NOW + 300 + LEEWAY_SECS);
        let mut long = token();
        long.insert("exp".into(), json!(i64::MAX));
        let times = check_claims(&long, &github(), NOW).unwrap().times;
        assert_eq!(remember_until(&times, &github()), NOW - 10 + 3600 + LEEWAY_SECS);
    }

    #[test]
    fn access_tokens_are_taken_from_issuers_that_allow_them_but_never_from_this_deployment() {
        assert_eq!(typing(&github(), "https://auth.example.com"), Typing::Any);
        let no = TrustedIssuer { accept_access_tokens: false, ..github() };
        assert_eq!(typing(&no, "https://auth.example.com"), Typing::NotAccessToken);
        for own in [GITHUB, "https://token.actions.githubusercontent.com/"] {
            assert_eq!(typing(&github(), own), Typing::NotAccessToken, "{own}");
        }
    }

    #[test]
    fn a_single_use_issuer_token_needs_a_jti() {
        assert_eq!(single_use_jti(&token(), &github()), Ok(Some("j".into())));
        for jti in [None, Some(json!("")), Some(json!(7))] {
            let mut claims = token();
            claims.remove("jti");
            if let Some(jti) = jti {
                claims.insert("jti".into(), jti);
            }
            assert_eq!(single_use_jti(&claims, &github()), Err(Refusal::NoJti));
            let reusable = TrustedIssuer { single_use: false, ..github() };
            assert_eq!(single_use_jti(&claims, &reusable), Ok(None));
        }
    }

    #[test]
    fn the_first_matching_credential_wins_and_the_others_say_why_not() {
        let credentials = crate::client::federated::parse(&json!([
            {"name": "other", "issuer": GITHUB, "claims": {"repository": "acme/other"}},
            {"name": "release", "issuer": GITHUB, "subject": "repo:acme/deploy:environment:production"},
        ]))
        .unwrap();
        let all: Vec<&FederatedCredential> = credentials.iter().collect();
        assert_eq!(first_match(&all, &token()).map(|c| c.name.as_str()), Ok("release"));
        let mut pr = token();
        pr.insert("sub".into(), json!("repo:acme/deploy:pull_request"));
        assert_eq!(
            first_match(&all, &pr).unwrap_err(),
            vec![
                ("other".to_string(), Refusal::ClaimMismatch("repository".into())),
                ("release".to_string(), Refusal::SubjectMismatch)
            ]
        );
        let actor = actor(&github(), check_claims(&token(), &github(), NOW).unwrap(), &credentials[1]);
        assert_eq!(
            (actor.iss.as_str(), actor.sub.as_str(), actor.federated_credential.as_str()),
            (GITHUB, "repo:acme/deploy:environment:production", "release")
        );
    }

    #[test]
    fn a_platform_token_is_told_from_a_client_assertion_by_its_issuer() {
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = |iss: &str| format!("{}.{}.sig", b64(json!({"alg": "RS256"})), b64(json!({"iss": iss})));
        assert_eq!(claimed_issuer(&jwt(GITHUB)).as_deref(), Some(GITHUB));
        assert!(is_platform_token(&jwt(GITHUB), Some("deployer")));
        assert!(!is_platform_token(&jwt("deployer"), Some("deployer")));
        assert!(!is_platform_token(&jwt(GITHUB), None));
        assert!(!is_platform_token("not a jwt", Some("deployer")));
    }
}
