//! The protocol work of a token request, counted rather than timed:
//! `make bench` runs this under `valgrind --tool=callgrind` and reads the
//! instructions spent inside the core's token endpoint
//! (`m2m_edge_core::app::token::handle`) less its signature checks, whose
//! cryptography the Worker hands to WebCrypto. What is left is what no
//! runtime floor does — the form, the client, the claims, the response —
//! and a count of it moves only when the code does, where a CPU time on
//! this machine moves by more than the differences it should show.
//!
//! `PROTOCOL_BENCH=kind:N` serves N requests of one kind to a warm
//! isolate (the testkit's [`World`], the same app the Worker serves):
//! `secret` (client_credentials with client_secret_basic) or `federated`
//! (a token exchange of a GitHub-shaped RS256 platform token from a
//! trusted issuer, reusable so one token serves every request).

use m2m_edge_core::http::{Method, Response};
use m2m_edge_testkit::{IssuerKeyPair, World, NOW};
use serde_json::json;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

fn main() {
    let spec = std::env::var("PROTOCOL_BENCH").unwrap_or_else(|_| "secret:1".into());
    let (kind, n) = spec.split_once(':').expect("PROTOCOL_BENCH=kind:count");
    let n: usize = n.parse().expect("a count");
    assert!(["secret", "federated"].contains(&kind), "PROTOCOL_BENCH: no kind {kind}");

    let w = World::new();
    let platform = IssuerKeyPair::rsa();
    w.fetcher.serve(
        &format!("{GITHUB}/.well-known/openid-configuration"),
        &json!({"issuer": GITHUB, "jwks_uri": format!("{GITHUB}/.well-known/jwks")}),
    );
    w.fetcher.serve(&format!("{GITHUB}/.well-known/jwks"), &platform.jwks("gh-1"));
    let trusted = w.admin(
        Method::Post,
        "/admin/federation/issuers",
        Some(json!({"issuer": GITHUB, "audiences": ["m2m-edge"], "single_use": false})),
    );
    assert_eq!(trusted.status, 201);
    let grants = json!([{"audience": "https://api.example.com", "scopes": ["deploy"]}]);
    let (id, secret) = w.create(json!({"name": "nightly-export", "grants": grants}));
    let federated = w.admin(
        Method::Post,
        "/admin/clients",
        Some(json!({"client_id": "deployer", "name": "deployer", "grants": grants,
            "federated_credentials": [{"name": "release", "issuer": GITHUB, "claims": {"repository": "acme/deploy"}}]})),
    );
    assert_eq!(federated.status, 201);
    // The claims GitHub Actions puts in its tokens, as the e2e issuer mints them.
    let claims = json!({"iss": GITHUB, "aud": "m2m-edge", "sub": "repo:acme/deploy:ref:refs/heads/main",
        "repository": "acme/deploy", "repository_owner": "acme", "ref": "refs/heads/main", "sha": "e".repeat(40),
        "workflow": "release", "job_workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main",
        "run_id": "1234567890", "run_number": "42", "run_attempt": "1", "actor": "octocat", "event_name": "push",
        "ref_type": "branch", "environment": "production", "runner_environment": "github-hosted",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3000, "jti": "run-1234567890-1"});
    let exchange = format!(
        "grant_type={TOKEN_EXCHANGE}&subject_token_type={JWT_TYPE}&subject_token={}&client_id=deployer",
        platform.sign("gh-1", &claims)
    );

    let request = |kind: &str| -> Response {
        let r = match kind {
            "secret" => w.token_basic(&id, &secret, "grant_type=client_credentials"),
            _ => w.token_form(&exchange),
        };
        // A request that started failing would count its error path.
        assert_eq!(r.status, 200, "{kind}: {}", String::from_utf8_lossy(&r.body));
        r
    };
    // Both once, so that every count starts from warm caches (the client
    // records, the issuer set, its keys).
    for kind in ["secret", "federated"] {
        request(kind);
    }
    for _ in 0..n {
        std::hint::black_box(request(kind));
    }
}
