//! The app: one function of (request, ports) → (response, effects). No
//! runtime types, so every flow runs in host tests with the in-memory store
//! and a fixed clock, and the same code runs in workerd.

// The admin API: left out of the token service's build (feature `admin`,
// docs/architecture.md, "Two Workers"), whose wasm every fresh isolate on
// the token path compiles; a Worker of its own serves it.
#[cfg(feature = "admin")]
mod admin;
mod admin_scope;
mod assertion;
mod attempt;
mod dpop;
mod federation;
mod own_token;
pub mod render;
mod revocation;
pub mod rpc;
mod signature;
mod token;
mod wellknown;

#[cfg(feature = "admin")]
pub use admin::scope_for;
pub use admin_scope::AdminScope;

use crate::config::Config;
use crate::federation::keys::FederationKeys;
pub(crate) use crate::future::apart;
use crate::http::{Method, Request, Response, Via};
use crate::jose::IssuingKey;
use crate::keys::sealed::KeyCrypto;
use crate::keys::KeyError;
use crate::limits::{self, Limit, Limits, RateLimiter};
use crate::oauth::metadata::{INTROSPECTION_PATH, JWKS_PATH, REVOCATION_LIST_PATH, REVOCATION_PATH, TOKEN_PATH};
use crate::oauth::OAuthError;
use crate::ports::{Clock, Logger, Random};
use crate::store::Store;
use m2m_edge_verify::Fetcher;

/// The types a deployment plugs into the app: one parameter for the app's
/// functions instead of one per port.
pub trait Runtime {
    /// Clients, resources and the managed key set.
    type Store: Store;
    /// The key tokens are issued under.
    type Key: IssuingKey;
    /// Key generation and AES-GCM, for managed-key admin operations.
    type Crypto: KeyCrypto;
    /// The rate limits' counter.
    type Limiter: RateLimiter;
    /// HTTP GET, for trusted issuers' metadata and keys.
    type Fetcher: Fetcher;
}

/// Everything a request may need from outside the core.
pub struct Ports<'a, R: Runtime> {
    /// Settings, read once per isolate.
    pub config: &'a Config,
    /// Storage.
    pub store: &'a R::Store,
    /// The JWKS document. A key problem fails only the requests that need
    /// what is broken: with managed keys and a wrong KEY_ENCRYPTION_KEY the
    /// JWKS still serves while signing fails.
    pub jwks: Result<&'a str, &'a KeyError>,
    /// The key new tokens are issued under.
    pub signer: Result<&'a R::Key, &'a KeyError>,
    /// Key generation and sealing.
    pub crypto: &'a R::Crypto,
    /// The wall clock.
    pub clock: &'a dyn Clock,
    /// Ids, secrets, `jti`s and sealing IVs.
    pub random: &'a dyn Random,
    /// Operator-facing log lines.
    pub log: &'a dyn Logger,
    /// Rate limits, and this isolate's client lockouts.
    pub limits: Limits<'a, R::Limiter>,
    /// Where trusted issuers' documents are fetched.
    pub fetcher: &'a R::Fetcher,
    /// The trusted issuers' keys this isolate holds.
    pub federation_keys: &'a FederationKeys,
}

/// What a request changed that the caller keeps outside the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// The managed key set changed: drop the isolate's copy of the keys.
    pub keys_changed: bool,
}

/// The discovery documents' paths: RFC 8414 §3, and OpenID Connect
/// Discovery 1.0 §4, where many client libraries look.
pub const DISCOVERY_PATHS: [&str; 2] = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

/// The per-source limit `req` counts against, and its key
/// ([`limits::source`]): every request to the token, revocation and
/// introspection endpoints (one count: each authenticates a client) and to the
/// admin API — the admin API's counted before its key is checked, so the
/// limit also bounds guessing the key. A Worker may ask the limiter while
/// it reads the body; [`handle`] then takes that answer (README, "Rate
/// limits").
pub fn address_limit(req: &Request) -> Option<(Limit, String)> {
    let limit = match req.path.as_str() {
        TOKEN_PATH | REVOCATION_PATH | INTROSPECTION_PATH => Limit::TokenByAddress,
        p if is_admin(p) => Limit::AdminByAddress,
        _ => return None,
    };
    Some((limit, limits::source(req)?))
}

/// Count `req` against its per-address limit ([`address_limit`]); the
/// `too_many_requests` answer when it is over. [`handle`] does it first;
/// the token service's Worker does it before it hands an admin request on.
pub async fn within_address_limit<L: RateLimiter>(
    req: &Request,
    limits: &Limits<'_, L>,
    log: &dyn Logger,
) -> Result<(), Response> {
    if let Some((limit, source)) = address_limit(req) {
        if limits.count(limit, &source, log).await.is_err() {
            return Err(render::oauth_error(&OAuthError::too_many_requests(), ""));
        }
    }
    Ok(())
}

/// Whether `path` is the admin API's: a build without the `admin` feature
/// hands such requests to the admin Worker untouched.
pub fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Route one request and answer it.
pub async fn handle<R: Runtime>(req: &Request, ports: &Ports<'_, R>) -> (Response, Effects) {
    // A Worker bound to this one calling `verify`: never an HTTP route.
    if req.via == Via::ServiceBinding {
        let response = match (req.method, req.path.as_str()) {
            (Method::Post, rpc::VERIFY_PATH) => apart(rpc::answer(req, ports)).await,
            _ => not_found(),
        };
        return (response, Effects::default());
    }
    if let Err(refused) = within_address_limit(req, &ports.limits, ports.log).await {
        return (refused, Effects::default());
    }
    let (response, effects) = match (req.method, req.path.as_str()) {
        (Method::Post, TOKEN_PATH) => (apart(token::handle(req, ports)).await, Effects::default()),
        (Method::Post, REVOCATION_PATH) => (apart(revocation::revoke(req, ports)).await, Effects::default()),
        (Method::Post, INTROSPECTION_PATH) => (apart(revocation::introspect(req, ports)).await, Effects::default()),
        (_, TOKEN_PATH | REVOCATION_PATH | INTROSPECTION_PATH) => (method_not_allowed("POST"), Effects::default()),
        (Method::Get | Method::Head, JWKS_PATH) => (wellknown::jwks(ports), Effects::default()),
        (Method::Get | Method::Head, p) if DISCOVERY_PATHS.contains(&p) => {
            (apart(wellknown::metadata(req, ports)).await, Effects::default())
        }
        (Method::Get | Method::Head, REVOCATION_LIST_PATH) => {
            (apart(revocation::list(req, ports)).await, Effects::default())
        }
        (_, p) if p == JWKS_PATH || p == REVOCATION_LIST_PATH || DISCOVERY_PATHS.contains(&p) => {
            (method_not_allowed("GET, HEAD"), Effects::default())
        }
        #[cfg(feature = "admin")]
        (_, p) if is_admin(p) => apart(admin::handle(req, ports)).await,
        _ => (not_found(), Effects::default()),
    };
    if req.method == Method::Head {
        return (Response { body: Vec::new(), signature: None, ..response }, effects);
    }
    (response, effects)
}

/// For the glue when configuration itself is broken, or a response cannot
/// be built: the detail is logged by the caller, the client sees only
/// `server_error`.
pub fn server_error_response() -> Response {
    render::oauth_error(&OAuthError::server(String::new()), "m2m-edge")
}

/// `server_error` for a deployment without `ISSUER` reached by name; the
/// log says what to set.
fn issuer_unset<R: Runtime>(unset: crate::config::IssuerUnset, p: &Ports<'_, R>) -> Response {
    p.log.error(&unset.to_string());
    server_error_response()
}

fn method_not_allowed(allow: &'static str) -> Response {
    render::oauth_error(
        &OAuthError::invalid_request("method not allowed on this endpoint").with_status(405),
        "m2m-edge",
    )
    .with_header("allow", allow)
}

/// The answer for a path nothing serves.
pub fn not_found() -> Response {
    Response::json(404, r#"{"error":"not_found","error_description":"no such endpoint"}"#)
}
