//! An API at the edge that accepts only m2m-edge access tokens: a Rust
//! Worker protecting two routes with [`m2m_edge_verify`].
//!
//! - `GET /orders` needs the scope `orders:read`;
//! - `POST /orders` needs `orders:write`;
//! - `GET /health` needs nothing (the baseline `make bench` compares with);
//! - `GET /.well-known/oauth-protected-resource` (the path RFC 9728 §3.1
//!   gives its `AUDIENCE`) is its metadata: the issuer, the scopes, how
//!   tokens are sent — and every refusal's challenge points there
//!   (`resource_metadata`), so a client that knows only the API's URL (an
//!   MCP client) finds where to get a token.
//!
//! Tokens are taken as bearer tokens or, bound to a client's key, with the
//! `DPoP` scheme and a proof for the very request (RFC 9449 §7.1:
//! `Verifier::verify_dpop`); `DPOP = "required"` takes bound ones only.
//!
//! With the `PROJECT_ID` var set, the API serves that one tenant: a valid
//! token of another project (or of none) is refused, `401 invalid_token`
//! (`Requirements::claim("project_id", …)`).
//!
//! Keys come from the token service through the `AUTH` service binding
//! (`[[services]]` in wrangler.toml), or over the Internet without one.
//! The verifier is built once per isolate and keeps the keys between
//! requests (its cache rules: `m2m_edge_verify::cache`), and the token
//! service's revocation list: a revoked token is refused within 60 s
//! (`REVOCATIONS_WITHIN` sets another bound, in seconds; `REVOCATIONS =
//! "strict"` asks the service of every token instead).
//!
//! The `fetch` export is written against `web_sys` rather than with
//! `#[worker::event(fetch)]`: the macro's request and response conversions
//! and its spawned future cost about 40 µs of CPU per request in workerd,
//! as much as everything else this API does besides the signature check
//! (BENCHMARKS.md). The verifier is used the same way either way.
#![cfg(target_arch = "wasm32")]

use std::cell::OnceCell;
use std::rc::Rc;

use m2m_edge_verify::resource::ResourceMetadata;
use m2m_edge_verify::{Requirements, VerifiedToken, Verifier, WorkerFetcher};
use serde_json::json;
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response, ResponseInit};
use worker::Env;

/// What this isolate checks tokens with: vars and bindings are fixed for
/// its lifetime.
struct Api {
    verifier: Verifier<WorkerFetcher>,
    /// The one project served, if `PROJECT_ID` is set.
    project: Option<String>,
    /// Take DPoP-bound tokens only (`DPOP = "required"`).
    dpop_bound: bool,
    /// Its RFC 9728 document, where it is served, and its URL.
    metadata: (String, Option<String>, Option<String>),
}

thread_local! {
    static API: OnceCell<Option<Rc<Api>>> = const { OnceCell::new() };
}

/// The realm of every challenge.
const REALM: &str = "orders";

fn api(env: &Env) -> Option<Rc<Api>> {
    API.with(|v| {
        v.get_or_init(|| {
            let issuer = env.var("ISSUER").ok()?.to_string();
            let audience = env.var("AUDIENCE").ok()?.to_string();
            let (issuer_id, audience_id) = (issuer.clone(), audience.clone());
            let fetcher = match env.service("AUTH") {
                Ok(binding) => WorkerFetcher::Service(binding),
                Err(_) => WorkerFetcher::Internet,
            };
            let project = env.var("PROJECT_ID").ok().map(|v| v.to_string()).filter(|p| !p.is_empty());
            let mut verifier = Verifier::new(issuer, fetcher).audience(audience);
            // Revocations: the issuer's list, found by discovery, trusted for
            // 60 s unless REVOCATIONS_WITHIN says otherwise.
            if let Some(seconds) = env.var("REVOCATIONS_WITHIN").ok().and_then(|v| v.to_string().parse().ok()) {
                verifier = verifier.revocations_within(seconds);
            }
            // REVOCATIONS = "strict": ask the token service of every token.
            if env.var("REVOCATIONS").is_ok_and(|v| v.to_string() == "strict") {
                verifier = verifier.revocations_strict();
            }
            let dpop_bound = env.var("DPOP").is_ok_and(|v| v.to_string() == "required");
            let mut metadata = ResourceMetadata::new(audience_id, issuer_id).scopes(["orders:read", "orders:write"]);
            if dpop_bound {
                metadata = metadata.dpop_bound();
            }
            let metadata = (metadata.to_json(), metadata.path(), metadata.url());
            Some(Rc::new(Api { verifier, project, dpop_bound, metadata }))
        })
        .clone()
    })
}

/// The path of an absolute URL (`https://host/path?query` → `/path`).
fn path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

/// The fetch handler: a response, or a promise of one for the routes that
/// verify a token.
#[wasm_bindgen]
pub fn fetch(req: Request, env: Env, _ctx: JsValue) -> JsValue {
    let url = req.url();
    let method = req.method();
    let Some(api) = api(&env) else {
        worker::console_error!("edge-api: set the ISSUER and AUDIENCE vars");
        return json_response(500, &json!({"error": "server_error"}), &[]);
    };
    let (document, metadata_path, _) = &api.metadata;
    if method == "GET" && metadata_path.as_deref() == Some(path(&url)) {
        return respond(200, document, &[("content-type", "application/json")]);
    }
    let needs = match (method.as_str(), path(&url)) {
        ("GET", "/health") => return respond(200, "ok", &[("content-type", "text/plain")]),
        ("GET", "/orders") => "orders:read",
        ("POST", "/orders") => "orders:write",
        (_, "/orders") => {
            return json_response(405, &json!({"error": "method_not_allowed"}), &[("allow", "GET, POST")])
        }
        _ => return json_response(404, &json!({"error": "not_found"}), &[]),
    };
    let authorization = req.headers().get("authorization").ok().flatten().unwrap_or_default();
    let proof = req.headers().get("dpop").ok().flatten();
    let post = method == "POST";
    wasm_bindgen_futures::future_to_promise(async move {
        let mut required = Requirements::scopes([needs]);
        if let Some(project) = &api.project {
            required = required.claim("project_id", project.as_str());
        }
        if api.dpop_bound {
            required = required.dpop_bound();
        }
        let verified = api.verifier.verify_dpop(&authorization, proof.as_deref(), &method, &url, &required).await;
        Ok(match verified {
            Ok(token) => answer(post, &token),
            Err(rejection) => {
                let answer = rejection.to_response_with(REALM, api.metadata.2.as_deref());
                let headers: Vec<(&str, &str)> = answer.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                respond(answer.status, &answer.body, &headers)
            }
        })
    })
    .into()
}

fn answer(post: bool, token: &VerifiedToken) -> JsValue {
    if post {
        return json_response(201, &json!({"created": true, "client_id": token.client_id}), &[]);
    }
    let orders =
        json!({"client_id": token.client_id, "scopes": token.scopes, "orders": [{"id": "ord_1", "total": 42}]});
    json_response(200, &orders, &[])
}

fn json_response(status: u16, body: &serde_json::Value, extra: &[(&str, &str)]) -> JsValue {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(extra);
    respond(status, &body.to_string(), &headers)
}

/// A `Response`; if one cannot be built, a bare 500.
fn respond(status: u16, body: &str, headers: &[(&str, &str)]) -> JsValue {
    let build = || -> Result<Response, JsValue> {
        let h = Headers::new()?;
        for (name, value) in headers {
            h.set(name, value)?;
        }
        let init = ResponseInit::new();
        init.set_status(status);
        init.set_headers(&h);
        Response::new_with_opt_str_and_init(Some(body), &init)
    };
    match build() {
        Ok(response) => response.into(),
        Err(_) => {
            let init = ResponseInit::new();
            init.set_status(500);
            Response::new_with_opt_str_and_init(None, &init).map(JsValue::from).unwrap_or(JsValue::UNDEFINED)
        }
    }
}
