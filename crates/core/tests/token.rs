//! Host ring, paired with tests/e2e/token.test.mjs: the token endpoint,
//! JWKS and discovery through the app with the in-memory store, a fixed
//! clock and the p256 signer. Tokens are checked with an independent
//! library (jwt-compact) against the served JWKS.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use m2m_edge_core::client::{ClientId, ClientRecord, ClientStore, SecretHash, Status, StoredSecret};
use m2m_edge_core::http::{Method, Request};
use m2m_edge_core::jose::jwk;
use m2m_edge_testkit::*;
use serde_json::json;

#[test]
fn basic_auth_token_is_rfc9068_and_verifies() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    let r = w.token_basic(&id, &secret, "grant_type=client_credentials");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.body_json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    let (header, claims) = w.verify(body["access_token"].as_str().unwrap());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        header["kid"],
        jwk::ec_thumbprint(
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        )
    );
    assert_eq!(claims["iss"], ORIGIN);
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], "https://api.test");
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["nbf"], NOW);
    assert_eq!(claims["exp"], NOW + 3600);
    assert_eq!(claims["scope"], "read write");
    // jti: 128 random bits, base64url.
    assert_eq!(URL_SAFE_NO_PAD.decode(claims["jti"].as_str().unwrap()).unwrap().len(), 16);
}

#[test]
fn post_auth_and_json_body() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    let r = w.token_form(&format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=write"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body_json()["scope"], "write");
    let r = w.call(
        Req::token()
            .header("content-type", "application/json; charset=utf-8")
            .body(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}).to_string()),
    );
    assert_eq!(r.status, 200);
    let token = r.body_json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(w.verify(&token).1["sub"], id.as_str());
}

#[test]
fn jti_is_unique_per_token() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    let jti = |w: &World| {
        let t = w.token_basic(&id, &secret, "grant_type=client_credentials").body_json()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        w.verify(&t).1["jti"].as_str().unwrap().to_string()
    };
    assert_ne!(jti(&w), jti(&w));
}

#[test]
fn audience_and_scope_negotiation() {
    let w = World::new();
    let (id, secret) = w.create(json!({"name": "multi", "grants": [
        {"audience": "https://a.test", "scopes": ["a:read", "a:write"]},
        {"audience": "urn:b", "scopes": ["b:read"]}
    ]}));
    let ask = |form: &str| w.token_basic(&id, &secret, &format!("grant_type=client_credentials&{form}"));
    assert_eq!(error_of(&ask("")), "invalid_target");
    let r = ask("resource=https%3A%2F%2Fa.test&scope=a%3Awrite");
    assert_eq!(r.status, 200);
    let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://a.test");
    assert_eq!(claims["scope"], "a:write");
    let r = ask("audience=urn%3Ab");
    assert_eq!(r.body_json()["scope"], "b:read");
    assert_eq!(error_of(&ask("resource=https%3A%2F%2Fother.test")), "invalid_target");
    assert_eq!(error_of(&ask("resource=urn%3Ab&scope=a%3Aread")), "invalid_scope");
    assert_eq!(error_of(&ask("resource=urn%3Ab&scope=b%3Aread+admin")), "invalid_scope");
    assert_eq!(error_of(&ask("resource=urn%3Ab&audience=https%3A%2F%2Fa.test")), "invalid_target");
    assert_eq!(error_of(&ask("resource=relative")), "invalid_target");
}

#[test]
fn every_authentication_failure_is_one_invalid_client() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    let (other, _) = w.simple_client();
    let wrong_secret = w.token_basic(&id, "m2msk_wrong", "grant_type=client_credentials");
    let unknown = w.token_basic("m2m_00000000000000000000000000000000", &secret, "grant_type=client_credentials");
    let malformed_id = w.token_basic("nope", &secret, "grant_type=client_credentials");
    let others_secret = w.token_basic(&other, &secret, "grant_type=client_credentials");
    let post_wrong = w.token_form(&format!("grant_type=client_credentials&client_id={id}&client_secret=x"));
    let no_auth = w.token_form("grant_type=client_credentials");
    w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    let inactive = w.token_basic(&id, &secret, "grant_type=client_credentials");
    w.admin(Method::Delete, &format!("/admin/clients/{id}"), None);
    let deleted = w.token_basic(&id, &secret, "grant_type=client_credentials");
    let all = [&wrong_secret, &unknown, &malformed_id, &others_secret, &post_wrong, &no_auth, &inactive, &deleted];
    for r in all {
        assert_eq!(r.status, 401);
        assert_eq!(r.body, wrong_secret.body, "bodies must be indistinguishable");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"https://auth.test\", charset=\"UTF-8\""));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    assert_eq!(error_of(&wrong_secret), "invalid_client");
}

/// The third review: a secret sent where the id goes (`-u "$SECRET:$ID"`)
/// is a valid-looking chosen id; it must never be logged as one. Ids may
/// not begin with the secrets' prefix, so it is refused unread and unlogged.
#[test]
fn a_secret_sent_where_the_id_goes_never_reaches_the_log() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    assert_eq!(w.token_basic(&secret, &id, "grant_type=client_credentials").status, 401);
    assert_eq!(
        w.token_form(&format!("grant_type=client_credentials&client_id={secret}&client_secret={id}")).status,
        401
    );
    let lines = w.log.lines();
    assert!(!lines.iter().any(|l| l.contains(&secret)), "a secret reached the log: {lines:?}");
    let chosen = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"client_id": "m2msk_chosen", "name": "x",
        "grants": [{"audience": "https://api.example.com", "scopes": ["read"]}]})),
    );
    assert_eq!(chosen.status, 400, "an id with the secrets' prefix is refused at creation");
}

/// Every authentication path says why it refused in the same words, with
/// the client id and never the credential (`refusal::Refusal`, run by
/// `app::attempt`): a wrong secret too, not only an assertion.
#[test]
fn a_refused_secret_is_logged_with_the_client_and_the_rule_never_the_secret() {
    let w = World::new();
    let (id, _) = w.simple_client();
    let wrong = "m2msk_wrong_secret_value";
    assert_eq!(w.token_basic(&id, wrong, "grant_type=client_credentials").status, 401);
    w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert_eq!(w.token_basic(&id, wrong, "grant_type=client_credentials").status, 401);
    let lines = w.log.lines();
    assert!(lines.contains(&format!("client_secret refused for client {id}: the secret does not match")), "{lines:?}");
    assert!(
        lines.contains(&format!(
            "client_secret refused for client {id}: no active client with that id uses this authentication method"
        )),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains(wrong)), "a secret reached the log: {lines:?}");
}

#[test]
fn deactivation_stops_new_tokens_at_once_and_reactivation_restores() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    let path = format!("/admin/clients/{id}");
    assert_eq!(w.admin(Method::Patch, &path, Some(json!({"status": "inactive"}))).status, 200);
    assert_eq!(w.token_basic(&id, &secret, "grant_type=client_credentials").status, 401);
    assert_eq!(w.admin(Method::Patch, &path, Some(json!({"status": "active"}))).status, 200);
    assert_eq!(w.token_basic(&id, &secret, "grant_type=client_credentials").status, 200);
}

#[test]
fn malformed_requests_get_rfc_errors() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    let cases: Vec<(Request, u16, &str)> = vec![
        (
            Req::token().header("content-type", "text/plain").body("grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        (Req::token().body("grant_type=client_credentials"), 400, "invalid_request"),
        (
            Req::token().header("content-type", "application/x-www-form-urlencoded").body(vec![b'a'; 16 * 1024 + 1]),
            413,
            "invalid_request",
        ),
        (
            Req::token().header("content-type", "application/x-www-form-urlencoded").body("grant_type=%zz"),
            400,
            "invalid_request",
        ),
        (
            Req::token().header("content-type", "application/x-www-form-urlencoded").body(&b"grant_type=\xff\xfe"[..]),
            400,
            "invalid_request",
        ),
        (
            Req::token()
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        (
            Req::token().header("content-type", "application/x-www-form-urlencoded").body("scope=read"),
            400,
            "invalid_request",
        ),
        (
            Req::token().header("content-type", "application/x-www-form-urlencoded").body("grant_type=password"),
            400,
            "unsupported_grant_type",
        ),
        (Req::token().header("content-type", "application/json").body("[\"grant_type\"]"), 400, "invalid_request"),
        (Req::token().header("content-type", "application/json").body("{\"grant_type\": 7}"), 400, "invalid_request"),
        (Req::token().header("content-type", "application/json").body("{\"grant_type\": "), 400, "invalid_request"),
        (
            Req::token()
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", "Basic %%%")
                .body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
        (
            Req::token()
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", &format!("Basic {}", "A".repeat(100_000)))
                .body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
        (
            Req::token()
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", &format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))))
                .body(format!("grant_type=client_credentials&client_id={id}&client_secret={secret}")),
            400,
            "invalid_request",
        ),
        (Req::get("/oauth2/token").build(), 405, "invalid_request"),
    ];
    for (i, (req, status, error)) in cases.into_iter().enumerate() {
        let r = w.call(req);
        assert_eq!(
            (r.status, error_of(&r).as_str()),
            (status, error),
            "case {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "case {i}");
        assert!(r.body_json()["error_description"].is_string(), "case {i}");
    }
}

#[test]
fn token_lifetime_from_client_or_default() {
    let w = World::with(&[("DEFAULT_TOKEN_TTL", "900")], Some(A3));
    let (id, secret) = w.simple_client();
    assert_eq!(w.token_basic(&id, &secret, "grant_type=client_credentials").body_json()["expires_in"], 900);
    w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"token_ttl": 120})));
    let r = w.token_basic(&id, &secret, "grant_type=client_credentials").body_json();
    assert_eq!(r["expires_in"], 120);
    assert_eq!(w.verify(r["access_token"].as_str().unwrap()).1["exp"], NOW + 120);
}

#[test]
fn custom_claims_are_added_but_never_override() {
    let w = World::new();
    let (id, secret) = w.create(json!({"name": "c", "grants": [{"audience": "https://api.test", "scopes": []}], "custom_claims": {"tenant": "acme", "tier": 2}}));
    let r = w.token_basic(&id, &secret, "grant_type=client_credentials").body_json();
    assert!(r.get("scope").is_none(), "no scopes granted, no scope member");
    let (_, claims) = w.verify(r["access_token"].as_str().unwrap());
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["tier"], 2);
    assert!(claims.get("scope").is_none());

    // A record that somehow holds a reserved claim (hand-edited storage) still cannot override.
    let forged_id = ClientId::parse("m2m_0123456789abcdef0123456789abcdef").unwrap();
    let mut custom = serde_json::Map::new();
    custom.insert("sub".into(), json!("root"));
    custom.insert("aud".into(), json!("https://evil"));
    pollster::block_on(w.store.create(&ClientRecord {
        id: forged_id.clone(),
        project_id: None,
        name: "forged".into(),
        description: None,
        grants: vec![serde_json::from_value(json!({"audience": "https://api.test", "scopes": ["read"]})).unwrap()],
        custom_claims: custom,
        token_ttl: None,
        dpop_bound_access_tokens: false,
        status: Status::Active,
        secret: StoredSecret { hash: SecretHash::of("m2msk_forged"), last_four: "rged".into() },
        next_secret: None,
        keys: None,
        federated_credentials: Vec::new(),
        incarnation: None,
        created_at: NOW,
        updated_at: NOW,
        version: 1,
    }))
    .unwrap();
    let r = w.token_basic(forged_id.as_str(), "m2msk_forged", "grant_type=client_credentials").body_json();
    let (_, claims) = w.verify(r["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], forged_id.as_str());
    assert_eq!(claims["aud"], "https://api.test");
}

#[test]
fn discovery_issuer_matches_token_iss() {
    for (vars, expected) in [(vec![], ORIGIN), (vec![("ISSUER", "https://id.example.com/")], "https://id.example.com/")]
    {
        let w = World::with(&vars, Some(A3));
        for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
            let d = w.call(Req::new(Method::Get, path)).body_json();
            assert_eq!(d["issuer"], expected);
            assert_eq!(d["token_endpoint"], format!("{}/oauth2/token", expected.trim_end_matches('/')));
            assert_eq!(d["grant_types_supported"][0], "client_credentials");
            assert_eq!(
                d["token_endpoint_auth_methods_supported"],
                json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
            );
            assert_eq!(d["response_types_supported"], json!([]));
        }
        let (id, secret) = w.simple_client();
        let t = w.token_basic(&id, &secret, "grant_type=client_credentials").body_json();
        assert_eq!(w.verify(t["access_token"].as_str().unwrap()).1["iss"], expected);
    }
}

#[test]
fn jwks_is_public_cacheable_and_cors_open() {
    let w = World::new();
    let r = w.call(Req::new(Method::Get, "/.well-known/jwks.json"));
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").unwrap().starts_with("public, max-age="));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let k = &r.body_json()["keys"][0];
    assert_eq!((k["use"].as_str(), k["alg"].as_str(), k["kty"].as_str()), (Some("sig"), Some("ES256"), Some("EC")));
    assert!(k.get("d").is_none());
    let head = w.call(Req::new(Method::Head, "/.well-known/jwks.json"));
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(w.call(Req::new(Method::Post, "/.well-known/jwks.json")).status, 405);
}

#[test]
fn missing_or_broken_keys_are_server_errors_with_a_named_log_line() {
    for (raw, problem) in [
        (None, "SIGNING_KEYS is not set"),
        (Some("{not json"), "not valid JSON"),
        (Some(r#"{"keys":[{"kty":"RSA"}]}"#), "kty"),
    ] {
        let w = World::with(&[("KEY_MODE", "byok")], raw);
        let (id, secret) = w.simple_client(); // the admin API does not need keys
        let r = w.token_basic(&id, &secret, "grant_type=client_credentials");
        assert_eq!((r.status, error_of(&r).as_str()), (500, "server_error"));
        assert!(!String::from_utf8_lossy(&r.body).contains("SIGNING_KEYS"));
        assert_eq!(w.call(Req::new(Method::Get, "/.well-known/jwks.json")).status, 500);
        let lines = w.log.lines();
        assert!(lines.iter().any(|l| l.contains(problem)), "{lines:?}");
    }
}

#[test]
fn storage_failure_is_server_error_and_logged() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.store.set_broken(true);
    let r = w.token_basic(&id, &secret, "grant_type=client_credentials");
    assert_eq!((r.status, error_of(&r).as_str()), (500, "server_error"));
    assert!(!String::from_utf8_lossy(&r.body).contains("memory"));
    let r = w.admin(Method::Get, "/admin/clients", None);
    assert_eq!(r.status, 500);
    assert!(w.log.lines().iter().all(|l| l.contains("memory store marked broken")));
    assert_eq!(w.log.lines().len(), 2);
}

#[test]
fn unknown_paths_are_json_404() {
    let w = World::new();
    let r = w.call(Req::new(Method::Get, "/nope"));
    assert_eq!(r.status, 404);
    assert_eq!(error_of(&r), "not_found");
}

/// Without `ISSUER`, the issuer would follow the `Host` header: a
/// deployment reachable under two names would issue tokens under two
/// issuers, and a cache that ignores `Host` could be handed another
/// issuer's discovery document. The request origin stands in only on
/// loopback (local development).
#[test]
fn without_issuer_only_loopback_serves() {
    let w = World::with(&[("ISSUER", "")], Some(A3));
    let (id, secret) = w.simple_client();
    let token = w.call(Req::token().basic(&id, &secret).form("grant_type=client_credentials"));
    assert_eq!(token.status, 500);
    assert_eq!(error_of(&token), "server_error");
    assert!(w.log.lines().iter().any(|l| l.contains("set ISSUER")), "{:?}", w.log.lines());
    assert_eq!(w.call(Req::get("/.well-known/openid-configuration")).status, 500);
    for origin in ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787", "http://127.8.9.10"] {
        let local = w.call(Req::token().at(origin).basic(&id, &secret).form("grant_type=client_credentials"));
        assert_eq!(local.status, 200, "{origin}");
        let (_, claims) = w.verify(local.body_json()["access_token"].as_str().unwrap());
        assert_eq!(claims["iss"], origin);
    }
    for spoofed in ["http://127.0.0.1.evil.test", "http://localhost.evil.test", "https://evil.test"] {
        assert_eq!(w.call(Req::get("/.well-known/openid-configuration").at(spoofed)).status, 500, "{spoofed}");
    }
}
