//! The app: one function of (request, ports) → response. No `worker` types,
//! so every flow runs in host tests with the in-memory store and a fixed
//! clock, and the same code runs in workerd.

mod admin;
mod token;
mod wellknown;

use crate::config::Config;
use crate::http::{Method, Request, Response};
use std::cell::Cell;

use crate::jose::{KeyError, Signer};
use crate::keys::sealed::KeyCrypto;
use crate::oauth::metadata::{JWKS_PATH, TOKEN_PATH};
use crate::oauth::OAuthError;
use crate::ports::{Clock, Logger, Random};
use crate::store::Store;

/// Everything a request may need from outside the core.
pub struct Ports<'a, S: Store, G: Signer, C: KeyCrypto> {
    pub config: &'a Config,
    pub store: &'a S,
    /// The JWKS document. A key problem fails only the requests that need
    /// what is broken: with managed keys and a wrong KEY_ENCRYPTION_KEY the
    /// JWKS still serves while signing fails.
    pub jwks: Result<&'a str, &'a KeyError>,
    pub signer: Result<&'a G, &'a KeyError>,
    /// Key generation and sealing, for managed-key admin operations.
    pub crypto: &'a C,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub log: &'a dyn Logger,
    /// Set when a handler changed the managed key set, so the glue drops
    /// its per-isolate key cache.
    pub keys_changed: &'a Cell<bool>,
}

pub const DISCOVERY_PATHS: [&str; 2] = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

pub async fn handle<S: Store, G: Signer, C: KeyCrypto>(req: &Request, ports: &Ports<'_, S, G, C>) -> Response {
    let response = match (req.method, req.path.as_str()) {
        (Method::Post, TOKEN_PATH) => token::handle(req, ports).await,
        (_, TOKEN_PATH) => method_not_allowed("POST"),
        (Method::Get | Method::Head, JWKS_PATH) => wellknown::jwks(ports),
        (Method::Get | Method::Head, p) if DISCOVERY_PATHS.contains(&p) => wellknown::metadata(req, ports).await,
        (_, p) if p == JWKS_PATH || DISCOVERY_PATHS.contains(&p) => method_not_allowed("GET, HEAD"),
        (_, p) if p == "/admin" || p.starts_with("/admin/") => admin::handle(req, ports).await,
        _ => not_found(),
    };
    if req.method == Method::Head {
        return Response { body: Vec::new(), signature: None, ..response };
    }
    response
}

/// For the glue when configuration itself is broken: the detail is logged
/// by the caller, the client sees only `server_error`.
pub fn server_error_response() -> Response {
    OAuthError::server(String::new()).to_response("m2m-edge")
}

fn method_not_allowed(allow: &'static str) -> Response {
    OAuthError::invalid_request("method not allowed on this endpoint")
        .with_status(405)
        .to_response("m2m-edge")
        .with_header("allow", allow)
}

fn not_found() -> Response {
    Response::json(404, r#"{"error":"not_found","error_description":"no such endpoint"}"#)
}
