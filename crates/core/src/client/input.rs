//! Validation of admin API bodies. Every rejection names the field, so an
//! operator can fix the request without guessing.

use serde_json::{Map, Value};

use super::federated::{self, FederatedCredential};
use super::keys::ClientKeys;
use super::record::{ClientId, Status};
use crate::grant::Grant;
use crate::oauth::claims::RESERVED_CLAIMS;
use crate::project::ProjectId;
use crate::validate::{as_object, description, name, token_ttl, FieldError};

const MAX_CUSTOM_CLAIMS_BYTES: usize = 4096;

/// `POST /admin/clients`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewClient {
    /// The id the caller chose (the Hydra-like flow); generated when absent.
    pub id: Option<ClientId>,
    /// The project the client belongs to, for good.
    pub project_id: Option<ProjectId>,
    /// The display name, trimmed.
    pub name: String,
    /// Free text for operators; empty means none.
    pub description: Option<String>,
    /// The APIs and scopes the client may ask for.
    pub grants: Vec<Grant>,
    /// Extra claims for every token (never a reserved one).
    pub custom_claims: Map<String, Value>,
    /// Token lifetime in seconds; `None`: the server default.
    pub token_ttl: Option<u32>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// `private_key_jwt`: the keys its assertions are checked with; `None`
    /// for a client that authenticates with a secret.
    pub keys: Option<ClientKeys>,
    /// Platform tokens that stand for it (workload identity federation).
    pub federated_credentials: Vec<FederatedCredential>,
}

/// `PATCH /admin/clients/{id}`: `None` leaves a field alone; for the nullable
/// fields `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientPatch {
    /// A new display name.
    pub name: Option<String>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// New grants, replacing the old ones.
    pub grants: Option<Vec<Grant>>,
    /// New custom claims, replacing the old ones.
    pub custom_claims: Option<Map<String, Value>>,
    /// A new lifetime, or `Some(None)` for the server default.
    pub token_ttl: Option<Option<u32>>,
    /// Require DPoP proofs, or stop requiring them.
    pub dpop_bound_access_tokens: Option<bool>,
    /// Deactivate or reactivate.
    pub status: Option<Status>,
    /// New keys for a `private_key_jwt` client (its key rotation).
    pub keys: Option<ClientKeys>,
    /// New federated credentials, replacing the old ones.
    pub federated_credentials: Option<Vec<FederatedCredential>>,
}

const CREATE_FIELDS: [&str; 11] = [
    "dpop_bound_access_tokens",
    "federated_credentials",
    "client_id",
    "project_id",
    "name",
    "description",
    "grants",
    "custom_claims",
    "token_ttl",
    "token_endpoint_auth_method",
    "jwks",
];
/// `client_id`, `project_id` and `token_endpoint_auth_method` are named so
/// that an attempt to change them gets its own answer rather than "unknown
/// field".
const PATCH_FIELDS: [&str; 12] = [
    "dpop_bound_access_tokens",
    "federated_credentials",
    "name",
    "description",
    "grants",
    "custom_claims",
    "token_ttl",
    "status",
    "jwks",
    "client_id",
    "project_id",
    "token_endpoint_auth_method",
];

/// How a client authenticates at the token endpoint (RFC 7591 §2
/// `token_endpoint_auth_method`). A secret client may use Basic or the
/// body, whichever it likes; a key client only assertions.
pub const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];

/// The keys of a new client: `jwks` with `private_key_jwt`, nothing with
/// a secret method (the default).
fn new_keys(map: &Map<String, Value>) -> Result<Option<ClientKeys>, FieldError> {
    let method = match map.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => "client_secret_basic",
        Some(v) => v.as_str().filter(|m| AUTH_METHODS.contains(m)).ok_or_else(|| {
            FieldError::new(
                "token_endpoint_auth_method",
                "must be client_secret_basic, client_secret_post or private_key_jwt",
            )
        })?,
    };
    match (method, map.get("jwks").filter(|v| !v.is_null())) {
        ("private_key_jwt", Some(jwks)) => Ok(Some(ClientKeys::parse(jwks)?)),
        ("private_key_jwt", None) => Err(FieldError::new("jwks", "is required with private_key_jwt")),
        (_, Some(_)) => Err(FieldError::new("jwks", "is only for token_endpoint_auth_method private_key_jwt")),
        (_, None) => Ok(None),
    }
}

/// The checked body of `POST /admin/clients`.
pub fn parse_new(body: &Value) -> Result<NewClient, FieldError> {
    let map = as_object(body, &CREATE_FIELDS)?;
    let name = match map.get("name") {
        None | Some(Value::Null) => return Err(FieldError::new("name", "is required")),
        Some(v) => name(v)?,
    };
    let grants = match map.get("grants") {
        None | Some(Value::Null) => return Err(FieldError::new("grants", "is required")),
        Some(v) => grants(v)?,
    };
    let id = match map.get("client_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(ClientId::chosen).ok_or_else(|| {
            FieldError::new(
                "client_id",
                "must be 3 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit",
            )
        })?),
    };
    let project_id = match map.get("project_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(ProjectId::parse)
                .ok_or_else(|| FieldError::new("project_id", "is not a project id"))?,
        ),
    };
    Ok(NewClient {
        id,
        project_id,
        name,
        description: map.get("description").map(description).transpose()?.flatten(),
        grants,
        custom_claims: map.get("custom_claims").map(custom_claims).transpose()?.unwrap_or_default(),
        token_ttl: map.get("token_ttl").map(token_ttl).transpose()?.flatten(),
        dpop_bound_access_tokens: map.get("dpop_bound_access_tokens").map(dpop_bound).transpose()?.unwrap_or(false),
        keys: new_keys(map)?,
        federated_credentials: map.get("federated_credentials").map(federated::parse).transpose()?.unwrap_or_default(),
    })
}

/// The checked body of `PATCH /admin/clients/{id}`.
pub fn parse_patch(body: &Value) -> Result<ClientPatch, FieldError> {
    let map = as_object(body, &PATCH_FIELDS)?;
    for fixed in ["client_id", "project_id", "token_endpoint_auth_method"] {
        if map.contains_key(fixed) {
            return Err(FieldError::new(
                fixed,
                "cannot change: a client keeps the id, project and authentication method it was created with",
            ));
        }
    }
    let mut patch = ClientPatch::default();
    if let Some(v) = map.get("name") {
        patch.name = Some(name(v)?);
    }
    if let Some(v) = map.get("description") {
        patch.description = Some(description(v)?);
    }
    if let Some(v) = map.get("grants") {
        patch.grants = Some(grants(v)?);
    }
    if let Some(v) = map.get("custom_claims") {
        patch.custom_claims = Some(custom_claims(v)?);
    }
    if let Some(v) = map.get("token_ttl") {
        patch.token_ttl = Some(token_ttl(v)?);
    }
    if let Some(v) = map.get("dpop_bound_access_tokens") {
        patch.dpop_bound_access_tokens = Some(dpop_bound(v)?);
    }
    if let Some(v) = map.get("status") {
        let s = v.as_str().and_then(Status::parse);
        patch.status = Some(s.ok_or_else(|| FieldError::new("status", "must be \"active\" or \"inactive\""))?);
    }
    if let Some(v) = map.get("jwks") {
        patch.keys = Some(ClientKeys::parse(v)?);
    }
    if let Some(v) = map.get("federated_credentials") {
        patch.federated_credentials = Some(federated::parse(v)?);
    }
    Ok(patch)
}

/// RFC 9449 §5.2's client metadata: a boolean.
fn dpop_bound(v: &Value) -> Result<bool, FieldError> {
    v.as_bool().ok_or_else(|| FieldError::new("dpop_bound_access_tokens", "must be true or false"))
}

fn grants(v: &Value) -> Result<Vec<Grant>, FieldError> {
    crate::grant::parse_list("grants", v, 1)
}

fn custom_claims(v: &Value) -> Result<Map<String, Value>, FieldError> {
    let map = match v {
        Value::Null => return Ok(Map::new()),
        Value::Object(m) => m,
        _ => return Err(FieldError::new("custom_claims", "must be a JSON object")),
    };
    if let Some(reserved) = map.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(FieldError::new(
            format!("custom_claims.{reserved}"),
            "is a registered claim the server sets itself and cannot be overridden",
        ));
    }
    if map.keys().any(String::is_empty) {
        return Err(FieldError::new("custom_claims", "claim names must not be empty"));
    }
    if v.to_string().len() > MAX_CUSTOM_CLAIMS_BYTES {
        return Err(FieldError::new("custom_claims", "must serialize to at most 4096 bytes"));
    }
    Ok(map.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"name": "billing-sync", "grants": [{"audience": "https://api.example.com", "scopes": ["read", "write"]}]})
    }

    fn field_of(body: Value) -> String {
        parse_new(&body).unwrap_err().field
    }

    #[test]
    fn minimal_create() {
        let c = parse_new(&good()).unwrap();
        assert_eq!(c.name, "billing-sync");
        assert_eq!(c.grants[0].scopes.len(), 2);
        assert_eq!(c.token_ttl, None);
        assert!(c.custom_claims.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let with = |k: &str, v: Value| {
            let mut b = good();
            b[k] = v;
            b
        };
        assert_eq!(field_of(json!([])), "body");
        assert_eq!(field_of(with("name", json!("  "))), "name");
        assert_eq!(field_of(with("name", json!(5))), "name");
        assert_eq!(field_of(with("name", json!("a\u{7}b"))), "name");
        assert_eq!(field_of(json!({"grants": good()["grants"]})), "name");
        assert_eq!(field_of(json!({"name": "x"})), "grants");
        assert_eq!(field_of(with("grants", json!([]))), "grants");
        assert_eq!(field_of(with("grants", json!([{"audience": "api", "scopes": []}]))), "grants[0].audience");
        assert_eq!(
            field_of(with("grants", json!([{"audience": "https://a", "scopes": ["ok", "has space"]}]))),
            "grants[0].scopes[1]"
        );
        assert_eq!(
            field_of(with("grants", json!([{"audience": "https://a", "scopes": ["x\u{1}"]}]))),
            "grants[0].scopes[0]"
        );
        assert_eq!(
            field_of(with(
                "grants",
                json!([{"audience": "https://a", "scopes": []}, {"audience": "https://a", "scopes": []}])
            )),
            "grants[1].audience"
        );
        assert_eq!(field_of(with("grants", json!([{"audience": "https://a", "scopes": [], "x": 1}]))), "grants[0].x");
        assert_eq!(field_of(with("token_ttl", json!(59))), "token_ttl");
        assert_eq!(field_of(with("token_ttl", json!(86401))), "token_ttl");
        assert_eq!(field_of(with("token_ttl", json!(600.5))), "token_ttl");
        assert_eq!(field_of(with("token_ttl", json!("600"))), "token_ttl");
        assert_eq!(field_of(with("custom_claims", json!({"sub": "x"}))), "custom_claims.sub");
        assert_eq!(field_of(with("custom_claims", json!([1]))), "custom_claims");
        assert_eq!(field_of(with("surprise", json!(1))), "surprise");
        assert_eq!(field_of(with("status", json!("active"))), "status");
    }

    #[test]
    fn ttl_bounds_are_inclusive() {
        for ttl in [60, 86400] {
            let mut b = good();
            b["token_ttl"] = json!(ttl);
            assert_eq!(parse_new(&b).unwrap().token_ttl, Some(ttl));
        }
    }

    #[test]
    fn patch_semantics() {
        let p = parse_patch(&json!({"status": "inactive", "description": null, "token_ttl": null})).unwrap();
        assert_eq!(p.status, Some(Status::Inactive));
        assert_eq!(p.description, Some(None));
        assert_eq!(p.token_ttl, Some(None));
        assert_eq!(p.name, None);
        assert_eq!(parse_patch(&json!({"status": "paused"})).unwrap_err().field, "status");
        assert_eq!(parse_patch(&json!({"name": null})).unwrap_err().field, "name");
        assert_eq!(parse_patch(&json!({"client_id": "x"})).unwrap_err().field, "client_id");
        assert_eq!(parse_patch(&json!({})).unwrap(), ClientPatch::default());
    }
}
