//! Host ring, paired with tests/e2e/managed_keys.test.mjs: managed signing
//! keys (KEY_MODE "managed") through the app, and the key operations and
//! sealing under them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use m2m_edge_core::http::Method;
use m2m_edge_core::keys::isolate::STALE_IF_ERROR_MS;
use m2m_edge_core::keys::manager::{jwks_json, open_current, KeyEnv};
use m2m_edge_core::keys::rotation::MAX_RETIRED;
use m2m_edge_core::keys::sealed::{self, Kek, KekError, KeyCrypto, IV_LEN};
use m2m_edge_core::keys::{KeyError, KeyState, KeyStore, Policy};
use m2m_edge_core::ports::OsRandom;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

fn kek() -> String {
    URL_SAFE_NO_PAD.encode([42u8; 32])
}

fn jwks_kids(w: &World) -> Vec<String> {
    let jwks = w.jwks();
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

// The key operations under the app, on their own.

fn sealing_kek() -> String {
    URL_SAFE_NO_PAD.encode([9u8; 32])
}

fn env<'a>(store: &'a MemoryStore, kek: Option<&'a str>, now: i64) -> KeyEnv<'a, MemoryStore, HostCrypto> {
    KeyEnv { store, crypto: &HostCrypto, random: &OsRandom, kek, policy: Policy::default(), now }
}

#[test]
fn bootstrap_then_stable() {
    pollster::block_on(async {
        let store = MemoryStore::default();
        let k = sealing_kek();
        let keys = env(&store, Some(&k), 100).load().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(env(&store, Some(&k), 200).load().await.unwrap(), keys, "loaded, not recreated");
        let signing = open_current(&keys, &HostCrypto, Some(&k)).await.unwrap();
        assert_eq!(signing.kid, keys[0].kid);
        assert!(!jwks_json(&keys).contains(&keys[0].sealed_d));
    });
}

#[test]
fn wrong_or_missing_kek() {
    pollster::block_on(async {
        let store = MemoryStore::default();
        let k = sealing_kek();
        let keys = env(&store, Some(&k), 100).load().await.unwrap();
        let other = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let e = open_current(&keys, &HostCrypto, Some(&other)).await.err().unwrap();
        assert!(matches!(e, KeyError::Unseal { .. }));
        assert!(e.to_string().contains("KEY_ENCRYPTION_KEY"));
        assert!(matches!(open_current(&keys, &HostCrypto, None).await.err().unwrap(), KeyError::Kek(_)));
        // Without a KEK nothing can be created either.
        let empty = MemoryStore::default();
        assert!(matches!(env(&empty, None, 100).load().await.err().unwrap(), KeyError::Kek(_)));
    });
}

#[test]
fn concurrent_writers_keep_one_current() {
    pollster::block_on(async {
        let store = MemoryStore::default();
        let k = sealing_kek();
        let keys = env(&store, Some(&k), 0).load().await.unwrap();
        let version = store.load_keys().await.unwrap().version;
        // Another isolate writes first: our compare-and-swap must fail…
        let later = env(&store, Some(&k), 31 * 86_400);
        later.scheduled().await.unwrap();
        assert!(!store.save_keys(version, &keys).await.unwrap());
        // …and a second scheduled run after it has nothing left to do.
        let (after, changed) = later.scheduled().await.unwrap();
        assert!(!changed);
        assert_eq!(after.iter().filter(|k| k.state == KeyState::Current).count(), 1);
    });
}

#[test]
fn seal_open_round_trip_and_binding() {
    pollster::block_on(async {
        let c = HostCrypto;
        let kek = Kek([7u8; 32]);
        let m = c.generate().await.unwrap();
        assert_eq!(m.d.len(), 32);
        let sealed = sealed::seal(&c, &OsRandom, &kek, b"kid-1", &m.d).await.unwrap();
        assert_eq!(sealed.len(), IV_LEN + 32 + 16);
        assert_eq!(sealed::open(&c, &kek, b"kid-1", &sealed).await.unwrap(), m.d);
        assert!(sealed::open(&c, &Kek([8u8; 32]), b"kid-1", &sealed).await.is_err(), "wrong KEK");
        assert!(sealed::open(&c, &kek, b"kid-2", &sealed).await.is_err(), "kid is bound as AAD");
        let mut damaged = sealed.clone();
        damaged[20] ^= 1;
        assert!(sealed::open(&c, &kek, b"kid-1", &damaged).await.is_err());
        assert!(sealed::open(&c, &kek, b"kid-1", &sealed[..IV_LEN + 15]).await.is_err(), "too short");
        // The IV comes from the Random port: two seals never share one.
        let again = sealed::seal(&c, &OsRandom, &kek, b"kid-1", &m.d).await.unwrap();
        assert_ne!(sealed[..IV_LEN], again[..IV_LEN]);
    });
}

#[test]
fn kek_parsing() {
    assert_eq!(Kek::parse(None).err(), Some(KekError::Missing));
    assert_eq!(Kek::parse(Some("short")).err(), Some(KekError::Malformed));
    assert!(Kek::parse(Some(&URL_SAFE_NO_PAD.encode([1u8; 32]))).is_ok());
}

/// Each rotation keeps the old key published until its tokens expire; the
/// published set is capped so that rotating in a loop cannot grow the JWKS
/// without bound. At the cap a plain rotation is refused (409, saying when
/// the oldest retired key leaves); a revoking one, which adds no key, is not.
#[test]
fn rotations_stop_at_the_published_key_cap() {
    let w = World::managed(Some(&kek()));
    w.simple_client();
    for i in 0..MAX_RETIRED {
        assert_eq!(w.admin(Method::Post, "/admin/keys/rotate", None).status, 200, "rotation {i}");
    }
    assert_eq!(jwks_kids(&w).len(), MAX_RETIRED + 2, "next, current and the retired ones");
    let refused = w.admin(Method::Post, "/admin/keys/rotate", None);
    assert_eq!(refused.status, 409);
    assert!(
        refused.body_json()["error_description"].as_str().unwrap().contains("retired"),
        "{:?}",
        refused.body_json()
    );
    assert_eq!(jwks_kids(&w).len(), MAX_RETIRED + 2);
    let revoking = w.admin(Method::Post, "/admin/keys/rotate", Some(json!({"revoke_current": true})));
    assert_eq!(revoking.status, 200);
    assert_eq!(jwks_kids(&w).len(), MAX_RETIRED + 2);
    // Once the oldest retired key has expired, rotating works again.
    w.clock.advance(Policy::default().retire_after + 1);
    assert_eq!(w.admin(Method::Post, "/admin/keys/rotate", None).status, 200);
}

/// Rotations racing in several isolates: the losers answer 409, never 500.
#[test]
fn a_rotation_that_keeps_losing_the_race_is_a_conflict() {
    let w = World::managed(Some(&kek()));
    w.simple_client(); // the first pair exists
    w.store.lose_key_saves(100);
    let r = w.admin(Method::Post, "/admin/keys/rotate", None);
    assert_eq!(r.status, 409, "{:?}", r.body_json());
    assert_eq!(r.body_json()["error"], "conflict");
}

/// A storage blip while an isolate re-reads the key set must not turn into
/// seconds of 500s: the last good keys keep serving (stale-if-error, for a
/// bounded time, logged) and the read is retried soon.
#[test]
fn a_storage_blip_keeps_the_last_good_keys() {
    let w = World::managed(Some(&kek()));
    let (id, secret) = w.simple_client();
    let kids = jwks_kids(&w);
    w.token_basic(&id, &secret, "grant_type=client_credentials"); // the client is in the read cache
    w.store.set_broken(true);
    w.clock.advance(11); // the key copy (10 s) is due for a re-read, which fails
    let jwks = w.call(Req::get("/.well-known/jwks.json"));
    assert_eq!(jwks.status, 200, "the last good JWKS is served");
    assert_eq!(jwks_kids(&w), kids);
    assert!(w.log.lines().iter().any(|l| l.contains("last good")), "{:?}", w.log.lines());
    // Past the bound, the failure shows.
    w.clock.advance(STALE_IF_ERROR_MS / 1000);
    assert_eq!(w.call(Req::get("/.well-known/jwks.json")).status, 500);
    // And once storage answers again, so do the keys.
    w.store.set_broken(false);
    w.clock.advance(2);
    assert_eq!(jwks_kids(&w), kids);
}
