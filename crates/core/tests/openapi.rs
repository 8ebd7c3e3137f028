//! Host ring: the OpenAPI document (crates/core/openapi.json) against the
//! router and the types. schemathesis checks it against the running worker
//! (tests/api); this checks what a running worker cannot show: that every
//! path the document names is routed with exactly the methods it lists,
//! that each admin operation's scope is the one the router demands, and
//! that the served and discovered document is this one.

use std::collections::BTreeSet;

use m2m_edge_core::app::{scope_for, AdminScope, OPENAPI_DOCUMENT};
use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(OPENAPI_DOCUMENT).expect("openapi.json is JSON")
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
fn the_worker_serves_it_and_discovery_points_at_it() {
    let w = World::new();
    let served = w.call(Req::get("/openapi.json").build());
    assert_eq!(served.status, 200);
    assert_eq!(served.body, OPENAPI_DOCUMENT.as_bytes());
    assert_eq!(served.header("access-control-allow-origin"), Some("*"));
    let metadata = w.call(Req::get("/.well-known/oauth-authorization-server").build()).body_json();
    let issuer = metadata["issuer"].as_str().unwrap();
    assert_eq!(metadata["service_documentation"], format!("{}/openapi.json", issuer.trim_end_matches('/')));
}

/// The served document is the repository's, whitespace between tokens
/// aside (`build.rs` minifies it): the same JSON value, members in the
/// same order.
#[test]
fn the_served_document_is_the_repositorys_minified() {
    let pretty = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).expect("openapi.json");
    let written: serde_json::Value = serde_json::from_str(&pretty).expect("JSON");
    assert_eq!(serde_json::from_str::<serde_json::Value>(OPENAPI_DOCUMENT).expect("JSON"), written);
    assert!(OPENAPI_DOCUMENT.len() * 10 < pretty.len() * 7, "{} of {} bytes", OPENAPI_DOCUMENT.len(), pretty.len());
    let keys = |text: &str| text.match_indices("\"operationId\"").count();
    assert_eq!(keys(OPENAPI_DOCUMENT), keys(&pretty));
}
