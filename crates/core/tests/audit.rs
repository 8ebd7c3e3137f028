//! Host ring, paired with tests/e2e/audit.test.mjs: the audit trail of
//! admin changes, its reading, retention, and the per-minute counts of
//! failed admin authentications.

use m2m_edge_core::config::Config;
use m2m_edge_core::http::{Method, Response};
use m2m_edge_core::ports::Clock;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const ADMIN_AUDIENCE: &str = "https://auth.test/admin";

fn events(w: &World, query: &str) -> Vec<Value> {
    let r = w.admin(Method::Get, &format!("/admin/audit{query}"), None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.body_json()["events"].as_array().unwrap().clone()
}

fn summary(events: &[Value]) -> Vec<(String, String)> {
    events.iter().map(|e| (e["action"].as_str().unwrap().into(), e["target"].as_str().unwrap().into())).collect()
}

#[test]
fn every_admin_change_appends_one_event_naming_fields_never_values() {
    // The host clock has whole seconds: each change gets its own, so the
    // trail's order is the order of the changes.
    let w = Ticking(World::managed(Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY")));
    assert_eq!(w.admin(Method::Post, "/admin/projects", Some(json!({"id": "acme", "name": "Acme"}))).status, 201);
    let created = w
        .admin(
            Method::Post,
            "/admin/clients",
            Some(json!({"project_id": "acme", "name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read"]}]})),
        )
        .body_json();
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let path = format!("/admin/clients/{id}");
    assert_eq!(w.admin(Method::Patch, &path, Some(json!({"name": "svc-2", "token_ttl": 600}))).status, 200);
    let started = w.admin(Method::Post, &format!("{path}/secrets/rotate"), None).body_json();
    let next_secret = started["next_client_secret"].as_str().unwrap().to_string();
    assert_eq!(w.admin(Method::Post, &format!("{path}/secrets/rotate/complete"), None).status, 200);
    assert_eq!(w.admin(Method::Post, &format!("{path}/secrets/rotate"), None).status, 200);
    assert_eq!(w.admin(Method::Post, &format!("{path}/secrets/rotate/cancel"), None).status, 200);
    let resource = w
        .admin(
            Method::Post,
            "/admin/resources",
            Some(json!({"identifier": "https://api.test", "name": "API", "scopes": [{"name": "read"}]})),
        )
        .body_json();
    let rid = resource["id"].as_str().unwrap().to_string();
    assert_eq!(w.admin(Method::Patch, &format!("/admin/resources/{rid}"), Some(json!({"name": "API 2"}))).status, 200);
    assert_eq!(w.admin(Method::Post, "/admin/keys/rotate", Some(json!({}))).status, 200);
    assert_eq!(w.admin(Method::Delete, &path, None).status, 204);
    assert_eq!(w.admin(Method::Patch, "/admin/projects/acme", Some(json!({"description": "d"}))).status, 200);
    assert_eq!(w.admin(Method::Delete, "/admin/projects/acme", None).status, 204);
    // Refused changes leave nothing.
    assert_eq!(w.admin(Method::Patch, "/admin/projects/nowhere", Some(json!({"name": "x"}))).status, 404);

    let all = events(&w.0, "");
    let s = |a: &str, t: &str| (a.to_string(), t.to_string());
    assert_eq!(
        summary(&all),
        vec![
            s("project.create", "acme"),
            s("client.create", &id),
            s("client.update", &id),
            s("client.rotation.start", &id),
            s("client.rotation.complete", &id),
            s("client.rotation.start", &id),
            s("client.rotation.cancel", &id),
            s("resource.create", &rid),
            s("resource.update", &rid),
            s("keys.rotate", "signing-keys"),
            s("client.delete", &id),
            s("project.update", "acme"),
            s("project.delete", "acme"),
        ]
    );
    assert!(all.iter().all(|e| e["actor"] == "root"));
    assert_eq!(all[1]["project_id"], "acme");
    assert_eq!(all[2]["changed_fields"], json!(["name", "token_ttl"]));
    assert_eq!(all[4]["changed_fields"], json!(["secret", "next_secret"]));
    assert_eq!(all[10]["project_id"], "acme", "a deleted client's project is still named");
    assert_eq!(all[7]["project_id"], Value::Null);
    let text = serde_json::to_string(&all).unwrap();
    for never in [&secret, &next_secret, &SecretHashHex::of(&secret)] {
        assert!(!text.contains(never.as_str()), "the trail holds no secret or hash");
    }
}

/// A world whose clock moves one second before every admin call.
struct Ticking(World);

impl Ticking {
    fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.0.clock.advance(1);
        self.0.admin(method, path, body)
    }
}

/// The hex SHA-256 the store keeps of a secret.
struct SecretHashHex;
impl SecretHashHex {
    fn of(secret: &str) -> String {
        m2m_edge_core::client::SecretHash::of(secret).to_hex()
    }
}

#[test]
fn reading_the_trail_by_project_time_and_cursor() {
    let w = World::new();
    for id in ["acme", "globex"] {
        assert_eq!(w.admin(Method::Post, "/admin/projects", Some(json!({"id": id, "name": id}))).status, 201);
        w.clock.advance(10);
    }
    let before_globex_clients = w.clock.now();
    for (project, name) in [("acme", "a1"), ("globex", "g1"), ("acme", "a2")] {
        let body = json!({"project_id": project, "name": name, "grants": [{"audience": "https://api.test", "scopes": ["read"]}]});
        assert_eq!(w.admin(Method::Post, "/admin/clients", Some(body)).status, 201);
    }
    assert_eq!(events(&w, "?project_id=acme").len(), 3, "the project's own event and its two clients");
    assert_eq!(events(&w, &format!("?since={before_globex_clients}")).len(), 3);
    // Pages, oldest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/admin/audit?limit=2&cursor={c}"),
            None => "/admin/audit?limit=2".into(),
        };
        let page = w.admin(Method::Get, &q, None).body_json();
        seen.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.into()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!((seen.len(), &seen), (5, &sorted));
    for (query, field) in
        [("?since=yesterday", "since"), ("?cursor=bogus", "cursor"), ("?project_id=a%20b", "project_id")]
    {
        let r = w.admin(Method::Get, &format!("/admin/audit{query}"), None);
        assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some(field)), "{query}");
    }
}

#[test]
fn an_admin_client_is_the_actor_and_a_projects_admin_reads_its_projects_trail_only() {
    let w = World::new();
    for id in ["acme", "globex"] {
        let allowed = json!([{"audience": "https://api.test", "scopes": ["read"]}]);
        let body = json!({"id": id, "name": id, "allowed_grants": allowed});
        assert_eq!(w.admin(Method::Post, "/admin/projects", Some(body)).status, 201);
    }
    let (admin_id, secret) = w.create(json!({"project_id": "acme", "name": "acme-admin",
        "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["clients:write", "audit:read"]}]}));
    let token = w.token_basic(&admin_id, &secret, &format!("grant_type=client_credentials&resource={ADMIN_AUDIENCE}"));
    let token = token.body_json()["access_token"].as_str().unwrap().to_string();
    let made = w.with_token(
        &token,
        Method::Post,
        "/admin/clients",
        Some(json!({"name": "w", "grants": [{"audience": "https://api.test", "scopes": ["read"]}]})),
    );
    assert_eq!(made.status, 201);

    let mine = w.with_token(&token, Method::Get, "/admin/audit", None).body_json();
    let mine = mine["events"].as_array().unwrap();
    assert!(mine.iter().all(|e| e["project_id"] == "acme"), "{mine:?}");
    let by_token = mine.iter().find(|e| e["target"] == made.body_json()["client_id"]).unwrap();
    assert_eq!(by_token["actor"], admin_id.as_str());
    let elsewhere = w.with_token(&token, Method::Get, "/admin/audit?project_id=globex", None).body_json();
    assert_eq!(elsewhere["events"], json!([]));
    assert_eq!(w.with_token(&token, Method::Get, "/admin/audit/auth-failures", None).status, 403);
}

#[test]
fn failed_admin_authentications_are_counted_per_minute() {
    let w = World::new();
    for key in ["wrong-1", "wrong-2", "a.b.c"] {
        assert_eq!(w.call(Req::get("/admin/clients").bearer(key)).status, 401);
    }
    assert_eq!(w.call(Req::get("/admin/clients")).status, 401, "no credentials at all");
    w.clock.advance(60);
    assert_eq!(w.call(Req::get("/admin/clients").bearer("wrong-3")).status, 401);
    let counts = w.admin(Method::Get, "/admin/audit/auth-failures", None).body_json();
    let counts: Vec<u64> = counts["minutes"].as_array().unwrap().iter().map(|m| m["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [4, 1]);
    assert!(events(&w, "").is_empty(), "failures are counted, not stored as events");
}

#[test]
fn failed_admin_authentications_cost_one_write_per_isolate_per_ten_seconds() {
    let w = World::new();
    let total = |w: &World| -> u64 {
        let counts = w.admin(Method::Get, "/admin/audit/auth-failures", None).body_json();
        counts["minutes"].as_array().unwrap().iter().map(|m| m["count"].as_u64().unwrap()).sum()
    };
    let before = w.store.operations();
    for i in 0..50 {
        assert_eq!(w.call(Req::get("/admin/clients").bearer(&format!("wrong-{i}"))).status, 401);
    }
    assert_eq!(
        w.store.operations() - before,
        1,
        "the first is written at once, the rest with the isolate's next write"
    );
    assert_eq!(total(&w), 50, "the isolate that counted them serves them all at once");
    let other = w.another_isolate();
    assert_eq!(total(&other), 1, "another isolate sees what was written");
    w.clock.advance(9);
    assert_eq!(w.call(Req::get("/admin/clients").bearer("wrong-again")).status, 401);
    assert_eq!(total(&other), 1);
    w.clock.advance(1);
    let before = w.store.operations();
    assert_eq!(w.call(Req::get("/admin/clients").bearer("wrong-later")).status, 401);
    assert!(w.store.operations() - before <= 2, "one write per minute counted");
    other.clock.advance(10);
    assert_eq!(total(&other), 52, "written 10 s on: every failure counted");
}

#[test]
fn the_cron_prunes_past_the_retention() {
    let w = World::with(&[("AUDIT_RETENTION_DAYS", "1")], Some(A3));
    assert_eq!(w.admin(Method::Post, "/admin/projects", Some(json!({"id": "old", "name": "old"}))).status, 201);
    assert_eq!(w.call(Req::get("/admin/clients").bearer("wrong")).status, 401);
    w.clock.advance(86_400 - 10);
    assert_eq!(w.admin(Method::Post, "/admin/projects", Some(json!({"id": "new", "name": "new"}))).status, 201);
    w.clock.advance(20);
    w.run_cron();
    assert_eq!(summary(&events(&w, "")), [("project.create".to_string(), "new".to_string())]);
    let since = w.clock.now() - 2 * 86_400;
    let counts = w.admin(Method::Get, &format!("/admin/audit/auth-failures?since={since}"), None).body_json();
    assert_eq!(counts["minutes"], json!([]));
}

#[test]
fn audit_retention_is_checked() {
    for bad in ["0", "3651", "ninety"] {
        let e = Config::from_lookup(|n| (n == "AUDIT_RETENTION_DAYS").then(|| bad.to_string())).unwrap_err();
        assert!(e.to_string().contains("AUDIT_RETENTION_DAYS"), "{e}");
    }
    assert_eq!(Config::from_lookup(|_| None).unwrap().audit_retention_days, 90);
}
