//! The client registry's model: ids, secrets, records, the validation of
//! what the admin API is sent, and the storage port for clients.

pub mod federated;
pub mod input;
pub mod keys;
pub mod record;
pub mod secret;

pub use keys::ClientKeys;
pub use record::{ClientId, ClientRecord, Incarnation, Status};
pub use secret::{ClientSecret, SecretHash, StoredSecret};

use crate::ports::{StoreError, Write};

/// One page of a client listing. The cursor is the backend's own and
/// opaque to callers: D1 pages by primary key, KV by its list cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The clients, in id order.
    pub clients: Vec<ClientRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which clients a listing returns (Stytch's search): every condition
/// given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    /// Only clients of this project.
    pub project_id: Option<crate::project::ProjectId>,
    /// Only clients with this status.
    pub status: Option<Status>,
    /// Only clients whose name starts with this (case-sensitive).
    pub name_prefix: Option<String>,
    /// Only clients with a federated credential for this trusted issuer
    /// (its `iss`, exactly): who a platform token sent without `client_id`
    /// may stand for.
    pub federated_issuer: Option<String>,
}

impl ClientFilter {
    /// Whether `client` passes.
    pub fn matches(&self, client: &ClientRecord) -> bool {
        self.project_id.as_ref().is_none_or(|p| client.project_id.as_ref() == Some(p))
            && self.status.is_none_or(|s| client.status == s)
            && self.name_prefix.as_deref().is_none_or(|n| client.name.starts_with(n))
            && self
                .federated_issuer
                .as_deref()
                .is_none_or(|i| client.federated_credentials.iter().any(|f| f.issuer == i))
    }
}

/// Where clients are kept (D1, KV, or memory in tests).
#[allow(async_fn_in_trait)] // single-threaded (wasm32): no Send bound wanted
pub trait ClientStore {
    /// The client with that id, if any.
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;

    /// Insert a new client; [`StoreError::Conflict`] if the id exists.
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// The client as storage has it now, past any cache: what a
    /// read-modify-write starts from.
    /// No default: a store that forgot it would answer admin changes from
    /// whatever `get` reads (a cache, a replica).
    async fn get_fresh(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;

    /// Replace the client if the stored one is still the same incarnation at
    /// `client.version`, storing `client.version + 1`.
    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError>;

    /// Remove the client; with `read`, only if the stored client is still
    /// that record: the same incarnation at the same version.
    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError>;

    /// Clients passing `filter` in id order, starting after `cursor`: up to
    /// `limit` of them. A page may hold fewer (even none) and still have a
    /// next cursor where the backend filters as it scans (KV).
    async fn list(&self, filter: &ClientFilter, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError>;
}
