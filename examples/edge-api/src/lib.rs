//! An API at the edge that accepts only m2m-edge access tokens: a Rust
//! Worker protecting two routes with [`m2m_edge_verify`].
//!
//! - `GET /orders` needs the scope `orders:read`;
//! - `POST /orders` needs `orders:write`;
//! - `GET /health` needs nothing (the baseline `make bench` compares with).
//!
//! Keys come from the token service through the `AUTH` service binding
//! (`[[services]]` in wrangler.toml), or over the Internet without one.
//! The verifier is built once per isolate and keeps the keys between
//! requests (its cache rules: `m2m_edge_verify::cache`).
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use m2m_edge_verify::{Rejection, Requirements, VerifiedToken, Verifier, WorkerFetcher};
use serde_json::json;
use worker::{event, Context, Env, Headers, Method, Request, Response, Result};

thread_local! {
    /// This isolate's verifier: vars and bindings are fixed for its lifetime.
    static VERIFIER: std::cell::OnceCell<Rc<Verifier<WorkerFetcher>>> = const { std::cell::OnceCell::new() };
}

/// The realm of every challenge.
const REALM: &str = "orders";

fn verifier(env: &Env) -> Option<Rc<Verifier<WorkerFetcher>>> {
    if let Some(v) = VERIFIER.with(|v| v.get().cloned()) {
        return Some(v);
    }
    let issuer = env.var("ISSUER").ok()?.to_string();
    let audience = env.var("AUDIENCE").ok()?.to_string();
    let fetcher = match env.service("AUTH") {
        Ok(binding) => WorkerFetcher::Service(binding),
        Err(_) => WorkerFetcher::Internet,
    };
    let built = Rc::new(Verifier::new(issuer, fetcher).audience(audience));
    VERIFIER.with(|v| v.get_or_init(|| built).clone()).into()
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let needs = match (req.method(), req.path().as_str()) {
        (Method::Get, "/health") => return Response::ok("ok"),
        (Method::Get, "/orders") => "orders:read",
        (Method::Post, "/orders") => "orders:write",
        (_, "/orders") => {
            return json_response(405, &json!({"error": "method_not_allowed"}), &[("allow", "GET, POST")])
        }
        _ => return json_response(404, &json!({"error": "not_found"}), &[]),
    };
    let Some(verifier) = verifier(&env) else {
        worker::console_error!("edge-api: set the ISSUER and AUDIENCE vars");
        return json_response(500, &json!({"error": "server_error"}), &[]);
    };
    let authorization = req.headers().get("authorization")?.unwrap_or_default();
    match verifier.verify(&authorization, &Requirements::scopes([needs])).await {
        Ok(token) => answer(req.method(), &token),
        Err(rejection) => refuse(&rejection),
    }
}

fn answer(method: Method, token: &VerifiedToken) -> Result<Response> {
    if method == Method::Post {
        return json_response(201, &json!({"created": true, "client_id": token.client_id}), &[]);
    }
    let orders =
        json!({"client_id": token.client_id, "scopes": token.scopes, "orders": [{"id": "ord_1", "total": 42}]});
    json_response(200, &orders, &[])
}

/// The RFC 6750 §3 answer the verifier made for `rejection`.
fn refuse(rejection: &Rejection) -> Result<Response> {
    let answer = rejection.to_response(REALM);
    let headers = Headers::new();
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    Ok(Response::ok(answer.body)?.with_status(answer.status).with_headers(headers))
}

fn json_response(status: u16, body: &serde_json::Value, extra: &[(&str, &str)]) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(Response::ok(body.to_string())?.with_status(status).with_headers(headers))
}
