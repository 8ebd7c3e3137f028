//! Host ring: the OpenAPI document (crates/core/openapi.json) against the
//! router and the types. schemathesis checks it against the running worker
//! (tests/api); this checks what a running worker cannot show: that every
//! path the document names is routed with exactly the methods it lists,
//! that each admin operation's scope is the one the router demands, and
//! that discovery points at it. The document itself is a static asset
//! (wrangler.toml `[assets]`, written by `scripts/openapi-asset.mjs`);
//! tests/e2e/openapi.test.mjs checks that workerd serves it.

use std::collections::BTreeSet;

use m2m_edge_core::app::{scope_for, AdminScope};
use m2m_edge_core::http::Method;
use m2m_edge_core::oauth::metadata::OPENAPI_PATH;
use m2m_edge_testkit::*;
use serde_json::Value;

fn document() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).expect("openapi.json");
    serde_json::from_str(&text).expect("openapi.json is JSON")
}

const METHODS: [(Method, &str); 6] = [
    (Method::Get, "get"),
    (Method::Post, "post"),
    (Method::Put, "put"),
    (Method::Patch, "patch"),
    (Method::Delete, "delete"),
    (Method::Options, "options"),
];

/// A documented path with its parameters filled in.
fn concrete(template: &str) -> String {
    template
        .replace("{client_id}", "m2m_00000000000000000000000000000000")
        .replace("{project_id}", "prj_00000000000000000000000000000000")
        .replace("{resource_id}", "api_00000000000000000000000000000000")
}

#[test]
fn it_is_openapi_3_1_with_every_operation_named_once() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().expect("every operation has an operationId");
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{id} documents no response");
        }
    }
    assert!(ids.len() >= 26, "{ids:?}");
}

#[test]
fn every_documented_path_is_routed_with_exactly_the_documented_methods() {
    let w = World::new();
    for (template, item) in document()["paths"].as_object().unwrap() {
        if template == OPENAPI_PATH {
            continue; // the static asset: the platform serves it, not the app
        }
        let path = concrete(template);
        let documented: BTreeSet<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        for (method, name) in METHODS {
            let r = w.call(Req::new(method, &path).bearer(ADMIN_KEY).build());
            let body = String::from_utf8_lossy(&r.body).to_string();
            if documented.contains(name) {
                assert_ne!(r.status, 405, "{name} {template} is documented but not routed: {body}");
                assert!(!body.contains("no such endpoint"), "{name} {template} is documented but not routed");
                let statuses = item[name]["responses"].as_object().unwrap();
                assert!(
                    statuses.contains_key(&r.status.to_string()),
                    "{name} {template} answered {} undocumented: {body}",
                    r.status
                );
            } else {
                assert_eq!(r.status, 405, "{name} {template} is routed but not documented: {body}");
                let allow: BTreeSet<String> = r
                    .header("allow")
                    .expect("405 says Allow")
                    .split(',')
                    .map(|m| m.trim().to_lowercase())
                    .filter(|m| m != "head")
                    .collect();
                let listed: BTreeSet<String> = documented.iter().map(|m| m.to_string()).collect();
                assert_eq!(allow, listed, "Allow of {template} against the document");
            }
        }
    }
}

#[test]
fn each_admin_operation_names_the_scope_the_router_demands() {
    let doc = document();
    let declared: BTreeSet<&str> = doc["components"]["securitySchemes"]["adminToken"]["flows"]["clientCredentials"]
        ["scopes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let all: BTreeSet<&str> = AdminScope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(declared, all);
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (name, op) in item.as_object().unwrap() {
            let method = METHODS.iter().find(|(_, n)| n == name).unwrap().0;
            let needed = scope_for(method, &concrete(template)).map(AdminScope::as_str);
            let security = op["security"].as_array().unwrap();
            let documented = security.iter().find_map(|s| s["adminToken"].as_array()).map(|scopes| {
                assert_eq!(scopes.len(), 1, "{name} {template}");
                scopes[0].as_str().unwrap()
            });
            assert_eq!(documented, needed, "{name} {template}");
            if needed.is_some() {
                assert!(
                    security.iter().any(|s| s.get("adminKey").is_some()),
                    "{name} {template} takes the root key too"
                );
            }
        }
    }
}

#[test]
fn discovery_points_at_it_and_the_app_leaves_it_to_the_asset_layer() {
    let w = World::new();
    let metadata = w.call(Req::get("/.well-known/oauth-authorization-server").build()).body_json();
    let issuer = metadata["issuer"].as_str().unwrap();
    assert_eq!(metadata["service_documentation"], format!("{}{OPENAPI_PATH}", issuer.trim_end_matches('/')));
    assert_eq!(w.call(Req::get(OPENAPI_PATH).build()).status, 404, "never routed: a static asset");
}
