//! Host ring, paired with tests/e2e/admin_clients.test.mjs: the client
//! registry through the admin API.

use m2m_edge_core::client::SecretHash;
use m2m_edge_core::config::{AdminKey, Config};
use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

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
    w.store.set_broken(true);
    w.token_basic(&id, &secret, "grant_type=client_credentials");
    assert!(w.log.lines().iter().all(|l| !l.contains(&secret) && !l.contains("m2msk_guess")));
}

#[test]
fn admin_requires_the_key() {
    let w = World::new();
    for auth in [None, Some("Bearer wrong"), Some("Basic YTpi"), Some(&*format!("Bearer {ADMIN_KEY}x"))] {
        let mut req = Req::new(Method::Get, "/admin/clients");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = w.call(req);
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(error_of(&r), "unauthorized");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    // Unknown admin paths also answer 401 to a caller without the key.
    assert_eq!(w.call(Req::new(Method::Get, "/admin/secret-things")).status, 401);
    // No key configured: the admin API is off, and says so only in the log.
    let off = World { config: Config { admin_api_key: AdminKey::Unset, ..World::new().config }, ..World::new() };
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
            Req::new(Method::Post, "/admin/clients")
                .header("authorization", &format!("Bearer {ADMIN_KEY}"))
                .header("content-type", ct)
                .body(body.to_vec()),
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
    assert_eq!(w.admin(Method::Get, "/admin/clients?cursor=not%20a%20cursor", None).body_json()["field"], "cursor");
    assert_eq!(w.admin(Method::Get, "/admin/clients", None).body_json()["clients"].as_array().unwrap().len(), 5);
}

/// The admin responses' `propagation` statement is true of the deployment
/// it comes from: isolate caches (`CLIENT_CACHE_TTL`) and D1 read
/// replicas each delay a change's arrival at the token path; with neither,
/// nothing is said because nothing lags.
#[test]
fn every_change_says_how_long_it_takes_to_reach_every_token_request() {
    let w = World::with(&[("CLIENT_CACHE_TTL", "5")], Some(A3));
    let (id, _) = w.simple_client();
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    let said = r.body_json()["propagation"].as_str().unwrap().to_string();
    assert_eq!(
        said,
        "every token request sees this change within 15 s (CLIENT_CACHE_TTL 5 s + D1 read replicas 10 s); the isolate \
         that made it, at once"
    );
    assert_eq!(r.header("x-m2m-propagation"), Some(said.as_str()));
    let r = w.admin(Method::Post, &format!("/admin/clients/{id}/secrets/rotate"), None);
    assert!(r.body_json()["propagation"].is_string());
    // Reads say nothing.
    assert!(w.admin(Method::Get, &format!("/admin/clients/{id}"), None).body_json().get("propagation").is_none());
    let primary = World::with(&[("CLIENT_CACHE_TTL", "5"), ("D1_READ_REPLICAS", "off")], Some(A3));
    let (id, _) = primary.simple_client();
    let r = primary.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"name": "n"})));
    assert!(r.body_json()["propagation"].as_str().unwrap().contains("within 5 s (CLIENT_CACHE_TTL 5 s)"));
    let exact = World::with(&[("CLIENT_CACHE_TTL", "0"), ("D1_READ_REPLICAS", "off")], Some(A3));
    let (id, _) = exact.simple_client();
    let r = exact.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"name": "n"})));
    assert!(r.body_json().get("propagation").is_none() && r.header("x-m2m-propagation").is_none());
}

/// Paired with the e2e test of the same key (tests/e2e/config.test.mjs):
/// the header reaches the app whole, on the host as in the Worker.
#[test]
fn admin_key_with_commas_and_spaces() {
    let key = "k,ey with, commas and  spaces, long enough";
    let w = World::with(&[("ADMIN_API_KEY", key)], Some(A3));
    assert_eq!(w.call(Req::get("/admin/clients").bearer(key)).status, 200);
    // Two Authorization headers: joined with ", " as the Fetch API joins them.
    let repeated = Req::get("/admin/clients").bearer(key).bearer(key);
    assert_eq!(w.call(repeated).status, 401);
}

/// Lost update between isolates: isolate A deactivates a client while
/// isolate B holds the active record in its read cache; B's later edit of
/// the description must not bring the client back.
#[test]
fn an_edit_in_another_isolate_never_undoes_a_deactivation() {
    let b = World::new();
    let (id, secret) = b.simple_client();
    assert_eq!(b.token_basic(&id, &secret, "grant_type=client_credentials").status, 200, "B caches the record");
    let a = b.another_isolate();
    let path = format!("/admin/clients/{id}");
    assert_eq!(a.admin(Method::Patch, &path, Some(json!({"status": "inactive"}))).status, 200);
    let edited = b.admin(Method::Patch, &path, Some(json!({"description": "nightly"})));
    assert_eq!(edited.status, 200, "{}", String::from_utf8_lossy(&edited.body));
    assert_eq!(edited.body_json()["status"], "inactive");
    assert_eq!(edited.body_json()["description"], "nightly");
    let stored = a.admin(Method::Get, &path, None).body_json();
    assert_eq!(stored["status"], "inactive");
    assert_eq!(a.token_basic(&id, &secret, "grant_type=client_credentials").status, 401);
}

/// The same race for a secret rotation: B must not bring back a secret that
/// A's completed rotation retired.
#[test]
fn an_edit_in_another_isolate_never_restores_a_retired_secret() {
    let b = World::new();
    let (id, old_secret) = b.simple_client();
    assert_eq!(b.token_basic(&id, &old_secret, "grant_type=client_credentials").status, 200);
    let a = b.another_isolate();
    let rotate = format!("/admin/clients/{id}/secrets/rotate");
    let new_secret =
        a.admin(Method::Post, &rotate, None).body_json()["next_client_secret"].as_str().unwrap().to_string();
    assert_eq!(a.admin(Method::Post, &format!("{rotate}/complete"), None).status, 200);
    assert_eq!(b.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"name": "renamed"}))).status, 200);
    assert_eq!(
        a.token_basic(&id, &old_secret, "grant_type=client_credentials").status,
        401,
        "the old secret stays retired"
    );
    assert_eq!(a.token_basic(&id, &new_secret, "grant_type=client_credentials").status, 200);
}

/// Optimistic concurrency for callers (RFC 9110 §13.1.1), as Keycloak-class
/// admin APIs offer it: every read carries the version as a strong `ETag`;
/// a change sent with `If-Match` lands only on that version.
#[test]
fn etag_and_if_match_guard_every_change() {
    let w = World::new();
    let (id, _) = w.simple_client();
    let path = format!("/admin/clients/{id}");
    let with_if_match =
        |method: Method, path: &str, tag: &str| Req::new(method, path).bearer(ADMIN_KEY).header("if-match", tag);
    let v1 = w.admin(Method::Get, &path, None).header("etag").unwrap().to_string();
    assert_eq!(v1, "\"1\"");

    let renamed = w.call(with_if_match(Method::Patch, &path, &v1).json(&json!({"name": "a"})));
    assert_eq!(renamed.status, 200);
    let v2 = renamed.header("etag").unwrap().to_string();
    assert_eq!(v2, "\"2\"");

    // The version the caller saw is gone: 412, and nothing changes.
    let stale = w.call(with_if_match(Method::Patch, &path, &v1).json(&json!({"name": "b"})));
    assert_eq!(stale.status, 412);
    assert_eq!(error_of(&stale), "precondition_failed");
    assert_eq!(w.admin(Method::Get, &path, None).body_json()["name"], "a");
    let rotate = format!("{path}/secrets/rotate");
    assert_eq!(w.call(with_if_match(Method::Post, &rotate, &v1).build()).status, 412);
    assert_eq!(w.call(with_if_match(Method::Delete, &path, &v1).build()).status, 412);
    // A weak tag never matches (strong comparison); a list matches any of its tags.
    assert_eq!(w.call(with_if_match(Method::Delete, &path, "W/\"2\"").build()).status, 412);
    let listed = w.call(with_if_match(Method::Post, &rotate, &format!("\"7\", {v2}")).build());
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("etag"), Some("\"3\""));
    // "*" matches whatever version exists.
    assert_eq!(w.call(with_if_match(Method::Delete, &path, "*").build()).status, 204);
    assert_eq!(w.admin(Method::Get, &path, None).status, 404);
}

/// Claims with a meaning to resource servers that this server does not
/// issue cannot be set as custom claims: RFC 9396 `authorization_details`,
/// `token_type`, and the RFC 9068 §2.2.3.1 authorization attributes.
#[test]
fn authorization_claims_are_reserved() {
    let w = World::new();
    for claim in ["authorization_details", "token_type", "roles", "groups", "entitlements"] {
        let body = json!({"name": "c", "grants": [{"audience": "https://api.test", "scopes": []}], "custom_claims": {claim: ["admin"]}});
        let r = w.admin(Method::Post, "/admin/clients", Some(body));
        assert_eq!(r.status, 400, "{claim}");
        assert_eq!(r.body_json()["field"], format!("custom_claims.{claim}"));
    }
}

/// A short admin key is guessable: the admin API refuses to run on one and
/// says why in the log (the token endpoint is unaffected).
#[test]
fn a_short_admin_key_keeps_the_admin_api_off() {
    let short = "only-31-characters-long-key-xyz";
    assert_eq!(short.len(), 31);
    let w = World::with(&[("ADMIN_API_KEY", short)], Some(A3));
    let r = w.call(Req::get("/admin/clients").bearer(short));
    assert_eq!(r.status, 500);
    assert_eq!(error_of(&r), "server_error");
    assert!(w.log.lines().iter().any(|l| l.contains("ADMIN_API_KEY") && l.contains("32")), "{:?}", w.log.lines());
    assert!(w.log.lines().iter().all(|l| !l.contains(short)), "the key itself is never logged");
    // Exactly 32 is enough.
    let ok = World::with(&[("ADMIN_API_KEY", &format!("{short}z"))], Some(A3));
    assert_eq!(ok.call(Req::get("/admin/clients").bearer(&format!("{short}z"))).status, 200);
}
