//! Host ring, paired with tests/e2e/federation.test.mjs: how trusted
//! issuers' keys are had — metadata found for an issuer with a path
//! (OpenID Connect Discovery 1.0 §4 appends, RFC 8414 §3 inserts), and
//! every fetch bounded: one in flight per issuer per isolate, no redirect,
//! a size and key-count cap.

use m2m_edge_core::http::{Method, Response};
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const AUDIENCE: &str = "https://auth.test";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const SUBJECT: &str = "repo:acme/deploy:environment:production";
const KID: &str = "k-1";

/// `w` trusts `issuer` (keys from `jwks_uri`, or by discovery without
/// one), and client `deployer` trusts tokens of `issuer` for [`SUBJECT`].
fn trusting(w: &World, issuer: &str, jwks_uri: Option<&str>) {
    let mut body = json!({"issuer": issuer, "audiences": [AUDIENCE]});
    if let Some(uri) = jwks_uri {
        body["jwks_uri"] = json!(uri);
    }
    let r = w.admin(Method::Post, "/admin/federation/issuers", Some(body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({
            "client_id": "deployer",
            "name": "deployer",
            "grants": [{"audience": "https://api.test", "scopes": ["deploy"]}],
            "federated_credentials": [{"name": "release", "issuer": issuer, "subject": SUBJECT}]
        })),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

fn claims(issuer: &str, jti: &str) -> Value {
    json!({"iss": issuer, "aud": AUDIENCE, "sub": SUBJECT, "iat": NOW - 10, "exp": NOW + 300, "jti": jti})
}

fn exchange(w: &World, token: &str) -> Response {
    w.token_form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}&client_id=deployer&resource=https://api.test"
    ))
}

/// An issuer at `https://idp.example.com/tenants/acme` whose metadata is
/// served at `metadata`: the exchange works, and the fetcher was asked
/// for exactly `asked` then its keys.
fn found_at(metadata: &str, asked: &[&str], why: &str) {
    let issuer = "https://idp.example.com/tenants/acme";
    let w = World::new();
    let key = IssuerKeyPair::rsa();
    let jwks_uri = "https://idp.example.com/tenants/acme/keys";
    w.fetcher.serve(metadata, &json!({"issuer": issuer, "jwks_uri": jwks_uri}));
    w.fetcher.serve(jwks_uri, &key.jwks(KID));
    trusting(&w, issuer, None);
    let r = exchange(&w, &key.sign(KID, &claims(issuer, "a")));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut expected: Vec<&str> = asked.to_vec();
    expected.push(jwks_uri);
    assert_eq!(w.fetcher.requests(), expected, "{why}");
}

#[test]
fn an_issuer_with_a_path_is_found_where_openid_discovery_appends_first() {
    let appended = "https://idp.example.com/tenants/acme/.well-known/openid-configuration";
    found_at(appended, &[appended], "OpenID Connect Discovery 1.0 §4 first: trusted issuers are OpenID providers");
}

#[test]
fn an_issuer_with_a_path_is_found_where_rfc8414_inserts_when_its_metadata_is_there() {
    let appended = "https://idp.example.com/tenants/acme/.well-known/openid-configuration";
    let inserted = "https://idp.example.com/.well-known/oauth-authorization-server/tenants/acme";
    found_at(inserted, &[appended, inserted], "RFC 8414 §3 second");
}

#[test]
fn metadata_that_names_another_issuer_is_refused_wherever_it_is_found() {
    let issuer = "https://idp.example.com/tenants/acme";
    let w = World::new();
    let key = IssuerKeyPair::rsa();
    w.fetcher.serve(
        "https://idp.example.com/.well-known/oauth-authorization-server/tenants/acme",
        &json!({"issuer": "https://idp.example.com/tenants/other", "jwks_uri": "https://idp.example.com/keys"}),
    );
    w.fetcher.serve("https://idp.example.com/keys", &key.jwks(KID));
    trusting(&w, issuer, None);
    assert_eq!(exchange(&w, &key.sign(KID, &claims(issuer, "a"))).status, 400);
    assert!(w.log.lines().iter().any(|l| l.contains("names another issuer")), "{:?}", w.log.lines());
    assert!(!w.fetcher.requests().iter().any(|u| u == "https://idp.example.com/keys"));
}

fn exchange_request(token: &str) -> m2m_edge_core::http::Request {
    Req::token().form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}&client_id=deployer&resource=https://api.test"
    ))
}

const PLATFORM: &str = "https://token.platform.test";
const JWKS_URI: &str = "https://token.platform.test/keys";

fn platform_world() -> (World, IssuerKeyPair) {
    let w = World::new();
    let key = IssuerKeyPair::rsa();
    w.fetcher.serve(JWKS_URI, &key.jwks(KID));
    trusting(&w, PLATFORM, Some(JWKS_URI));
    (w, key)
}

fn fetches_of(w: &World, url: &str) -> usize {
    w.fetcher.requests().iter().filter(|u| *u == url).count()
}

#[test]
fn concurrent_requests_for_an_issuer_cause_one_fetch_in_an_isolate() {
    let (w, key) = platform_world();
    w.fetcher.set_slow(true);
    let requests = (0..8).map(|i| exchange_request(&key.sign(KID, &claims(PLATFORM, &format!("cold-{i}"))))).collect();
    let answers = w.call_all(requests);
    for r in &answers {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(fetches_of(&w, JWKS_URI), 1, "the first fetches; the others wait for its keys");

    // The set expires: one request refreshes it, the others use the held
    // set meanwhile rather than wait.
    w.clock.advance(300);
    let requests = (0..8)
        .map(|i| {
            let mut c = claims(PLATFORM, &format!("warm-{i}"));
            c["iat"] = json!(NOW + 290);
            c["exp"] = json!(NOW + 600);
            exchange_request(&key.sign(KID, &c))
        })
        .collect();
    assert!(w.call_all(requests).iter().all(|r| r.status == 200));
    assert_eq!(fetches_of(&w, JWKS_URI), 2);
}

#[test]
fn an_unreachable_issuer_costs_one_fetch_attempt_per_isolate_every_ten_seconds() {
    let (w, key) = platform_world();
    w.fetcher.set_slow(true);
    w.fetcher.set_down(true);
    let burst = |tag: &str| -> Vec<u16> {
        let requests =
            (0..10).map(|i| exchange_request(&key.sign(KID, &claims(PLATFORM, &format!("{tag}-{i}"))))).collect();
        w.call_all(requests).iter().map(|r| r.status).collect()
    };
    assert_eq!(burst("a"), [400; 10]);
    assert_eq!(fetches_of(&w, JWKS_URI), 1, "concurrent requests wait for the one attempt");
    w.clock.advance(9);
    assert_eq!(burst("b"), [400; 10]);
    assert_eq!(fetches_of(&w, JWKS_URI), 1, "no attempt within 10 s of the last");
    w.clock.advance(1);
    assert_eq!(burst("c"), [400; 10]);
    assert_eq!(fetches_of(&w, JWKS_URI), 2);
    assert!(w.log.lines().iter().any(|l| l.contains("connection refused")), "{:?}", w.log.lines());
}

#[test]
fn a_redirect_is_not_followed() {
    let (w, key) = platform_world();
    w.fetcher.answer(JWKS_URI, 302, Vec::new());
    assert_eq!(exchange(&w, &key.sign(KID, &claims(PLATFORM, "a"))).status, 400);
    assert!(
        w.log.lines().iter().any(|l| l.contains("answered 302") && l.contains("redirects are not followed")),
        "{:?}",
        w.log.lines()
    );
}

#[test]
fn an_oversized_jwk_set_is_refused() {
    let (w, key) = platform_world();
    let mut set = key.jwks(KID);
    set["padding"] = json!("x".repeat(m2m_edge_verify::MAX_DOCUMENT_BYTES));
    w.fetcher.serve(JWKS_URI, &set);
    assert_eq!(exchange(&w, &key.sign(KID, &claims(PLATFORM, "a"))).status, 400);
    assert!(w.log.lines().iter().any(|l| l.contains("larger than")), "{:?}", w.log.lines());
}

#[test]
fn a_jwk_set_of_more_keys_than_the_cap_is_refused() {
    let (w, key) = platform_world();
    let one = key.jwks(KID)["keys"][0].clone();
    let crowd: Vec<Value> = (0..=m2m_edge_verify::jwks::MAX_KEYS)
        .map(|i| {
            let mut k = one.clone();
            k["kid"] = json!(format!("k-{i}"));
            k
        })
        .collect();
    w.fetcher.serve(JWKS_URI, &json!({"keys": crowd}));
    assert_eq!(exchange(&w, &key.sign(KID, &claims(PLATFORM, "a"))).status, 400);
    assert!(w.log.lines().iter().any(|l| l.contains("more than")), "{:?}", w.log.lines());
}
