//! Host ring, paired with tests/e2e/admin_tokens.test.mjs: the admin API
//! by the deployment's own access tokens (Workflo's Client_Admin policy),
//! confined to a project when the admin client has one, and never handing
//! out more than it holds.

use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const ADMIN_AUDIENCE: &str = "https://auth.test/admin";

/// An admin client with these admin scopes (in `project`, if given); its id,
/// secret and a fresh token.
fn admin_client(w: &World, project: Option<&str>, scopes: &[&str]) -> (String, String, String) {
    let mut body = json!({"name": "admin", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": scopes}]});
    if let Some(p) = project {
        body["project_id"] = json!(p);
    }
    let (id, secret) = w.create(body);
    let token = token_of(w, &id, &secret);
    (id, secret, token)
}

fn token_of(w: &World, id: &str, secret: &str) -> String {
    let r = w.token_basic(id, secret, &format!("grant_type=client_credentials&resource={ADMIN_AUDIENCE}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.body_json()["access_token"].as_str().unwrap().to_string()
}

/// A project whose admins may grant [`api_grants`].
fn project(w: &World, id: &str) {
    let body = json!({"id": id, "name": id, "allowed_grants": api_grants()});
    assert_eq!(w.admin(Method::Post, "/admin/projects", Some(body)).status, 201);
}

fn api_grants() -> Value {
    json!([{"audience": "https://api.test", "scopes": ["read"]}])
}

#[test]
fn discovery_names_the_admin_audience() {
    let w = World::new();
    let r = w.call(Req::get("/.well-known/oauth-authorization-server"));
    assert_eq!(r.body_json()["admin_audience"], ADMIN_AUDIENCE);
}

#[test]
fn from_the_root_key_to_a_least_privilege_admin_client() {
    let w = World::new();
    let (_, _, token) = admin_client(&w, None, &["clients:read"]);
    let listed = w.with_token(&token, Method::Get, "/admin/clients", None);
    assert_eq!(listed.status, 200, "{}", String::from_utf8_lossy(&listed.body));
    let refused =
        w.with_token(&token, Method::Post, "/admin/clients", Some(json!({"name": "x", "grants": api_grants()})));
    assert_eq!(refused.status, 403);
    assert_eq!(error_of(&refused), "insufficient_scope");
    let challenge = refused.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer realm=\"m2m-edge admin\", error=\"insufficient_scope\""), "{challenge}");
    assert!(challenge.contains("scope=\"clients:write\""), "{challenge}");
    for path in ["/admin/resources", "/admin/keys", "/admin/projects"] {
        assert_eq!(w.with_token(&token, Method::Get, path, None).status, 403, "{path}");
    }
}

#[test]
fn bad_admin_tokens_get_invalid_token() {
    let w = World::new();
    let (id, secret, token) = admin_client(&w, None, &["clients:read"]);
    let invalid = |token: &str, why: &str| {
        let r = w.with_token(token, Method::Get, "/admin/clients", None);
        assert_eq!(r.status, 401, "{why}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(error_of(&r), "invalid_token", "{why}");
        assert!(r.header("www-authenticate").unwrap().contains("error=\"invalid_token\""), "{why}");
    };
    invalid("a.b.c", "garbage");
    let (h, rest) = token.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let forged_payload = base64_url(
        br#"{"iss":"https://auth.test","aud":"https://auth.test/admin","scope":"clients:read clients:write"}"#,
    );
    invalid(&format!("{h}.{forged_payload}.{s}"), "tampered payload");
    // A token of the same client for another API.
    let (api_id, api_secret) = w.create(json!({"name": "both", "grants": [
        {"audience": ADMIN_AUDIENCE, "scopes": ["clients:read"]},
        {"audience": "https://api.test", "scopes": ["read"]}]}));
    let api_token = w.token_basic(&api_id, &api_secret, "grant_type=client_credentials&resource=https://api.test");
    invalid(api_token.body_json()["access_token"].as_str().unwrap(), "another audience");
    // Expired (the default lifetime is an hour; the leeway 30 s).
    w.clock.advance(3600 + 31);
    invalid(&token, "expired");
    // A fresh one works again.
    let fresh = token_of(&w, &id, &secret);
    assert_eq!(w.with_token(&fresh, Method::Get, "/admin/clients", None).status, 200);
    // A wrong static key is still the plain 401.
    let r = w.with_token("not-the-key", Method::Get, "/admin/clients", None);
    assert_eq!((r.status, error_of(&r).as_str()), (401, "unauthorized"));
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn a_deactivated_or_deleted_admin_client_loses_its_tokens_at_once_in_every_isolate() {
    let w = World::new();
    let (id, _, token) = admin_client(&w, None, &["clients:read"]);
    let other = w.another_isolate();
    assert_eq!(other.with_token(&token, Method::Get, "/admin/clients", None).status, 200);
    assert_eq!(
        w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"}))).status,
        200
    );
    for isolate in [&w, &other] {
        let r = isolate.with_token(&token, Method::Get, "/admin/clients", None);
        assert_eq!(r.status, 401);
        assert!(String::from_utf8_lossy(&r.body).contains("revoked"));
    }
    let (id2, _, token2) = admin_client(&w, None, &["clients:read"]);
    assert_eq!(w.admin(Method::Delete, &format!("/admin/clients/{id2}"), None).status, 204);
    assert_eq!(other.with_token(&token2, Method::Get, "/admin/clients", None).status, 401);
}

#[test]
fn a_project_admin_sees_and_changes_only_its_project() {
    let w = World::new();
    project(&w, "acme");
    project(&w, "globex");
    let (_, _, token) =
        admin_client(&w, Some("acme"), &["clients:read", "clients:write", "clients:rotate", "projects:read"]);
    let theirs = w
        .admin(
            Method::Post,
            "/admin/clients",
            Some(json!({"project_id": "globex", "name": "theirs", "grants": api_grants()})),
        )
        .body_json();
    let theirs_path = format!("/admin/clients/{}", theirs["client_id"].as_str().unwrap());

    // Created in its project, by default or by name; elsewhere refused.
    let made =
        w.with_token(&token, Method::Post, "/admin/clients", Some(json!({"name": "mine", "grants": api_grants()})));
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let mine = made.body_json();
    assert_eq!(mine["project_id"], "acme");
    let named = json!({"project_id": "acme", "name": "mine-2", "grants": api_grants()});
    assert_eq!(w.with_token(&token, Method::Post, "/admin/clients", Some(named)).status, 201);
    let elsewhere = json!({"project_id": "globex", "name": "x", "grants": api_grants()});
    let r = w.with_token(&token, Method::Post, "/admin/clients", Some(elsewhere));
    assert_eq!((r.status, error_of(&r).as_str()), (403, "forbidden"));

    // Its clients' tokens carry the project.
    let t = w.token_basic(
        mine["client_id"].as_str().unwrap(),
        mine["client_secret"].as_str().unwrap(),
        "grant_type=client_credentials",
    );
    let (_, claims) = w.verify(t.body_json()["access_token"].as_str().unwrap());
    assert_eq!(claims["project_id"], "acme");

    // Another project's client is not there for it.
    assert_eq!(w.with_token(&token, Method::Get, &theirs_path, None).status, 404);
    assert_eq!(w.with_token(&token, Method::Patch, &theirs_path, Some(json!({"name": "pwned"}))).status, 404);
    assert_eq!(w.with_token(&token, Method::Delete, &theirs_path, None).status, 404);
    assert_eq!(w.with_token(&token, Method::Post, &format!("{theirs_path}/secrets/rotate"), None).status, 404);
    assert_eq!(w.admin(Method::Get, &theirs_path, None).body_json()["name"], "theirs", "untouched");

    // Listing: its project only, whatever it asks for.
    let listed = w.with_token(&token, Method::Get, "/admin/clients", None).body_json();
    let projects: Vec<&str> =
        listed["clients"].as_array().unwrap().iter().map(|c| c["project_id"].as_str().unwrap()).collect();
    assert!(!projects.is_empty() && projects.iter().all(|p| *p == "acme"), "{projects:?}");
    let asked = w.with_token(&token, Method::Get, "/admin/clients?project_id=globex", None).body_json();
    assert_eq!(asked["clients"], json!([]));

    // Projects: its own, read only; deployment-wide changes refused.
    let own = w.with_token(&token, Method::Get, "/admin/projects", None).body_json();
    assert_eq!(own["projects"].as_array().unwrap().len(), 1);
    assert_eq!(own["projects"][0]["id"], "acme");
    assert_eq!(w.with_token(&token, Method::Get, "/admin/projects/globex", None).status, 404);
    assert_eq!(w.with_token(&token, Method::Get, "/admin/projects/acme", None).status, 200);
}

#[test]
fn a_project_admin_cannot_reach_deployment_wide_settings_even_when_granted_them() {
    let w = World::new();
    project(&w, "acme");
    // Root may grant anything of the admin set, even to a project's client…
    let (_, _, token) =
        admin_client(&w, Some("acme"), &["resources:write", "keys:read", "keys:write", "projects:write"]);
    // …but a project's admin is confined: these are deployment-wide.
    for (method, path, body) in [
        (Method::Post, "/admin/resources", Some(json!({"identifier": "https://x.test", "name": "x", "scopes": []}))),
        (Method::Get, "/admin/keys", None),
        (Method::Post, "/admin/keys/rotate", Some(json!({}))),
        (Method::Post, "/admin/projects", Some(json!({"name": "mine"}))),
        (Method::Delete, "/admin/projects/acme", None),
    ] {
        let r = w.with_token(&token, method, path, body);
        assert_eq!((r.status, error_of(&r).as_str()), (403, "forbidden"), "{path}");
    }
}

#[test]
fn an_admin_client_never_hands_out_more_than_it_holds() {
    let w = World::new();
    project(&w, "acme");
    let (own_id, _, token) = admin_client(&w, Some("acme"), &["clients:read", "clients:write"]);
    let grant = |scopes: &[&str]| json!([{"audience": ADMIN_AUDIENCE, "scopes": scopes}]);
    let create = |scopes: &[&str]| {
        w.with_token(&token, Method::Post, "/admin/clients", Some(json!({"name": "child", "grants": grant(scopes)})))
    };
    assert_eq!(create(&["clients:read"]).status, 201, "a subset of its own");
    for beyond in [&["clients:rotate"][..], &["projects:read"], &["projects:write"], &["clients:read", "keys:write"]] {
        let r = create(beyond);
        assert_eq!((r.status, error_of(&r).as_str()), (403, "forbidden"), "{beyond:?}");
    }
    // Granting itself more, or moving itself: refused; its record unchanged.
    let own = format!("/admin/clients/{own_id}");
    let r = w.with_token(
        &token,
        Method::Patch,
        &own,
        Some(json!({"grants": grant(&["clients:read", "clients:write", "projects:write"])})),
    );
    assert_eq!(r.status, 403);
    let r = w.with_token(&token, Method::Patch, &own, Some(json!({"project_id": "other"})));
    assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some("project_id")));
    let scopes = &w.admin(Method::Get, &own, None).body_json()["grants"][0]["scopes"];
    assert_eq!(scopes, &json!(["clients:read", "clients:write"]));
}

#[test]
fn the_admin_audience_takes_only_admin_scopes_even_from_root() {
    let w = World::new();
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"name": "x", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["clients:read", "orders:read"]}]})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body_json()["field"], "grants[0].scopes[1]");
    // With API resources registered, the admin audience needs no registration.
    let resource = json!({"identifier": "https://api.test", "name": "API", "scopes": [{"name": "read"}]});
    assert_eq!(w.admin(Method::Post, "/admin/resources", Some(resource)).status, 201);
    let (_, _, token) = admin_client(&w, None, &["clients:read"]);
    assert_eq!(w.with_token(&token, Method::Get, "/admin/clients", None).status, 200);
}

#[test]
fn an_admin_client_without_a_project_administers_every_project_within_its_scopes() {
    let w = World::new();
    project(&w, "acme");
    let (_, _, token) = admin_client(&w, None, &["clients:read", "clients:write"]);
    let body = json!({"project_id": "acme", "name": "x", "grants": api_grants()});
    assert_eq!(w.with_token(&token, Method::Post, "/admin/clients", Some(body)).status, 201);
    let r = w.with_token(&token, Method::Post, "/admin/projects", Some(json!({"name": "new"})));
    assert_eq!(r.status, 403, "no projects:write");
}
