//! The verifier learns revocations from the issuer's list (an m2m-edge
//! deployment's `revocation_list_uri`) within its bound, never accepts a
//! token on a list older than the bound, and finds the list by discovery.
#![cfg(not(target_arch = "wasm32"))] // the native back end; the WebCrypto one is exercised in workerd

mod common;

use common::*;
use m2m_edge_verify::{Rejection, Requirements, Verifier};
use serde_json::json;

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    pollster::block_on(f)
}

fn list(tokens: serde_json::Value, clients: serde_json::Value) -> serde_json::Value {
    json!({"issuer": ISSUER, "generated_at": NOW, "tokens": tokens, "clients": clients, "projects": {}})
}

#[test]
fn a_revoked_token_is_refused_within_the_bound_and_not_before() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([]), json!({})));
    set_time(NOW);
    let verifier = issuer.verifier().revocations(REVOCATIONS_URI).revocations_within(30);
    let token = key.token(json!({"jti": "j1"}));
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok());

    // Revoked at the issuer: the held list still holds for the bound…
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([{"jti": "j1"}]), json!({})));
    set_time(NOW + 29);
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok(), "within the 30 s bound");
    // …and not a second longer.
    set_time(NOW + 30);
    assert_eq!(block(verifier.verify(&token, &Requirements::none())), Err(Rejection::Revoked));
    let answer = Rejection::Revoked.to_response("orders");
    assert_eq!(answer.status, 401);

    // A client's not-before time refuses what it was issued before it.
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([]), json!({"m2m_client": NOW + 10})));
    set_time(NOW + 60);
    assert_eq!(
        block(verifier.verify(&key.token(json!({"iat": NOW + 9, "jti": "j2"})), &Requirements::none())),
        Err(Rejection::Revoked)
    );
    assert!(block(verifier.verify(&key.token(json!({"iat": NOW + 10, "jti": "j3"})), &Requirements::none())).is_ok());
}

#[test]
fn past_the_bound_without_a_list_tokens_are_refused_503_not_accepted() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([]), json!({})));
    set_time(NOW);
    let verifier = issuer.verifier().revocations(REVOCATIONS_URI);
    let token = key.token(json!({}));
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok());
    issuer.set_failing(true);
    set_time(NOW + 59);
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok(), "the default bound is 60 s");
    set_time(NOW + 60);
    let refused = block(verifier.verify(&token, &Requirements::none()));
    assert_eq!(refused, Err(Rejection::RevocationsUnavailable));
    assert_eq!(Rejection::RevocationsUnavailable.to_response("orders").status, 503);
    // Another issuer's list is no list.
    issuer.set_failing(false);
    *issuer.state().revocations.lock().unwrap() =
        Some(json!({"issuer": "https://evil.example", "tokens": [], "clients": {}, "projects": {}}));
    set_time(NOW + 120);
    assert_eq!(block(verifier.verify(&token, &Requirements::none())), Err(Rejection::RevocationsUnavailable));
}

#[test]
fn discovery_names_the_list_and_the_verifier_uses_it_unless_told_not_to() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    *issuer.state().metadata.lock().unwrap() =
        Some(json!({"issuer": ISSUER, "jwks_uri": JWKS_URI, "revocation_list_uri": REVOCATIONS_URI}));
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([{"jti": "gone"}]), json!({})));
    set_time(NOW);
    let token = key.token(json!({"jti": "gone"}));
    let verifier = Verifier::new(ISSUER, issuer.clone()).audience(AUDIENCE).clock(clock);
    assert_eq!(block(verifier.verify(&token, &Requirements::none())), Err(Rejection::Revoked));
    assert!(issuer.urls().contains(&REVOCATIONS_URI.to_string()));
    let unchecked = Verifier::new(ISSUER, issuer.clone()).audience(AUDIENCE).clock(clock).without_revocations();
    assert!(block(unchecked.verify(&token, &Requirements::none())).is_ok());
    // An issuer that publishes no list: nothing to check.
    let plain = Issuer::publishing(&[&key]);
    *plain.state().metadata.lock().unwrap() = Some(json!({"issuer": ISSUER, "jwks_uri": JWKS_URI}));
    let verifier = Verifier::new(ISSUER, plain.clone()).audience(AUDIENCE).clock(clock);
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok());
}

#[test]
fn strict_mode_asks_of_each_token_and_sees_a_revocation_at_once() {
    let key = Key::new("k1", 7);
    let issuer = Issuer::publishing(&[&key]);
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([]), json!({})));
    set_time(NOW);
    let verifier = issuer.verifier().revocations(REVOCATIONS_URI).revocations_strict();
    let token = key.token(json!({"jti": "j 1", "project_id": "acme"}));
    assert!(block(verifier.verify(&token, &Requirements::none())).is_ok());
    *issuer.state().revocations.lock().unwrap() = Some(list(json!([{"jti": "j 1"}]), json!({})));
    assert_eq!(block(verifier.verify(&token, &Requirements::none())), Err(Rejection::Revoked), "no bound: at once");
    let asked = issuer.urls().into_iter().filter(|u| u.starts_with(REVOCATIONS_URI)).collect::<Vec<_>>();
    assert_eq!(asked.len(), 2, "one question per verification");
    assert_eq!(asked[0], format!("{REVOCATIONS_URI}?jti=j%201&client_id=m2m_client&project_id=acme"));
    issuer.set_failing(true);
    assert_eq!(block(verifier.verify(&token, &Requirements::none())), Err(Rejection::RevocationsUnavailable));
}
