//! Host ring, paired with tests/e2e/revocation.test.mjs: RFC 7009
//! revocation by the client itself, RFC 7662 introspection by a resource
//! server granted it, and the admin API's revocations (one token, a
//! client's, a project's; deactivation and deletion), each seen by the next
//! request; and a day of revocations leaves no more behind than the tokens
//! still in flight.

use m2m_edge_core::http::{Method, Response};
use m2m_edge_core::revocation::KEPT_PAST_EXPIRY;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const ADMIN_AUDIENCE: &str = "https://auth.test/admin";
const REVOKE: &str = "/oauth2/revoke";
const INTROSPECT: &str = "/oauth2/introspect";

fn body(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn token_of(w: &World, id: &str, secret: &str, resource: &str) -> String {
    let r = w.token_basic(id, secret, &format!("grant_type=client_credentials&resource={resource}"));
    assert_eq!(r.status, 200, "{}", body(&r));
    r.body_json()["access_token"].as_str().unwrap().to_string()
}

/// A client of `https://api.test`, in `project` if given; id, secret.
fn api_client(w: &World, project: Option<&str>) -> (String, String) {
    let mut client = json!({"name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read"]}]});
    if let Some(p) = project {
        client["project_id"] = json!(p);
    }
    w.create(client)
}

/// A resource server that may introspect (in `project`, if given).
fn introspector(w: &World, project: Option<&str>) -> (String, String) {
    let mut client = json!({"name": "api", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["tokens:introspect"]}]});
    if let Some(p) = project {
        client["project_id"] = json!(p);
    }
    w.create(client)
}

fn project(w: &World, id: &str) {
    let allowed = json!([
        {"audience": "https://api.test", "scopes": ["read"]},
    ]);
    let r = w.admin(Method::Post, "/admin/projects", Some(json!({"id": id, "name": id, "allowed_grants": allowed})));
    assert_eq!(r.status, 201, "{}", body(&r));
}

fn revoke(w: &World, id: &str, secret: &str, form: &str) -> Response {
    w.call(Req::post(REVOKE).basic(id, secret).form(form))
}

fn introspect(w: &World, by: &(String, String), token: &str) -> Value {
    let r = w.call(Req::post(INTROSPECT).basic(&by.0, &by.1).form(&format!("token={token}")));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.body_json()
}

fn active(w: &World, by: &(String, String), token: &str) -> bool {
    introspect(w, by, token)["active"].as_bool().unwrap()
}

#[test]
fn discovery_names_both_endpoints_and_how_to_authenticate_at_them() {
    let w = World::new();
    let d = w.call(Req::get("/.well-known/openid-configuration")).body_json();
    assert_eq!(d["revocation_endpoint"], "https://auth.test/oauth2/revoke");
    assert_eq!(d["introspection_endpoint"], "https://auth.test/oauth2/introspect");
    for name in ["revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"] {
        assert_eq!(d[name], d["token_endpoint_auth_methods_supported"], "{name}");
    }
}

#[test]
fn a_client_revokes_its_own_token_and_introspection_says_so_at_once() {
    let w = World::new();
    let (id, secret) = api_client(&w, None);
    let rs = introspector(&w, None);
    let token = token_of(&w, &id, &secret, "https://api.test");
    let live = introspect(&w, &rs, &token);
    assert_eq!(live["active"], true);
    assert_eq!(live["client_id"], id.as_str());
    assert_eq!(live["sub"], id.as_str());
    assert_eq!(live["aud"], "https://api.test");
    assert_eq!(live["scope"], "read");
    assert_eq!(live["iss"], ORIGIN);
    assert_eq!(live["token_type"], "Bearer");
    for member in ["exp", "iat", "nbf", "jti"] {
        assert!(live.get(member).is_some(), "RFC 7662 §2.2 {member}");
    }

    // The hint is only a hint (RFC 7009 §2.1): refresh_token still finds it.
    let r = revoke(&w, &id, &secret, &format!("token={token}&token_type_hint=refresh_token"));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(r.body.is_empty());
    assert_eq!(introspect(&w, &rs, &token), json!({"active": false}), "nothing but active for a revoked token");
    // Another isolate sees it on its next request too.
    assert!(!active(&w.another_isolate(), &rs, &token));
    // Revoking again, or what is not a token, is 200 and changes nothing (§2.2).
    assert_eq!(revoke(&w, &id, &secret, &format!("token={token}")).status, 200);
    assert_eq!(revoke(&w, &id, &secret, "token=not-a-token").status, 200);
    // A new token of the same client is unaffected.
    assert!(active(&w, &rs, &token_of(&w, &id, &secret, "https://api.test")));
}

#[test]
fn a_revoked_admin_token_no_longer_opens_the_admin_api() {
    let w = World::new();
    let (id, secret) =
        w.create(json!({"name": "admin", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["clients:read"]}]}));
    let token = token_of(&w, &id, &secret, ADMIN_AUDIENCE);
    assert_eq!(w.with_token(&token, Method::Get, "/admin/clients", None).status, 200);
    assert_eq!(revoke(&w, &id, &secret, &format!("token={token}")).status, 200);
    let refused = w.with_token(&token, Method::Get, "/admin/clients", None);
    assert_eq!(refused.status, 401);
    assert_eq!(error_of(&refused), "invalid_token");
}

#[test]
fn revocation_is_refused_without_the_client_or_for_another_clients_token() {
    let w = World::new();
    let (id, secret) = api_client(&w, None);
    let (other, other_secret) = api_client(&w, None);
    let rs = introspector(&w, None);
    let token = token_of(&w, &id, &secret, "https://api.test");

    let r = revoke(&w, &id, "wrong", &format!("token={token}"));
    assert_eq!((r.status, error_of(&r)), (401, "invalid_client".to_string()));
    let r = w.call(Req::post(REVOKE).form(&format!("token={token}")));
    assert_eq!(r.status, 401, "RFC 7009 §2.1: the client authenticates");
    // RFC 7009 §2.1: a token issued to another client is refused.
    let r = revoke(&w, &other, &other_secret, &format!("token={token}"));
    assert_eq!((r.status, error_of(&r)), (400, "invalid_grant".to_string()), "{}", body(&r));
    let r = revoke(&w, &id, &secret, "token_type_hint=access_token");
    assert_eq!((r.status, error_of(&r)), (400, "invalid_request".to_string()));
    let r = w.call(Req::new(Method::Get, REVOKE).basic(&id, &secret).build());
    assert_eq!(r.status, 405);
    assert!(active(&w, &rs, &token), "nothing above revoked it");
}

#[test]
fn a_private_key_jwt_client_revokes_with_an_assertion_for_the_revocation_endpoint() {
    let w = World::new();
    let key = ClientKeyPair::generate();
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({
            "name": "signed",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.public_jwk(Some("k1"))]},
            "grants": [{"audience": "https://api.test", "scopes": ["read"]}],
        })),
    );
    let id = r.body_json()["client_id"].as_str().unwrap().to_string();
    let assertion = |aud: &str, jti: &str| {
        let claims = json!({"iss": id, "sub": id, "aud": aud, "iat": NOW, "exp": NOW + 60, "jti": jti});
        key.sign(&json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}), &claims)
    };
    let form = |assertion: String, rest: &str| {
        format!("client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion={assertion}{rest}")
    };
    let got = w.token_form(&form(assertion(ORIGIN, "a1"), "&grant_type=client_credentials"));
    assert_eq!(got.status, 200, "{}", body(&got));
    let token = got.body_json()["access_token"].as_str().unwrap().to_string();
    // Authlib puts the URL it calls in `aud`.
    let at_revoke = assertion("https://auth.test/oauth2/revoke", "a2");
    let r = w.call(Req::post(REVOKE).form(&form(at_revoke, &format!("&token={token}"))));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(!active(&w, &introspector(&w, None), &token));
    // Not the introspection endpoint's URL at the revocation endpoint.
    let elsewhere = assertion("https://auth.test/oauth2/introspect", "a3");
    let r = w.call(Req::post(REVOKE).form(&form(elsewhere, &format!("&token={token}"))));
    assert_eq!(r.status, 401);
}

#[test]
fn introspection_needs_its_grant_and_sees_only_its_projects_tokens() {
    let w = World::new();
    project(&w, "blue");
    project(&w, "green");
    let (id, secret) = api_client(&w, None);
    let (blue, blue_secret) = api_client(&w, Some("blue"));
    let (green, green_secret) = api_client(&w, Some("green"));
    let plain = token_of(&w, &id, &secret, "https://api.test");
    let blue_token = token_of(&w, &blue, &blue_secret, "https://api.test");
    let green_token = token_of(&w, &green, &green_secret, "https://api.test");

    // A client without tokens:introspect is refused, whatever else it holds.
    let r = w.call(Req::post(INTROSPECT).basic(&id, &secret).form(&format!("token={plain}")));
    assert_eq!((r.status, error_of(&r)), (400, "unauthorized_client".to_string()), "{}", body(&r));
    let r = w.call(Req::post(INTROSPECT).basic(&id, "wrong").form(&format!("token={plain}")));
    assert_eq!(r.status, 401);

    let deployment = introspector(&w, None);
    assert!(active(&w, &deployment, &plain) && active(&w, &deployment, &blue_token));
    let blue_rs = introspector(&w, Some("blue"));
    assert!(active(&w, &blue_rs, &blue_token));
    // RFC 7662 §4: another project's token is not told apart from garbage.
    assert_eq!(introspect(&w, &blue_rs, &green_token), json!({"active": false}));
    assert_eq!(introspect(&w, &blue_rs, &plain), json!({"active": false}));
    assert_eq!(introspect(&w, &blue_rs, "garbage"), json!({"active": false}));
    // Expired is inactive.
    w.clock.advance(3_600 + 31);
    assert_eq!(introspect(&w, &deployment, &plain), json!({"active": false}));
}

#[test]
fn the_admin_api_revokes_a_token_a_jti_a_client_and_a_project() {
    let w = World::new();
    project(&w, "blue");
    let rs = introspector(&w, None);
    let (id, secret) = api_client(&w, None);
    let (blue, blue_secret) = api_client(&w, Some("blue"));

    let by_token = token_of(&w, &id, &secret, "https://api.test");
    let kept = token_of(&w, &id, &secret, "https://api.test");
    let r = w.admin(Method::Post, "/admin/tokens/revoke", Some(json!({"token": by_token})));
    assert_eq!(r.status, 200, "{}", body(&r));
    // Read from the primary by the next request: no cache lag to announce.
    assert_eq!(r.header("x-m2m-propagation"), None);
    assert!(r.body_json().get("propagation").is_none());
    assert!(!active(&w, &rs, &by_token) && active(&w, &rs, &kept));

    let jti = introspect(&w, &rs, &kept)["jti"].as_str().unwrap().to_string();
    let r = w.admin(Method::Post, "/admin/tokens/revoke", Some(json!({"jti": jti})));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(r.body_json()["jti"], jti.as_str());
    assert!(!active(&w, &rs, &kept));

    // Everything the client was issued until now; a token issued later is good.
    let first = token_of(&w, &id, &secret, "https://api.test");
    let r = w.admin(Method::Post, &format!("/admin/clients/{id}/tokens/revoke"), None);
    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(!active(&w, &rs, &first));
    w.clock.advance(1);
    assert!(active(&w, &rs, &token_of(&w, &id, &secret, "https://api.test")));

    let blue_token = token_of(&w, &blue, &blue_secret, "https://api.test");
    let r = w.admin(Method::Post, "/admin/projects/blue/tokens/revoke", None);
    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(!active(&w, &rs, &blue_token));

    for (path, body) in [
        ("/admin/tokens/revoke", Some(json!({}))),
        ("/admin/tokens/revoke", Some(json!({"jti": ""}))),
        ("/admin/tokens/revoke", Some(json!({"jti": "a", "token": "b"}))),
        ("/admin/tokens/revoke", Some(json!({"token": "not-a-token"}))),
        ("/admin/tokens/revoke", Some(json!({"jti": "a", "reason": "leaked"}))),
        ("/admin/tokens/revoke", Some(json!(["jti"]))),
    ] {
        let r = w.admin(Method::Post, path, body.clone());
        assert_eq!(r.status, 400, "{body:?}: {}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(w.admin(Method::Post, "/admin/clients/nobody/tokens/revoke", None).status, 404);
    assert_eq!(w.admin(Method::Post, "/admin/projects/nowhere/tokens/revoke", None).status, 404);

    let actions: Vec<String> = w.admin(Method::Get, "/admin/audit", None).body_json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for action in ["token.revoke", "client.tokens.revoke", "project.tokens.revoke"] {
        assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
    }
}

#[test]
fn deactivating_or_deleting_a_client_ends_its_tokens_in_flight() {
    let w = World::new();
    let rs = introspector(&w, None);
    let (id, secret) = api_client(&w, None);
    let token = token_of(&w, &id, &secret, "https://api.test");
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert_eq!(r.status, 200, "{}", body(&r));
    assert!(!active(&w, &rs, &token));
    // Active again, it gets tokens that work once the deactivation has
    // reached every isolate (CLIENT_CACHE_TTL and the replicas' 10 s, 15 s
    // here); the old one stays revoked.
    w.clock.advance(16);
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "active"})));
    assert_eq!(r.status, 200);
    let fresh = token_of(&w, &id, &secret, "https://api.test");
    assert!(active(&w, &rs, &fresh) && !active(&w, &rs, &token));

    assert_eq!(w.admin(Method::Delete, &format!("/admin/clients/{id}"), None).status, 204);
    assert!(!active(&w, &rs, &fresh));
}

#[test]
fn a_projects_admin_revokes_only_inside_its_project() {
    let w = World::new();
    project(&w, "blue");
    project(&w, "green");
    let rs = introspector(&w, None);
    let (blue_admin, blue_admin_secret) = w.create(json!({
        "name": "blue-admin", "project_id": "blue",
        "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["tokens:revoke"]}],
    }));
    let admin_token = token_of(&w, &blue_admin, &blue_admin_secret, ADMIN_AUDIENCE);
    let (green, green_secret) = api_client(&w, Some("green"));
    let (blue, blue_secret) = api_client(&w, Some("blue"));
    let green_token = token_of(&w, &green, &green_secret, "https://api.test");
    let blue_token = token_of(&w, &blue, &blue_secret, "https://api.test");

    let call = |path: &str, body: Option<Value>| w.with_token(&admin_token, Method::Post, path, body);
    assert_eq!(call("/admin/tokens/revoke", Some(json!({"token": green_token}))).status, 404);
    assert_eq!(call(&format!("/admin/clients/{green}/tokens/revoke"), None).status, 404);
    assert_eq!(call("/admin/projects/green/tokens/revoke", None).status, 404);
    // Its jti revocation reaches its own project's tokens only.
    let green_jti = introspect(&w, &rs, &green_token)["jti"].as_str().unwrap().to_string();
    assert_eq!(call("/admin/tokens/revoke", Some(json!({"jti": green_jti}))).status, 200);
    assert!(active(&w, &rs, &green_token), "a blue admin's jti never reaches a green token");
    let blue_jti = introspect(&w, &rs, &blue_token)["jti"].as_str().unwrap().to_string();
    assert_eq!(call("/admin/tokens/revoke", Some(json!({"jti": blue_jti}))).status, 200);
    assert!(!active(&w, &rs, &blue_token));
    // tokens:revoke alone reaches nothing else.
    assert_eq!(w.with_token(&admin_token, Method::Get, "/admin/clients", None).status, 403);
    // And clients:write alone does not revoke.
    let (writer, writer_secret) = w.create(json!({
        "name": "writer", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["clients:write", "clients:read"]}],
    }));
    let writer_token = token_of(&w, &writer, &writer_secret, ADMIN_AUDIENCE);
    let r = w.with_token(&writer_token, Method::Post, &format!("/admin/clients/{blue}/tokens/revoke"), None);
    assert_eq!((r.status, error_of(&r)), (403, "insufficient_scope".to_string()));
}

/// A day of traffic: every minute a token is issued and revoked, and every
/// ten minutes a client's tokens are all revoked, with the Cron Trigger
/// pruning each hour. What is kept never exceeds what can still be taken.
#[test]
fn a_day_of_revocations_keeps_no_more_than_the_tokens_in_flight() {
    let w = World::with(&[("DEFAULT_TOKEN_TTL", "900")], Some(A3));
    let (id, secret) = api_client(&w, None);
    let mut most = 0;
    for minute in 0..(24 * 60) {
        let token = token_of(&w, &id, &secret, "https://api.test");
        assert_eq!(revoke(&w, &id, &secret, &format!("token={token}")).status, 200);
        if minute % 10 == 0 {
            assert_eq!(w.admin(Method::Post, &format!("/admin/clients/{id}/tokens/revoke"), None).status, 200);
        }
        if minute % 60 == 0 {
            w.run_cron();
        }
        most = most.max(w.store.revocation_entries());
        w.clock.advance(60);
    }
    // A revoked token is kept for its 15 minutes plus KEPT_PAST_EXPIRY, and
    // pruned within the hour after: (15 + 5 + 60) entries; the client's one
    // not-before time is one more.
    let lifetime_minutes = (900 + KEPT_PAST_EXPIRY) / 60;
    assert!(most as i64 <= lifetime_minutes + 60 + 1, "{most} entries kept at most");
}

/// What verifiers hold: every revocation that can still refuse a token,
/// named by discovery, read fresh on every request.
#[test]
fn the_revocation_list_publishes_what_can_still_refuse_a_token() {
    let w = World::new();
    project(&w, "blue");
    let (id, secret) = api_client(&w, None);
    let token = token_of(&w, &id, &secret, "https://api.test");
    let rs = introspector(&w, None);
    let jti = introspect(&w, &rs, &token)["jti"].as_str().unwrap().to_string();
    let discovery = w.call(Req::get("/.well-known/oauth-authorization-server")).body_json();
    assert_eq!(discovery["revocation_list_uri"], "https://auth.test/oauth2/revocations");

    let empty = w.call(Req::get("/oauth2/revocations").build());
    assert_eq!(empty.status, 200);
    assert_eq!(empty.header("cache-control"), Some("no-cache"));
    assert_eq!(
        empty.body_json(),
        json!({"issuer": ORIGIN, "generated_at": NOW, "tokens": [], "clients": {}, "projects": {}})
    );

    assert_eq!(revoke(&w, &id, &secret, &format!("token={token}")).status, 200);
    assert_eq!(w.admin(Method::Post, &format!("/admin/clients/{id}/tokens/revoke"), None).status, 200);
    assert_eq!(w.admin(Method::Post, "/admin/projects/blue/tokens/revoke", None).status, 200);
    let list = w.another_isolate().call(Req::get("/oauth2/revocations").build()).body_json();
    assert_eq!(list["tokens"], json!([{"jti": jti}]));
    assert_eq!(list["clients"], json!({id.as_str(): NOW + 1}));
    assert_eq!(list["projects"], json!({"blue": NOW + 1}));
    // Past the token's exp and the leeway kept, the token's entry is gone;
    // the not-before times stay a day.
    w.clock.advance(3_600 + KEPT_PAST_EXPIRY + 1);
    let later = w.call(Req::get("/oauth2/revocations").build()).body_json();
    assert_eq!(later["tokens"], json!([]));
    assert_eq!(later["clients"], json!({id.as_str(): NOW + 1}));
    assert_eq!(w.call(Req::post("/oauth2/revocations").form("")).status, 405);

    // Asked of one token (a verifier's strict mode): only what concerns it.
    let one = |query: &str| w.call(Req::get(&format!("/oauth2/revocations?{query}")).build());
    let answer = one(&format!("jti={jti}&client_id={id}")).body_json();
    assert_eq!(answer["tokens"], json!([{"jti": jti}]), "{answer}");
    assert_eq!(answer["clients"], json!({id.as_str(): NOW + 1}));
    let (other, _) = api_client(&w, None);
    let clean = one(&format!("jti=never-revoked&client_id={other}")).body_json();
    assert_eq!((clean["tokens"].clone(), clean["clients"].clone()), (json!([]), json!({})));
    let blue = one(&format!("jti=x&client_id={other}&project_id=blue")).body_json();
    assert_eq!(blue["clients"], json!({other.as_str(): NOW + 1}), "its project's time, as its client's");
    let r = one("jti=only");
    assert_eq!((r.status, error_of(&r)), (400, "invalid_request".to_string()));
}

/// An isolate that has not yet seen a deactivation (its cache holds the
/// client for CLIENT_CACHE_TTL) still issues tokens; those are revoked too.
#[test]
fn tokens_an_isolate_issues_before_it_sees_a_deactivation_are_revoked_too() {
    let w = World::new();
    let rs = introspector(&w, None);
    let (id, secret) = api_client(&w, None);
    let stale = w.another_isolate();
    token_of(&stale, &id, &secret, "https://api.test"); // now cached there
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert_eq!(r.status, 200);
    stale.clock.advance(3);
    w.clock.advance(3);
    let late = token_of(&stale, &id, &secret, "https://api.test");
    assert!(!active(&w, &rs, &late), "issued after the deactivation, by an isolate that had not seen it");
    let list = w.call(Req::get("/oauth2/revocations").build()).body_json();
    assert!(list["clients"][id.as_str()].as_i64().unwrap() > NOW + 3, "verifiers refuse it too: {list}");
}

/// Revoking all of a client's tokens is acting on the client: a caller
/// holding less than the client does is refused, a project's admin does
/// not revoke its whole project, and a deployment's admin revokes a
/// project only holding all that each of its clients holds.
#[test]
fn revoking_a_clients_tokens_needs_all_it_holds_and_a_project_needs_a_deployment_admin() {
    let w = World::new();
    project(&w, "blue");
    let (revoker, revoker_secret) = w.create(json!({
        "name": "revoker", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["tokens:revoke"]}],
    }));
    let revoker_token = token_of(&w, &revoker, &revoker_secret, ADMIN_AUDIENCE);
    let (higher, higher_secret) = w.create(json!({
        "name": "higher", "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["tokens:revoke", "clients:write"]}],
    }));
    let r = w.with_token(&revoker_token, Method::Post, &format!("/admin/clients/{higher}/tokens/revoke"), None);
    assert_eq!(r.status, 403, "{}", body(&r));
    let (plain, _) = api_client(&w, None);
    let r = w.with_token(&revoker_token, Method::Post, &format!("/admin/clients/{plain}/tokens/revoke"), None);
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(w.with_token(&revoker_token, Method::Post, "/admin/projects/blue/tokens/revoke", None).status, 200);

    let (blue_admin, blue_secret) = w.create(json!({
        "name": "blue-admin", "project_id": "blue",
        "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["tokens:revoke"]}],
    }));
    w.clock.advance(1); // past the project's not-before time just set
    let blue_token = token_of(&w, &blue_admin, &blue_secret, ADMIN_AUDIENCE);
    let r = w.with_token(&blue_token, Method::Post, "/admin/projects/blue/tokens/revoke", None);
    assert_eq!(r.status, 403, "{}", body(&r));

    // A whole project is each of its clients: once it holds an admin above
    // the deployment's revoker, the revoker may not end that admin's
    // tokens with the project's, as it may not one by one.
    let (owner, _) = w.create(json!({
        "name": "blue-owner", "project_id": "blue",
        "grants": [{"audience": ADMIN_AUDIENCE, "scopes": ["tokens:revoke", "clients:write"]}],
    }));
    let r = w.with_token(&revoker_token, Method::Post, &format!("/admin/clients/{owner}/tokens/revoke"), None);
    assert_eq!(r.status, 403, "{}", body(&r));
    let r = w.with_token(&revoker_token, Method::Post, "/admin/projects/blue/tokens/revoke", None);
    assert_eq!(r.status, 403, "{}", body(&r));
    assert!(body(&r).contains("clients:write"), "the refusal says why: {}", body(&r));
    assert!(!body(&r).contains(owner.as_str()), "not which client: the revoker may not list them: {}", body(&r));
    let higher_token = token_of(&w, &higher, &higher_secret, ADMIN_AUDIENCE);
    assert_eq!(w.with_token(&higher_token, Method::Post, "/admin/projects/blue/tokens/revoke", None).status, 200);
}

/// The service binding's `verify`: claims for a live token, the RFC 6750
/// answer for any other, and a revocation refused on the very next call.
#[test]
fn the_rpc_verifier_answers_claims_or_the_rfc6750_refusal_and_sees_revocations_at_once() {
    let w = World::new();
    let (id, secret) =
        w.create(json!({"name": "svc", "grants": [{"audience": "https://api.test", "scopes": ["read", "write"]}]}));
    let token = token_of(&w, &id, &secret, "https://api.test");
    let options = json!({"audience": "https://api.test", "scopes": ["read"], "realm": "orders"});
    let ok = w.verify_rpc(&format!("Bearer {token}"), options.clone());
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["claims"]["client_id"], id.as_str());
    assert_eq!(ok["claims"]["aud"], "https://api.test");
    assert_eq!(w.verify_rpc(&token, options.clone())["valid"], true, "a bare token too");

    let missing = w.verify_rpc("", options.clone());
    assert_eq!((missing["valid"].clone(), missing["status"].clone()), (json!(false), json!(401)));
    assert_eq!(missing["headers"]["www-authenticate"], "Bearer realm=\"orders\"");
    let scope = w.verify_rpc(&token, json!({"audience": "https://api.test", "scopes": ["admin"]}));
    assert_eq!((scope["status"].clone(), scope["error"].clone()), (json!(403), json!("insufficient_scope")));
    assert!(scope["headers"]["www-authenticate"].as_str().unwrap().contains("scope=\"admin\""));
    let elsewhere = w.verify_rpc(&token, json!({"audience": "https://other.test"}));
    assert_eq!((elsewhere["status"].clone(), elsewhere["error"].clone()), (json!(401), json!("invalid_token")));
    let old = w.verify_rpc(&token, json!({"audience": "https://api.test", "maxTokenAge": 60}));
    assert_eq!(old["valid"], true);
    w.clock.advance(60 + 31); // past the age and the 30 s leeway
    let old = w.verify_rpc(&token, json!({"audience": "https://api.test", "maxTokenAge": 60}));
    assert_eq!(old["status"], 401, "{old}");
    assert!(w.verify_rpc(&token, json!({"scopes": ["read"]}))["invalid_options"].is_string());
    // Only a Worker bound to this one calls it: over HTTP there is no such route.
    let call = json!({"authorization": token, "options": options});
    assert_eq!(w.call(Req::post("/verify").json(&call)).status, 404);

    assert_eq!(revoke(&w, &id, &secret, &format!("token={token}")).status, 200);
    let revoked = w.verify_rpc(&token, options.clone());
    assert_eq!(
        (revoked["status"].clone(), revoked["error"].clone()),
        (json!(401), json!("invalid_token")),
        "{revoked}"
    );
    assert!(revoked["error_description"].as_str().unwrap().contains("revoked"));
    let other = token_of(&w, &id, &secret, "https://api.test");
    assert_eq!(w.verify_rpc(&other, options.clone())["valid"], true);
    let r = w.admin(Method::Patch, &format!("/admin/clients/{id}"), Some(json!({"status": "inactive"})));
    assert_eq!(r.status, 200);
    assert_eq!(w.verify_rpc(&other, options)["status"], 401, "deactivated: refused at once");
}

/// The RPC's options are taken as given or refused, never half-read: a
/// single-tenant API's `projectId` refuses another project's token; a
/// `maxTokenAge` that is not a whole number of seconds (NaN and Infinity
/// arrive as `null`) is an error, not "no limit"; an Authorization value
/// past the size of any token is the RFC 6750 refusal, not a malformed call.
#[test]
fn the_rpc_verifier_takes_its_options_exactly_and_refuses_an_oversized_header() {
    let w = World::new();
    project(&w, "blue");
    project(&w, "green");
    let (blue, blue_secret) = api_client(&w, Some("blue"));
    let (green, green_secret) = api_client(&w, Some("green"));
    let blue_token = token_of(&w, &blue, &blue_secret, "https://api.test");
    let green_token = token_of(&w, &green, &green_secret, "https://api.test");
    let for_blue = json!({"audience": "https://api.test", "projectId": "blue"});
    assert_eq!(w.verify_rpc(&blue_token, for_blue.clone())["valid"], true);
    let other = w.verify_rpc(&green_token, for_blue);
    assert_eq!((other["status"].clone(), other["error"].clone()), (json!(401), json!("invalid_token")), "{other}");
    assert_eq!(w.verify_rpc(&green_token, json!({"audience": "https://api.test"}))["valid"], true, "no project asked");

    for bad in [
        json!({"audience": "https://api.test", "maxTokenAge": null}),
        json!({"audience": "https://api.test", "maxTokenAge": 1.5}),
        json!({"audience": "https://api.test", "maxTokenAge": "60"}),
        json!({"audience": "https://api.test", "projectId": ""}),
        json!({"audience": "https://api.test", "projectId": 7}),
        json!({"audience": "https://api.test", "realm": ["orders"]}),
        json!({"audience": "https://api.test", "scopes": "read"}),
        json!({"audience": "https://api.test", "resourceMetadata": true}),
        json!({"audience": ""}),
        Value::Null,
    ] {
        assert!(w.verify_rpc(&blue_token, bad.clone())["invalid_options"].is_string(), "{bad}");
    }

    let huge = format!("Bearer {}", "\\".repeat(9_000));
    let refused = w.verify_rpc(&huge, json!({"audience": "https://api.test", "realm": "orders"}));
    assert_eq!((refused["valid"].clone(), refused["status"].clone()), (json!(false), json!(401)), "{refused}");
    assert_eq!(refused["error"], "invalid_token");

    // RFC 9728 §5.1: the challenge points at the API's metadata when asked.
    let metadata = "https://api.test/.well-known/oauth-protected-resource";
    let refused =
        w.verify_rpc("", json!({"audience": "https://api.test", "realm": "orders", "resourceMetadata": metadata}));
    assert_eq!(
        refused["headers"]["www-authenticate"],
        format!(r#"Bearer realm="orders", resource_metadata="{metadata}""#)
    );
}
