//! Host ring, paired with tests/e2e/private_key_jwt.test.mjs: clients that
//! authenticate with a JWT signed by their own key (RFC 7523 §2.2, OpenID
//! Connect `private_key_jwt`) instead of a secret; single use of each
//! assertion; every claim rule.

use m2m_edge_core::assertion::LEEWAY_SECS;
use m2m_edge_core::http::Method;
use m2m_edge_core::limits::Limit;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TOKEN_ENDPOINT: &str = "https://auth.test/oauth2/token";

fn key_client(w: &World, key: &ClientKeyPair, kid: &str) -> String {
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({
            "name": "signed",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.public_jwk(Some(kid))]},
            "grants": [{"audience": "https://api.test", "scopes": ["read"]}],
        })),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let body = r.body_json();
    assert_eq!(body["token_endpoint_auth_method"], "private_key_jwt");
    assert!(body.get("client_secret").is_none(), "a key client has no secret to show");
    assert_eq!(body["client_secret_last_four"], Value::Null);
    assert_eq!(body["jwks"]["keys"][0]["kid"], kid);
    body["client_id"].as_str().unwrap().to_string()
}

fn claims(id: &str, jti: &str) -> Value {
    json!({"iss": id, "sub": id, "aud": TOKEN_ENDPOINT, "iat": NOW, "exp": NOW + 120, "jti": jti})
}

fn signed(key: &ClientKeyPair, kid: &str, claims: &Value) -> String {
    key.sign(&json!({"alg": "ES256", "typ": "JWT", "kid": kid}), claims)
}

fn with_assertion(w: &World, assertion: &str) -> m2m_edge_core::http::Response {
    w.token_form(&format!(
        "grant_type=client_credentials&client_assertion_type={ASSERTION_TYPE}&client_assertion={assertion}"
    ))
}

#[test]
fn a_signed_assertion_gets_a_token_once() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    let assertion = signed(&key, "k1", &claims(&id, "first"));
    let r = with_assertion(&w, &assertion);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (_, token) = w.verify(r.body_json()["access_token"].as_str().unwrap());
    assert_eq!(token["sub"], id.as_str());
    assert_eq!(token["client_id"], id.as_str());

    let replayed = with_assertion(&w, &assertion);
    assert_eq!(replayed.status, 401);
    assert_eq!(error_of(&replayed), "invalid_client");
    assert!(w.log.lines().iter().any(|l| l.contains("token already used (jti)")), "the operator sees why");

    // The issuer itself is an accepted audience too (RFC 7523 §3 point 3).
    let mut to_issuer = claims(&id, "second");
    to_issuer["aud"] = json!(["https://auth.test"]);
    assert_eq!(with_assertion(&w, &signed(&key, "k1", &to_issuer)).status, 200);
}

#[test]
fn every_claim_and_header_rule_refuses_with_invalid_client() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    let other = ClientKeyPair::generate();
    let refused = |assertion: String, what: &str| {
        let r = with_assertion(&w, &assertion);
        assert_eq!(r.status, 401, "{what}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(error_of(&r), "invalid_client", "{what}");
        assert_eq!(r.body_json()["error_description"], "client authentication failed", "{what}: nothing said of why");
    };
    let with = |name: &str, value: Value| {
        let mut c = claims(&id, &format!("j-{name}"));
        c[name] = value;
        signed(&key, "k1", &c)
    };
    refused(with("aud", json!("https://elsewhere.test/oauth2/token")), "another audience");
    refused(with("exp", json!(NOW - 31)), "expired");
    refused(with("exp", json!(NOW + 3700)), "valid longer than ASSERTION_MAX_LIFETIME");
    refused(with("iat", json!(NOW + 120)), "issued in the future");
    refused(with("nbf", json!(NOW + 120)), "not yet valid");
    refused(with("iss", json!("someone-else")), "iss is not sub");
    refused(with("sub", json!("m2m_00000000000000000000000000000000")), "unknown client");
    let mut no_jti = claims(&id, "x");
    no_jti.as_object_mut().unwrap().remove("jti");
    refused(signed(&key, "k1", &no_jti), "no jti");
    refused(signed(&key, "k2", &claims(&id, "kid")), "a kid the client did not register");
    refused(signed(&other, "k1", &claims(&id, "forged")), "signed by another key");
    refused(
        key.sign(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}), &claims(&id, "typ")),
        "an access token's type",
    );
    refused(key.sign(&json!({"alg": "HS256", "kid": "k1"}), &claims(&id, "alg")), "another algorithm");
    refused("not.a.jwt".into(), "garbage");
    // Without a kid, the client's only key is used.
    let unnamed = key.sign(&json!({"alg": "ES256"}), &claims(&id, "no-kid"));
    assert_eq!(with_assertion(&w, &unnamed).status, 200);
}

/// `exp` − `iat` as the common client libraries sign it by default, none of
/// them configurable in the library's token request helper: Authlib's
/// `PrivateKeyJWT` 3600 s, MSAL 600 s, Spring Security's
/// `NimbusJwtClientAuthenticationParametersConverter` and oauth4webapi
/// (openid-client) 60 s.
const LIBRARY_LIFETIMES: [(&str, i64); 4] =
    [("Authlib", 3600), ("MSAL", 600), ("Spring Security", 60), ("oauth4webapi", 60)];

#[test]
fn the_common_libraries_default_lifetimes_work_out_of_the_box() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    for (library, lifetime) in LIBRARY_LIFETIMES {
        let mut c = claims(&id, library);
        c["exp"] = json!(NOW + lifetime);
        let r = with_assertion(&w, &signed(&key, "k1", &c));
        assert_eq!(r.status, 200, "{library}: {}", String::from_utf8_lossy(&r.body));
    }
    let mut longer = claims(&id, "longer");
    longer["exp"] = json!(NOW + 3600 + LEEWAY_SECS + 1);
    assert_eq!(with_assertion(&w, &signed(&key, "k1", &longer)).status, 401, "an hour is the most by default");
    assert!(w.log.lines().iter().any(|l| l.contains("valid for longer than ASSERTION_MAX_LIFETIME")));

    // An operator who wants shorter assertions still can.
    let strict = World::with(&[("ASSERTION_MAX_LIFETIME", "300")], Some(A3));
    let id = key_client(&strict, &key, "k1");
    let mut authlib = claims(&id, "authlib");
    authlib["exp"] = json!(NOW + 3600);
    assert_eq!(with_assertion(&strict, &signed(&key, "k1", &authlib)).status, 401);
}

/// draft-ietf-oauth-rfc7523bis (updating RFC 7523 §3 point 3): a client
/// assertion's `aud` is the issuer as its sole value. Accepted besides, for
/// the libraries that send it (Authlib, Spring Security, MSAL): the token
/// endpoint URL as the sole value, unless the assertion is typed
/// `client-authentication+jwt`, by which its client declares it follows
/// the draft.
#[test]
fn the_audience_is_the_issuer_with_or_without_a_slash_or_from_an_untyped_assertion_the_token_endpoint_alone() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    let issuer = "https://auth.test";
    let send = |typ: Option<&str>, aud: Value, jti: &str| {
        let mut header = json!({"alg": "ES256", "kid": "k1"});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        let mut c = claims(&id, jti);
        c["aud"] = aud;
        with_assertion(&w, &key.sign(&header, &c)).status
    };
    let typed = Some("client-authentication+jwt");
    for (n, (typ, aud)) in [
        (typed, json!(issuer)),
        (Some("application/client-authentication+jwt"), json!(issuer)),
        (typed, json!([issuer])),
        (None, json!(issuer)),
        // The issuer with a trailing slash, as the MCP SDK builds it from
        // the metadata URL (and the MCP conformance server accepts).
        (typed, json!(format!("{issuer}/"))),
        (Some("JWT"), json!(TOKEN_ENDPOINT)),
        (None, json!([TOKEN_ENDPOINT])),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(send(typ, aud.clone(), &format!("ok{n}")), 200, "{typ:?} {aud}");
    }
    for (n, (typ, aud, why)) in [
        (
            typed,
            json!(TOKEN_ENDPOINT),
            "aud is the token endpoint URL, not the issuer, in a client-authentication+jwt assertion",
        ),
        (None, json!([issuer, TOKEN_ENDPOINT]), "aud has more than one value"),
        (typed, json!([issuer, "https://other.test"]), "aud has more than one value"),
        (None, json!([TOKEN_ENDPOINT, "https://other.test/oauth2/token"]), "aud has more than one value"),
        (None, json!("https://auth.test/x"), "aud is neither the issuer nor the token endpoint URL"),
        (None, json!([]), "aud is neither the issuer nor the token endpoint URL"),
        (None, Value::Null, "aud is neither the issuer nor the token endpoint URL"),
    ]
    .into_iter()
    .enumerate()
    {
        let before = w.log.lines().len();
        assert_eq!(send(typ, aud.clone(), &format!("refused{n}")), 401, "{typ:?} {aud}");
        let logged = w.log.lines()[before..].join("\n");
        assert!(logged.contains(&format!("client {id}: {why}")), "{typ:?} {aud}: {logged}");
    }
}

/// An assertion refused for its form (alg `none`, HS256, an access token's
/// `typ`, not a JWS at all) is refused before any key is looked at; the
/// operator still sees it, under the client the request names (its
/// `client_id`, else the assertion's `sub`) and with the rule it broke —
/// and nothing of the assertion itself. It counts against that client's
/// failure limit like any other failed authentication.
#[test]
fn a_malformed_assertion_is_logged_with_the_client_the_request_names() {
    let w = World::new();
    w.limiter.limit(Limit::FailuresByClient, 100);
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    let c = claims(&id, "malformed");
    for (jwt, client_id, why) in [
        (key.sign(&json!({"alg": "none", "kid": "k1"}), &c), false, "alg must be ES256 or RS256"),
        (key.sign(&json!({"alg": "HS256", "kid": "k1"}), &c), true, "alg must be ES256 or RS256"),
        (key.sign(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}), &c), false, "typ must not be at+jwt"),
        ("not.a.jwt".to_string(), true, "malformed token"),
        // Not three parts, yet its second names the client: still its failure.
        (format!("{}.x", key.sign(&json!({"alg": "ES256", "kid": "k1"}), &c)), false, "malformed token"),
    ] {
        let before = w.log.lines().len();
        let named = if client_id { format!("&client_id={id}") } else { String::new() };
        // From an address: failures count per client and source (README, "Rate limits").
        let r = w.call(Req::token().header("cf-connecting-ip", "192.0.2.7").form(&format!(
            "grant_type=client_credentials{named}&client_assertion_type={ASSERTION_TYPE}&client_assertion={jwt}"
        )));
        assert_eq!((r.status, error_of(&r).as_str()), (401, "invalid_client"), "{why}");
        let logged = w.log.lines()[before..].to_vec();
        assert_eq!(logged.len(), 1, "{why}: {logged:?}");
        assert!(logged[0].starts_with(&format!("private_key_jwt refused for client {id}: {why}")), "{logged:?}");
        for part in jwt.split('.').filter(|part| part.len() > 8) {
            assert!(!logged[0].contains(part), "the assertion is not logged: {logged:?}");
        }
        assert!(!logged[0].contains("none") && !logged[0].contains("HS256"), "nor its header: {logged:?}");
        assert!(!logged[0].contains(ADMIN_KEY));
    }
    assert_eq!(w.limiter.count(Limit::FailuresByClient, &format!("{id} 192.0.2.7")), 5);
    // Naming no client, it is nobody's failure: nothing to log it under.
    let before = w.log.lines().len();
    assert_eq!(with_assertion(&w, "not.a.jwt").status, 401);
    assert_eq!(w.log.lines().len(), before);
}

#[test]
fn one_method_per_request_and_the_assertion_type_is_exact() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    let assertion = signed(&key, "k1", &claims(&id, "m"));
    let both = w.call(Req::token().basic(&id, "secret").form(&format!(
        "grant_type=client_credentials&client_assertion_type={ASSERTION_TYPE}&client_assertion={assertion}"
    )));
    assert_eq!((both.status, error_of(&both).as_str()), (400, "invalid_request"));
    let untyped = w.token_form(&format!("grant_type=client_credentials&client_assertion={assertion}"));
    assert_eq!((untyped.status, error_of(&untyped).as_str()), (400, "invalid_request"));
    let saml = w.token_form(&format!(
        "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:saml2-bearer&client_assertion={assertion}"
    ));
    assert_eq!((saml.status, error_of(&saml).as_str()), (401, "invalid_client"));
    let other_id = w.token_form(&format!(
        "grant_type=client_credentials&client_id=someone&client_assertion_type={ASSERTION_TYPE}&client_assertion={assertion}"
    ));
    assert_eq!((other_id.status, error_of(&other_id).as_str()), (401, "invalid_client"));
    // A key client has no secret: nothing authenticates it but its key.
    assert_eq!(w.token_basic(&id, "anything", "grant_type=client_credentials").status, 401);
}

#[test]
fn keys_are_registered_checked_and_rotated_by_patch() {
    let w = World::new();
    let old = ClientKeyPair::generate();
    let id = key_client(&w, &old, "old");
    let rotate = w.admin(Method::Post, &format!("/admin/clients/{id}/secrets/rotate"), None);
    assert_eq!(rotate.status, 409, "no secret to rotate");

    let new = ClientKeyPair::generate();
    let patched = w.admin(
        Method::Patch,
        &format!("/admin/clients/{id}"),
        Some(json!({"jwks": {"keys": [new.public_jwk(Some("new"))]}})),
    );
    assert_eq!(patched.status, 200, "{}", String::from_utf8_lossy(&patched.body));
    assert_eq!(with_assertion(&w, &signed(&old, "old", &claims(&id, "o"))).status, 401);
    assert_eq!(with_assertion(&w, &signed(&new, "new", &claims(&id, "n"))).status, 200);

    let bad = |body: Value| {
        let r = w.admin(Method::Post, "/admin/clients", Some(body));
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        r.body_json()["field"].as_str().unwrap().to_string()
    };
    let grants = json!([{"audience": "https://api.test", "scopes": []}]);
    assert_eq!(bad(json!({"name": "x", "grants": grants, "token_endpoint_auth_method": "private_key_jwt"})), "jwks");
    assert_eq!(bad(json!({"name": "x", "grants": grants, "jwks": {"keys": [new.public_jwk(None)]}})), "jwks");
    assert_eq!(
        bad(json!({"name": "x", "grants": grants, "token_endpoint_auth_method": "tls_client_auth"})),
        "token_endpoint_auth_method"
    );
    let mut private = new.public_jwk(None);
    private["d"] = json!("AAAA");
    assert_eq!(
        bad(
            json!({"name": "x", "grants": grants, "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}})
        ),
        "jwks.keys[0].d"
    );
    let (secret_client, _) = w.simple_client();
    let r = w.admin(
        Method::Patch,
        &format!("/admin/clients/{secret_client}"),
        Some(json!({"jwks": {"keys": [new.public_jwk(None)]}})),
    );
    assert_eq!(r.status, 400);
    let r = w.admin(
        Method::Patch,
        &format!("/admin/clients/{id}"),
        Some(json!({"token_endpoint_auth_method": "client_secret_basic"})),
    );
    assert_eq!(r.status, 400);

    let off = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert_eq!(off.status, 200);
    assert_eq!(with_assertion(&w, &signed(&new, "new", &claims(&id, "inactive"))).status, 401);
}

#[test]
fn discovery_advertises_private_key_jwt_with_its_two_algorithms() {
    let w = World::new();
    let d = w.call(Req::get("/.well-known/oauth-authorization-server").build()).body_json();
    assert!(d["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    assert_eq!(d["token_endpoint_auth_signing_alg_values_supported"], json!(["ES256", "RS256"]));
}

#[test]
fn an_rsa_key_signs_rs256_assertions_and_only_those() {
    let w = World::new();
    let rsa = IssuerKeyPair::rsa();
    let jwks = rsa.jwks("r1");
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"name": "rsa", "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks,
                    "grants": [{"audience": "https://api.test", "scopes": []}]})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.body_json()["client_id"].as_str().unwrap().to_string();
    assert_eq!(with_assertion(&w, &rsa.sign("r1", &claims(&id, "rs256"))).status, 200);
    // The same kid claimed with ES256: the key decides the algorithm.
    let ec = ClientKeyPair::generate();
    assert_eq!(with_assertion(&w, &signed(&ec, "r1", &claims(&id, "es256-under-rsa-kid"))).status, 401);
}

#[test]
fn used_assertion_ids_are_pruned_once_their_assertions_expired() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let id = key_client(&w, &key, "k1");
    let assertion = signed(&key, "k1", &claims(&id, "prune"));
    assert_eq!(with_assertion(&w, &assertion).status, 200);
    w.run_cron();
    assert_eq!(with_assertion(&w, &assertion).status, 401, "still remembered while it could be replayed");
    w.clock.advance(200);
    w.run_cron();
    assert_eq!(with_assertion(&w, &assertion).status, 401, "expired now: refused for that, not by the store");
}
