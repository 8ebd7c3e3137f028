//! Host ring, paired with tests/e2e/admin_resources.test.mjs: API
//! resources, the grants they constrain, and what discovery says of them.

use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

fn create_resource(w: &World, body: Value) -> (u16, Value) {
    let r = w.admin(Method::Post, "/admin/resources", Some(body));
    (r.status, r.body_json())
}

fn billing(w: &World) -> String {
    let (status, body) = create_resource(
        w,
        json!({"identifier": "https://billing.test", "name": "Billing", "token_ttl": 300,
               "scopes": [{"name": "invoices:read", "description": "Read invoices"}, {"name": "invoices:write"}]}),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

#[test]
fn resources_crud_and_validation() {
    let w = World::new();
    let id = billing(&w);
    let got = w.admin(Method::Get, &format!("/admin/resources/{id}"), None).body_json();
    assert_eq!(got["identifier"], "https://billing.test");
    assert_eq!(got["scopes"][0], json!({"name": "invoices:read", "description": "Read invoices"}));
    assert_eq!(got["scopes"][1]["description"], "");
    let (status, body) = create_resource(&w, json!({"identifier": "https://billing.test", "name": "Again"}));
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
    for (body, field) in [
        (json!({"name": "x"}), "identifier"),
        (json!({"identifier": "billing", "name": "x"}), "identifier"),
        (json!({"identifier": "https://x.test", "name": ""}), "name"),
        (json!({"identifier": "https://x.test", "name": "x", "scopes": [{"name": "bad scope"}]}), "scopes[0].name"),
        (json!({"identifier": "https://x.test", "name": "x", "token_ttl": 10}), "token_ttl"),
        (json!({"identifier": "https://x.test", "name": "x", "owner": "me"}), "owner"),
    ] {
        let (status, b) = create_resource(&w, body);
        assert_eq!((status, b["field"].as_str()), (400, Some(field)));
    }
    let r =
        w.admin(Method::Patch, &format!("/admin/resources/{id}"), Some(json!({"identifier": "https://other.test"})));
    assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some("identifier")));
    let r = w.admin(Method::Patch, &format!("/admin/resources/{id}"), Some(json!({"name": "Billing API"})));
    assert_eq!(r.body_json()["name"], "Billing API");
    assert_eq!(w.admin(Method::Get, "/admin/resources", None).body_json()["resources"].as_array().unwrap().len(), 1);
    assert_eq!(w.admin(Method::Delete, &format!("/admin/resources/{id}"), None).status, 204);
    assert_eq!(w.admin(Method::Get, &format!("/admin/resources/{id}"), None).status, 404);
}

#[test]
fn registered_resources_constrain_grants() {
    let w = World::new();
    billing(&w);
    let post = |grants: Value| {
        let r = w.admin(Method::Post, "/admin/clients", Some(json!({"name": "c", "grants": grants})));
        (r.status, r.body_json())
    };
    let (status, body) = post(json!([{"audience": "https://unknown.test", "scopes": []}]));
    assert_eq!((status, body["field"].as_str()), (400, Some("grants[0].audience")));
    let (status, body) = post(json!([{"audience": "https://billing.test", "scopes": ["invoices:read", "refunds"]}]));
    assert_eq!((status, body["field"].as_str()), (400, Some("grants[0].scopes[1]")));
    assert!(body["error_description"].as_str().unwrap().contains("refunds"));
    let (status, body) = post(json!([{"audience": "https://billing.test", "scopes": ["invoices:read"]}]));
    assert_eq!(status, 201);
    let id = body["client_id"].as_str().unwrap();
    let r = w.admin(
        Method::Patch,
        &format!("/admin/clients/{id}"),
        Some(json!({"grants": [{"audience": "https://elsewhere.test", "scopes": []}]})),
    );
    assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some("grants[0].audience")));
}

#[test]
fn resources_in_use_cannot_be_deleted_or_lose_granted_scopes() {
    let w = World::new();
    let rid = billing(&w);
    let (cid, _) =
        w.create(json!({"name": "c", "grants": [{"audience": "https://billing.test", "scopes": ["invoices:write"]}]}));
    let r = w.admin(Method::Delete, &format!("/admin/resources/{rid}"), None);
    assert_eq!(r.status, 409);
    assert_eq!(r.body_json()["clients"], json!([cid]));
    // Dropping an unused scope is fine; dropping a granted one is not.
    let path = format!("/admin/resources/{rid}");
    let r = w.admin(Method::Patch, &path, Some(json!({"scopes": [{"name": "invoices:write"}]})));
    assert_eq!(r.status, 200);
    let r = w.admin(Method::Patch, &path, Some(json!({"scopes": []})));
    assert_eq!(r.status, 409);
    assert_eq!(r.body_json()["clients"], json!([cid]));
    w.admin(Method::Delete, &format!("/admin/clients/{cid}"), None);
    assert_eq!(w.admin(Method::Delete, &path, None).status, 204);
}

#[test]
fn resource_ttl_caps_token_lifetime() {
    let w = World::new();
    billing(&w); // token_ttl 300
    let (id, secret) =
        w.create(json!({"name": "c", "grants": [{"audience": "https://billing.test", "scopes": ["invoices:read"]}]}));
    let body = w.token_basic(&id, &secret, "grant_type=client_credentials").body_json();
    assert_eq!(body["expires_in"], 300, "resource cap beats the 3600 default");
    assert_eq!(w.verify(body["access_token"].as_str().unwrap()).1["exp"], NOW + 300);
    w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"token_ttl": 120})));
    assert_eq!(
        w.token_basic(&id, &secret, "grant_type=client_credentials").body_json()["expires_in"],
        120,
        "shorter client ttl wins"
    );
}

#[test]
fn discovery_lists_registered_scopes() {
    let w = World::new();
    let doc = |w: &World| w.call(Req::new(Method::Get, "/.well-known/oauth-authorization-server")).body_json();
    assert!(doc(&w).get("scopes_supported").is_none());
    billing(&w);
    create_resource(
        &w,
        json!({"identifier": "urn:reports", "name": "Reports", "scopes": [{"name": "reports:read"}, {"name": "invoices:read"}]}),
    );
    assert_eq!(doc(&w)["scopes_supported"], json!(["invoices:read", "invoices:write", "reports:read"]));
}

/// Resources carry the same ETag / If-Match contract as clients.
#[test]
fn resource_changes_honour_if_match() {
    let w = World::new();
    let (status, created) = create_resource(&w, json!({"identifier": "https://billing.test", "name": "Billing"}));
    assert_eq!(status, 201);
    let path = format!("/admin/resources/{}", created["id"].as_str().unwrap());
    assert_eq!(w.admin(Method::Get, &path, None).header("etag"), Some("\"1\""));
    let patch = |tag: &str, name: &str| {
        w.call(Req::new(Method::Patch, &path).bearer(ADMIN_KEY).header("if-match", tag).json(&json!({"name": name})))
    };
    assert_eq!(patch("\"1\"", "Billing v2").status, 200);
    assert_eq!(patch("\"1\"", "lost").status, 412);
    assert_eq!(w.admin(Method::Get, &path, None).body_json()["name"], "Billing v2");
    let delete = |tag: &str| w.call(Req::new(Method::Delete, &path).bearer(ADMIN_KEY).header("if-match", tag).build());
    assert_eq!(delete("\"1\"").status, 412);
    assert_eq!(delete("\"2\"").status, 204);
}
