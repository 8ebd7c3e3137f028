//! Host ring, paired with tests/e2e/federation.test.mjs: workload identity
//! federation — trusted issuers, clients' federated credentials, and a
//! platform's identity token (GitHub-Actions-shaped RS256,
//! Kubernetes-shaped ES256) exchanged for an access token by token
//! exchange (RFC 8693), the JWT bearer grant (RFC 7523 §2.1) or as a
//! client assertion (RFC 7523 §2.2) — with every rule, and the failures an
//! operator sees.

use m2m_edge_core::http::Method;
use m2m_edge_testkit::*;
use serde_json::{json, Value};

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const K8S: &str = "https://k8s.example.com";
const AUDIENCE: &str = "https://auth.test";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

struct Platform {
    key: IssuerKeyPair,
    kid: String,
}

/// A world trusting a GitHub-shaped issuer (RS256, keys through
/// discovery) and a Kubernetes-shaped one (ES256, jwks_uri given, tokens
/// reused), with one client trusting each.
fn world() -> (World, Platform, Platform, String) {
    let w = World::new();
    let github = Platform { key: IssuerKeyPair::rsa(), kid: "gh-1".into() };
    let k8s = Platform { key: IssuerKeyPair::ec(), kid: "k8s-1".into() };
    w.fetcher.serve(
        &format!("{GITHUB}/.well-known/openid-configuration"),
        &json!({"issuer": GITHUB, "jwks_uri": format!("{GITHUB}/.well-known/jwks")}),
    );
    w.fetcher.serve(&format!("{GITHUB}/.well-known/jwks"), &github.key.jwks(&github.kid));
    w.fetcher.serve(&format!("{K8S}/openid/v1/jwks"), &k8s.key.jwks(&k8s.kid));
    let trust = |body: Value| {
        let r = w.admin(Method::Post, "/admin/federation/issuers", Some(body));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    };
    trust(json!({"issuer": GITHUB, "name": "GitHub Actions", "audiences": [AUDIENCE]}));
    trust(json!({"issuer": K8S, "jwks_uri": format!("{K8S}/openid/v1/jwks"), "algorithm": "ES256",
                 "audiences": [AUDIENCE], "single_use": false}));
    let r = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({
            "client_id": "deployer",
            "name": "deployer",
            "grants": [{"audience": "https://api.test", "scopes": ["deploy"]}],
            "federated_credentials": [
                {"name": "release", "issuer": GITHUB, "subject": "repo:acme/deploy:environment:production"},
                {"name": "main-branch", "issuer": GITHUB, "claims": {"repository": "acme/deploy", "ref": "refs/heads/main"}},
                {"name": "payments-api", "issuer": K8S, "claims": {"/kubernetes.io/namespace": "payments", "/kubernetes.io/serviceaccount/name": "api"}}
            ]
        })),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body_json().get("client_secret").is_some(), "a client may also keep a secret");
    (w, github, k8s, "deployer".to_string())
}

fn github_claims(jti: &str) -> Value {
    json!({"iss": GITHUB, "aud": AUDIENCE, "sub": "repo:acme/deploy:environment:production",
           "repository": "acme/deploy", "ref": "refs/heads/main", "environment": "production",
           "job_workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main",
           "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 300, "jti": jti})
}

fn k8s_claims() -> Value {
    json!({"iss": K8S, "aud": [AUDIENCE], "sub": "system:serviceaccount:payments:api",
           "kubernetes.io": {"namespace": "payments", "serviceaccount": {"name": "api", "uid": "5e1f"}},
           "iat": NOW - 60, "exp": NOW + 3000, "jti": "k8s-token-1"})
}

fn exchange(w: &World, token: &str, client: &str) -> m2m_edge_core::http::Response {
    w.token_form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}&client_id={client}&resource=https://api.test"
    ))
}

#[test]
fn a_github_token_is_exchanged_for_an_access_token_that_says_who_acted() {
    let (w, github, _, client) = world();
    let r = exchange(&w, &github.key.sign(&github.kid, &github_claims("run-1")), &client);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.body_json();
    assert_eq!(body["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
    assert_eq!(body["scope"], "deploy");
    let (_, claims) = w.verify(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], client.as_str());
    assert_eq!(claims["aud"], "https://api.test");
    assert_eq!(
        claims["act"],
        json!({"iss": GITHUB, "sub": "repo:acme/deploy:environment:production", "federated_credential": "release"})
    );
    // Keys came through discovery, fetched once.
    let fetched = w.fetcher.requests();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
}

#[test]
fn a_kubernetes_token_works_as_a_client_assertion_and_may_be_reused() {
    let (w, _, k8s, client) = world();
    let token = k8s.key.sign(&k8s.kid, &k8s_claims());
    for _ in 0..2 {
        let r = w.token_form(&format!(
            "grant_type=client_credentials&client_id={client}&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion={token}"
        ));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
        assert_eq!(claims["act"]["federated_credential"], "payments-api");
        assert!(r.body_json().get("issued_token_type").is_none());
    }
    let bearer = w.token_form(&format!(
        "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion={token}&client_id={client}"
    ));
    assert_eq!(bearer.status, 200, "{}", String::from_utf8_lossy(&bearer.body));
}

#[test]
fn every_rule_refuses_without_saying_which_and_the_operator_sees_why() {
    let (w, github, k8s, client) = world();
    let refused = |token: String, what: &str| {
        let r = exchange(&w, &token, &client);
        assert_eq!(r.status, 400, "{what}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(error_of(&r), "invalid_request", "{what}");
        assert_eq!(r.body_json()["error_description"], "the platform token is not accepted for this client", "{what}");
    };
    let with = |name: &str, value: Value| {
        let mut c = github_claims(&format!("j-{name}"));
        c[name] = value;
        github.key.sign(&github.kid, &c)
    };
    refused(with("aud", json!("https://elsewhere.test")), "an audience the issuer is not allowed");
    refused(with("exp", json!(NOW - 31)), "expired");
    refused(with("iat", json!(NOW - 3700)), "older than max_token_age");
    refused(with("nbf", json!(NOW + 120)), "not yet valid");
    let mut pull_request = github_claims("j-pr");
    pull_request["sub"] = json!("repo:acme/deploy:pull_request");
    pull_request["ref"] = json!("refs/pull/7/merge");
    refused(github.key.sign(&github.kid, &pull_request), "a sub and claims no credential names");
    let mut branch = github_claims("j-branch");
    branch["sub"] = json!("repo:acme/deploy:ref:refs/heads/feature");
    branch["ref"] = json!("refs/heads/feature");
    refused(github.key.sign(&github.kid, &branch), "a claim rule mismatch");
    let mut stranger = github_claims("j-iss");
    stranger["iss"] = json!("https://gitlab.example.com");
    refused(github.key.sign(&github.kid, &stranger), "an untrusted issuer");
    refused(IssuerKeyPair::rsa().sign("other-kid", &github_claims("j-kid")), "a kid the issuer does not publish");
    let mut as_k8s = k8s_claims();
    as_k8s["jti"] = json!("j-alg");
    refused(
        github.key.sign(&k8s.kid, &{
            let mut c = as_k8s.clone();
            c["iss"] = json!(K8S);
            c
        }),
        "RS256 where the issuer is pinned to ES256",
    );
    // Failures are written once per credential per isolate every 10 s:
    // the replay comes in the next window, so it is the last reason.
    w.clock.advance(10);
    let token = github.key.sign(&github.kid, &github_claims("once"));
    assert_eq!(exchange(&w, &token, &client).status, 200);
    refused(token, "a replayed jti");

    let failures = w.admin(Method::Get, &format!("/admin/clients/{client}/federation/failures"), None);
    assert_eq!(failures.status, 200);
    let listed = failures.body_json()["failures"].as_array().unwrap().clone();
    let reason = |name: &str| {
        listed.iter().find(|f| f["credential"] == name).unwrap_or_else(|| panic!("{name}: {listed:?}"))["last_reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(reason("release"), "token already used (jti)");
    assert_eq!(listed.iter().find(|f| f["credential"] == "release").unwrap()["count"], 2, "two windows: {listed:?}");
    assert!(w.log.lines().iter().any(|l| l.contains("aud is none of the issuer's allowed audiences")));
    assert!(w.log.lines().iter().any(|l| l.contains("claim ref does not match")));
}

#[test]
fn a_key_rotated_at_the_issuer_is_fetched_and_an_unreachable_issuer_is_a_clear_refusal_not_a_storm() {
    let (w, github, _, client) = world();
    assert_eq!(exchange(&w, &github.key.sign(&github.kid, &github_claims("a")), &client).status, 200);
    let rotated = Platform { key: IssuerKeyPair::rsa(), kid: "gh-2".into() };
    w.fetcher.serve(&format!("{GITHUB}/.well-known/jwks"), &rotated.key.jwks(&rotated.kid));
    w.clock.advance(31);
    let mut claims = github_claims("b");
    claims["iat"] = json!(NOW + 21);
    claims["exp"] = json!(NOW + 331);
    assert_eq!(exchange(&w, &rotated.key.sign(&rotated.kid, &claims), &client).status, 200, "the new kid is fetched");

    let cold = w.another_isolate();
    w.fetcher.set_down(true);
    let before = w.fetcher.requests().len();
    for i in 0..20 {
        let mut c = github_claims(&format!("down-{i}"));
        c["iat"] = json!(NOW + 21);
        c["exp"] = json!(NOW + 331);
        let r = exchange(&cold, &rotated.key.sign(&rotated.kid, &c), &client);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    }
    let fetches = w.fetcher.requests().len() - before;
    assert!(fetches <= 1, "{fetches} fetches for 20 requests to an unreachable issuer");
    assert!(cold.log.lines().iter().any(|l| l.contains("the issuer's keys are unavailable")), "{:?}", cold.log.lines());
}

#[test]
fn issuers_are_administered_and_cannot_be_removed_while_credentials_name_them() {
    let (w, _, _, client) = world();
    let list = w.admin(Method::Get, "/admin/federation/issuers", None).body_json();
    let issuers = list["issuers"].as_array().unwrap();
    assert_eq!(issuers.len(), 2);
    let github = issuers.iter().find(|i| i["issuer"] == GITHUB).unwrap();
    assert_eq!(github["algorithm"], "RS256");
    assert_eq!(github["max_token_age"], 3600);
    let id = github["id"].as_str().unwrap();
    let again = w.admin(Method::Post, "/admin/federation/issuers", Some(json!({"issuer": GITHUB, "audiences": ["x"]})));
    assert_eq!(again.status, 409);
    let patched =
        w.admin(Method::Patch, &format!("/admin/federation/issuers/{id}"), Some(json!({"max_token_age": 600})));
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body_json()["max_token_age"], 600);
    let busy = w.admin(Method::Delete, &format!("/admin/federation/issuers/{id}"), None);
    assert_eq!(busy.status, 409);
    assert_eq!(busy.body_json()["clients"], json!([client]));
    let untrusted = w.admin(
        Method::Patch,
        &format!("/admin/clients/{client}"),
        Some(
            json!({"federated_credentials": [{"name": "x-y", "issuer": "https://gitlab.example.com", "subject": "s"}]}),
        ),
    );
    assert_eq!(untrusted.status, 400);
    assert_eq!(untrusted.body_json()["field"], "federated_credentials[0].issuer");
    let cleared =
        w.admin(Method::Patch, &format!("/admin/clients/{client}"), Some(json!({"federated_credentials": []})));
    assert_eq!(cleared.status, 200);
    assert_eq!(w.admin(Method::Delete, &format!("/admin/federation/issuers/{id}"), None).status, 204);
    let events = w.admin(Method::Get, "/admin/audit", None).body_json();
    assert!(events["events"].as_array().unwrap().iter().any(|e| e["action"] == "issuer.delete"));
}

#[test]
fn the_exchange_needs_its_parameters() {
    let (w, github, _, client) = world();
    let token = github.key.sign(&github.kid, &github_claims("p"));
    let bad = |form: String, what: &str| {
        let r = w.token_form(&form);
        assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_request"), "{what}");
    };
    bad(format!("grant_type={TOKEN_EXCHANGE}&subject_token={token}&client_id={client}"), "no subject_token_type");
    bad(format!("grant_type={TOKEN_EXCHANGE}&subject_token_type=urn:ietf:params:oauth:token-type:saml2&subject_token={token}&client_id={client}"), "saml2");
    bad(format!("grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}"), "no client_id");
    bad(format!("grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}&client_id={client}&actor_token=x"), "actor_token");
    // Client authentication beside the platform token is taken, and must succeed.
    let wrong = w.token_form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}&client_id={client}&client_secret=s"
    ));
    assert_eq!((wrong.status, error_of(&wrong).as_str()), (401, "invalid_client"), "a wrong secret beside");
    let d = w.call(Req::get("/.well-known/oauth-authorization-server").build()).body_json();
    assert!(d["grant_types_supported"].as_array().unwrap().contains(&json!(TOKEN_EXCHANGE)));
}

#[test]
fn a_platform_token_issued_at_the_extremes_of_time_is_refused_not_wrapped() {
    let (w, github, _, client) = world();
    for (name, value) in [("iat", json!(i64::MIN)), ("exp", json!(i64::MAX)), ("nbf", json!(i64::MIN))] {
        let mut claims = github_claims(&format!("extreme-{name}"));
        claims[name] = value;
        let r = exchange(&w, &github.key.sign(&github.kid, &claims), &client);
        if name == "iat" {
            assert_eq!(r.status, 400, "iat {}: {}", i64::MIN, String::from_utf8_lossy(&r.body));
        } else {
            assert_eq!(r.status, 200, "{name} at the extreme is merely far away: {}", String::from_utf8_lossy(&r.body));
        }
    }
    assert!(w.log.lines().iter().any(|l| l.contains("older than the issuer's max_token_age")), "{:?}", w.log.lines());
}

#[test]
fn a_forged_platform_token_is_refused_without_a_storage_write_and_a_signed_mismatch_is_recorded() {
    let (w, github, _, client) = world();
    let signed = github.key.sign(&github.kid, &github_claims("forged"));
    let (input, _) = signed.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", "A".repeat(342));
    let unknown_kid = github.key.sign("gh-unknown", &github_claims("unknown-kid"));
    for i in 0..50 {
        let token = if i % 2 == 0 { &forged } else { &unknown_kid };
        assert_eq!(exchange(&w, token, &client).status, 400);
    }
    let failures = |w: &World| {
        let r = w.admin(Method::Get, &format!("/admin/clients/{client}/federation/failures"), None);
        assert_eq!(r.status, 200);
        r.body_json()["failures"].as_array().unwrap().clone()
    };
    assert_eq!(failures(&w), Vec::<Value>::new(), "an unverified token wrote a failure record");
    assert!(w.log.lines().iter().any(|l| l.contains("bad signature")), "{:?}", w.log.lines());

    let mut other_repo = github_claims("mismatch");
    other_repo["sub"] = json!("repo:acme/other:environment:production");
    other_repo["repository"] = json!("acme/other");
    assert_eq!(exchange(&w, &github.key.sign(&github.kid, &other_repo), &client).status, 400);
    let recorded = failures(&w);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(recorded.iter().all(|f| f["count"] == 1), "{recorded:?}");
}

#[test]
fn a_credential_that_names_no_workload_is_refused_and_a_stored_one_matches_nothing() {
    let (w, github, _, client) = world();
    for (rules, what) in [
        (json!({"claims": {"iss": GITHUB}}), "iss alone"),
        (json!({"claims": {"aud": AUDIENCE, "jti": "x"}}), "aud and jti"),
        (json!({"claims": {"/iss": GITHUB, "/aud/0": AUDIENCE}}), "the same as JSON Pointers"),
        (json!({"claims": {"exp": "1800000300", "nbf": "1", "iat": "1"}}), "times"),
    ] {
        let mut credential = json!({"name": "whole-platform", "issuer": GITHUB});
        credential.as_object_mut().unwrap().extend(rules.as_object().unwrap().clone());
        for method in [Method::Patch, Method::Post] {
            let (path, body) = match method {
                Method::Patch => (format!("/admin/clients/{client}"), json!({"federated_credentials": [credential]})),
                _ => (
                    "/admin/clients".to_string(),
                    json!({"name": "everyone", "grants": [{"audience": "https://api.test", "scopes": ["deploy"]}], "federated_credentials": [credential]}),
                ),
            };
            let r = w.admin(method, &path, Some(body));
            assert_eq!(r.status, 400, "{what}: {}", String::from_utf8_lossy(&r.body));
            assert_eq!(r.body_json()["field"], "federated_credentials[0].claims", "{what}");
        }
    }
    // One stored before the rule (or written by hand) stops matching.
    pollster::block_on(async {
        use m2m_edge_core::client::{ClientId, ClientStore};
        let id = ClientId::parse(&client).unwrap();
        let mut record = w.store.get(&id).await.unwrap().unwrap();
        record.federated_credentials = serde_json::from_value(json!([
            {"name": "whole-platform", "issuer": GITHUB, "claims": {"iss": GITHUB}}
        ]))
        .unwrap();
        assert_eq!(w.store.update(&record).await.unwrap(), m2m_edge_core::ports::Write::Done);
    });
    let r = exchange(&w, &github.key.sign(&github.kid, &github_claims("any-repo")), &client);
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let failures = w.admin(Method::Get, &format!("/admin/clients/{client}/federation/failures"), None).body_json();
    assert!(failures["failures"][0]["last_reason"].as_str().unwrap().contains("names no workload"), "{failures}");
}

#[test]
fn a_single_use_issuer_token_without_jti_is_refused_not_reusable() {
    let (w, github, _, client) = world();
    let mut claims = github_claims("unused");
    claims.as_object_mut().unwrap().remove("jti");
    let token = github.key.sign(&github.kid, &claims);
    for _ in 0..2 {
        let r = exchange(&w, &token, &client);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    }
    let failures = w.admin(Method::Get, &format!("/admin/clients/{client}/federation/failures"), None).body_json();
    assert!(failures["failures"][0]["last_reason"].as_str().unwrap().contains("no jti"), "{failures}");
}

#[test]
fn a_platform_token_without_a_subject_is_refused_so_act_sub_is_never_empty() {
    let (w, github, _, client) = world();
    // main-branch matches on repository and ref alone, so only the rule on
    // sub itself can refuse these.
    for (i, sub) in [None, Some(json!("")), Some(json!(7)), Some(json!(["repo:acme/deploy"]))].into_iter().enumerate() {
        let mut claims = github_claims(&format!("no-sub-{i}"));
        match sub {
            None => drop(claims.as_object_mut().unwrap().remove("sub")),
            Some(sub) => claims["sub"] = sub,
        }
        let r = exchange(&w, &github.key.sign(&github.kid, &claims), &client);
        assert_eq!(r.status, 400, "{claims}: {}", String::from_utf8_lossy(&r.body));
    }
    assert!(w.log.lines().iter().any(|l| l.contains("no sub")), "{:?}", w.log.lines());
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[test]
fn the_platform_grants_take_client_authentication_when_sent_and_it_must_be_the_client_the_token_is_for() {
    let (w, github, _, _) = world();
    let grants = json!([{"audience": "https://api.test", "scopes": ["deploy"]}]);
    let (id, secret) = w.create(json!({"client_id": "ci-deployer", "name": "ci", "grants": grants,
        "federated_credentials": [{"name": "release", "issuer": GITHUB, "subject": "repo:acme/deploy:environment:production"}]}));
    let (other, other_secret) = w.create(json!({"client_id": "other", "name": "other", "grants": grants}));
    let token = |jti: &str| github.key.sign(&github.kid, &github_claims(jti));

    // RFC 7523 §2.1: a library that always authenticates (Basic) with the
    // JWT bearer grant, with or without client_id in the body.
    for (i, body_id) in [None, Some(id.as_str())].into_iter().enumerate() {
        let mut form = format!("grant_type={JWT_BEARER}&assertion={}", token(&format!("basic-{i}")));
        if let Some(body_id) = body_id {
            form.push_str(&format!("&client_id={body_id}"));
        }
        let r = w.call(Req::token().basic(&id, &secret).form(&form));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
        assert_eq!(
            (claims["sub"].as_str(), claims["act"]["federated_credential"].as_str()),
            (Some("ci-deployer"), Some("release"))
        );
    }
    // RFC 8693 §2.1: the same for token exchange, client_secret_post.
    let r = w.token_form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={}&client_id={id}&client_secret={secret}",
        token("post")
    ));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body_json()["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");

    let refused = |r: m2m_edge_core::http::Response, status: u16, code: &str, what: &str| {
        assert_eq!((r.status, error_of(&r).as_str()), (status, code), "{what}: {}", String::from_utf8_lossy(&r.body));
    };
    refused(
        w.call(Req::token().basic(&id, "wrong").form(&format!("grant_type={JWT_BEARER}&assertion={}", token("wrong")))),
        401,
        "invalid_client",
        "a wrong secret",
    );
    refused(
        w.call(
            Req::token()
                .basic(&other, &other_secret)
                .form(&format!("grant_type={JWT_BEARER}&assertion={}&client_id={id}", token("another"))),
        ),
        401,
        "invalid_client",
        "another client authenticated for this one",
    );
    refused(
        w.call(
            Req::token()
                .basic(&other, &other_secret)
                .form(&format!("grant_type={JWT_BEARER}&assertion={}", token("theirs"))),
        ),
        400,
        "invalid_grant",
        "another client, whose credentials the platform token does not match",
    );
}

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A client-credentials access token of an RFC 9068 issuer (Duende,
/// node-oidc-provider, Auth0's RFC 9068 profile): `typ` at+jwt, `sub` and
/// `client_id` the issuer's client.
fn rfc9068_claims(jti: &str) -> Value {
    json!({"iss": GITHUB, "aud": AUDIENCE, "sub": "ci-runner", "client_id": "ci-runner", "scope": "deploy",
           "iat": NOW - 10, "exp": NOW + 300, "jti": jti})
}

#[test]
fn an_access_token_of_a_trusted_issuer_is_exchanged_unless_the_issuer_says_no_and_never_one_of_ours() {
    let (w, github, _, _) = world();
    let grants = json!([{"audience": "https://api.test", "scopes": ["deploy"]}]);
    w.create(json!({"client_id": "from-idp", "name": "from-idp", "grants": grants,
        "federated_credentials": [{"name": "ci-runner", "issuer": GITHUB, "subject": "ci-runner"}]}));
    let token = |jti: &str| github.key.sign_typed(&github.kid, "at+jwt", &rfc9068_claims(jti));
    for (i, subject_token_type) in [ACCESS_TOKEN_TYPE, JWT_TYPE].into_iter().enumerate() {
        let r = w.token_form(&format!(
            "grant_type={TOKEN_EXCHANGE}&subject_token_type={subject_token_type}&subject_token={}&client_id=from-idp",
            token(&format!("te-{i}"))
        ));
        assert_eq!(r.status, 200, "{subject_token_type}: {}", String::from_utf8_lossy(&r.body));
        let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
        assert_eq!(claims["act"], json!({"iss": GITHUB, "sub": "ci-runner", "federated_credential": "ci-runner"}));
    }
    let r = w.token_form(&format!("grant_type={JWT_BEARER}&assertion={}&client_id=from-idp", token("bearer")));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // The issuer can say no: then an at+jwt is refused as before.
    let list = w.admin(Method::Get, "/admin/federation/issuers", None).body_json();
    let issuer = list["issuers"].as_array().unwrap().iter().find(|i| i["issuer"] == GITHUB).unwrap().clone();
    assert_eq!(issuer["accept_access_tokens"], true, "on by default");
    let path = format!("/admin/federation/issuers/{}", issuer["id"].as_str().unwrap());
    let patched = w.admin(Method::Patch, &path, Some(json!({"accept_access_tokens": false})));
    assert_eq!((patched.status, &patched.body_json()["accept_access_tokens"]), (200, &json!(false)));
    let bad = w.admin(Method::Patch, &path, Some(json!({"accept_access_tokens": "no"})));
    assert_eq!((bad.status, &bad.body_json()["field"]), (400, &json!("accept_access_tokens")));
    let r = w.token_form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={ACCESS_TOKEN_TYPE}&subject_token={}&client_id=from-idp",
        token("refused")
    ));
    assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_request"), "{}", String::from_utf8_lossy(&r.body));

    // This deployment trusted as an issuer (by mistake, or to chain): its
    // own access tokens are never exchanged, whatever the setting.
    w.fetcher.serve(&format!("{ORIGIN}/.well-known/jwks.json"), &w.jwks());
    let ours = w.admin(
        Method::Post,
        "/admin/federation/issuers",
        Some(json!({"issuer": ORIGIN, "jwks_uri": format!("{ORIGIN}/.well-known/jwks.json"), "algorithm": "ES256",
                    "audiences": ["https://api.test"], "accept_access_tokens": true})),
    );
    assert_eq!(ours.status, 201, "{}", String::from_utf8_lossy(&ours.body));
    let (holder, holder_secret) = w.create(json!({"name": "holder", "grants": grants}));
    w.create(json!({"client_id": "chained", "name": "chained", "grants": grants,
        "federated_credentials": [{"name": "holder", "issuer": ORIGIN, "subject": holder}]}));
    let own = w.token_basic(&holder, &holder_secret, "grant_type=client_credentials");
    let own = own.body_json()["access_token"].as_str().unwrap().to_string();
    let r = w.token_form(&format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={ACCESS_TOKEN_TYPE}&subject_token={own}&client_id=chained"
    ));
    assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_request"), "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn the_operator_log_names_the_rule_a_platform_token_broke_never_its_opposite() {
    let (w, github, k8s, client) = world();
    // An ES256 token where the issuer is pinned to RS256.
    let mut claims = github_claims("es256");
    claims["iss"] = json!(GITHUB);
    assert_eq!(exchange(&w, &k8s.key.sign(&github.kid, &claims), &client).status, 400);
    // An access token where the issuer's access tokens are not taken.
    let list = w.admin(Method::Get, "/admin/federation/issuers", None).body_json();
    let id = list["issuers"].as_array().unwrap().iter().find(|i| i["issuer"] == GITHUB).unwrap()["id"].clone();
    let path = format!("/admin/federation/issuers/{}", id.as_str().unwrap());
    assert_eq!(w.admin(Method::Patch, &path, Some(json!({"accept_access_tokens": false}))).status, 200);
    let at = github.key.sign_typed(&github.kid, "at+jwt", &github_claims("at"));
    assert_eq!(exchange(&w, &at, &client).status, 400);
    let lines = w.log.lines();
    assert!(lines.iter().any(|l| l.contains("alg must be RS256")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("typ must not be at+jwt")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("alg must be ES256") || l.contains("typ must be at+jwt")), "{lines:?}");
}

/// Genuine tokens of an open platform (anyone can mint a GitHub Actions
/// token for a repository of their own) that match no credential are
/// recorded at most once per credential per isolate every 10 s, so a
/// stranger's flood costs no write per request; the log still has each.
#[test]
fn a_strangers_genuine_tokens_cost_at_most_one_write_per_credential_per_isolate_every_ten_seconds() {
    let (w, github, _, client) = world();
    let stranger = |i: usize| {
        let mut claims = github_claims(&format!("stranger-{i}"));
        claims["sub"] = json!("repo:stranger/repo:ref:refs/heads/main");
        claims["repository"] = json!("stranger/repo");
        github.key.sign(&github.kid, &claims)
    };
    let logged = w.log.lines().len();
    for i in 0..40 {
        assert_eq!(exchange(&w, &stranger(i), &client).status, 400);
    }
    let counts = |w: &World| -> Vec<u64> {
        let r = w.admin(Method::Get, &format!("/admin/clients/{client}/federation/failures"), None);
        r.body_json()["failures"].as_array().unwrap().iter().map(|f| f["count"].as_u64().unwrap()).collect()
    };
    assert_eq!(counts(&w), [1, 1], "one write per credential, not forty");
    assert!(w.log.lines().len() >= logged + 40, "each refusal is still logged");
    w.clock.advance(10);
    assert_eq!(exchange(&w, &stranger(40), &client).status, 400);
    assert_eq!(counts(&w), [2, 2], "the next window writes again");
}

/// The MCP workload identity federation profile: a JWT bearer grant with
/// the platform's token alone names its client when exactly one client's
/// credentials match it; its `aud` may carry a trailing slash.
#[test]
fn a_jwt_bearer_grant_without_client_id_finds_the_one_client_its_token_matches() {
    let (w, github, _, client) = world();
    let grant = |claims: &Value| {
        w.token_form(&format!("grant_type={JWT_BEARER}&assertion={}", github.key.sign(&github.kid, claims)))
    };
    let r = grant(&github_claims("sole"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (_, claims) = w.verify(r.body_json()["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], client);
    let mut slash = github_claims("slash");
    slash["aud"] = json!(format!("{AUDIENCE}/"));
    assert_eq!(grant(&slash).status, 200, "the issuer with a trailing slash");

    let mut stranger = github_claims("stranger");
    stranger["sub"] = json!("repo:other/repo:environment:production");
    stranger["repository"] = json!("other/repo");
    let before = w.log.lines().len();
    let r = grant(&stranger);
    assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_grant"));
    assert!(w.log.lines()[before..].join("\n").contains("matches no client's federated credentials"));

    // A second client the same token stands for: it names neither.
    let twin = json!({"client_id": "twin", "name": "twin", "grants": [{"audience": "https://api.test", "scopes": []}],
                      "federated_credentials": [{"name": "release", "issuer": GITHUB, "subject": "repo:acme/deploy:environment:production"}]});
    assert_eq!(w.admin(Method::Post, "/admin/clients", Some(twin)).status, 201);
    let r = grant(&github_claims("twice"));
    assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_grant"));
    assert!(w.log.lines().join("\n").contains("matches the federated credentials of deployer, twin, not exactly one"));
    // A trusted issuer's DPoP-bound token is its holder's only with a
    // proof: never taken as a platform token.
    let mut bound = github_claims("bound");
    bound["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
    let token = github.key.sign(&github.kid, &bound);
    let r = w.token_form(&format!("grant_type={JWT_BEARER}&assertion={token}&client_id={client}"));
    assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_grant"));
    assert!(w.log.lines().join("\n").contains("sender-constrained (cnf)"));
    // A token exchange still names its client.
    let token = github.key.sign(&github.kid, &github_claims("exchange"));
    let r = w.token_form(&format!("grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={token}"));
    assert_eq!((r.status, error_of(&r).as_str()), (400, "invalid_request"));
}
