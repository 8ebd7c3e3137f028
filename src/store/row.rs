//! The flat, storage-shaped form of a client (one D1 row, or one KV value),
//! and its checked conversion to and from [`ClientRecord`]. Grants and
//! custom claims are JSON text; the secret is its SHA-256 in hex.

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::client::{ClientId, ClientRecord, SecretHash, Status};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub grants: String,
    pub custom_claims: String,
    pub token_ttl: Option<i64>,
    pub status: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ClientRow {
    pub fn from_record(c: &ClientRecord) -> ClientRow {
        ClientRow {
            id: c.id.as_str().to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            grants: serde_json::to_string(&c.grants).unwrap_or_else(|_| "[]".into()),
            custom_claims: serde_json::Value::Object(c.custom_claims.clone()).to_string(),
            token_ttl: c.token_ttl.map(i64::from),
            status: c.status.as_str().to_string(),
            secret_hash: c.secret_hash.to_hex(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }

    pub fn into_record(self) -> Result<ClientRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", self.id));
        Ok(ClientRecord {
            id: ClientId::parse(&self.id).ok_or_else(|| corrupt("id"))?,
            grants: serde_json::from_str(&self.grants).map_err(|_| corrupt("grants"))?,
            custom_claims: serde_json::from_str(&self.custom_claims).map_err(|_| corrupt("custom_claims"))?,
            token_ttl: self.token_ttl.map(u32::try_from).transpose().map_err(|_| corrupt("token_ttl"))?,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            secret_hash: SecretHash::from_hex(&self.secret_hash).ok_or_else(|| corrupt("secret_hash"))?,
            name: self.name,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}
