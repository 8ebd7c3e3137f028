//! The client registry behind a trait (DESIGN.md, "Storage: D1 or KV").
//! Adapters: [`memory::MemoryStore`] here; D1 in `crate::wasm::d1`.

pub mod memory;
pub mod row;

use std::fmt;

use crate::client::{ClientId, ClientRecord};

/// A storage failure. The text goes to the log, never to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend is missing, unreachable or refused the operation.
    Backend(String),
    /// A stored record could not be read back (hand-edited, or a bug).
    Corrupt(String),
    /// `create` found the id taken.
    Conflict,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Backend(m) => write!(f, "storage backend error: {m}"),
            StoreError::Corrupt(m) => write!(f, "stored client record unreadable: {m}"),
            StoreError::Conflict => f.write_str("client id already exists"),
        }
    }
}

#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait ClientStore {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;

    /// Insert a new client; [`StoreError::Conflict`] if the id exists.
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// Replace an existing client; `false` if there is none with that id.
    async fn update(&self, client: &ClientRecord) -> Result<bool, StoreError>;

    /// `false` if there was none with that id.
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError>;

    /// Up to `limit` clients with ids greater than `after`, in id order
    /// (byte order, the order both D1 and KV list keys in).
    async fn list(&self, after: Option<&ClientId>, limit: usize) -> Result<Vec<ClientRecord>, StoreError>;
}
