//! Host ring, paired with tests/e2e/limits.test.mjs: the rate limits per
//! source address and the failed-authentication limit per client id.

use m2m_edge_core::http::{Method, Response};
use m2m_edge_core::limits::{Limit, RETRY_AFTER_SECS};
use m2m_edge_testkit::{error_of, Req, World, ADMIN_KEY};

const FORM: &str = "grant_type=client_credentials";

fn token_from(w: &World, address: &str, id: &str, secret: &str) -> Response {
    w.call(Req::token().header("cf-connecting-ip", address).basic(id, secret).form(FORM))
}

fn assert_limited(r: &Response) {
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(error_of(r), "too_many_requests");
    assert_eq!(r.header("retry-after"), Some(RETRY_AFTER_SECS.to_string().as_str()));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[test]
fn token_requests_over_the_address_limit_get_429_with_retry_after() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::TokenByAddress, 3);
    for _ in 0..3 {
        assert_eq!(token_from(&w, "203.0.113.7", &id, &secret).status, 200);
    }
    assert_limited(&token_from(&w, "203.0.113.7", &id, &secret));
    // Another address has its own count; a request without one (not
    // through Cloudflare's edge) is not counted.
    assert_eq!(token_from(&w, "2001:db8::1", &id, &secret).status, 200);
    assert_eq!(w.token_basic(&id, &secret, FORM).status, 200);
    w.limiter.next_window();
    assert_eq!(token_from(&w, "203.0.113.7", &id, &secret).status, 200);
}

#[test]
fn failed_authentications_lock_the_client_id_out() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::FailuresByClient, 2);
    // Successes are not failures.
    assert_eq!(w.token_basic(&id, &secret, FORM).status, 200);
    assert_eq!(w.limiter.count(Limit::FailuresByClient, &id), 0);
    for _ in 0..2 {
        assert_eq!(w.token_basic(&id, "wrong", FORM).status, 401);
    }
    assert_limited(&w.token_basic(&id, "wrong", FORM));
    // Locked out in this isolate: even the right secret is refused, without
    // a storage read or a secret comparison.
    let reads = w.store.operations();
    assert_limited(&w.token_basic(&id, &secret, FORM));
    assert_eq!(w.store.operations(), reads);
    // The lockout ends after Retry-After, with the limiter's window.
    w.clock.advance(i64::from(RETRY_AFTER_SECS));
    w.limiter.next_window();
    assert_eq!(w.token_basic(&id, &secret, FORM).status, 200);
}

#[test]
fn another_isolate_learns_the_lockout_from_the_limiter() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::FailuresByClient, 1);
    assert_eq!(w.token_basic(&id, "wrong", FORM).status, 401);
    let other = w.another_isolate();
    // Its first failure is over the shared count: 429, and locked there too.
    assert_limited(&other.token_basic(&id, "wrong", FORM));
    assert_limited(&other.token_basic(&id, &secret, FORM));
    // Other clients are untouched.
    let (id2, secret2) = w.simple_client();
    assert_eq!(other.token_basic(&id2, &secret2, FORM).status, 200);
}

#[test]
fn a_lockout_holds_for_the_address_that_failed_not_for_the_client_everywhere() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::FailuresByClient, 2);
    for _ in 0..2 {
        assert_eq!(token_from(&w, "192.0.2.66", &id, "wrong").status, 401);
    }
    assert_limited(&token_from(&w, "192.0.2.66", &id, "wrong"));
    assert_limited(&token_from(&w, "192.0.2.66", &id, &secret));
    // Whoever knows the client id cannot lock the client out from elsewhere.
    assert_eq!(token_from(&w, "203.0.113.7", &id, &secret).status, 200);
    assert_eq!(w.limiter.count(Limit::FailuresByClient, &format!("{id} 192.0.2.66")), 2);
}

#[test]
fn malformed_client_ids_are_refused_without_being_counted() {
    let w = World::new();
    w.limiter.limit(Limit::FailuresByClient, 1);
    for _ in 0..3 {
        assert_eq!(w.token_basic("not a client id", "x", FORM).status, 401);
    }
    assert_eq!(w.limiter.count(Limit::FailuresByClient, "not a client id"), 0);
}

#[test]
fn admin_requests_over_the_address_limit_get_429_even_with_the_right_key() {
    let w = World::new();
    w.limiter.limit(Limit::AdminByAddress, 2);
    let admin = |key: &str| w.call(Req::get("/admin/clients").header("cf-connecting-ip", "198.51.100.9").bearer(key));
    assert_eq!(admin("guess-1").status, 401);
    assert_eq!(admin("guess-2").status, 401);
    let r = admin(ADMIN_KEY);
    assert_limited(&r);
    // The admin count is its own: the token endpoint is not affected.
    let (id, secret) = w.simple_client();
    assert_eq!(token_from(&w, "198.51.100.9", &id, &secret).status, 200);
    assert_eq!(w.admin(Method::Get, "/admin/clients", None).status, 200, "no address: not counted");
}

#[test]
fn a_failing_limiter_lets_requests_through_and_says_so_in_the_log() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::TokenByAddress, 1);
    w.limiter.set_broken(true);
    for _ in 0..3 {
        assert_eq!(token_from(&w, "203.0.113.7", &id, &secret).status, 200);
    }
    assert_eq!(w.token_basic(&id, "wrong", FORM).status, 401);
    let lines = w.log.lines();
    assert!(lines.iter().any(|l| l.contains("TOKEN_RATE_LIMIT not applied")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("AUTH_FAILURE_RATE_LIMIT not applied")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains(&secret)), "no secret in the log");
}
