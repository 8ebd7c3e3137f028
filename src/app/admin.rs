//! The admin API: client registry management, JSON in and out, behind
//! `Authorization: Bearer <ADMIN_API_KEY>`.

use serde_json::{json, Value};

use super::Ports;
use crate::client::input::{parse_new, parse_patch, FieldError};
use crate::client::{ClientId, ClientRecord, ClientSecret, SecretHash, Status};
use crate::http::{Body, Method, Request, Response};
use crate::jose::Signer;
use crate::oauth::form::parse_pairs;
use crate::store::{ClientStore, StoreError};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// An admin API failure, each with its status and a JSON body.
#[derive(Debug)]
enum AdminError {
    Unauthorized,
    NotFound,
    MethodNotAllowed(&'static str),
    TooLarge,
    UnsupportedMediaType,
    Invalid(FieldError),
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
        AdminError::Server(e.to_string())
    }
}

impl AdminError {
    fn to_response(&self) -> Response {
        let (status, body) = match self {
            AdminError::Unauthorized => {
                (401, json!({"error": "unauthorized", "error_description": "missing or wrong admin API key"}))
            }
            AdminError::NotFound => (404, json!({"error": "not_found", "error_description": "no such client"})),
            AdminError::MethodNotAllowed(_) => {
                (405, json!({"error": "method_not_allowed", "error_description": "method not allowed here"}))
            }
            AdminError::TooLarge => {
                (413, json!({"error": "invalid_request", "error_description": "the request body exceeds 16 KiB"}))
            }
            AdminError::UnsupportedMediaType => (
                415,
                json!({"error": "invalid_request", "error_description": "Content-Type must be application/json"}),
            ),
            AdminError::Invalid(e) => (
                400,
                json!({"error": "invalid_request", "error_description": format!("{}: {}", e.field, e.message), "field": e.field}),
            ),
            AdminError::Server(_) => (
                500,
                json!({"error": "server_error", "error_description": "the server could not complete the request"}),
            ),
        };
        let mut response = Response::json(status, body.to_string()).with_header("cache-control", "no-store");
        match self {
            AdminError::Unauthorized => {
                response = response.with_header("www-authenticate", "Bearer realm=\"m2m-edge admin\"");
            }
            AdminError::MethodNotAllowed(allow) => response = response.with_header("allow", *allow),
            _ => {}
        }
        response
    }
}

pub async fn handle<S: ClientStore, G: Signer>(req: &Request, p: &Ports<'_, S, G>) -> Response {
    match route(req, p).await {
        Ok(response) => response.with_header("cache-control", "no-store"),
        Err(error) => {
            if let AdminError::Server(detail) = &error {
                p.log.error(&format!("admin API: {detail}"));
            }
            error.to_response()
        }
    }
}

async fn route<S: ClientStore, G: Signer>(req: &Request, p: &Ports<'_, S, G>) -> Result<Response, AdminError> {
    authorize(req, p)?;
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["admin", "clients"] => match req.method {
            Method::Get => list(req, p).await,
            Method::Post => create(req, p).await,
            _ => Err(AdminError::MethodNotAllowed("GET, POST")),
        },
        ["admin", "clients", id] => {
            // A malformed id cannot exist: same 404 as an unknown one.
            let id = ClientId::parse(id).ok_or(AdminError::NotFound)?;
            match req.method {
                Method::Get => get(&id, p).await,
                Method::Patch => update(req, &id, p).await,
                Method::Delete => delete(&id, p).await,
                _ => Err(AdminError::MethodNotAllowed("GET, PATCH, DELETE")),
            }
        }
        _ => Err(AdminError::NotFound),
    }
}

/// Constant-time check of the bearer key. Both sides are hashed first so
/// the comparison also hides the key's length.
fn authorize<S: ClientStore, G: Signer>(req: &Request, p: &Ports<'_, S, G>) -> Result<(), AdminError> {
    let Some(expected) = p.config.admin_api_key.as_deref() else {
        return Err(AdminError::Server("ADMIN_API_KEY is not set; the admin API is disabled".into()));
    };
    if req.header_count("authorization") != 1 {
        return Err(AdminError::Unauthorized);
    }
    let presented = req
        .header("authorization")
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AdminError::Unauthorized)?;
    if SecretHash::of(expected).verify(presented) {
        Ok(())
    } else {
        Err(AdminError::Unauthorized)
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
    serde_json::from_slice(bytes).map_err(|_| {
        AdminError::Invalid(FieldError { field: "body".into(), message: "is not valid JSON".into() })
    })
}

fn ok(status: u16, body: Value) -> Response {
    Response::json(status, body.to_string())
}

async fn create<S: ClientStore, G: Signer>(req: &Request, p: &Ports<'_, S, G>) -> Result<Response, AdminError> {
    let input = parse_new(&json_body(req)?)?;
    let rng_failed = |_| AdminError::Server("random source failed".into());
    let id = ClientId::generate(p.random).map_err(rng_failed)?;
    let secret = ClientSecret::generate(p.random).map_err(rng_failed)?;
    let now = p.clock.now();
    let record = ClientRecord {
        id,
        name: input.name,
        description: input.description,
        grants: input.grants,
        custom_claims: input.custom_claims,
        token_ttl: input.token_ttl,
        status: Status::Active,
        secret_hash: secret.hash(),
        created_at: now,
        updated_at: now,
    };
    p.store.create(&record).await?;
    let mut body = record.to_json();
    // Shown this once; only the hash is kept.
    body["client_secret"] = Value::String(secret.expose().to_string());
    Ok(ok(201, body).with_header("location", format!("/admin/clients/{}", record.id.as_str())))
}

async fn get<S: ClientStore, G: Signer>(id: &ClientId, p: &Ports<'_, S, G>) -> Result<Response, AdminError> {
    let record = p.store.get(id).await?.ok_or(AdminError::NotFound)?;
    Ok(ok(200, record.to_json()))
}

async fn list<S: ClientStore, G: Signer>(req: &Request, p: &Ports<'_, S, G>) -> Result<Response, AdminError> {
    let invalid = |field: &str, message: &str| {
        AdminError::Invalid(FieldError { field: field.into(), message: message.into() })
    };
    let pairs = parse_pairs(req.query.as_deref().unwrap_or("").as_bytes())
        .map_err(|_| invalid("query", "malformed query string"))?;
    let param = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let limit = match param("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit", "must be an integer between 1 and 200"))?,
    };
    // The cursor is the last id of the previous page: ids sort the same in D1 and KV.
    let after = match param("cursor") {
        None => None,
        Some(c) => Some(ClientId::parse(c).ok_or_else(|| invalid("cursor", "is not a cursor this API returned"))?),
    };
    let mut page = p.store.list(after.as_ref(), limit + 1).await?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = if more { page.last().map(|c| c.id.as_str().to_string()) } else { None };
    let clients: Vec<Value> = page.iter().map(ClientRecord::to_json).collect();
    Ok(ok(200, json!({"clients": clients, "next_cursor": next_cursor})))
}

async fn update<S: ClientStore, G: Signer>(req: &Request, id: &ClientId, p: &Ports<'_, S, G>) -> Result<Response, AdminError> {
    let patch = parse_patch(&json_body(req)?)?;
    let mut record = p.store.get(id).await?.ok_or(AdminError::NotFound)?;
    if let Some(name) = patch.name {
        record.name = name;
    }
    if let Some(description) = patch.description {
        record.description = description;
    }
    if let Some(grants) = patch.grants {
        record.grants = grants;
    }
    if let Some(claims) = patch.custom_claims {
        record.custom_claims = claims;
    }
    if let Some(ttl) = patch.token_ttl {
        record.token_ttl = ttl;
    }
    if let Some(status) = patch.status {
        record.status = status;
    }
    record.updated_at = p.clock.now();
    if !p.store.update(&record).await? {
        return Err(AdminError::NotFound);
    }
    Ok(ok(200, record.to_json()))
}

async fn delete<S: ClientStore, G: Signer>(id: &ClientId, p: &Ports<'_, S, G>) -> Result<Response, AdminError> {
    if p.store.delete(id).await? {
        Ok(Response::empty(204))
    } else {
        Err(AdminError::NotFound)
    }
}
