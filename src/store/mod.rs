//! The registry behind traits (DESIGN.md, "Storage: D1 or KV"). Adapters:
//! [`memory::MemoryStore`] here; D1 and KV in `crate::wasm`. One contract,
//! one test suite run against each.

pub mod cache;
pub mod memory;
pub mod row;

use std::fmt;

use crate::client::{ClientId, ClientRecord};
use crate::keys::ManagedKey;
use crate::resource::{ApiResource, ResourceId};

/// A storage failure. The text goes to the log, never to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend is missing, unreachable or refused the operation.
    Backend(String),
    /// A stored record could not be read back (hand-edited, or a bug).
    Corrupt(String),
    /// The id (or, for resources, the identifier) is taken.
    Conflict,
    /// A list cursor this backend did not issue.
    BadCursor,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Backend(m) => write!(f, "storage backend error: {m}"),
            StoreError::Corrupt(m) => write!(f, "stored record unreadable: {m}"),
            StoreError::Conflict => f.write_str("record already exists"),
            StoreError::BadCursor => f.write_str("invalid list cursor"),
        }
    }
}

/// One page of a client listing. The cursor is the backend's own and opaque
/// to callers: D1 pages by primary key, KV by its list cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub clients: Vec<ClientRecord>,
    pub next_cursor: Option<String>,
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

    /// Up to `limit` clients in id order, starting after `cursor`.
    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError>;
}

/// Most API resources a deployment may register; the token and admin paths
/// read the whole set, so it stays small.
pub const MAX_RESOURCES: usize = 500;

#[allow(async_fn_in_trait)]
pub trait ResourceStore {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError>;

    /// The resource whose identifier (the token audience) is `identifier`.
    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError>;

    /// Every resource, in id order (at most [`MAX_RESOURCES`]).
    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError>;

    /// [`StoreError::Conflict`] if the id or the identifier is taken.
    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError>;

    /// Replace (the identifier never changes); `false` if there is none.
    async fn update_resource(&self, resource: &ApiResource) -> Result<bool, StoreError>;

    async fn delete_resource(&self, resource: &ApiResource) -> Result<bool, StoreError>;
}

/// The managed signing-key set as stored, with the version a writer must
/// still see for its write to land (0: nothing stored yet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredKeys {
    pub keys: Vec<ManagedKey>,
    pub version: i64,
}

#[allow(async_fn_in_trait)]
pub trait KeyStore {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError>;

    /// Replace the whole key set if the stored version is still `expected`
    /// (compare-and-swap); `false` if another writer got there first. This is
    /// what keeps two cron runs from producing two `current` keys.
    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError>;
}

/// Everything the app needs from storage.
pub trait Store: ClientStore + ResourceStore + KeyStore {}

impl<T: ClientStore + ResourceStore + KeyStore> Store for T {}
