//! The flat, storage-shaped form of a client (one D1 row, or one KV value),
//! and its checked conversion to and from [`ClientRecord`]. Grants and
//! custom claims are JSON text; the secret is its SHA-256 in hex.

use serde::{Deserialize, Serialize};

use crate::client::{ClientId, ClientRecord, Incarnation, SecretHash, Status, StoredSecret};
use crate::grant::Audience;
use crate::ports::StoreError;
use crate::project::ProjectId;
use crate::resource::{ApiResource, ResourceId};

/// A client as one D1 row or one KV value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRow {
    /// `m2m_…` or a chosen id.
    pub id: String,
    /// The project, if any (absent in rows written before projects existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Grants as JSON text.
    pub grants: String,
    /// Custom claims as JSON text.
    pub custom_claims: String,
    /// Lifetime in seconds, or NULL.
    pub token_ttl: Option<i64>,
    /// 1 when its token requests must carry a DPoP proof; 0, or absent in
    /// rows written before migration 0012, when not.
    #[serde(default)]
    pub dpop_bound_access_tokens: i64,
    /// `active` or `inactive`.
    pub status: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Empty for rows written before rotation existed (migration 0002).
    #[serde(default)]
    pub secret_last_four: Option<String>,
    /// SHA-256 of the next secret during a rotation.
    #[serde(default)]
    pub next_secret_hash: Option<String>,
    /// Its last four characters.
    #[serde(default)]
    pub next_secret_last_four: Option<String>,
    /// A `private_key_jwt` client's JWK set, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// The client's federated credentials, as JSON text; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_credentials: Option<String>,
    /// The client's incarnation (`inc_…`); absent in rows written before
    /// incarnations existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Write count (compare-and-swap); values written before versions
    /// existed read as 1.
    #[serde(default = "first_version")]
    pub version: i64,
    /// Only in the token path's client read (the D1 store's
    /// `CLIENT_WITH_GRANTED_RESOURCES`, which saves that path a second round
    /// trip): the registered API resources the grants name, as a JSON array
    /// of [`ResourceRow`]s. No column of its own; never written.
    #[serde(default, skip_serializing)]
    pub granted_resources: Option<String>,
}

impl ClientRow {
    /// The row for `c`; an error only if its JSON columns cannot be
    /// rendered (never silently an empty value).
    pub fn from_record(c: &ClientRecord) -> Result<ClientRow, StoreError> {
        Ok(ClientRow {
            id: c.id.as_str().to_string(),
            project_id: c.project_id.as_ref().map(|p| p.as_str().to_string()),
            name: c.name.clone(),
            description: c.description.clone(),
            grants: to_json_text(&c.grants, "client grants")?,
            custom_claims: serde_json::Value::Object(c.custom_claims.clone()).to_string(),
            token_ttl: c.token_ttl.map(i64::from),
            dpop_bound_access_tokens: i64::from(c.dpop_bound_access_tokens),
            status: c.status.as_str().to_string(),
            secret_hash: c.secret.hash.to_hex(),
            secret_last_four: Some(c.secret.last_four.clone()),
            next_secret_hash: c.next_secret.as_ref().map(|s| s.hash.to_hex()),
            next_secret_last_four: c.next_secret.as_ref().map(|s| s.last_four.clone()),
            jwks: c.keys.as_ref().map(|k| k.to_json().to_string()),
            federated_credentials: if c.federated_credentials.is_empty() {
                None
            } else {
                Some(to_json_text(&c.federated_credentials, "federated credentials")?)
            },
            incarnation: c.incarnation.as_ref().map(|i| i.as_str().to_string()),
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
            granted_resources: None,
        })
    }

    /// The record, or [`StoreError::Corrupt`] naming the field that does not parse.
    pub fn into_record(self) -> Result<ClientRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", self.id));
        Ok(ClientRecord {
            id: ClientId::parse(&self.id).ok_or_else(|| corrupt("id"))?,
            project_id: self
                .project_id
                .as_deref()
                .map(ProjectId::parse)
                .map(|p| p.ok_or_else(|| corrupt("project_id")))
                .transpose()?,
            grants: serde_json::from_str(&self.grants).map_err(|_| corrupt("grants"))?,
            custom_claims: serde_json::from_str(&self.custom_claims).map_err(|_| corrupt("custom_claims"))?,
            token_ttl: self.token_ttl.map(u32::try_from).transpose().map_err(|_| corrupt("token_ttl"))?,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens != 0,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            secret: StoredSecret {
                hash: SecretHash::from_hex(&self.secret_hash).ok_or_else(|| corrupt("secret_hash"))?,
                last_four: self.secret_last_four.clone().unwrap_or_default(),
            },
            next_secret: match &self.next_secret_hash {
                None => None,
                Some(h) => Some(StoredSecret {
                    hash: SecretHash::from_hex(h).ok_or_else(|| corrupt("next_secret_hash"))?,
                    last_four: self.next_secret_last_four.clone().unwrap_or_default(),
                }),
            },
            keys: match &self.jwks {
                None => None,
                Some(text) => Some(
                    serde_json::from_str(text)
                        .ok()
                        .and_then(|v| crate::client::ClientKeys::parse(&v).ok())
                        .ok_or_else(|| corrupt("jwks"))?,
                ),
            },
            federated_credentials: match &self.federated_credentials {
                None => Vec::new(),
                Some(text) => serde_json::from_str(text).map_err(|_| corrupt("federated_credentials"))?,
            },
            incarnation: self
                .incarnation
                .as_deref()
                .map(|i| Incarnation::parse(i).ok_or_else(|| corrupt("incarnation")))
                .transpose()?,
            name: self.name,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// An API resource, flat: scopes are JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRow {
    /// `api_…`.
    pub id: String,
    /// The audience.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Scopes as JSON text.
    pub scopes: String,
    /// Lifetime cap in seconds, or NULL.
    pub token_ttl: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Write count (compare-and-swap); values written before versions
    /// existed read as 1.
    #[serde(default = "first_version")]
    pub version: i64,
}

impl ResourceRow {
    /// The row for `r`; an error only if its scopes cannot be rendered.
    pub fn from_resource(r: &ApiResource) -> Result<ResourceRow, StoreError> {
        Ok(ResourceRow {
            id: r.id.as_str().to_string(),
            identifier: r.identifier.as_str().to_string(),
            name: r.name.clone(),
            scopes: to_json_text(&r.scopes, "resource scopes")?,
            token_ttl: r.token_ttl.map(i64::from),
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        })
    }

    /// The resource, or [`StoreError::Corrupt`] naming the field that does not parse.
    pub fn into_resource(self) -> Result<ApiResource, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("resource {}: {what}", self.id));
        Ok(ApiResource {
            id: ResourceId::parse(&self.id).ok_or_else(|| corrupt("id"))?,
            identifier: Audience::parse(&self.identifier).map_err(|_| corrupt("identifier"))?,
            scopes: serde_json::from_str(&self.scopes).map_err(|_| corrupt("scopes"))?,
            token_ttl: self.token_ttl.map(u32::try_from).transpose().map_err(|_| corrupt("token_ttl"))?,
            name: self.name,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// A JSON column's text. Serializing these types cannot fail today; if a
/// future field made it fail, the write fails loudly instead of storing "[]".
fn to_json_text<T: Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("{what} not serializable: {e}")))
}

fn first_version() -> i64 {
    1
}
