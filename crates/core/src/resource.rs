//! API resources (the model: Auth0's APIs, Authgear's API resources): the
//! APIs tokens are issued for. Each has an identifier, which becomes the
//! token's `aud`, and the scopes it defines. Once any resource is
//! registered, client grants may only name registered resources and their
//! scopes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grant::{Audience, Grant, Scope};
use crate::ports::{StoreError, Write};
use crate::validate::{as_object, name, token_ttl, FieldError};

crate::ids::prefixed_id!(
    /// An API resource's id: `api_` + 32 lowercase hex digits.
    ResourceId,
    "api_"
);

/// A scope an API resource defines, with what it allows, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDef {
    /// The scope token.
    pub name: Scope,
    /// What it allows, for people.
    #[serde(default)]
    pub description: String,
}

/// A registered API: the audience tokens are issued for and its scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResource {
    /// Its id.
    pub id: ResourceId,
    /// The audience (`aud`) of tokens for it; never changes.
    pub identifier: Audience,
    /// Its display name.
    pub name: String,
    /// The scopes it defines.
    pub scopes: Vec<ScopeDef>,
    /// Caps the lifetime of tokens for this audience: the shorter of the
    /// client's lifetime and this one wins.
    pub token_ttl: Option<u32>,
    /// When it was registered (Unix seconds).
    pub created_at: i64,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
    /// Write count, for compare-and-swap: see [`crate::client::ClientRecord::version`].
    pub version: i64,
}

impl ApiResource {
    /// Whether it defines `scope`.
    pub fn defines(&self, scope: &Scope) -> bool {
        self.scopes.iter().any(|s| &s.name == scope)
    }
}

/// `POST /admin/resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResource {
    /// The audience of tokens for it.
    pub identifier: Audience,
    /// Its display name.
    pub name: String,
    /// The scopes it defines.
    pub scopes: Vec<ScopeDef>,
    /// Caps the lifetime of its tokens.
    pub token_ttl: Option<u32>,
}

/// `PATCH /admin/resources/{id}`: the identifier cannot change (tokens and
/// grants carry it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourcePatch {
    /// A new display name.
    pub name: Option<String>,
    /// New scopes, replacing the old ones.
    pub scopes: Option<Vec<ScopeDef>>,
    /// A new cap, or `Some(None)` for none.
    pub token_ttl: Option<Option<u32>>,
}

/// The checked body of `POST /admin/resources`.
pub fn parse_new(body: &Value) -> Result<NewResource, FieldError> {
    let map = as_object(body, &["identifier", "name", "scopes", "token_ttl"])?;
    let identifier = map
        .get("identifier")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new("identifier", "is required and must be a string"))?;
    let identifier = Audience::parse(identifier).map_err(|e| FieldError::new("identifier", e.to_string()))?;
    Ok(NewResource {
        identifier,
        name: name(map.get("name").ok_or_else(|| FieldError::new("name", "is required"))?)?,
        scopes: scopes(map.get("scopes").unwrap_or(&Value::Array(Vec::new())))?,
        token_ttl: map.get("token_ttl").map(token_ttl).transpose()?.flatten(),
    })
}

/// The checked body of `PATCH /admin/resources/{id}`.
pub fn parse_patch(body: &Value) -> Result<ResourcePatch, FieldError> {
    let map = as_object(body, &["name", "scopes", "token_ttl"]).map_err(|e| {
        // Tokens and grants carry the identifier: say so rather than "unknown field".
        if e.field == "identifier" {
            FieldError::new("identifier", "cannot be changed: tokens and grants carry it; create a new resource")
        } else {
            e
        }
    })?;
    Ok(ResourcePatch {
        name: map.get("name").map(name).transpose()?,
        scopes: map.get("scopes").map(scopes).transpose()?,
        token_ttl: map.get("token_ttl").map(token_ttl).transpose()?,
    })
}

fn scopes(v: &Value) -> Result<Vec<ScopeDef>, FieldError> {
    let items = v.as_array().ok_or_else(|| FieldError::new("scopes", "must be an array of {name, description}"))?;
    if items.len() > 200 {
        return Err(FieldError::new("scopes", "must contain at most 200 scopes"));
    }
    let mut out: Vec<ScopeDef> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let f = format!("scopes[{i}]");
        let obj =
            item.as_object().ok_or_else(|| FieldError::new(f.as_str(), "must be an object {name, description}"))?;
        if let Some(unknown) = obj.keys().find(|k| *k != "name" && *k != "description") {
            return Err(FieldError::new(format!("{f}.{unknown}"), "unknown field; expected name, description"));
        }
        let raw = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new(format!("{f}.name"), "is required"))?;
        let scope = Scope::parse(raw).map_err(|e| FieldError::new(format!("{f}.name"), e.to_string()))?;
        if out.iter().any(|d| d.name == scope) {
            return Err(FieldError::new(format!("{f}.name"), format!("repeats scope `{raw}`")));
        }
        let description = match obj.get("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) if s.chars().count() <= 500 => s.clone(),
            Some(_) => {
                return Err(FieldError::new(format!("{f}.description"), "must be a string of at most 500 characters"))
            }
        };
        out.push(ScopeDef { name: scope, description });
    }
    Ok(out)
}

/// With resources registered, every grant in `field` must name one and
/// only scopes it defines, except those `exempt` (the deployment's own
/// admin audience). With none registered, grants are free-form (the
/// first-run mode).
pub fn check_grants(
    field: &str,
    grants: &[Grant],
    resources: &[ApiResource],
    exempt: impl Fn(&Grant) -> bool,
) -> Result<(), FieldError> {
    if resources.is_empty() {
        return Ok(());
    }
    for (i, grant) in grants.iter().enumerate().filter(|(_, g)| !exempt(g)) {
        let resource = resources.iter().find(|r| r.identifier == grant.audience).ok_or_else(|| {
            FieldError::new(
                format!("{field}[{i}].audience"),
                format!("`{}` is not a registered API resource", grant.audience.as_str()),
            )
        })?;
        if let Some((j, scope)) = grant.scopes.iter().enumerate().find(|(_, s)| !resource.defines(s)) {
            return Err(FieldError::new(
                format!("{field}[{i}].scopes[{j}]"),
                format!("`{}` is not a scope of API resource `{}`", scope.as_str(), resource.identifier.as_str()),
            ));
        }
    }
    Ok(())
}

/// The scopes a resource no longer defines after `patch`: grants that still
/// use them block the change.
pub fn removed_scopes(before: &ApiResource, after: &[ScopeDef]) -> Vec<Scope> {
    before.scopes.iter().filter(|s| !after.iter().any(|a| a.name == s.name)).map(|s| s.name.clone()).collect()
}

/// Most API resources a deployment may register; the token and admin paths
/// read the whole set, so it stays small.
pub const MAX_RESOURCES: usize = 500;

/// Where API resources are kept (D1, KV, or memory in tests).
#[allow(async_fn_in_trait)]
pub trait ResourceStore {
    /// The resource with that id, if any.
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError>;

    /// The resource whose identifier (the token audience) is `identifier`.
    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError>;

    /// Every resource, in id order (at most [`MAX_RESOURCES`]).
    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError>;

    /// Every resource as storage has it now, past any cache: what admin
    /// checks against.
    /// No default, for the reason [`ClientStore::get_fresh`](crate::client::ClientStore::get_fresh) has none.
    async fn resources_fresh(&self) -> Result<Vec<ApiResource>, StoreError>;

    /// [`StoreError::Conflict`] if the id or the identifier is taken.
    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError>;

    /// Replace it (the identifier never changes) if the stored version is
    /// still `resource.version`, storing `resource.version + 1`.
    async fn update_resource(&self, resource: &ApiResource) -> Result<Write, StoreError>;

    /// Remove it if the stored version is still `resource.version`.
    async fn delete_resource(&self, resource: &ApiResource) -> Result<Write, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(identifier: &str, scopes: &[&str]) -> ApiResource {
        ApiResource {
            id: ResourceId::parse("api_0123456789abcdef0123456789abcdef").unwrap(),
            identifier: Audience::parse(identifier).unwrap(),
            name: "r".into(),
            scopes: scopes
                .iter()
                .map(|s| ScopeDef { name: Scope::parse(s).unwrap(), description: String::new() })
                .collect(),
            token_ttl: None,
            created_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    fn grants(v: Value) -> Vec<Grant> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parse_and_name_fields() {
        let r = parse_new(&json!({"identifier": "https://api.x", "name": "X", "scopes": [{"name": "read", "description": "Read"}], "token_ttl": 300})).unwrap();
        assert_eq!(r.scopes[0].description, "Read");
        assert_eq!(r.token_ttl, Some(300));
        let err = |v: Value| parse_new(&v).unwrap_err().field;
        assert_eq!(err(json!({"name": "X"})), "identifier");
        assert_eq!(err(json!({"identifier": "rel", "name": "X"})), "identifier");
        assert_eq!(err(json!({"identifier": "https://a", "name": ""})), "name");
        assert_eq!(err(json!({"identifier": "https://a", "name": "X", "scopes": [{"name": "a b"}]})), "scopes[0].name");
        assert_eq!(
            err(json!({"identifier": "https://a", "name": "X", "scopes": [{"name": "a"}, {"name": "a"}]})),
            "scopes[1].name"
        );
        assert_eq!(err(json!({"identifier": "https://a", "name": "X", "token_ttl": 5})), "token_ttl");
        assert_eq!(parse_patch(&json!({"identifier": "https://b"})).unwrap_err().field, "identifier");
        assert_eq!(parse_patch(&json!({"token_ttl": null})).unwrap().token_ttl, Some(None));
    }

    #[test]
    fn grants_must_match_registered_resources() {
        let rs = [resource("https://a", &["read", "write"])];
        let check = |g: &[Grant], rs: &[ApiResource]| check_grants("grants", g, rs, |_| false);
        assert!(check(&grants(json!([{"audience": "https://a", "scopes": ["read"]}])), &rs).is_ok());
        assert!(check(&grants(json!([{"audience": "https://b", "scopes": []}])), &[]).is_ok());
        let e = check(&grants(json!([{"audience": "https://b", "scopes": []}])), &rs).unwrap_err();
        assert_eq!(e.field, "grants[0].audience");
        let e = check(&grants(json!([{"audience": "https://a", "scopes": ["read", "admin"]}])), &rs).unwrap_err();
        assert_eq!(e.field, "grants[0].scopes[1]");
        assert!(e.message.contains("admin"));
    }

    #[test]
    fn removed_scopes_are_found() {
        let r = resource("https://a", &["read", "write"]);
        let after = vec![ScopeDef { name: Scope::parse("read").unwrap(), description: String::new() }];
        assert_eq!(removed_scopes(&r, &after), vec![Scope::parse("write").unwrap()]);
    }
}
