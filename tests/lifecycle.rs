//! Ring 1: secret rotation and API resources, through the app.

mod common;

use common::*;
use m2m_edge::config::StorageKind;
use m2m_edge::http::Method;
use serde_json::{json, Value};

fn rotate(w: &World, id: &str, step: &str) -> (u16, Value) {
    let r = w.admin(Method::Post, &format!("/admin/clients/{id}/secrets/rotate{step}"), None);
    (r.status, r.body_json())
}

fn works(w: &World, id: &str, secret: &str) -> bool {
    w.token_basic(id, secret, "grant_type=client_credentials").status == 200
}

#[test]
fn rotation_start_complete() {
    let w = World::new();
    let (id, old) = w.simple_client();
    let got = w.admin(Method::Get, &format!("/admin/clients/{id}"), None).body_json();
    assert_eq!(got["secret_rotation_pending"], false);
    assert_eq!(got["client_secret_last_four"], &old[old.len() - 4..]);
    assert_eq!(got["next_client_secret_last_four"], Value::Null);

    let (status, body) = rotate(&w, &id, "");
    assert_eq!(status, 200);
    let new = body["next_client_secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("m2msk_") && new != old);
    assert_eq!(body["secret_rotation_pending"], true);
    assert_eq!(body["next_client_secret_last_four"], &new[new.len() - 4..]);
    assert!(works(&w, &id, &old) && works(&w, &id, &new), "both secrets work during a rotation");

    // Shown once: a later read has the last four characters only.
    let got = w.admin(Method::Get, &format!("/admin/clients/{id}"), None);
    let text = String::from_utf8_lossy(&got.body).to_string();
    assert!(!text.contains(&new) && !text.contains(&old));
    assert_eq!(got.body_json()["secret_rotation_pending"], true);

    let (status, body) = rotate(&w, &id, "");
    assert_eq!(status, 409, "a second rotation while one is pending");
    assert_eq!(body["error"], "conflict");

    let (status, body) = rotate(&w, &id, "/complete");
    assert_eq!(status, 200);
    assert_eq!(body["secret_rotation_pending"], false);
    assert_eq!(body["client_secret_last_four"], &new[new.len() - 4..]);
    assert!(!works(&w, &id, &old), "the old secret stops at completion");
    assert!(works(&w, &id, &new));

    assert_eq!(rotate(&w, &id, "/complete").0, 409);
    assert_eq!(rotate(&w, &id, "/cancel").0, 409);
}

#[test]
fn rotation_cancel_keeps_the_old_secret() {
    let w = World::new();
    let (id, old) = w.simple_client();
    let new = rotate(&w, &id, "").1["next_client_secret"].as_str().unwrap().to_string();
    let (status, body) = rotate(&w, &id, "/cancel");
    assert_eq!(status, 200);
    assert_eq!(body["secret_rotation_pending"], false);
    assert!(works(&w, &id, &old));
    assert!(!works(&w, &id, &new), "the cancelled secret never works again");
    // A new rotation can start after a cancel.
    assert_eq!(rotate(&w, &id, "").0, 200);
}

#[test]
fn rotation_errors() {
    let w = World::new();
    assert_eq!(rotate(&w, "m2m_00000000000000000000000000000000", "").0, 404);
    assert_eq!(rotate(&w, "bogus", "/complete").0, 404);
    let (id, _) = w.simple_client();
    assert_eq!(w.admin(Method::Get, &format!("/admin/clients/{id}/secrets/rotate"), None).status, 405);
    let r = w.call(m2m_edge::http::Request::new(Method::Post, &format!("/admin/clients/{id}/secrets/rotate"), ORIGIN));
    assert_eq!(r.status, 401, "rotation needs the admin key");
}

#[test]
fn kv_changes_carry_a_propagation_notice() {
    let mut w = World::new();
    w.config.storage = StorageKind::Kv;
    let (id, _) = w.simple_client();
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert!(r.body_json()["propagation"].as_str().unwrap().contains("60 seconds"));
    assert!(r.header("x-m2m-propagation").is_some());
    let r = w.admin(Method::Post, &format!("/admin/clients/{id}/secrets/rotate"), None);
    assert!(r.body_json()["propagation"].is_string());
    // Reads say nothing; D1 says nothing.
    assert!(w.admin(Method::Get, &format!("/admin/clients/{id}"), None).body_json().get("propagation").is_none());
    let d1 = World::new();
    let (id, _) = d1.simple_client();
    let r = d1.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"name": "n"})));
    assert!(r.body_json().get("propagation").is_none());
}

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
    let doc = |w: &World| {
        w.call(m2m_edge::http::Request::new(Method::Get, "/.well-known/oauth-authorization-server", ORIGIN)).body_json()
    };
    assert!(doc(&w).get("scopes_supported").is_none());
    billing(&w);
    create_resource(
        &w,
        json!({"identifier": "urn:reports", "name": "Reports", "scopes": [{"name": "reports:read"}, {"name": "invoices:read"}]}),
    );
    assert_eq!(doc(&w)["scopes_supported"], json!(["invoices:read", "invoices:write", "reports:read"]));
}
