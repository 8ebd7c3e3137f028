//! The app: one function of (request, ports) → response. No `worker` types,
//! so every flow runs in host tests with the in-memory store and a fixed
//! clock, and the same code runs in workerd.

mod admin;
mod token;
mod wellknown;

use crate::config::Config;
use crate::http::{Method, Request, Response};
use crate::jose::{KeyError, KeySet, Signer};
use crate::oauth::metadata::{JWKS_PATH, TOKEN_PATH};
use crate::oauth::OAuthError;
use crate::ports::{Clock, Logger, Random};
use crate::store::Store;

/// The signing keys: the published set and the signer of its first key.
pub struct Keys<G: Signer> {
    pub set: KeySet,
    pub signer: G,
}

/// Everything a request may need from outside the core.
pub struct Ports<'a, S: Store, G: Signer> {
    pub config: &'a Config,
    pub store: &'a S,
    /// A key problem fails only the requests that need keys.
    pub keys: Result<&'a Keys<G>, &'a KeyError>,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub log: &'a dyn Logger,
}

pub const DISCOVERY_PATHS: [&str; 2] = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

pub async fn handle<S: Store, G: Signer>(req: &Request, ports: &Ports<'_, S, G>) -> Response {
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
        return Response { body: Vec::new(), ..response };
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
