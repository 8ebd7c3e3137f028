//! The admin API: projects, the client registry, API resources, keys and
//! the audit trail, JSON in and out, behind `Authorization: Bearer` with
//! the root `ADMIN_API_KEY` or an admin token of this deployment
//! ([`caller`]).

mod audit;
mod caller;
mod clients;
mod federation;
mod hand_out;
mod keys;
mod projects;
mod resources;
mod routes;
mod tokens;

use serde_json::{json, Value};

use super::{Effects, Ports, Runtime};
use crate::client::{ClientId, ClientRecord, ClientStore};
use crate::config::{Config, REPLICA_ANCHOR_SECS};
use crate::federation::IssuerId;
use crate::http::{Body, Header, Method, Request, Response};
use crate::oauth::form::parse_pairs;
use crate::ports::{StoreError, Write};
use crate::project::{Project, ProjectId};
use crate::resource::{ApiResource, ResourceId};
use crate::validate::FieldError;
pub use caller::AdminScope;
use caller::Caller;
use routes::{Found, Op};

/// How long a change may take to reach every token request, said on every
/// successful change (`propagation`, `X-M2M-Propagation`): each isolate
/// keeps what it read for `CLIENT_CACHE_TTL`, and with `D1_READ_REPLICAS`
/// reads replicas that reflect the primary as it was at most
/// [`REPLICA_ANCHOR_SECS`] ago. `None` when nothing lags: no cache, primary
/// reads.
pub fn propagation(config: &Config) -> Option<String> {
    let replicas = replica_lag(config);
    let bound = propagation_bound(config);
    let parts = match (config.client_cache_ttl, replicas) {
        (0, r) => format!("D1 read replicas {r} s"),
        (ttl, 0) => format!("CLIENT_CACHE_TTL {ttl} s"),
        (ttl, r) => format!("CLIENT_CACHE_TTL {ttl} s + D1 read replicas {r} s"),
    };
    (bound > 0).then(|| {
        format!("every token request sees this change within {bound} s ({parts}); the isolate that made it, at once")
    })
}

/// Seconds until a change to a client has reached every token request
/// ([`propagation`]'s bound).
fn propagation_bound(config: &Config) -> i64 {
    i64::from(config.client_cache_ttl.saturating_add(replica_lag(config)))
}

/// The most a read replica lags behind the primary here, seconds.
fn replica_lag(config: &Config) -> u32 {
    if config.read_replicas {
        REPLICA_ANCHOR_SECS
    } else {
        0
    }
}

/// The realm of the admin API's challenges.
const ADMIN_REALM: &str = "m2m-edge admin";

/// An admin API failure, each with its status and a JSON body.
#[derive(Debug)]
enum AdminError {
    Unauthorized,
    NotFound(&'static str),
    MethodNotAllowed(String),
    TooLarge,
    UnsupportedMediaType,
    Invalid(FieldError),
    /// 409: the request conflicts with current state; `clients` names the
    /// clients in the way, when that is the reason.
    Conflict {
        message: String,
        clients: Vec<String>,
    },
    /// 412: `If-Match` names a version that is no longer the stored one.
    PreconditionFailed,
    /// An admin token refused (RFC 6750 §3.1: 401 `invalid_token`, 403
    /// `insufficient_scope`, 400 `invalid_request`).
    Token(m2m_edge_verify::Rejection),
    /// 403: authenticated, but this caller may not do this (a project's
    /// admin outside its project, or handing out more than it holds).
    Forbidden(String),
    /// Logged in full; the caller sees `server_error` only.
    Server(String),
}

impl From<FieldError> for AdminError {
    fn from(e: FieldError) -> AdminError {
        AdminError::Invalid(e)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        match e {
            StoreError::BadCursor => AdminError::invalid("cursor", "is not a cursor this API returned"),
            other => AdminError::Server(other.to_string()),
        }
    }
}

impl AdminError {
    fn invalid(field: &str, message: &str) -> AdminError {
        AdminError::Invalid(FieldError::new(field, message))
    }

    fn conflict(message: impl Into<String>) -> AdminError {
        AdminError::Conflict { message: message.into(), clients: Vec::new() }
    }

    fn to_response(&self) -> Response {
        let (status, body) = match self {
            AdminError::Unauthorized => {
                (401, json!({"error": "unauthorized", "error_description": "missing or wrong admin API key"}))
            }
            AdminError::NotFound(what) => {
                (404, json!({"error": "not_found", "error_description": format!("no such {what}")}))
            }
            AdminError::MethodNotAllowed(_) => {
                (405, json!({"error": "method_not_allowed", "error_description": "method not allowed here"}))
            }
            AdminError::TooLarge => {
                (413, json!({"error": "invalid_request", "error_description": "the request body exceeds 16 KiB"}))
            }
            AdminError::UnsupportedMediaType => {
                (415, json!({"error": "invalid_request", "error_description": "Content-Type must be application/json"}))
            }
            AdminError::Invalid(e) => (
                400,
                json!({"error": "invalid_request", "error_description": format!("{}: {}", e.field, e.message), "field": e.field}),
            ),
            AdminError::Conflict { message, clients } => {
                let mut body = json!({"error": "conflict", "error_description": message});
                if !clients.is_empty() {
                    body["clients"] = json!(clients);
                }
                (409, body)
            }
            AdminError::PreconditionFailed => (
                412,
                json!({"error": "precondition_failed", "error_description": "If-Match does not match the current version (ETag); read it again"}),
            ),
            AdminError::Token(rejection) => (
                rejection.status(),
                json!({"error": rejection.error_code().unwrap_or("unauthorized"), "error_description": rejection.to_string()}),
            ),
            AdminError::Forbidden(why) => (403, json!({"error": "forbidden", "error_description": why})),
            AdminError::Server(_) => (
                500,
                json!({"error": "server_error", "error_description": "the server could not complete the request"}),
            ),
        };
        let mut response = Response::json(status, body.to_string()).with_header("cache-control", "no-store");
        match self {
            AdminError::Unauthorized => {
                response = response.with_header("www-authenticate", format!("Bearer realm=\"{ADMIN_REALM}\""));
            }
            AdminError::MethodNotAllowed(allow) => response = response.with_header("allow", allow.as_str()),
            AdminError::Token(rejection) => {
                response = response.with_header("www-authenticate", rejection.www_authenticate(ADMIN_REALM));
            }
            _ => {}
        }
        response
    }
}

type AdminResult = Result<Response, AdminError>;

/// Authorize, route and answer one admin request.
pub async fn handle<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> (Response, Effects) {
    match route(req, p).await {
        Ok((response, effects)) => {
            let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
            let changed =
                !matches!(req.method, Method::Get | Method::Head) && routes::propagates(req.method, &segments);
            let response = match propagation(p.config) {
                Some(notice) if changed => with_propagation_notice(response, &notice),
                _ => response,
            };
            (response.with_header("cache-control", "no-store"), effects)
        }
        Err(error) => {
            if let AdminError::Server(detail) = &error {
                p.log.error(&format!("admin API: {detail}"));
            }
            (error.to_response(), Effects::default())
        }
    }
}

/// The cost of reading near the caller, stated where it matters: on every change.
fn with_propagation_notice(response: Response, notice: &str) -> Response {
    let mut response = response.with_header("x-m2m-propagation", notice);
    if let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&response.body) {
        body.insert("propagation".into(), Value::String(notice.into()));
        response.body = Value::Object(body).to_string().into_bytes();
    }
    response
}

async fn route<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Result<(Response, Effects), AdminError> {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let caller = match caller::authorize(req, routes::required_scope(req.method, &segments), p).await {
        Ok(caller) => caller,
        Err(refused) => {
            // Failed authentications are counted per minute, not stored one by one.
            if matches!(&refused, AdminError::Unauthorized)
                || matches!(&refused, AdminError::Token(r) if r.status() == 401)
            {
                audit::failed_authentication(p).await;
            }
            return Err(refused);
        }
    };
    // The project of a client about to be deleted, for its audit event.
    let client_project = match (req.method, segments.as_slice()) {
        (Method::Delete, ["admin", "clients", id]) => match ClientId::parse(id) {
            Some(id) => p.store.get_fresh(&id).await?.and_then(|c| c.project_id).map(|p| p.as_str().to_string()),
            None => None,
        },
        _ => None,
    };
    // Rotation is the one admin change the isolate keeps a copy of.
    let (response, effects) = match routes::find(req.method, &segments) {
        Found::Route(route, id) => {
            let response = answer(route.op, id.unwrap_or_default(), req, &caller, p).await?;
            (response, Effects { keys_changed: route.op == Op::KeysRotate })
        }
        Found::WrongMethod(allow) => return Err(AdminError::MethodNotAllowed(allow)),
        Found::Nothing => return Err(AdminError::NotFound("endpoint")),
    };
    audit::record(req, &segments, &caller, &response, client_project, p).await;
    Ok((response, effects))
}

/// The answer of the operation `op`; `id` is the path's `{id}` segment
/// (empty when the path has none).
async fn answer<R: Runtime>(op: Op, id: &str, req: &Request, caller: &Caller, p: &Ports<'_, R>) -> AdminResult {
    let client = || ClientId::parse(id).ok_or(AdminError::NotFound("client"));
    let resource = || ResourceId::parse(id).ok_or(AdminError::NotFound("resource"));
    let project = || ProjectId::parse(id).ok_or(AdminError::NotFound("project"));
    let issuer = || IssuerId::parse(id).ok_or(AdminError::NotFound("trusted issuer"));
    match op {
        Op::ProjectsList => projects::list(req, caller, p).await,
        Op::ProjectCreate => projects::create(req, p).await,
        Op::ProjectGet => projects::get(&project()?, caller, p).await,
        Op::ProjectUpdate => projects::update(req, &project()?, p).await,
        Op::ProjectDelete => projects::delete(req, &project()?, p).await,
        Op::ClientsList => clients::list(req, caller, p).await,
        Op::ClientCreate => clients::create(req, caller, p).await,
        Op::ClientGet => clients::get(&client()?, caller, p).await,
        Op::ClientUpdate => clients::update(req, &client()?, caller, p).await,
        Op::ClientDelete => clients::delete(req, &client()?, caller, p).await,
        Op::RotationStart => clients::rotate_start(req, &client()?, caller, p).await,
        Op::RotationComplete => clients::rotate_finish(req, &client()?, true, caller, p).await,
        Op::RotationCancel => clients::rotate_finish(req, &client()?, false, caller, p).await,
        Op::FederationFailures => federation::failures(&clients::load(&client()?, caller, p).await?, p).await,
        Op::IssuersList => federation::list(p).await,
        Op::IssuerCreate => federation::create(req, caller, p).await,
        Op::IssuerGet => federation::get(&issuer()?, p).await,
        Op::IssuerUpdate => federation::update(req, &issuer()?, caller, p).await,
        Op::IssuerDelete => federation::delete(req, &issuer()?, p).await,
        Op::ResourcesList => resources::list(p).await,
        Op::ResourceCreate => resources::create(req, p).await,
        Op::ResourceGet => resources::get(&resource()?, p).await,
        Op::ResourceUpdate => resources::update(req, &resource()?, p).await,
        Op::ResourceDelete => resources::delete(req, &resource()?, p).await,
        Op::AuditList => audit::list(req, caller, p).await,
        Op::AuthFailures => audit::auth_failures(req, caller, p).await,
        Op::KeysList => keys::list(p).await,
        Op::KeysRotate => keys::rotate(req, p).await,
        Op::TokenRevoke => tokens::revoke(req, caller, p).await,
        Op::ClientTokensRevoke => tokens::revoke_client(&client()?, caller, p).await,
        Op::ProjectTokensRevoke => tokens::revoke_project(&project()?, caller, p).await,
    }
}

fn json_body(req: &Request) -> Result<Value, AdminError> {
    let bytes = match &req.body {
        Body::TooLarge => return Err(AdminError::TooLarge),
        Body::Bytes(b) => b,
    };
    if req.media_type().as_deref() != Some("application/json") {
        return Err(AdminError::UnsupportedMediaType);
    }
    serde_json::from_slice(bytes).map_err(|_| AdminError::invalid("body", "is not valid JSON"))
}

/// The admin scope a request to `path` with `method` needs (the README's
/// table, and each operation's `adminToken` scope in the OpenAPI
/// document); `None` outside the admin API.
pub fn scope_for(method: Method, path: &str) -> Option<AdminScope> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    routes::required_scope(method, &segments)
}

/// The default and largest page of a listing.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// The query of a listing, as name → value (the last one wins).
fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, AdminError> {
    parse_pairs(req.query.as_deref().unwrap_or("").as_bytes())
        .map_err(|_| AdminError::invalid("query", "malformed query string"))
}

/// One query parameter of `pairs`, if given and not empty.
fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// A listing's `limit` (1–200, default 50) and `cursor`, from its query.
fn list_limit(pairs: &[(String, String)]) -> Result<(usize, Option<String>), AdminError> {
    let limit = match query_param(pairs, "limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| AdminError::invalid("limit", "must be an integer between 1 and 200"))?,
    };
    Ok((limit, query_param(pairs, "cursor").map(str::to_string)))
}

/// The project a listing is for: its `project_id` parameter, confined to
/// the caller's project. `None` when the caller asks for a project it
/// cannot see: the listing is empty, with no read.
fn listed_project(pairs: &[(String, String)], caller: &Caller) -> Result<Option<Option<ProjectId>>, AdminError> {
    let asked = query_param(pairs, "project_id")
        .map(|v| ProjectId::parse(v).ok_or_else(|| AdminError::invalid("project_id", "is not a project id")))
        .transpose()?;
    Ok(match (caller.project(), asked) {
        (Some(own), Some(asked)) if &asked != own => None,
        (Some(own), _) => Some(Some(own.clone())),
        (None, asked) => Some(asked),
    })
}

fn ok(status: u16, body: Value) -> Response {
    Response::json(status, body.to_string())
}

/// A record's version as an entity tag (RFC 9110 §8.8.3): strong, since
/// one version always renders the same representation.
fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// What `If-Match` (RFC 9110 §13.1.1) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IfMatch {
    /// `*`: any current version.
    Any,
    /// One of these versions; tags that are weak or not ours match none.
    Versions(Vec<i64>),
}

/// The request's `If-Match`, if it sent one.
fn if_match(req: &Request) -> Option<IfMatch> {
    let value = req.header(Header::IfMatch)?;
    if value.trim() == "*" {
        return Some(IfMatch::Any);
    }
    // If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag
    // (W/"…") never matches, so it is simply not collected.
    let versions = value
        .split(',')
        .filter_map(|tag| tag.trim().strip_prefix('"')?.strip_suffix('"')?.parse::<i64>().ok())
        .collect();
    Some(IfMatch::Versions(versions))
}

/// `412` unless the stored `version` satisfies the request's `If-Match`.
fn check_precondition(condition: Option<&IfMatch>, version: i64) -> Result<(), AdminError> {
    match condition {
        None | Some(IfMatch::Any) => Ok(()),
        Some(IfMatch::Versions(versions)) if versions.contains(&version) => Ok(()),
        Some(IfMatch::Versions(_)) => Err(AdminError::PreconditionFailed),
    }
}

/// A record the admin API edits under compare-and-swap on its version.
trait Versioned {
    /// `404`'s noun.
    const NOUN: &'static str;
    /// `409`'s description when the record kept changing.
    const KEPT_CHANGING: &'static str;
    /// The write count the record was read at.
    fn version(&self) -> i64;
    /// After a write landed: the stored version is one more.
    fn written(&mut self);
    /// Stamp the change's time.
    fn touch(&mut self, now: i64);
}

/// [`Versioned`] for a record with `version` and `updated_at` fields.
macro_rules! versioned {
    ($record:ty, $noun:literal) => {
        impl Versioned for $record {
            const NOUN: &'static str = $noun;
            const KEPT_CHANGING: &'static str =
                concat!("the ", $noun, " kept changing while this request applied; read it again and retry");
            fn version(&self) -> i64 {
                self.version
            }
            fn written(&mut self) {
                self.version += 1;
            }
            fn touch(&mut self, now: i64) {
                self.updated_at = now;
            }
        }
    };
}

versioned!(ClientRecord, "client");
versioned!(Project, "project");
versioned!(ApiResource, "resource");

/// Every admin edit: read the record from storage (never a cache), check
/// `If-Match`, apply `change` and write it back only if nobody wrote in
/// between (compare-and-swap on its version). A lost race is retried once
/// on fresh data, then answered `409`: an edit never overwrites a change it
/// did not see. `change` may refuse (its error is the answer) or return
/// something for the response.
async fn edit<T: Versioned, O>(
    req: &Request,
    now: i64,
    load: impl AsyncFn() -> Result<T, AdminError>,
    mut change: impl AsyncFnMut(&mut T) -> Result<O, AdminError>,
    save: impl AsyncFn(&T) -> Result<Write, StoreError>,
) -> Result<(T, O), AdminError> {
    let expected = if_match(req);
    for _ in 0..2 {
        let mut record = load().await?;
        check_precondition(expected.as_ref(), record.version())?;
        let out = change(&mut record).await?;
        record.touch(now);
        match save(&record).await? {
            Write::Done => {
                record.written();
                return Ok((record, out));
            }
            Write::Missing => return Err(AdminError::NotFound(T::NOUN)),
            Write::Stale => continue,
        }
    }
    Err(AdminError::conflict(T::KEPT_CHANGING))
}
