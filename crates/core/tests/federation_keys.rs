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

#[test]
fn an_issuer_with_a_path_is_found_where_openid_discovery_appends_first() {
    let issuer = "https://idp.example.com/tenants/acme";
    let w = World::new();
    let key = IssuerKeyPair::rsa();
    let jwks_uri = "https://idp.example.com/tenants/acme/keys";
    w.fetcher.serve(
        "https://idp.example.com/tenants/acme/.well-known/openid-configuration",
        &json!({"issuer": issuer, "jwks_uri": jwks_uri}),
    );
    w.fetcher.serve(jwks_uri, &key.jwks(KID));
    trusting(&w, issuer, None);
    let r = exchange(&w, &key.sign(KID, &claims(issuer, "a")));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        w.fetcher.requests(),
        ["https://idp.example.com/tenants/acme/.well-known/openid-configuration", jwks_uri],
        "OpenID Connect Discovery 1.0 §4 first: trusted issuers are OpenID providers"
    );
}

#[test]
fn an_issuer_with_a_path_is_found_where_rfc8414_inserts_when_its_metadata_is_there() {
    let issuer = "https://idp.example.com/tenants/acme";
    let w = World::new();
    let key = IssuerKeyPair::rsa();
    let jwks_uri = "https://idp.example.com/tenants/acme/keys";
    w.fetcher.serve(
        "https://idp.example.com/.well-known/oauth-authorization-server/tenants/acme",
        &json!({"issuer": issuer, "jwks_uri": jwks_uri}),
    );
    w.fetcher.serve(jwks_uri, &key.jwks(KID));
    trusting(&w, issuer, None);
    let r = exchange(&w, &key.sign(KID, &claims(issuer, "a")));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        w.fetcher.requests(),
        [
            "https://idp.example.com/tenants/acme/.well-known/openid-configuration",
            "https://idp.example.com/.well-known/oauth-authorization-server/tenants/acme",
            jwks_uri
        ]
    );
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
