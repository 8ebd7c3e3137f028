//! Host ring, paired with tests/e2e/limits.test.mjs: the rate limits per
//! source and the failed-authentication limit per client id and source.

use m2m_edge_core::http::{Method, Response};
use m2m_edge_core::limits::{self, Limit, RETRY_AFTER_SECS};
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
    let from = "203.0.113.80";
    // Successes are not failures.
    assert_eq!(token_from(&w, from, &id, &secret).status, 200);
    assert_eq!(w.limiter.count(Limit::FailuresByClient, &format!("{id} {from}")), 0);
    for _ in 0..2 {
        assert_eq!(token_from(&w, from, &id, "wrong").status, 401);
    }
    assert_limited(&token_from(&w, from, &id, "wrong"));
    // Locked out in this isolate: even the right secret is refused, without
    // a storage read or a secret comparison.
    let reads = w.store.operations();
    assert_limited(&token_from(&w, from, &id, &secret));
    assert_eq!(w.store.operations(), reads);
    // The lockout ends after Retry-After, with the limiter's window.
    w.clock.advance(i64::from(RETRY_AFTER_SECS));
    w.limiter.next_window();
    assert_eq!(token_from(&w, from, &id, &secret).status, 200);
}

#[test]
fn another_isolate_learns_the_lockout_from_the_limiter() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::FailuresByClient, 1);
    let from = "198.51.100.80";
    assert_eq!(token_from(&w, from, &id, "wrong").status, 401);
    let other = w.another_isolate();
    // Its first failure is over the shared count: 429, and locked there too.
    assert_limited(&token_from(&other, from, &id, "wrong"));
    assert_limited(&token_from(&other, from, &id, &secret));
    // Other clients are untouched.
    let (id2, secret2) = w.simple_client();
    assert_eq!(token_from(&other, from, &id2, &secret2).status, 200);
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
    assert_eq!(token_from(&w, "203.0.113.7", &id, "wrong").status, 401);
    let lines = w.log.lines();
    assert!(lines.iter().any(|l| l.contains("TOKEN_RATE_LIMIT not applied")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("AUTH_FAILURE_RATE_LIMIT not applied")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains(&secret)), "no secret in the log");
}

/// Cloudflare's address for Workers' subrequests to another zone
/// (developers.cloudflare.com/workers/runtime-apis/headers/, `CF-Connecting-IP`).
const WORKERS_ADDRESS: &str = "2a06:98c0:3600::103";

#[test]
fn one_function_says_which_source_a_request_is_counted_under() {
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
    let cases: &[Case] = &[
        (&[("cf-connecting-ip", "203.0.113.7")], Some("203.0.113.7")),
        (&[("cf-connecting-ip", " 203.0.113.7 ")], Some("203.0.113.7")),
        // IPv6: the /64, as one host holds a whole /64 (RFC 4291 §2.5.1).
        (&[("cf-connecting-ip", "2001:db8:1:2:aaaa:bbbb:cccc:dddd")], Some("2001:db8:1:2::/64")),
        (&[("cf-connecting-ip", "2001:DB8:1:2::1")], Some("2001:db8:1:2::/64")),
        (&[("cf-connecting-ip", "2001:0db8:0001:0002:0000:0000:0000:0009")], Some("2001:db8:1:2::/64")),
        // An IPv4 client over IPv6 (RFC 4291 §2.5.5.2) is its IPv4 address.
        (&[("cf-connecting-ip", "::ffff:203.0.113.7")], Some("203.0.113.7")),
        // Another zone's Worker: Cloudflare's address, and its zone in CF-Worker.
        (&[("cf-connecting-ip", WORKERS_ADDRESS), ("cf-worker", "example.com")], Some("worker:example.com")),
        (&[("cf-connecting-ip", WORKERS_ADDRESS), ("cf-worker", "Example.COM")], Some("worker:example.com")),
        (&[("cf-connecting-ip", WORKERS_ADDRESS)], Some("2a06:98c0:3600::/64")),
        (&[("cf-connecting-ip", WORKERS_ADDRESS), ("cf-worker", "not a zone")], Some("2a06:98c0:3600::/64")),
        // CF-Worker from any other address buys no bucket of its own.
        (&[("cf-connecting-ip", "198.51.100.1"), ("cf-worker", "example.com")], Some("198.51.100.1")),
        // Not through Cloudflare's edge: no source.
        (&[("cf-worker", "example.com")], None),
        (&[], None),
        (&[("cf-connecting-ip", "")], None),
        (&[("cf-connecting-ip", "not an address")], None),
        (&[("cf-connecting-ip", "203.0.113.7, 198.51.100.1")], None),
    ];
    for (headers, expected) in cases {
        let req = headers.iter().fold(Req::token(), |r, (name, value)| r.header(name, value)).form(FORM);
        assert_eq!(limits::source(&req).as_deref(), *expected, "{headers:?}");
    }
}

#[test]
fn without_a_source_failures_lock_no_client_out() {
    // Anyone who knows a client id could otherwise lock it out: the id is in
    // every token the client uses.
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::FailuresByClient, 2);
    for _ in 0..5 {
        assert_eq!(w.token_basic(&id, "wrong", FORM).status, 401);
    }
    assert_eq!(w.limiter.count(Limit::FailuresByClient, &id), 0);
    assert_eq!(w.token_basic(&id, &secret, FORM).status, 200);
    assert_eq!(token_from(&w, "203.0.113.9", &id, &secret).status, 200);
}

#[test]
fn the_addresses_of_one_ipv6_64_are_one_source() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::FailuresByClient, 2);
    w.limiter.limit(Limit::TokenByAddress, 20);
    for i in 1..=2 {
        assert_eq!(token_from(&w, &format!("2001:db8:7:7::{i:x}"), &id, "wrong").status, 401);
    }
    // A third address of the same /64 is over the failure limit…
    assert_limited(&token_from(&w, "2001:db8:7:7:ffff::3", &id, "wrong"));
    assert_limited(&token_from(&w, "2001:db8:7:7::4", &id, &secret));
    // …and the /64 next door is another source.
    assert_eq!(token_from(&w, "2001:db8:7:8::1", &id, &secret).status, 200);
    // Rotating through the /64 does not escape the per-source token limit.
    let (id2, secret2) = w.simple_client();
    let statuses: Vec<u16> =
        (0..30).map(|i| token_from(&w, &format!("2001:db8:9:9::{:x}", 100 + i), &id2, &secret2).status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20, "{statuses:?}");
    assert_eq!(w.limiter.count(Limit::TokenByAddress, "2001:db8:9:9::/64"), 20);
}

#[test]
fn other_zones_workers_are_counted_per_zone() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.limiter.limit(Limit::TokenByAddress, 2);
    let from_worker = |zone: &str| {
        w.call(
            Req::token()
                .header("cf-connecting-ip", WORKERS_ADDRESS)
                .header("cf-worker", zone)
                .basic(&id, &secret)
                .form(FORM),
        )
    };
    assert_eq!(from_worker("a.example").status, 200);
    assert_eq!(from_worker("a.example").status, 200);
    assert_limited(&from_worker("a.example"));
    // Every Worker in the world comes from one address: another zone has
    // its own count.
    assert_eq!(from_worker("b.example").status, 200);
    // A client naming a zone from its own address is counted by its address.
    let spoofing = |zone: &str| {
        w.call(
            Req::token()
                .header("cf-connecting-ip", "192.0.2.44")
                .header("cf-worker", zone)
                .basic(&id, &secret)
                .form(FORM),
        )
    };
    assert_eq!(spoofing("c.example").status, 200);
    assert_eq!(spoofing("d.example").status, 200);
    assert_limited(&spoofing("e.example"));
}
