//! Host ring, paired with tests/e2e/least_privilege.test.mjs: an admin
//! client never obtains or hands out more than it holds. Every change to a
//! client — any route, any field — by an admin token needs every admin
//! scope the client holds before and after it, in the caller's project;
//! scopes are live (a downgrade stops tokens already issued); a token
//! belongs to one incarnation of its client; a project's admins grant APIs
//! only within the project's `allowed_grants`.

use m2m_edge_core::http::{Method, Response};
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const ADMIN_AUDIENCE: &str = "https://auth.test/admin";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
/// What the attacking admin client holds in every test below.
const HELD: [&str; 3] = ["clients:read", "clients:write", "clients:rotate"];
/// Every admin scope beyond [`HELD`]: each, alone, makes a client "higher".
const BEYOND: [&str; 9] = [
    "projects:read",
    "projects:write",
    "resources:read",
    "resources:write",
    "keys:read",
    "keys:write",
    "audit:read",
    "federation:read",
    "federation:write",
];

fn api_grants() -> Value {
    json!([{"audience": "https://api.test", "scopes": ["read"]}])
}

fn admin_grants(scopes: &[&str]) -> Value {
    json!([{"audience": ADMIN_AUDIENCE, "scopes": scopes}])
}

/// A project whose admins may grant `https://api.test` `read`.
fn project(w: &World, id: &str) {
    let body = json!({"id": id, "name": id, "allowed_grants": api_grants()});
    let r = w.admin(Method::Post, "/admin/projects", Some(body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

fn token_of(w: &World, id: &str, secret: &str) -> String {
    let r = w.token_basic(id, secret, &format!("grant_type=client_credentials&resource={ADMIN_AUDIENCE}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.body_json()["access_token"].as_str().unwrap().to_string()
}

/// An admin client made by the root key: (id, secret, token).
fn admin_client(w: &World, project: Option<&str>, scopes: &[&str]) -> (String, String, String) {
    let mut body = json!({"name": "admin", "grants": admin_grants(scopes)});
    if let Some(p) = project {
        body["project_id"] = json!(p);
    }
    let (id, secret) = w.create(body);
    let token = token_of(w, &id, &secret);
    (id, secret, token)
}

fn forbidden(r: &Response, what: &str) {
    assert_eq!((r.status, error_of(r).as_str()), (403, "forbidden"), "{what}: {}", String::from_utf8_lossy(&r.body));
}

fn trust_github(w: &World) {
    let body = json!({"issuer": GITHUB, "name": "GitHub Actions", "audiences": ["https://auth.test"]});
    assert_eq!(w.admin(Method::Post, "/admin/federation/issuers", Some(body)).status, 201);
}

fn credential(name: &str) -> Value {
    json!([{"name": name, "issuer": GITHUB, "subject": "repo:attacker/repo:ref:refs/heads/main"}])
}

/// One change an admin request can make to an existing client.
struct Change {
    what: &'static str,
    method: Method,
    /// Appended to `/admin/clients/{id}`.
    suffix: &'static str,
    body: Option<Value>,
    /// What the root key does to the target first, so the change applies.
    setup: fn(&World, &str),
}

fn nothing(_: &World, _: &str) {}

fn deactivate(w: &World, id: &str) {
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert_eq!(r.status, 200);
}

fn start_rotation(w: &World, id: &str) {
    assert_eq!(w.admin(Method::Post, &format!("/admin/clients/{id}/secrets/rotate"), None).status, 200);
}

/// Every route and field that changes a client. `jwks` is the only one that
/// needs a `private_key_jwt` target; it is tested on one below.
fn changes() -> Vec<Change> {
    let patch =
        |what, body: Value| Change { what, method: Method::Patch, suffix: "", body: Some(body), setup: nothing };
    vec![
        patch("name", json!({"name": "renamed"})),
        patch("description", json!({"description": "changed"})),
        patch("grants (narrowed to nothing of the admin API)", json!({"grants": api_grants()})),
        patch("custom_claims", json!({"custom_claims": {"team": "x"}})),
        patch("token_ttl", json!({"token_ttl": 86400})),
        patch("status inactive (locking it out)", json!({"status": "inactive"})),
        Change { setup: deactivate, ..patch("status active (re-activating it)", json!({"status": "active"})) },
        patch("federated_credentials", json!({"federated_credentials": credential("planted")})),
        Change { what: "rotation start", method: Method::Post, suffix: "/secrets/rotate", body: None, setup: nothing },
        Change {
            what: "rotation complete",
            method: Method::Post,
            suffix: "/secrets/rotate/complete",
            body: None,
            setup: start_rotation,
        },
        Change {
            what: "rotation cancel",
            method: Method::Post,
            suffix: "/secrets/rotate/cancel",
            body: None,
            setup: start_rotation,
        },
        Change { what: "delete", method: Method::Delete, suffix: "", body: None, setup: nothing },
    ]
}

/// The table: for every change × every admin scope the caller lacks, a
/// target holding that scope is out of reach (403, record untouched); the
/// same change to a target holding no more than the caller succeeds.
#[test]
fn every_change_to_a_client_holding_more_than_the_caller_is_refused() {
    for caller_project in [Some("acme"), None] {
        let w = World::new();
        project(&w, "acme");
        trust_github(&w);
        let (_, _, token) = admin_client(&w, caller_project, &HELD);
        for change in changes() {
            for extra in BEYOND {
                let mut scopes = HELD.to_vec();
                scopes.push(extra);
                let (target, _) =
                    w.create(json!({"name": "higher", "project_id": "acme", "grants": admin_grants(&scopes)}));
                (change.setup)(&w, &target);
                let path = format!("/admin/clients/{target}");
                let before = w.admin(Method::Get, &path, None).body_json();
                let r = w.with_token(&token, change.method, &format!("{path}{}", change.suffix), change.body.clone());
                forbidden(&r, &format!("{} of a client holding {extra} (caller in {caller_project:?})", change.what));
                assert!(r.body_json()["error_description"].as_str().unwrap().contains(extra));
                assert_eq!(w.admin(Method::Get, &path, None).body_json(), before, "{} left it unchanged", change.what);
            }
            // A target holding a subset of what the caller holds: allowed.
            let (target, _) =
                w.create(json!({"name": "lower", "project_id": "acme", "grants": admin_grants(&["clients:read"])}));
            (change.setup)(&w, &target);
            let path = format!("/admin/clients/{target}{}", change.suffix);
            let r = w.with_token(&token, change.method, &path, change.body.clone());
            assert!((200..300).contains(&r.status), "{}: {}", change.what, String::from_utf8_lossy(&r.body));
        }
    }
}

#[test]
fn creating_a_client_needs_every_admin_scope_it_would_hold() {
    let w = World::new();
    project(&w, "acme");
    let (_, _, token) = admin_client(&w, Some("acme"), &HELD);
    for extra in BEYOND {
        let mut scopes = HELD.to_vec();
        scopes.push(extra);
        let r = w.with_token(
            &token,
            Method::Post,
            "/admin/clients",
            Some(json!({"name": "x", "grants": admin_grants(&scopes)})),
        );
        forbidden(&r, extra);
    }
    let r =
        w.with_token(&token, Method::Post, "/admin/clients", Some(json!({"name": "x", "grants": admin_grants(&HELD)})));
    assert_eq!(r.status, 201, "exactly what it holds");
}

/// The first attack: replacing a higher `private_key_jwt` admin
/// client's keys to sign as it.
#[test]
fn a_lower_admin_cannot_replace_a_higher_clients_keys() {
    let w = World::new();
    project(&w, "acme");
    let (_, _, token) = admin_client(&w, Some("acme"), &["clients:read", "clients:write"]);
    let theirs = ClientKeyPair::generate();
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"name": "auditor", "project_id": "acme", "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [theirs.public_jwk(Some("k1"))]},
                    "grants": admin_grants(&["audit:read"])})),
    );
    assert_eq!(r.status, 201);
    let path = format!("/admin/clients/{}", r.body_json()["client_id"].as_str().unwrap());
    let mine = ClientKeyPair::generate();
    let r = w.with_token(&token, Method::Patch, &path, Some(json!({"jwks": {"keys": [mine.public_jwk(Some("k2"))]}})));
    forbidden(&r, "jwks of a client holding audit:read");
    assert_eq!(w.admin(Method::Get, &path, None).body_json()["jwks"]["keys"][0]["kid"], "k1");
    assert_eq!(w.with_token(&token, Method::Get, "/admin/audit", None).status, 403, "its own token still may not");
}

/// Scopes are live: a downgrade by the root key stops the tokens already
/// issued (the issue: a token kept creating clients for its lifetime).
#[test]
fn taking_a_scope_away_stops_the_tokens_already_issued() {
    let w = World::new();
    let (id, _, token) = admin_client(&w, None, &["clients:read", "clients:write"]);
    let create =
        || w.with_token(&token, Method::Post, "/admin/clients", Some(json!({"name": "x", "grants": api_grants()})));
    assert_eq!(create().status, 201);
    let r = w.admin(
        Method::Patch,
        &format!("/admin/clients/{id}"),
        Some(json!({"grants": admin_grants(&["clients:read"])})),
    );
    assert_eq!(r.status, 200);
    let other = w.another_isolate();
    for isolate in [&w, &other] {
        let r = isolate.with_token(
            &token,
            Method::Post,
            "/admin/clients",
            Some(json!({"name": "x", "grants": api_grants()})),
        );
        assert_eq!((r.status, error_of(&r).as_str()), (403, "insufficient_scope"));
        assert_eq!(isolate.with_token(&token, Method::Get, "/admin/clients", None).status, 200, "what it still holds");
    }
    // Granting it back is the root key's decision; the old token follows.
    let r = w.admin(
        Method::Patch,
        &format!("/admin/clients/{id}"),
        Some(json!({"grants": admin_grants(&["clients:read", "clients:write"])})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(create().status, 201);
}

/// A token belongs to one incarnation of its client: a client created
/// later under the same id — in another project, or the same — does not
/// bring an old token back.
#[test]
fn a_deleted_admin_clients_token_never_works_again_whatever_takes_its_id() {
    let w = World::new();
    project(&w, "acme");
    project(&w, "globex");
    let planted = |project: &str| {
        let body = json!({"client_id": "ci-deployer", "name": "planted", "project_id": project,
                          "grants": admin_grants(&["clients:read", "clients:write"])});
        let (id, secret) = w.create(body);
        token_of(&w, &id, &secret)
    };
    for (first, second) in [("acme", "globex"), ("acme", "acme")] {
        let token = planted(first);
        assert_eq!(w.with_token(&token, Method::Get, "/admin/clients", None).status, 200);
        assert_eq!(w.admin(Method::Delete, "/admin/clients/ci-deployer", None).status, 204);
        w.clock.advance(60);
        let body = json!({"client_id": "ci-deployer", "name": "theirs", "project_id": second,
                          "grants": admin_grants(&["clients:read", "clients:write"])});
        w.create(body);
        for (method, path) in [(Method::Get, "/admin/clients"), (Method::Get, "/admin/clients/ci-deployer")] {
            let r = w.with_token(&token, method, path, None);
            assert_eq!((r.status, error_of(&r).as_str()), (401, "invalid_token"), "{first} then {second}: {path}");
        }
        assert_eq!(w.admin(Method::Delete, "/admin/clients/ci-deployer", None).status, 204);
        // A deletion revokes what the id was issued until the change has
        // reached every isolate (README, "Revoking tokens"); the next
        // planting comes after that.
        w.clock.advance(60);
    }
}

/// Tenants confined: a project's admins grant APIs only within its
/// `allowed_grants`, which the root key sets; a new project allows nothing.
#[test]
fn a_project_admin_grants_only_what_its_project_allows() {
    let w = World::new();
    let r = w.admin(Method::Post, "/admin/projects", Some(json!({"id": "bare", "name": "bare"})));
    assert_eq!((r.status, &r.body_json()["allowed_grants"]), (201, &json!([])), "none by default");
    let (_, _, bare) = admin_client(&w, Some("bare"), &HELD);
    let create = |token: &str, grants: Value| {
        w.with_token(token, Method::Post, "/admin/clients", Some(json!({"name": "x", "grants": grants})))
    };
    forbidden(&create(&bare, api_grants()), "a new project allows no API");
    assert_eq!(create(&bare, admin_grants(&["clients:read"])).status, 201, "admin scopes follow what it holds");

    project(&w, "acme");
    let (_, _, acme) = admin_client(&w, Some("acme"), &HELD);
    assert_eq!(create(&acme, api_grants()).status, 201);
    let r = create(&acme, json!([{"audience": "https://api.test", "scopes": ["read", "write"]}]));
    forbidden(&r, "a scope outside allowed_grants");
    assert!(r.body_json()["error_description"].as_str().unwrap().starts_with("grants[0].scopes[1]"));
    forbidden(&create(&acme, json!([{"audience": "https://billing.test", "scopes": []}])), "another API");
    // A PATCH widening a client's grants is refused the same way.
    let made = create(&acme, api_grants()).body_json();
    let path = format!("/admin/clients/{}", made["client_id"].as_str().unwrap());
    let wider = json!({"grants": [{"audience": "https://billing.test", "scopes": []}]});
    forbidden(&w.with_token(&acme, Method::Patch, &path, Some(wider.clone())), "PATCH outside allowed_grants");
    // The root key decides: it widens the project, or grants directly.
    let r = w.admin(
        Method::Patch,
        "/admin/projects/acme",
        Some(json!({"allowed_grants": [{"audience": "https://api.test", "scopes": ["read"]},
                                        {"audience": "https://billing.test", "scopes": []}]})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(w.with_token(&acme, Method::Patch, &path, Some(wider)).status, 200);
    // A project admin cannot change allowed_grants (projects:write is
    // deployment-wide), and the admin audience is never an allowed grant.
    let r = w.with_token(&acme, Method::Patch, "/admin/projects/acme", Some(json!({"allowed_grants": []})));
    assert_eq!(r.status, 403);
    let r = w.admin(
        Method::Patch,
        "/admin/projects/acme",
        Some(json!({"allowed_grants": admin_grants(&["clients:read"])})),
    );
    assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some("allowed_grants[0].audience")));
}

/// One issuer: without `ISSUER`, every loopback origin is an issuer, and
/// a grant of any loopback name's `/admin` is an admin grant — no
/// spelling of the admin audience escapes the hand-out rule.
#[test]
fn every_loopback_name_of_the_admin_audience_is_the_admin_audience() {
    let w = World::with(&[("ISSUER", "")], Some(A3));
    let origin = "http://127.0.0.1:8787";
    let r = w.call(
        Req::new(Method::Post, "/admin/clients")
            .at(origin)
            .bearer(ADMIN_KEY)
            .json(&json!({"name": "admin", "grants": [{"audience": format!("{origin}/admin"), "scopes": ["clients:read", "clients:write"]}]})),
    );
    assert_eq!(r.status, 201);
    let made = r.body_json();
    let (id, secret) = (made["client_id"].as_str().unwrap(), made["client_secret"].as_str().unwrap());
    let r = w.call(
        Req::token()
            .at(origin)
            .basic(id, secret)
            .form(&format!("grant_type=client_credentials&resource={origin}/admin")),
    );
    let token = r.body_json()["access_token"].as_str().unwrap().to_string();
    for other in [
        "http://localhost:8787/admin",
        "http://127.0.0.2:8787/admin",
        "http://[::1]:8787/admin",
        "http://localhost/admin",
    ] {
        let body = json!({"name": "x", "grants": [{"audience": other, "scopes": ["keys:write"]}]});
        let r = w.call(Req::new(Method::Post, "/admin/clients").at(origin).bearer(&token).json(&body));
        forbidden(&r, other);
        let body = json!({"name": "x", "grants": [{"audience": other, "scopes": ["orders:read"]}]});
        let r = w.call(Req::new(Method::Post, "/admin/clients").at(origin).bearer(ADMIN_KEY).json(&body));
        assert_eq!((r.status, r.body_json()["field"].as_str()), (400, Some("grants[0].scopes[0]")), "{other}");
    }
}

/// The review's first finding: re-pointing a trusted issuer's keys is
/// handing out every client that trusts it. `federation:write` alone may
/// no longer do it; with `clients:write` it may for clients it could
/// change itself; the root key always may; a rename needs nothing more.
#[test]
fn repointing_a_trusted_issuer_is_handing_out_the_clients_that_trust_it() {
    let w = World::new();
    trust_github(&w);
    let issuer = w.admin(Method::Get, "/admin/federation/issuers", None).body_json()["issuers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/admin/federation/issuers/{issuer}");
    let body = json!({"client_id": "deployer", "name": "deployer", "grants": admin_grants(&["clients:read", "audit:read"]),
                      "federated_credentials": credential("release")});
    assert_eq!(w.admin(Method::Post, "/admin/clients", Some(body)).status, 201);
    // Keys elsewhere are the root key's alone (the next test); this changes
    // which tokens count and how often they may be used.
    let repoint = json!({"audiences": ["https://auth.test", "https://elsewhere.test"], "single_use": false});

    let (_, _, federation_only) = admin_client(&w, None, &["federation:write"]);
    forbidden(&w.with_token(&federation_only, Method::Patch, &path, Some(repoint.clone())), "federation:write alone");
    let (_, _, lower) = admin_client(&w, None, &["federation:write", "clients:write", "clients:read"]);
    let r = w.with_token(&lower, Method::Patch, &path, Some(repoint.clone()));
    forbidden(&r, "a trusting client holds audit:read");
    assert!(r.body_json()["error_description"].as_str().unwrap().contains("audit:read"));
    let untouched = w.admin(Method::Get, &path, None).body_json();
    assert_eq!(untouched["audiences"], json!(["https://auth.test"]), "unchanged");
    assert_eq!(w.with_token(&federation_only, Method::Patch, &path, Some(json!({"name": "GitHub"}))).status, 200);
    let (_, _, higher) = admin_client(&w, None, &["federation:write", "clients:write", "clients:read", "audit:read"]);
    assert_eq!(w.with_token(&higher, Method::Patch, &path, Some(repoint)).status, 200);
}

/// The review's second and fifth findings: a project's `allowed_grants`
/// bound every hand-out, not only the `grants` field — rotating,
/// re-activating or planting credentials on a client the root key gave
/// more than the project allows is refused, and a client whose project
/// record is missing is bound by an empty list.
#[test]
fn a_project_admin_cannot_hand_out_a_client_the_root_key_granted_beyond_the_project() {
    let w = World::new();
    project(&w, "acme");
    trust_github(&w);
    let (payments, _) = w.create(json!({"project_id": "acme", "name": "payments",
        "grants": [{"audience": "https://payments.test", "scopes": ["charge", "refund"]}]}));
    let (_, _, admin) = admin_client(&w, Some("acme"), &HELD);
    let path = format!("/admin/clients/{payments}");
    forbidden(&w.with_token(&admin, Method::Post, &format!("{path}/secrets/rotate"), None), "rotation");
    forbidden(
        &w.with_token(&admin, Method::Patch, &path, Some(json!({"federated_credentials": credential("planted")}))),
        "credentials",
    );
    deactivate(&w, &payments);
    forbidden(&w.with_token(&admin, Method::Patch, &path, Some(json!({"status": "active"}))), "re-activation");
    let r = w.with_token(&admin, Method::Patch, &path, Some(json!({"grants": api_grants()})));
    forbidden(&r, "even narrowing it: the root key's decision");
    assert!(r.body_json()["error_description"].as_str().unwrap().contains("allowed_grants"));
    assert_eq!(w.admin(Method::Get, &path, None).body_json()["status"], "inactive");
}

/// The review's third finding: admin scopes granted under an audience that
/// could become the admin audience (another `ISSUER`'s `/admin`) count as
/// admin scopes, so an admin client cannot plant them for the day the
/// operator moves `ISSUER`.
#[test]
fn admin_scopes_under_a_future_issuers_admin_audience_count_as_admin_scopes() {
    let w = World::new();
    let (_, _, low) = admin_client(&w, None, &["clients:read", "clients:write"]);
    for (audience, scope) in
        [("https://auth.example.com/admin", "keys:write"), ("https://auth.example.com/admin/", "projects:write")]
    {
        let body =
            json!({"client_id": "sleeper", "name": "sleeper", "grants": [{"audience": audience, "scopes": [scope]}]});
        forbidden(&w.with_token(&low, Method::Post, "/admin/clients", Some(body)), audience);
    }
    let held =
        json!({"name": "x", "grants": [{"audience": "https://auth.example.com/admin", "scopes": ["clients:read"]}]});
    assert_eq!(w.with_token(&low, Method::Post, "/admin/clients", Some(held)).status, 201, "what it holds");
}

/// The review's sixth finding: granting admin scopes to a client whose
/// secret rotation is pending is refused (409), whoever asks: the pending
/// secret may be in a lower admin's hands.
#[test]
fn admin_scopes_are_not_granted_while_a_secret_rotation_is_pending() {
    let w = World::new();
    project(&w, "acme");
    let (_, _, rotator) = admin_client(&w, Some("acme"), &["clients:rotate"]);
    let (svc, _) = w.create(json!({"project_id": "acme", "name": "svc", "grants": api_grants()}));
    let path = format!("/admin/clients/{svc}");
    assert_eq!(w.with_token(&rotator, Method::Post, &format!("{path}/secrets/rotate"), None).status, 200);
    let mut promoted = api_grants();
    promoted.as_array_mut().unwrap().push(json!({"audience": ADMIN_AUDIENCE, "scopes": ["audit:read"]}));
    let r = w.admin(Method::Patch, &path, Some(json!({"grants": promoted.clone()})));
    assert_eq!((r.status, error_of(&r).as_str()), (409, "conflict"));
    assert_eq!(w.admin(Method::Post, &format!("{path}/secrets/rotate/cancel"), None).status, 200);
    assert_eq!(w.admin(Method::Patch, &path, Some(json!({"grants": promoted}))).status, 200);
}

/// The review's fourth finding: `iat` and `project_id` alone left windows —
/// a client deleted and created again in the same second, and an isolate
/// whose cache still held the old record issuing the old secret a fresh
/// token. The token's `client_incarnation` closes both: it is the record's,
/// drawn when the client was created.
#[test]
fn a_token_of_an_earlier_incarnation_fails_even_in_the_same_second_or_from_a_stale_cache() {
    let w = World::with(&[("CLIENT_CACHE_TTL", "300")], Some(A3));
    project(&w, "acme");
    let create = || {
        let body = json!({"client_id": "ci-x", "project_id": "acme", "name": "ci", "grants": admin_grants(&HELD)});
        w.create(body)
    };
    let (id, secret) = create();
    let old = token_of(&w, &id, &secret);
    let (_, claims) = w.verify(&old);
    assert!(claims["client_incarnation"].as_str().unwrap().starts_with("inc_"));
    let cached = w.another_isolate();
    assert_eq!(cached.token_basic(&id, &secret, "grant_type=client_credentials").status, 200, "it caches the record");
    assert_eq!(w.admin(Method::Delete, "/admin/clients/ci-x", None).status, 204);
    create(); // the same second, the same project
    let r = w.with_token(&old, Method::Get, "/admin/clients", None);
    assert_eq!((r.status, error_of(&r).as_str()), (401, "invalid_token"), "the same second");
    w.clock.advance(30);
    cached.clock.advance(30);
    // Within CLIENT_CACHE_TTL that isolate still knows the old record, and
    // its secret: the token it issues is the old incarnation's.
    let r = cached.token_basic(&id, &secret, &format!("grant_type=client_credentials&resource={ADMIN_AUDIENCE}"));
    assert_eq!(r.status, 200, "the documented cache bound");
    let stale = r.body_json()["access_token"].as_str().unwrap().to_string();
    let r = w.with_token(&stale, Method::Get, "/admin/clients/ci-x", None);
    assert_eq!(r.status, 401, "a token from a stale cache of the old record");
}

/// A conditional write lands only on the incarnation it read: an edit that
/// read the client before it was deleted and created again (in another
/// project) never overwrites the new one — in memory as on D1 and KV.
#[test]
fn a_write_read_from_an_earlier_incarnation_never_lands_on_the_new_one() {
    use m2m_edge_core::client::{ClientId, ClientStore};
    use m2m_edge_core::ports::Write;
    let w = World::new();
    project(&w, "acme");
    project(&w, "globex");
    let body = |p: &str| json!({"client_id": "ci-x", "project_id": p, "name": p, "grants": admin_grants(&HELD)});
    w.create(body("acme"));
    let id = ClientId::parse("ci-x").unwrap();
    let mut read = pollster::block_on(w.store.get(&id)).unwrap().unwrap();
    assert_eq!(w.admin(Method::Delete, "/admin/clients/ci-x", None).status, 204);
    w.create(body("globex"));
    read.name = "renamed".into();
    assert_eq!(pollster::block_on(w.store.update(&read)).unwrap(), Write::Stale);
    assert_eq!(pollster::block_on(w.store.delete(&id, Some(&read))).unwrap(), Write::Stale);
    assert_eq!(w.admin(Method::Get, "/admin/clients/ci-x", None).body_json()["project_id"], "globex");
}

/// A project's admin learns nothing of other projects from creating a
/// client there: an existing and a missing project get the same 403.
#[test]
fn creating_in_another_project_says_nothing_of_whether_it_exists() {
    let w = World::new();
    project(&w, "acme");
    project(&w, "globex");
    let (_, _, token) = admin_client(&w, Some("acme"), &HELD);
    for other in ["globex", "no-such-project"] {
        let body = json!({"project_id": other, "name": "x", "grants": api_grants()});
        let r = w.with_token(&token, Method::Post, "/admin/clients", Some(body));
        forbidden(&r, other);
        assert_eq!(r.body_json()["error_description"], "a project's admin changes clients of its own project only");
    }
}

/// The second review: an admin token trusts an issuer's keys only at the
/// issuer's own origin; a `jwks_uri` elsewhere would decide whose
/// signatures stand for every client that later trusts the issuer (the
/// root key attaching a credential to a planted issuer), and is the root
/// key's decision.
#[test]
fn an_admin_token_trusts_an_issuers_keys_only_at_the_issuers_own_origin() {
    let w = World::new();
    let (_, _, federation) = admin_client(&w, None, &["federation:write", "federation:read"]);
    let elsewhere = json!({"issuer": GITHUB, "name": "GitHub", "audiences": ["https://auth.test"], "jwks_uri": "https://attacker.test/jwks"});
    forbidden(&w.with_token(&federation, Method::Post, "/admin/federation/issuers", Some(elsewhere.clone())), "create");
    let own = json!({"issuer": GITHUB, "name": "GitHub", "audiences": ["https://auth.test"], "jwks_uri": format!("{GITHUB}/.well-known/jwks")});
    let r = w.with_token(&federation, Method::Post, "/admin/federation/issuers", Some(own));
    assert_eq!(r.status, 201, "its own origin: {}", String::from_utf8_lossy(&r.body));
    let path = format!("/admin/federation/issuers/{}", r.body_json()["id"].as_str().unwrap());
    let repoint = json!({"jwks_uri": "https://attacker.test/jwks"});
    forbidden(&w.with_token(&federation, Method::Patch, &path, Some(repoint.clone())), "PATCH, nobody trusting it yet");
    assert_eq!(
        w.with_token(&federation, Method::Patch, &path, Some(json!({"jwks_uri": null}))).status,
        200,
        "discovery"
    );
    assert_eq!(w.admin(Method::Patch, &path, Some(repoint)).status, 200, "the root key decides");
}

/// The third review: "its own origin" is not the issuer's on a shared
/// host (a Kubernetes cluster's OIDC documents in a storage bucket): anyone
/// can publish beside it. An admin token trusts keys only under the
/// issuer's URL, and never through a `.`/`..` segment that climbs out.
#[test]
fn an_admin_token_trusts_keys_only_under_the_issuers_own_url_not_beside_it() {
    let w = World::new();
    let (_, _, federation) = admin_client(&w, None, &["federation:write", "federation:read"]);
    let bucket = "https://storage.googleapis.com/victim-cluster-oidc";
    let issuer = |jwks_uri: &str| json!({"issuer": bucket, "name": "Cluster", "audiences": ["https://auth.test"], "jwks_uri": jwks_uri});
    for beside in [
        "https://storage.googleapis.com/attacker-bucket/jwks.json",
        "https://storage.googleapis.com/victim-cluster-oidc-evil/jwks.json",
        "https://storage.googleapis.com/victim-cluster-oidc/../attacker-bucket/jwks.json",
        "https://storage.googleapis.com/victim-cluster-oidc/%2E%2E/attacker-bucket/jwks.json",
    ] {
        forbidden(&w.with_token(&federation, Method::Post, "/admin/federation/issuers", Some(issuer(beside))), beside);
    }
    let under = issuer(&format!("{bucket}/openid/v1/jwks"));
    assert_eq!(w.with_token(&federation, Method::Post, "/admin/federation/issuers", Some(under)).status, 201);
}

/// The second review: while a secret rotation is pending, widening the
/// client's API grants is refused as granting admin scopes is.
#[test]
fn api_grants_are_not_widened_while_a_secret_rotation_is_pending() {
    let w = World::new();
    project(&w, "acme");
    let (_, _, rotator) = admin_client(&w, Some("acme"), &["clients:rotate"]);
    let (billing, _) = w.create(json!({"project_id": "acme", "name": "billing", "grants": api_grants()}));
    let path = format!("/admin/clients/{billing}");
    assert_eq!(w.with_token(&rotator, Method::Post, &format!("{path}/secrets/rotate"), None).status, 200);
    let wider = json!({"grants": [{"audience": "https://api.test", "scopes": ["read"]}, {"audience": "https://payments.test", "scopes": ["refund"]}]});
    let r = w.admin(Method::Patch, &path, Some(wider.clone()));
    assert_eq!((r.status, error_of(&r).as_str()), (409, "conflict"));
    assert_eq!(
        w.admin(Method::Patch, &path, Some(json!({"name": "billing-2"}))).status,
        200,
        "other changes go through"
    );
    assert_eq!(w.admin(Method::Post, &format!("{path}/secrets/rotate/complete"), None).status, 200);
    assert_eq!(w.admin(Method::Patch, &path, Some(wider)).status, 200);
}

/// Claims other issuers' verifiers read as grants (`scp`, `scopes`,
/// `permissions`) are reserved: no custom claim carries them.
#[test]
fn custom_claims_cannot_carry_what_verifiers_read_as_grants() {
    let w = World::new();
    for name in ["scp", "scopes", "permissions"] {
        let body = json!({"name": "x", "grants": api_grants(), "custom_claims": {name: "admin"}});
        let r = w.admin(Method::Post, "/admin/clients", Some(body));
        assert_eq!(r.status, 400, "{name}");
    }
}
