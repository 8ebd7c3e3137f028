//! The D1 adapter: the `clients` table from `migrations/0001_clients.sql`,
//! documented in docs/storage.md.

use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::client::{ClientId, ClientRecord};
use crate::store::row::ClientRow;
use crate::store::{ClientStore, StoreError};

pub struct D1Store {
    db: D1Database,
}

impl D1Store {
    pub fn new(db: D1Database) -> D1Store {
        D1Store { db }
    }
}

/// D1's own message (`no such table: clients: SQLITE_ERROR`) without the JS
/// stack the `Debug` form carries. Bound values never appear in it.
fn backend(e: worker::Error) -> StoreError {
    match e {
        worker::Error::D1(d1) => StoreError::Backend(format!("D1: {}", d1.cause())),
        other => StoreError::Backend(format!("D1: {other}")),
    }
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn opt_text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// The bind values of a row in column order (?1 … ?10).
fn row_values(r: &ClientRow) -> [JsValue; 10] {
    [
        text(&r.id),
        text(&r.name),
        opt_text(r.description.as_deref()),
        text(&r.grants),
        text(&r.custom_claims),
        r.token_ttl.map_or(JsValue::NULL, int),
        text(&r.status),
        text(&r.secret_hash),
        int(r.created_at),
        int(r.updated_at),
    ]
}

const SELECT_ONE: &str = "SELECT id, name, description, grants, custom_claims, token_ttl, status, secret_hash, \
     created_at, updated_at FROM clients WHERE id = ?1";
const SELECT_PAGE: &str = "SELECT id, name, description, grants, custom_claims, token_ttl, status, secret_hash, \
     created_at, updated_at FROM clients WHERE id > ?1 ORDER BY id LIMIT ?2";
const INSERT: &str = "INSERT INTO clients (id, name, description, grants, custom_claims, token_ttl, status, \
     secret_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
// created_at (?9) never changes; it sits in the WHERE clause so that all ten
// bound values are used (D1 refuses a bind index the statement lacks).
const UPDATE: &str = "UPDATE clients SET name = ?2, description = ?3, grants = ?4, custom_claims = ?5, \
     token_ttl = ?6, status = ?7, secret_hash = ?8, updated_at = ?10 WHERE id = ?1 AND created_at = ?9";
const DELETE: &str = "DELETE FROM clients WHERE id = ?1";

impl D1Store {
    async fn changes(&self, sql: &str, values: &[JsValue]) -> Result<usize, StoreError> {
        let result = self.db.prepare(sql).bind(values).map_err(backend)?.run().await.map_err(backend)?;
        Ok(result.meta().map_err(backend)?.and_then(|m| m.changes).unwrap_or(0))
    }
}

impl ClientStore for D1Store {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let statement = self.db.prepare(SELECT_ONE).bind(&[text(id.as_str())]).map_err(backend)?;
        let row: Option<ClientRow> = statement.first(None).await.map_err(backend)?;
        row.map(ClientRow::into_record).transpose()
    }

    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let values = row_values(&ClientRow::from_record(client));
        match self.changes(INSERT, &values).await {
            Ok(_) => Ok(()),
            Err(StoreError::Backend(m)) if m.contains("UNIQUE") => Err(StoreError::Conflict),
            Err(e) => Err(e),
        }
    }

    async fn update(&self, client: &ClientRecord) -> Result<bool, StoreError> {
        let values = row_values(&ClientRow::from_record(client));
        Ok(self.changes(UPDATE, &values).await? > 0)
    }

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        Ok(self.changes(DELETE, &[text(id.as_str())]).await? > 0)
    }

    async fn list(&self, after: Option<&ClientId>, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        let after = after.map_or("", ClientId::as_str);
        let statement = self.db.prepare(SELECT_PAGE).bind(&[text(after), int(limit as i64)]).map_err(backend)?;
        let rows: Vec<ClientRow> = statement.all().await.map_err(backend)?.results().map_err(backend)?;
        rows.into_iter().map(ClientRow::into_record).collect()
    }
}
