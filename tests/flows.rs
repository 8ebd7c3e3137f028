//! Ring 1: whole flows through the app with the in-memory store, a fixed
//! clock and the p256 signer. Tokens are checked with an independent
//! library (jwt-compact) against the served JWKS.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use m2m_edge::client::{ClientId, ClientRecord, SecretHash, Status, StoredSecret};
use m2m_edge::config::Config;
use m2m_edge::http::{Method, Request};
use m2m_edge::jose::jwk;
use m2m_edge::store::ClientStore;
use serde_json::{json, Value};

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
        Request::new(Method::Post, "/oauth2/token", ORIGIN)
            .with_header("content-type", "application/json; charset=utf-8")
            .with_body(
                json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}).to_string(),
            ),
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
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "text/plain")
                .with_body("grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN).with_body("grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(vec![b'a'; 16 * 1024 + 1]),
            413,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body("grant_type=%zz"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(&b"grant_type=\xff\xfe"[..]),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body("grant_type=client_credentials&grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body("scope=read"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body("grant_type=password"),
            400,
            "unsupported_grant_type",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/json")
                .with_body("[\"grant_type\"]"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/json")
                .with_body("{\"grant_type\": 7}"),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/json")
                .with_body("{\"grant_type\": "),
            400,
            "invalid_request",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("authorization", "Basic %%%")
                .with_body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("authorization", &format!("Basic {}", "A".repeat(100_000)))
                .with_body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
        (
            Request::new(Method::Post, "/oauth2/token", ORIGIN)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("authorization", &format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))))
                .with_body(format!("grant_type=client_credentials&client_id={id}&client_secret={secret}")),
            400,
            "invalid_request",
        ),
        (Request::new(Method::Get, "/oauth2/token", ORIGIN), 405, "invalid_request"),
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
        name: "forged".into(),
        description: None,
        grants: vec![serde_json::from_value(json!({"audience": "https://api.test", "scopes": ["read"]})).unwrap()],
        custom_claims: custom,
        token_ttl: None,
        status: Status::Active,
        secret: StoredSecret { hash: SecretHash::of("m2msk_forged"), last_four: "rged".into() },
        next_secret: None,
        created_at: NOW,
        updated_at: NOW,
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
            let d = w.call(Request::new(Method::Get, path, ORIGIN)).body_json();
            assert_eq!(d["issuer"], expected);
            assert_eq!(d["token_endpoint"], format!("{}/oauth2/token", expected.trim_end_matches('/')));
            assert_eq!(d["grant_types_supported"], json!(["client_credentials"]));
            assert_eq!(
                d["token_endpoint_auth_methods_supported"],
                json!(["client_secret_basic", "client_secret_post"])
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
    let r = w.call(Request::new(Method::Get, "/.well-known/jwks.json", ORIGIN));
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").unwrap().starts_with("public, max-age="));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let k = &r.body_json()["keys"][0];
    assert_eq!((k["use"].as_str(), k["alg"].as_str(), k["kty"].as_str()), (Some("sig"), Some("ES256"), Some("EC")));
    assert!(k.get("d").is_none());
    let head = w.call(Request::new(Method::Head, "/.well-known/jwks.json", ORIGIN));
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(w.call(Request::new(Method::Post, "/.well-known/jwks.json", ORIGIN)).status, 405);
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
        assert_eq!(w.call(Request::new(Method::Get, "/.well-known/jwks.json", ORIGIN)).status, 500);
        let lines = w.log.lines();
        assert!(lines.iter().any(|l| l.contains(problem)), "{lines:?}");
    }
}

#[test]
fn storage_failure_is_server_error_and_logged() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    w.store.broken.set(true);
    let r = w.token_basic(&id, &secret, "grant_type=client_credentials");
    assert_eq!((r.status, error_of(&r).as_str()), (500, "server_error"));
    assert!(!String::from_utf8_lossy(&r.body).contains("memory"));
    let r = w.admin(Method::Get, "/admin/clients", None);
    assert_eq!(r.status, 500);
    assert!(w.log.lines().iter().all(|l| l.contains("memory store marked broken")));
    assert_eq!(w.log.lines().len(), 2);
}

#[test]
fn secrets_are_shown_once_stored_hashed_and_never_logged() {
    let w = World::new();
    let (id, secret) = w.simple_client();
    assert!(secret.starts_with("m2msk_"));
    let row = w.store.raw_row(&id).unwrap();
    assert_eq!(row.secret_hash, SecretHash::of(&secret).to_hex());
    assert!(!serde_json::to_string(&row).unwrap().contains(&secret));
    let got = w.admin(Method::Get, &format!("/admin/clients/{id}"), None);
    assert!(got.body_json().get("client_secret").is_none());
    assert!(!String::from_utf8_lossy(&got.body).contains(&row.secret_hash));
    // Failures of every kind, then: no log line holds a secret.
    w.token_basic(&id, "m2msk_guess", "grant_type=client_credentials");
    w.store.broken.set(true);
    w.token_basic(&id, &secret, "grant_type=client_credentials");
    assert!(w.log.lines().iter().all(|l| !l.contains(&secret) && !l.contains("m2msk_guess")));
}

#[test]
fn admin_requires_the_key() {
    let w = World::new();
    for auth in [None, Some("Bearer wrong"), Some("Basic YTpi"), Some(&*format!("Bearer {ADMIN_KEY}x"))] {
        let mut req = Request::new(Method::Get, "/admin/clients", ORIGIN);
        if let Some(a) = auth {
            req = req.with_header("authorization", a);
        }
        let r = w.call(req);
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(error_of(&r), "unauthorized");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    // Unknown admin paths also answer 401 to a caller without the key.
    assert_eq!(w.call(Request::new(Method::Get, "/admin/secret-things", ORIGIN)).status, 401);
    // No key configured: the admin API is off, and says so only in the log.
    let off = World { config: Config { admin_api_key: None, ..World::new().config }, ..World::new() };
    let r = off.admin(Method::Get, "/admin/clients", None);
    assert_eq!(r.status, 500);
    assert!(off.log.lines()[0].contains("ADMIN_API_KEY"));
}

#[test]
fn admin_crud_and_validation() {
    let w = World::new();
    let r = w.admin(Method::Post, "/admin/clients", Some(json!({"name": "billing", "description": "nightly sync", "grants": [{"audience": "https://api.test", "scopes": ["read"]}], "token_ttl": 600})));
    assert_eq!(r.status, 201);
    let created = r.body_json();
    let id = created["client_id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(&*format!("/admin/clients/{id}")));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(created["status"], "active");
    assert_eq!(created["created_at"], "2027-01-15T08:00:00Z");
    let path = format!("/admin/clients/{id}");

    w.clock.advance(60);
    let r = w.admin(
        Method::Patch,
        &path,
        Some(
            json!({"name": "billing-v2", "description": null, "grants": [{"audience": "urn:x", "scopes": ["a", "b"]}]}),
        ),
    );
    assert_eq!(r.status, 200);
    let got = w.admin(Method::Get, &path, None).body_json();
    assert_eq!(got["name"], "billing-v2");
    assert_eq!(got["description"], Value::Null);
    assert_eq!(got["token_ttl"], 600);
    assert_eq!(got["grants"], json!([{"audience": "urn:x", "scopes": ["a", "b"]}]));
    assert_eq!(got["created_at"], "2027-01-15T08:00:00Z");
    assert_eq!(got["updated_at"], "2027-01-15T08:01:00Z");

    let bad = |method, path: &str, body: Value, status: u16, field: &str| {
        let r = w.admin(method, path, Some(body));
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
        if !field.is_empty() {
            assert_eq!(r.body_json()["field"], field);
            assert!(r.body_json()["error_description"].as_str().unwrap().starts_with(field));
        }
    };
    bad(Method::Post, "/admin/clients", json!({"name": "", "grants": []}), 400, "name");
    bad(
        Method::Post,
        "/admin/clients",
        json!({"name": "x", "grants": [{"audience": "no-scheme", "scopes": []}]}),
        400,
        "grants[0].audience",
    );
    bad(
        Method::Post,
        "/admin/clients",
        json!({"name": "x", "grants": [{"audience": "https://a", "scopes": ["a b"]}]}),
        400,
        "grants[0].scopes[0]",
    );
    bad(
        Method::Post,
        "/admin/clients",
        json!({"name": "x", "grants": [{"audience": "https://a", "scopes": []}], "token_ttl": 30}),
        400,
        "token_ttl",
    );
    bad(
        Method::Post,
        "/admin/clients",
        json!({"name": "x", "grants": [{"audience": "https://a", "scopes": []}], "extra": 1}),
        400,
        "extra",
    );
    bad(Method::Patch, &path, json!({"status": "paused"}), 400, "status");
    bad(Method::Patch, &path, json!({"token_ttl": 86401}), 400, "token_ttl");
    bad(Method::Patch, "/admin/clients/m2m_00000000000000000000000000000000", json!({"name": "x"}), 404, "");
    assert_eq!(w.admin(Method::Get, "/admin/clients/m2m_00000000000000000000000000000000", None).status, 404);
    assert_eq!(w.admin(Method::Get, "/admin/clients/not-an-id", None).status, 404);
    assert_eq!(w.admin(Method::Put, &path, None).status, 405);

    let raw = |ct: &str, body: &[u8]| {
        w.call(
            Request::new(Method::Post, "/admin/clients", ORIGIN)
                .with_header("authorization", &format!("Bearer {ADMIN_KEY}"))
                .with_header("content-type", ct)
                .with_body(body.to_vec()),
        )
    };
    assert_eq!(raw("text/plain", b"{}").status, 415);
    assert_eq!(raw("application/json", b"{nope").status, 400);
    assert_eq!(raw("application/json", &vec![b' '; 20_000]).status, 413);

    assert_eq!(w.admin(Method::Delete, &path, None).status, 204);
    assert_eq!(w.admin(Method::Get, &path, None).status, 404);
    assert_eq!(w.admin(Method::Delete, &path, None).status, 404);
}

#[test]
fn admin_list_paginates_with_a_cursor() {
    let w = World::new();
    let mut ids: Vec<String> = (0..5).map(|_| w.simple_client().0).collect();
    ids.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/admin/clients?limit=2&cursor={c}"),
            None => "/admin/clients?limit=2".into(),
        };
        let page = w.admin(Method::Get, &q, None).body_json();
        pages += 1;
        for c in page["clients"].as_array().unwrap() {
            assert!(c.get("client_secret").is_none());
            seen.push(c["client_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    assert_eq!(w.admin(Method::Get, "/admin/clients?limit=0", None).body_json()["field"], "limit");
    assert_eq!(w.admin(Method::Get, "/admin/clients?limit=201", None).body_json()["field"], "limit");
    assert_eq!(w.admin(Method::Get, "/admin/clients?cursor=bogus", None).body_json()["field"], "cursor");
    assert_eq!(w.admin(Method::Get, "/admin/clients", None).body_json()["clients"].as_array().unwrap().len(), 5);
}

#[test]
fn unknown_paths_are_json_404() {
    let w = World::new();
    let r = w.call(Request::new(Method::Get, "/nope", ORIGIN));
    assert_eq!(r.status, 404);
    assert_eq!(error_of(&r), "not_found");
}
