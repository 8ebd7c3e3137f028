//! The client registry's model: ids, secrets, records, the validation of
//! what the admin API is sent, and the storage port for clients.

pub mod input;
pub mod record;
pub mod secret;

pub use record::{ClientId, ClientRecord, Status};
pub use secret::{ClientSecret, SecretHash, StoredSecret};

use crate::ports::StoreError;

/// One page of a client listing. The cursor is the backend's own and
/// opaque to callers: D1 pages by primary key, KV by its list cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The clients, in id order.
    pub clients: Vec<ClientRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Where clients are kept (D1, KV, or memory in tests).
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait ClientStore {
    /// The client with that id, if any.
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;

    /// Insert a new client; [`StoreError::Conflict`] if the id exists.
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// Replace an existing client; `false` if there is none with that id.
    async fn update(&self, client: &ClientRecord) -> Result<bool, StoreError>;

    /// `false` if there was none with that id.
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError>;

    /// Up to `limit` clients in id order, starting after `cursor`.
    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError>;
}
