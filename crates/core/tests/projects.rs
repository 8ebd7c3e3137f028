//! Host ring, paired with tests/e2e/projects.test.mjs: projects, clients in
//! them, caller-chosen ids, listing filters, and the credentials document.

use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

fn project(w: &World, body: Value) -> Value {
    let r = w.admin(Method::Post, "/admin/projects", Some(body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.body_json()
}

fn client_in(w: &World, project_id: &str, name: &str) -> Value {
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"project_id": project_id, "name": name, "grants": [{"audience": "https://api.test", "scopes": ["read"]}]})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.body_json()
}

#[test]
fn projects_are_created_read_renamed_listed_and_deleted() {
    let w = World::new();
    let generated = project(&w, json!({"name": "Payments"}));
    let id = generated["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("prj_") && id.len() == 36, "{id}");
    assert_eq!(generated["description"], Value::Null);
    let chosen = project(&w, json!({"id": "team-search", "name": "Search", "description": "the search team"}));
    assert_eq!(chosen["id"], "team-search");
    let taken = w.admin(Method::Post, "/admin/projects", Some(json!({"id": "team-search", "name": "again"})));
    assert_eq!(taken.status, 409);
    assert_eq!(error_of(&taken), "conflict");

    let got = w.admin(Method::Get, "/admin/projects/team-search", None);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), Some("\"1\""));
    let renamed = w.call(
        Req::new(Method::Patch, "/admin/projects/team-search")
            .bearer(ADMIN_KEY)
            .header("if-match", "\"1\"")
            .json(&json!({"name": "Search & Discovery"})),
    );
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.body_json()["name"], "Search & Discovery");
    assert_eq!(renamed.header("etag"), Some("\"2\""));
    let stale = w.call(
        Req::new(Method::Patch, "/admin/projects/team-search")
            .bearer(ADMIN_KEY)
            .header("if-match", "\"1\"")
            .json(&json!({"name": "lost"})),
    );
    assert_eq!(stale.status, 412);

    let first = w.admin(Method::Get, "/admin/projects?limit=1", None).body_json();
    assert_eq!(first["projects"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = w.admin(Method::Get, &format!("/admin/projects?limit=1&cursor={cursor}"), None).body_json();
    assert_eq!(second["projects"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);

    assert_eq!(w.admin(Method::Delete, &format!("/admin/projects/{id}"), None).status, 204);
    assert_eq!(w.admin(Method::Get, &format!("/admin/projects/{id}"), None).status, 404);
    assert_eq!(w.admin(Method::Get, "/admin/projects/not%20an%20id", None).status, 404);
}

#[test]
fn bad_project_input_gets_a_field_error() {
    let w = World::new();
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "id": "a b"}), "id"),
        (json!({"name": "x", "id": "ab"}), "id"),
        (json!({"name": "x", "id": 7}), "id"),
        (json!({"name": "x", "owner": "y"}), "owner"),
        (json!([1]), "body"),
    ] {
        let r = w.admin(Method::Post, "/admin/projects", Some(body.clone()));
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body_json()["field"], field, "{body}");
    }
    let r = w.call(Req::post("/admin/projects").bearer(ADMIN_KEY).header("content-type", "application/json").body("{"));
    assert_eq!(r.status, 400);
    assert_eq!(w.admin(Method::Put, "/admin/projects", None).status, 405);
    assert_eq!(w.admin(Method::Post, "/admin/projects/x-y-z", None).status, 405);
}

#[test]
fn a_client_in_a_project_carries_it_in_every_token_and_custom_claims_cannot_replace_it() {
    let w = World::new();
    project(&w, json!({"id": "acme", "name": "Acme"}));
    let c = client_in(&w, "acme", "acme-sync");
    assert_eq!(c["project_id"], "acme");
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let r = w.token_basic(id, secret, "grant_type=client_credentials");
    assert_eq!(r.status, 200);
    let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
    assert_eq!(claims["project_id"], "acme");

    let spoof = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"name": "x", "grants": [{"audience": "https://api.test", "scopes": ["read"]}], "custom_claims": {"project_id": "other"}})),
    );
    assert_eq!(spoof.status, 400);
    // Without a project: no claim.
    let (plain, plain_secret) = w.simple_client();
    let (_, claims) = w.verify(
        w.token_basic(&plain, &plain_secret, "grant_type=client_credentials").body_json()["access_token"]
            .as_str()
            .unwrap(),
    );
    assert!(claims.get("project_id").is_none());
}

#[test]
fn a_client_cannot_join_a_missing_project_or_move_to_another() {
    let w = World::new();
    let grants = json!([{"audience": "https://api.test", "scopes": ["read"]}]);
    let missing =
        w.admin(Method::Post, "/admin/clients", Some(json!({"project_id": "nowhere", "name": "x", "grants": grants})));
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body_json()["field"], "project_id");
    project(&w, json!({"id": "one", "name": "One"}));
    project(&w, json!({"id": "two", "name": "Two"}));
    let c = client_in(&w, "one", "c");
    let path = format!("/admin/clients/{}", c["client_id"].as_str().unwrap());
    for (field, value) in [("project_id", json!("two")), ("project_id", Value::Null), ("client_id", json!("renamed"))] {
        let r = w.admin(Method::Patch, &path, Some(json!({ field: value })));
        assert_eq!(r.status, 400, "{field}");
        assert_eq!(r.body_json()["field"], field);
    }
    assert_eq!(w.admin(Method::Get, &path, None).body_json()["project_id"], "one");
}

#[test]
fn a_caller_may_choose_the_client_id() {
    let w = World::new();
    let grants = json!([{"audience": "https://api.test", "scopes": ["read"]}]);
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"client_id": "ci-pipeline", "name": "CI", "grants": grants})),
    );
    assert_eq!(r.status, 201);
    let c = r.body_json();
    assert_eq!(c["client_id"], "ci-pipeline");
    assert_eq!(r.header("location"), Some("/admin/clients/ci-pipeline"));
    let token = w.token_basic("ci-pipeline", c["client_secret"].as_str().unwrap(), "grant_type=client_credentials");
    assert_eq!(token.status, 200);
    let again = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"client_id": "ci-pipeline", "name": "CI", "grants": grants})),
    );
    assert_eq!(again.status, 409);
    assert!(error_of(&again) == "conflict");
    for bad in [json!("a b"), json!("-lead"), json!("x"), json!("é-abc"), json!(12)] {
        let r = w.admin(Method::Post, "/admin/clients", Some(json!({"client_id": bad, "name": "x", "grants": grants})));
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body_json()["field"], "client_id");
    }
}

#[test]
fn a_chosen_id_looked_up_before_it_existed_is_not_refused_after_its_creation_in_the_same_isolate() {
    let w = World::new();
    assert_eq!(w.token_basic("late-comer", "x", "grant_type=client_credentials").status, 401);
    let grants = json!([{"audience": "https://api.test", "scopes": ["read"]}]);
    let c = w
        .admin(Method::Post, "/admin/clients", Some(json!({"client_id": "late-comer", "name": "x", "grants": grants})))
        .body_json();
    assert_eq!(
        w.token_basic("late-comer", c["client_secret"].as_str().unwrap(), "grant_type=client_credentials").status,
        200
    );
}

#[test]
fn the_create_response_is_a_complete_credentials_document() {
    let w = World::new();
    let c = w.create(json!({"name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read"]}]}));
    let r = w.admin(Method::Get, &format!("/admin/clients/{}", c.0), None).body_json();
    assert!(r.get("issuer").is_none(), "only the create response carries it");
    let created = w
        .admin(
            Method::Post,
            "/admin/clients",
            Some(json!({"name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read"]}]})),
        )
        .body_json();
    assert_eq!(created["issuer"], ORIGIN);
    assert_eq!(created["token_endpoint"], format!("{ORIGIN}/oauth2/token"));
    assert!(created["client_secret"].as_str().unwrap().starts_with("m2msk_"));
}

#[test]
fn clients_are_listed_by_project_status_and_name_prefix_with_the_cursor() {
    let w = World::new();
    project(&w, json!({"id": "acme", "name": "Acme"}));
    project(&w, json!({"id": "globex", "name": "Globex"}));
    let mut acme = Vec::new();
    for name in ["billing-a", "billing-b", "search", "billing-c"] {
        acme.push(client_in(&w, "acme", name)["client_id"].as_str().unwrap().to_string());
    }
    client_in(&w, "globex", "billing-g");
    w.simple_client();
    let inactive = &acme[1];
    assert_eq!(
        w.admin(Method::Patch, &format!("/admin/clients/{inactive}"), Some(json!({"status": "inactive"}))).status,
        200
    );

    let names = |query: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("/admin/clients?{query}&limit=1&cursor={c}"),
                None => format!("/admin/clients?{query}&limit=1"),
            };
            let page = w.admin(Method::Get, &q, None);
            assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
            let page = page.body_json();
            out.extend(page["clients"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(names("project_id=acme")), ["billing-a", "billing-b", "billing-c", "search"]);
    assert_eq!(sorted(names("project_id=acme&status=active&name_prefix=billing")), ["billing-a", "billing-c"]);
    assert_eq!(sorted(names("name_prefix=billing-")), ["billing-a", "billing-b", "billing-c", "billing-g"]);
    assert_eq!(names("status=inactive"), ["billing-b"]);
    assert!(names("project_id=nowhere").is_empty());
    for (query, field) in [("project_id=a%20b", "project_id"), ("status=gone", "status")] {
        let r = w.admin(Method::Get, &format!("/admin/clients?{query}"), None);
        assert_eq!(r.status, 400);
        assert_eq!(r.body_json()["field"], field);
    }
}

#[test]
fn a_project_with_clients_is_not_deleted_and_the_answer_names_them() {
    let w = World::new();
    project(&w, json!({"id": "acme", "name": "Acme"}));
    let a = client_in(&w, "acme", "a")["client_id"].as_str().unwrap().to_string();
    let b = client_in(&w, "acme", "b")["client_id"].as_str().unwrap().to_string();
    let r = w.admin(Method::Delete, "/admin/projects/acme", None);
    assert_eq!(r.status, 409);
    let mut named: Vec<String> =
        r.body_json()["clients"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    named.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(named, expected);
    for id in [&a, &b] {
        assert_eq!(w.admin(Method::Delete, &format!("/admin/clients/{id}"), None).status, 204);
    }
    assert_eq!(w.admin(Method::Delete, "/admin/projects/acme", None).status, 204);
}
