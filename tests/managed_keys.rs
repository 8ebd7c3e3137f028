//! Ring 1: managed signing keys (KEY_MODE "managed") through the app.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use m2m_edge::http::{Method, Request};
use serde_json::{json, Value};

fn kek() -> String {
    URL_SAFE_NO_PAD.encode([42u8; 32])
}

fn jwks_kids(w: &World) -> Vec<String> {
    let jwks = w.call(Request::new(Method::Get, "/.well-known/jwks.json", ORIGIN)).body_json();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

fn token(w: &World, id: &str, secret: &str) -> String {
    let r = w.token_basic(id, secret, "grant_type=client_credentials");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.body_json()["access_token"].as_str().unwrap().to_string()
}

fn kid_of(token: &str) -> String {
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

#[test]
fn first_request_creates_a_pair_and_signs_with_current() {
    let k = kek();
    let w = World::managed(Some(&k));
    let (id, secret) = w.simple_client();
    let t = token(&w, &id, &secret);
    let (header, claims) = w.verify(&t);
    assert_eq!(claims["sub"], id.as_str());
    let listed = w.admin(Method::Get, "/admin/keys", None).body_json();
    assert_eq!(listed["mode"], "managed");
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!((keys[0]["state"].as_str(), keys[1]["state"].as_str()), (Some("current"), Some("next")));
    assert_eq!(header["kid"], keys[0]["kid"]);
    assert_eq!(jwks_kids(&w).len(), 2, "next is published before it signs");
    // Never private material, sealed or not.
    let text = w.admin(Method::Get, "/admin/keys", None).body;
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("sealed") && !text.contains("\"d\""));
}

#[test]
fn scheduled_rotation_over_time_keeps_old_tokens_verifiable() {
    let k = kek();
    let w = World::managed(Some(&k));
    let (id, secret) = w.simple_client();
    let before = token(&w, &id, &secret);
    assert!(!w.run_cron(), "nothing due yet");
    w.clock.advance(31 * 86_400); // past the 30-day interval; next published 31 days ago
    assert_eq!(kid_of(&token(&w, &id, &secret)), kid_of(&before), "requests never rotate; the cron does");
    assert!(w.run_cron());
    let after = token(&w, &id, &secret);
    assert_ne!(kid_of(&before), kid_of(&after), "the next key took over");
    assert!(jwks_kids(&w).contains(&kid_of(&before)), "the retired key stays published");
    w.clock.advance(86_400 + 301);
    assert!(w.run_cron());
    assert!(!jwks_kids(&w).contains(&kid_of(&before)), "removed after max lifetime + skew");
}

#[test]
fn admin_rotation_and_emergency_revocation() {
    let k = kek();
    let w = World::managed(Some(&k));
    let (id, secret) = w.simple_client();
    let first = token(&w, &id, &secret);
    let r = w.admin(Method::Post, "/admin/keys/rotate", None);
    assert_eq!(r.status, 200);
    let second = token(&w, &id, &secret);
    assert_ne!(kid_of(&first), kid_of(&second));
    w.verify(&first); // the old key is retired, still published
    let r = w.admin(Method::Post, "/admin/keys/rotate", Some(json!({"revoke_current": true})));
    assert_eq!(r.status, 200);
    let body = r.body_json();
    assert_eq!(body["revoked_kid"], kid_of(&second));
    assert!(body["warning"].as_str().unwrap().contains("stops verifying"));
    assert!(!jwks_kids(&w).contains(&kid_of(&second)), "a revoked key leaves the JWKS at once");
    let third = token(&w, &id, &secret);
    w.verify(&third);
    let r = w.admin(Method::Post, "/admin/keys/rotate", Some(json!({"revoke": true})));
    assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some("revoke")));
}

#[test]
fn wrong_or_missing_kek_fails_signing_but_not_the_jwks() {
    let k = kek();
    let mut w = World::managed(Some(&k));
    let (id, secret) = w.simple_client();
    token(&w, &id, &secret);
    let published = jwks_kids(&w);
    for bad in [Some(URL_SAFE_NO_PAD.encode([1u8; 32])), Some("not-base64!".to_string()), None] {
        w.config.key_encryption_key = bad;
        let r = w.token_basic(&id, &secret, "grant_type=client_credentials");
        assert_eq!((r.status, r.body_json()["error"].as_str()), (500, Some("server_error")));
        assert!(!String::from_utf8_lossy(&r.body).contains("KEY_ENCRYPTION_KEY"));
        assert!(w.log.lines().last().unwrap().contains("KEY_ENCRYPTION_KEY"), "{:?}", w.log.lines());
        assert_eq!(jwks_kids(&w), published, "JWKS still serves the public keys");
    }
    w.config.key_encryption_key = Some(k);
    assert_eq!(w.token_basic(&id, &secret, "grant_type=client_credentials").status, 200);
}

#[test]
fn no_kek_and_no_keys_serves_an_empty_jwks() {
    let w = World::managed(None);
    assert!(jwks_kids(&w).is_empty());
    let (id, secret) = w.simple_client();
    assert_eq!(w.token_basic(&id, &secret, "grant_type=client_credentials").status, 500);
}

#[test]
fn byok_mode_lists_keys_and_refuses_rotation() {
    let w = World::new();
    let listed = w.admin(Method::Get, "/admin/keys", None).body_json();
    assert_eq!(listed["mode"], "byok");
    assert_eq!(listed["keys"][0]["state"], "current");
    let r = w.admin(Method::Post, "/admin/keys/rotate", None);
    assert_eq!(r.status, 409);
    assert!(r.body_json()["error_description"].as_str().unwrap().contains("SIGNING_KEYS"));
}
