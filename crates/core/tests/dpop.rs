//! Host ring, paired with tests/e2e/dpop.test.mjs: DPoP (RFC 9449) at the
//! token endpoint — every grant binds its token to the proof's key (`cnf.jkt`,
//! `token_type` DPoP), each proof once across isolates, a client may be
//! required to send one — and at the RPC verifier, which takes a bound token
//! only with a proof for its request; the admin API, revocation and
//! introspection as a bound token meets them.

use m2m_edge_core::http::{Method, Response};
use m2m_edge_core::ports::Clock;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const TOKEN_ENDPOINT: &str = "https://auth.test/oauth2/token";
const API: &str = "https://api.test";
const API_URL: &str = "https://api.test/orders";

fn body(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn client(w: &World, extra: Value) -> (String, String) {
    let mut client = json!({"name": "svc", "grants": [{"audience": API, "scopes": ["read"]}]});
    for (name, value) in extra.as_object().unwrap() {
        client[name] = value.clone();
    }
    w.create(client)
}

/// A token request of `id` with `proof` in a DPoP header, if any.
fn token_request(w: &World, id: &str, secret: &str, proof: Option<&str>) -> Response {
    let mut req = Req::token().basic(id, secret);
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    w.call(req.form(&format!("grant_type=client_credentials&resource={API}")))
}

fn proof(key: &IssuerKeyPair, jti: &str) -> String {
    key.dpop_proof("POST", TOKEN_ENDPOINT, NOW, jti, None)
}

fn refused_proof(r: &Response) -> String {
    assert_eq!(r.status, 400, "{}", body(r));
    assert_eq!(error_of(r), "invalid_dpop_proof", "{}", body(r));
    r.body_json()["error_description"].as_str().unwrap().to_string()
}

#[test]
fn a_token_request_with_a_proof_gets_a_token_bound_to_its_key() {
    let w = World::new();
    let (id, secret) = client(&w, json!({}));
    for key in [IssuerKeyPair::ec(), IssuerKeyPair::rsa()] {
        let r = token_request(&w, &id, &secret, Some(&proof(&key, &format!("p-{}", key.jkt()))));
        assert_eq!(r.status, 200, "{}", body(&r));
        assert_eq!(r.body_json()["token_type"], "DPoP");
        let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
        assert_eq!(claims["cnf"], json!({"jkt": key.jkt()}));
    }
    // Without a proof: a bearer token, as before.
    let r = token_request(&w, &id, &secret, None);
    assert_eq!(r.body_json()["token_type"], "Bearer");
    assert_eq!(w.verify(r.body_json()["access_token"].as_str().unwrap()).1.get("cnf"), None);
    let discovery = w.call(Req::get("/.well-known/oauth-authorization-server")).body_json();
    assert_eq!(discovery["dpop_signing_alg_values_supported"], json!(["ES256", "RS256"]));
}

#[test]
fn a_proof_is_used_once_in_any_isolate_and_only_for_the_token_endpoint() {
    let w = World::new();
    let (id, secret) = client(&w, json!({}));
    let key = IssuerKeyPair::ec();
    let once = proof(&key, "once");
    assert_eq!(token_request(&w, &id, &secret, Some(&once)).status, 200);
    let elsewhere = w.another_isolate();
    assert_eq!(
        refused_proof(&token_request(&elsewhere, &id, &secret, Some(&once))),
        "DPoP proof: the proof was used before"
    );
    let wrong = [
        key.dpop_proof("GET", TOKEN_ENDPOINT, NOW, "get", None),
        key.dpop_proof("POST", "https://auth.test/oauth2/revoke", NOW, "revoke", None),
        key.dpop_proof("POST", TOKEN_ENDPOINT, NOW - 200, "stale", None),
        format!("{once}, {}", proof(&key, "two")),
        "not-a-proof".to_string(),
    ];
    for proof in wrong {
        refused_proof(&token_request(&w, &id, &secret, Some(&proof)));
    }
    // A misdirected proof is refused before client authentication spends
    // anything: the private_key_jwt assertion sent with it still works.
    let signer = IssuerKeyPair::ec();
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"name": "signed", "token_endpoint_auth_method": "private_key_jwt",
        "jwks": signer.jwks("k1"), "grants": [{"audience": API, "scopes": ["read"]}]})),
    );
    let signed_id = r.body_json()["client_id"].as_str().unwrap().to_string();
    let assertion = signer.sign("k1", &json!({"iss": signed_id, "sub": signed_id, "aud": "https://auth.test", "iat": NOW, "exp": NOW + 60, "jti": "a1"}));
    let with_assertion = |proof: &str| {
        w.call(Req::token().header("DPoP", proof).form(&format!(
            "grant_type=client_credentials&resource={API}&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion={assertion}"
        )))
    };
    refused_proof(&with_assertion(&key.dpop_proof("GET", TOKEN_ENDPOINT, NOW, "misdirected", None)));
    assert_eq!(with_assertion(&proof(&key, "with-assertion")).status, 200);
    // A failed client authentication spends no proof: the client's own
    // request with that proof still gets its token.
    let kept = proof(&key, "kept");
    assert_eq!(token_request(&w, &id, "wrong-secret", Some(&kept)).status, 401);
    assert_eq!(token_request(&w, &id, &secret, Some(&kept)).status, 200);
}

#[test]
fn a_client_can_be_required_to_send_proofs() {
    let w = World::new();
    let (id, secret) = client(&w, json!({"dpop_bound_access_tokens": true}));
    let shown = w.admin(Method::Get, &format!("/admin/clients/{id}"), None).body_json();
    assert_eq!(shown["dpop_bound_access_tokens"], true);
    assert_eq!(
        refused_proof(&token_request(&w, &id, &secret, None)),
        "DPoP proof: this client must send one (dpop_bound_access_tokens)"
    );
    let key = IssuerKeyPair::ec();
    assert_eq!(token_request(&w, &id, &secret, Some(&proof(&key, "required"))).status, 200);
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"dpop_bound_access_tokens": false})));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(token_request(&w, &id, &secret, None).status, 200);
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"dpop_bound_access_tokens": "yes"})));
    assert_eq!(r.status, 400);
    let (plain, _) = client(&w, json!({}));
    let shown = w.admin(Method::Get, &format!("/admin/clients/{plain}"), None).body_json();
    assert_eq!(shown["dpop_bound_access_tokens"], false);
}

#[test]
fn with_dpop_nonce_secret_set_a_proof_must_carry_the_nonce_the_server_hands_out() {
    const SECRET: &str = "a-nonce-secret-of-at-least-32-characters";
    let w = World::with(&[("DPOP_NONCE_SECRET", SECRET)], Some(A3));
    let (id, secret) = client(&w, json!({}));
    let key = IssuerKeyPair::ec();
    let with_nonce = |jti: &str, nonce: &str| {
        key.dpop_proof_of(
            &json!({"jti": jti, "htm": "POST", "htu": TOKEN_ENDPOINT, "iat": w.clock.now(), "nonce": nonce}),
        )
    };
    // RFC 9449 §8.1: a proof without one is refused with the one to use.
    let r = token_request(&w, &id, &secret, Some(&proof(&key, "no-nonce")));
    assert_eq!(r.status, 400, "{}", body(&r));
    assert_eq!(error_of(&r), "use_dpop_nonce");
    let nonce = r.header("dpop-nonce").expect("DPoP-Nonce on use_dpop_nonce").to_string();
    // With it, in any isolate, the token; the proof was not spent by the
    // refusal (its jti is taken now).
    let r = token_request(&w.another_isolate(), &id, &secret, Some(&with_nonce("no-nonce", &nonce)));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(r.body_json()["token_type"], "DPoP");
    assert_eq!(r.header("dpop-nonce"), Some(nonce.as_str()), "§8.2: every response carries the current one");
    // A nonce of another secret, a made-up one, a stale one: refused alike,
    // each answer naming the current nonce.
    let other = m2m_edge_core::oauth::dpop_nonce::NonceSecret::new(&SECRET.replace('a', "b")).unwrap();
    for (jti, made_up) in [("other", other.current("https://auth.test", NOW)), ("made-up", "n".repeat(32))] {
        let r = token_request(&w, &id, &secret, Some(&with_nonce(jti, &made_up)));
        assert_eq!(error_of(&r), "use_dpop_nonce", "{jti}");
        assert_eq!(r.header("dpop-nonce"), Some(nonce.as_str()));
    }
    w.clock.advance(2 * m2m_edge_core::oauth::dpop_nonce::NONCE_STEP_SECS);
    let r = token_request(&w, &id, &secret, Some(&with_nonce("stale", &nonce)));
    assert_eq!(error_of(&r), "use_dpop_nonce");
    let fresh = r.header("dpop-nonce").unwrap().to_string();
    assert_ne!(fresh, nonce);
    assert_eq!(token_request(&w, &id, &secret, Some(&with_nonce("stale", &fresh))).status, 200);
    // A request without a proof needs no nonce; its answer carries one too.
    let r = token_request(&w, &id, &secret, None);
    assert_eq!((r.status, r.body_json()["token_type"].as_str()), (200, Some("Bearer")));
    assert_eq!(r.header("dpop-nonce"), Some(fresh.as_str()));
    // Without the setting there are no nonces; a short secret is a configuration error.
    assert_eq!(token_request(&World::new(), "nobody", "nothing", None).header("dpop-nonce"), None);
    let short = m2m_edge_core::config::Config::from_lookup(|n| (n == "DPOP_NONCE_SECRET").then(|| "short".to_string()));
    assert!(short.unwrap_err().to_string().contains("DPOP_NONCE_SECRET"));
}

/// A bound token for `API` and its key.
fn bound_token(w: &World) -> (String, IssuerKeyPair, (String, String)) {
    let (id, secret) = client(w, json!({}));
    let key = IssuerKeyPair::ec();
    let r = token_request(w, &id, &secret, Some(&proof(&key, "bind")));
    assert_eq!(r.status, 200, "{}", body(&r));
    (r.body_json()["access_token"].as_str().unwrap().to_string(), key, (id, secret))
}

#[test]
fn the_rpc_verifier_takes_a_bound_token_only_with_a_proof_for_its_request() {
    let w = World::new();
    let (token, key, _) = bound_token(&w);
    let options = |proof: &str| json!({"audience": API, "dpop": proof, "method": "GET", "url": API_URL});
    let good = key.dpop_proof("GET", API_URL, NOW, "api-1", Some(&token));
    let authorization = format!("DPoP {token}");
    let answer = w.verify_rpc(&authorization, options(&good));
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["claims"]["cnf"]["jkt"], key.jkt());
    // Replayed, to another isolate of the token service.
    let answer = w.another_isolate().verify_rpc(&authorization, options(&good));
    assert_eq!(answer["error"], "invalid_dpop_proof", "{answer}");
    assert_eq!(answer["status"], 401);
    assert!(answer["headers"]["www-authenticate"]
        .as_str()
        .unwrap()
        .starts_with("DPoP realm=\"api\", algs=\"ES256 RS256\""));
    // As a bearer token, or without a proof, or with a proof for another request.
    let answer = w.verify_rpc(&format!("Bearer {token}"), json!({"audience": API}));
    assert_eq!(answer["error"], "invalid_token", "{answer}");
    let answer = w.verify_rpc(&authorization, json!({"audience": API, "dpop": null, "method": "GET", "url": API_URL}));
    assert_eq!(answer["error_description"], "DPoP proof: the request has no DPoP header");
    let other = key.dpop_proof("GET", "https://api.test/other", NOW, "api-2", Some(&token));
    assert_eq!(w.verify_rpc(&authorization, options(&other))["error"], "invalid_dpop_proof");
    let stranger = IssuerKeyPair::ec().dpop_proof("GET", API_URL, NOW, "api-3", Some(&token));
    assert_eq!(w.verify_rpc(&authorization, options(&stranger))["error"], "invalid_dpop_proof");
    // A proof refused for the token's sake (its audience) is not spent.
    let kept = key.dpop_proof("GET", API_URL, NOW, "api-4", Some(&token));
    let mut elsewhere = options(&kept);
    elsewhere["audience"] = json!("https://other.test");
    assert_eq!(w.verify_rpc(&authorization, elsewhere)["error"], "invalid_token");
    assert_eq!(w.verify_rpc(&authorization, options(&kept))["valid"], true);
    // The call's own shape.
    let half = json!({"audience": API, "dpop": good, "method": "GET"});
    assert!(w.verify_rpc(&authorization, half)["invalid_options"].is_string());
    assert!(w.verify_rpc(&authorization, json!({"audience": API, "dpopBound": "yes"}))["invalid_options"].is_string());
}

#[test]
fn an_api_may_take_bound_tokens_only() {
    let w = World::new();
    let (id, secret) = client(&w, json!({}));
    let bearer = token_request(&w, &id, &secret, None).body_json()["access_token"].as_str().unwrap().to_string();
    let answer = w.verify_rpc(&format!("Bearer {bearer}"), json!({"audience": API, "dpopBound": true}));
    assert_eq!(answer["error_description"], "this API takes DPoP-bound tokens only", "{answer}");
    assert_eq!(w.verify_rpc(&format!("Bearer {bearer}"), json!({"audience": API}))["valid"], true);
}

#[test]
fn a_bound_token_is_revoked_and_introspected_as_handed_back_but_is_no_admin_bearer_token() {
    let w = World::new();
    let (token, _, (id, secret)) = bound_token(&w);
    let introspector = w.create(
        json!({"name": "rs", "grants": [{"audience": "https://auth.test/admin", "scopes": ["tokens:introspect"]}]}),
    );
    let r =
        w.call(Req::post("/oauth2/introspect").basic(&introspector.0, &introspector.1).form(&format!("token={token}")));
    let answer = r.body_json();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["cnf"]["jkt"].as_str().map(str::len), Some(43));
    assert_eq!(answer["token_type"], "DPoP");
    let r = w.call(Req::post("/oauth2/revoke").basic(&id, &secret).form(&format!("token={token}")));
    assert_eq!(r.status, 200, "{}", body(&r));
    let r =
        w.call(Req::post("/oauth2/introspect").basic(&introspector.0, &introspector.1).form(&format!("token={token}")));
    assert_eq!(r.body_json()["active"], false);

    // An admin client's bound token, presented as a bearer token to the admin API.
    let admin = w.create(
        json!({"name": "ops", "grants": [{"audience": "https://auth.test/admin", "scopes": ["clients:read"]}]}),
    );
    let key = IssuerKeyPair::ec();
    let r = w.call(
        Req::token()
            .basic(&admin.0, &admin.1)
            .header("DPoP", &proof(&key, "admin"))
            .form("grant_type=client_credentials&resource=https://auth.test/admin&scope=clients:read"),
    );
    assert_eq!(r.status, 200, "{}", body(&r));
    let admin_token = r.body_json()["access_token"].as_str().unwrap().to_string();
    let r = w.with_token(&admin_token, Method::Get, "/admin/clients", None);
    assert_eq!(r.status, 401, "{}", body(&r));
}
