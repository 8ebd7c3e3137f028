//! The verifier's contract: what a verified token says, requirements, the
//! RFC 6750 answers, and the JWKS cache (one fetch per max-age, rotation,
//! forged kids, stale-if-error, concurrent misses, discovery).
#![cfg(not(target_arch = "wasm32"))] // the native back end; the WebCrypto one is exercised in workerd

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use m2m_edge_verify::cache::{RETRY_AFTER_FAILURE_SECS, STALE_IF_ERROR_SECS, UNKNOWN_KID_REFETCH_SECS};
use m2m_edge_verify::jwks::MAX_KEYS;
use m2m_edge_verify::{Rejection, Requirements, Verifier, MAX_DOCUMENT_BYTES};
use serde::Deserialize;
use serde_json::json;

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    pollster::block_on(f)
}

#[test]
fn a_verified_token_says_who_called_with_what() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let token = key.token(json!({"project_id": "prj_1", "tier": 3}));
    let v =
        block(issuer.verifier().verify(&format!("Bearer {token}"), &Requirements::scopes(["orders:read"]))).unwrap();
    assert_eq!(v.client_id, "m2m_client");
    assert_eq!(v.subject, "m2m_client");
    assert_eq!(v.audience, [AUDIENCE]);
    assert_eq!(v.scopes, ["orders:read", "orders:write"]);
    assert!(v.has_scope("orders:write"));
    assert_eq!((v.issued_at, v.expires_at), (NOW, NOW + 600));
    assert_eq!(v.jti, "jti-1");
    assert_eq!(v.claim::<String>("project_id").unwrap().unwrap(), "prj_1");
    assert!(v.claim::<String>("absent").is_none());
    #[derive(Deserialize)]
    struct Custom {
        project_id: String,
        tier: u8,
    }
    let custom: Custom = v.custom().unwrap();
    assert_eq!((custom.project_id.as_str(), custom.tier), ("prj_1", 3));
    assert!(!v.claims.contains_key("iss"), "registered claims are fields, not custom claims");
}

#[test]
fn every_required_scope_must_be_granted_and_the_answer_is_403_with_the_scope() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let verifier = issuer.verifier();
    let token = key.token(json!({"scope": "orders:read"}));
    let needed = Requirements::scopes(["orders:read", "orders:write"]);
    let r = block(verifier.verify(&token, &needed)).unwrap_err();
    assert_eq!(r, Rejection::InsufficientScope { required: "orders:read orders:write".into() });
    let answer = r.to_response("orders");
    assert_eq!(answer.status, 403);
    let challenge = &answer.headers.iter().find(|(n, _)| *n == "www-authenticate").unwrap().1;
    assert_eq!(
        challenge,
        r#"Bearer realm="orders", error="insufficient_scope", error_description="requires scope: orders:read orders:write", scope="orders:read orders:write""#
    );
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    // No scope claim at all: nothing granted.
    let bare = key.token(json!({"scope": null}));
    assert!(matches!(
        block(verifier.verify(&bare, &Requirements::scopes(["orders:read"]))),
        Err(Rejection::InsufficientScope { .. })
    ));
    assert!(block(verifier.verify(&bare, &Requirements::none())).is_ok());
}

#[test]
fn max_token_age_refuses_old_tokens_whatever_their_exp() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let verifier = issuer.verifier();
    let token = key.token(json!({"iat": NOW - 600, "nbf": NOW - 600, "exp": NOW + 3000}));
    assert!(block(verifier.verify(&token, &Requirements::none().max_token_age(900))).is_ok());
    let r = block(verifier.verify(&token, &Requirements::none().max_token_age(300)));
    assert_eq!(r, Err(Rejection::TooOld));
    assert_eq!(r.unwrap_err().to_response("api").status, 401);
}

#[test]
fn leeway_is_configurable_and_capped_at_five_minutes() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let expired_2m = key.token(json!({"exp": NOW - 120}));
    assert_eq!(block(issuer.verifier().verify(&expired_2m, &Requirements::none())), Err(Rejection::Expired));
    assert!(block(issuer.verifier().leeway(180).verify(&expired_2m, &Requirements::none())).is_ok());
    let expired_10m = key.token(json!({"exp": NOW - 600}));
    let r = block(issuer.verifier().leeway(3600).verify(&expired_10m, &Requirements::none()));
    assert_eq!(r, Err(Rejection::Expired), "leeway capped at 300 s");
}

#[test]
fn one_fetch_serves_every_verification_for_the_max_age() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let verifier = issuer.verifier();
    set_time(NOW);
    for i in 0..50 {
        let token = key.token(json!({"jti": format!("j{i}")}));
        assert!(block(verifier.verify(&token, &Requirements::none())).is_ok());
    }
    assert_eq!(issuer.fetches(), 1);
    set_time(NOW + 300);
    assert!(block(verifier.verify(&key.token(json!({})), &Requirements::none())).is_ok());
    assert_eq!(issuer.fetches(), 2, "max-age=300 passed: fetched again");
}

#[test]
fn a_key_rotated_in_verifies_after_one_refetch_and_forged_kids_cannot_force_more() {
    let old = Key::new("old", 7);
    let issuer = Issuer::publishing(&[&old]);
    let verifier = issuer.verifier();
    set_time(NOW);
    assert!(block(verifier.verify(&old.token(json!({})), &Requirements::none())).is_ok());
    // The token service publishes a new key and signs with it.
    let new = Key::new("new", 8);
    issuer.publish(&[&new, &old]);
    set_time(NOW + UNKNOWN_KID_REFETCH_SECS);
    assert!(block(verifier.verify(&new.token(json!({})), &Requirements::none())).is_ok());
    assert_eq!(issuer.fetches(), 2);
    // A flood of forged kids within the next 30 s: no further fetch.
    for i in 0..100 {
        let forged = Key::new(&format!("forged-{i}"), 9);
        let r = block(verifier.verify(&forged.token(json!({})), &Requirements::none()));
        assert_eq!(r, Err(Rejection::UnknownKey));
    }
    assert_eq!(issuer.fetches(), 2);
    // A revoked key (gone from the set) fails once the set is refetched.
    issuer.publish(&[&new]);
    set_time(NOW + UNKNOWN_KID_REFETCH_SECS + 300);
    assert_eq!(block(verifier.verify(&old.token(json!({})), &Requirements::none())), Err(Rejection::UnknownKey));
}

#[test]
fn a_failed_refresh_keeps_the_last_good_keys_for_a_bounded_time() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let verifier = issuer.verifier();
    set_time(NOW);
    assert!(block(verifier.verify(&key.token(json!({})), &Requirements::none())).is_ok());
    issuer.set_failing(true);
    set_time(NOW + 300);
    let token = key.token(json!({}));
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok(), "stale-if-error");
    assert_eq!(issuer.fetches(), 2);
    set_time(NOW + 300 + STALE_IF_ERROR_SECS);
    let r = block(verifier.verify(&key.token(json!({})), &Requirements::none()));
    assert_eq!(r, Err(Rejection::KeysUnavailable));
    let answer = r.unwrap_err().to_response("api");
    assert_eq!(answer.status, 503);
    issuer.set_failing(false);
    set_time(NOW + 300 + STALE_IF_ERROR_SECS + 10);
    assert!(block(verifier.verify(&key.token(json!({})), &Requirements::none())).is_ok(), "recovers");
}

#[test]
fn an_issuer_never_reached_is_unavailable_not_a_bad_token() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    issuer.set_failing(true);
    set_time(NOW);
    let r = block(issuer.verifier().verify(&key.token(json!({})), &Requirements::none()));
    assert_eq!(r, Err(Rejection::KeysUnavailable));
}

#[test]
fn concurrent_misses_share_one_fetch() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    issuer.state().yielding.store(true, std::sync::atomic::Ordering::SeqCst);
    let verifier = issuer.verifier();
    set_time(NOW);
    let tokens: Vec<String> = (0..16).map(|i| key.token(json!({"jti": format!("j{i}")}))).collect();
    let none = Requirements::none();
    let all = futures_util::future::join_all(tokens.iter().map(|t| verifier.verify(t, &none)));
    let results = block(all);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(issuer.fetches(), 1);
}

#[test]
fn discovery_finds_the_jwks_uri_and_checks_the_issuer() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    *issuer.state().metadata.lock().unwrap() = Some(json!({"issuer": ISSUER, "jwks_uri": JWKS_URI}));
    set_time(NOW);
    let verifier = Verifier::new(ISSUER, issuer.clone()).audience(AUDIENCE).clock(clock);
    assert!(block(verifier.verify(&key.token(json!({})), &Requirements::none())).is_ok());
    assert_eq!(issuer.urls(), [format!("{ISSUER}/.well-known/oauth-authorization-server"), JWKS_URI.to_string()]);

    // Metadata naming another issuer (RFC 8414 §3.3): not trusted.
    let impostor = Issuer::publishing(&[&key]);
    *impostor.state().metadata.lock().unwrap() = Some(json!({"issuer": "https://evil.example", "jwks_uri": JWKS_URI}));
    let verifier = Verifier::new(ISSUER, impostor.clone()).audience(AUDIENCE).clock(clock);
    assert_eq!(block(verifier.verify(&key.token(json!({})), &Requirements::none())), Err(Rejection::KeysUnavailable));
    assert!(!impostor.urls().contains(&JWKS_URI.to_string()));
}

#[test]
fn discovery_of_an_issuer_with_a_path_tries_rfc8414_insertion_then_openid_appending() {
    const TENANT: &str = "https://auth.example.com/tenants/acme";
    const INSERTED: &str = "https://auth.example.com/.well-known/oauth-authorization-server/tenants/acme";
    const APPENDED: &str = "https://auth.example.com/tenants/acme/.well-known/openid-configuration";
    let key = Key::new("k1", 7);
    set_time(NOW);
    for (at, tried) in [(INSERTED, vec![INSERTED, JWKS_URI]), (APPENDED, vec![INSERTED, APPENDED, JWKS_URI])] {
        let issuer = Issuer::publishing(&[&key]);
        *issuer.state().metadata.lock().unwrap() = Some(json!({"issuer": TENANT, "jwks_uri": JWKS_URI}));
        *issuer.state().metadata_at.lock().unwrap() = Some(at.to_string());
        let verifier = Verifier::new(TENANT, issuer.clone()).audience(AUDIENCE).clock(clock);
        let verified = block(verifier.verify(&key.token(json!({"iss": TENANT})), &Requirements::none()));
        assert!(verified.is_ok(), "metadata at {at}: {verified:?}");
        assert_eq!(issuer.urls(), tried, "metadata at {at}");
    }
}

#[test]
fn a_verifier_without_an_audience_refuses_everything() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let verifier = Verifier::with_jwks_uri(ISSUER, JWKS_URI, issuer.clone()).clock(clock);
    set_time(NOW);
    assert_eq!(block(verifier.verify(&key.token(json!({})), &Requirements::none())), Err(Rejection::Audience));
}

#[test]
fn verification_is_send_for_multithreaded_servers() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_sync<T: Sync>(_: &T) {}
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    let verifier = issuer.verifier();
    assert_sync(&verifier);
    let none = Requirements::none();
    let future = verifier.verify("Bearer x", &none);
    assert_send(&future);
}

#[test]
fn concurrent_misses_wait_for_one_fetch_and_a_failed_one_is_not_retried_for_ten_seconds() {
    // One fetch in flight per verifier: requests that need the keys
    // meanwhile wait for it (in a Worker, at a JS promise the fetching
    // request settles: flight::Gate), and a failure is retried only after
    // RETRY_AFTER_FAILURE_SECS, however many requests arrive.
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    issuer.state().yielding.store(true, std::sync::atomic::Ordering::SeqCst);
    issuer.set_failing(true);
    let verifier = issuer.verifier();
    let none = Requirements::none();
    let tokens: Vec<String> = (0..8).map(|i| key.token(json!({"jti": format!("j{i}")}))).collect();
    let burst = || block(futures_util::future::join_all(tokens.iter().map(|t| verifier.verify(t, &none))));
    set_time(NOW);
    assert!(burst().iter().all(|r| *r == Err(Rejection::KeysUnavailable)));
    assert_eq!(issuer.fetches(), 1);
    set_time(NOW + RETRY_AFTER_FAILURE_SECS - 1);
    assert!(burst().iter().all(|r| *r == Err(Rejection::KeysUnavailable)));
    assert_eq!(issuer.fetches(), 1);
    issuer.set_failing(false);
    set_time(NOW + RETRY_AFTER_FAILURE_SECS);
    assert!(burst().iter().all(Result::is_ok));
    assert_eq!(issuer.fetches(), 2);
    // Expired: one request refreshes, the others use the held set meanwhile.
    set_time(NOW + RETRY_AFTER_FAILURE_SECS + 300);
    let tokens: Vec<String> = (0..8).map(|i| key.token(json!({"jti": format!("w{i}")}))).collect();
    let warm = block(futures_util::future::join_all(tokens.iter().map(|t| verifier.verify(t, &none))));
    assert!(warm.iter().all(Result::is_ok));
    assert_eq!(issuer.fetches(), 3);
}

#[test]
fn a_redirect_an_oversized_set_and_a_set_of_too_many_keys_are_refused() {
    let key = Key::new("k1", 7);
    set_time(NOW);
    let token = key.token(json!({}));
    let refused = |status: u16, body: Vec<u8>, what: &str| {
        let issuer = Issuer::publishing(&[&key]);
        *issuer.state().jwks_answer.lock().unwrap() = Some((status, body));
        let verified = block(issuer.verifier().verify(&token, &Requirements::none()));
        assert_eq!(verified, Err(Rejection::KeysUnavailable), "{what}");
    };
    refused(302, Vec::new(), "a redirect");
    let mut padded = json!({"keys": [key.jwk()]});
    padded["padding"] = json!("x".repeat(MAX_DOCUMENT_BYTES));
    refused(200, padded.to_string().into_bytes(), "a set over MAX_DOCUMENT_BYTES");
    let crowd: Vec<_> = (0..=MAX_KEYS)
        .map(|i| {
            let mut k = key.jwk();
            k["kid"] = json!(if i == 0 { "k1".to_string() } else { format!("k{i}-extra") });
            k
        })
        .collect();
    refused(200, json!({"keys": crowd}).to_string().into_bytes(), "more than MAX_KEYS keys");
}

/// A published point that is not on P-256 is dropped when the set is
/// imported, by either native back end (aws-lc-rs and p256 alike): the token
/// naming it is refused as naming no usable key, and the other keys of the
/// set still verify.
#[test]
fn a_published_point_off_the_curve_is_never_used() {
    let good = Key::new("k1", 7);
    let bad = Key::new("k2", 8);
    let issuer = Issuer::default();
    *issuer.state().max_age.lock().unwrap() = Some(300);
    let mut off_curve = bad.jwk();
    // y + 1 (in its last byte): the same x, a point off the curve.
    let mut y = URL_SAFE_NO_PAD.decode(off_curve["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    off_curve["y"] = json!(URL_SAFE_NO_PAD.encode(&y));
    *issuer.state().jwks.lock().unwrap() = json!({"keys": [good.jwk(), off_curve]});
    let verifier = issuer.verifier();
    let required = Requirements::scopes(["orders:read"]);
    assert_eq!(block(verifier.verify(&bad.token(json!({})), &required)).unwrap_err(), Rejection::UnknownKey);
    assert!(block(verifier.verify(&good.token(json!({})), &required)).is_ok());
}
