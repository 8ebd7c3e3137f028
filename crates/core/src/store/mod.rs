//! Storage as the app sees it: one [`Store`] that keeps clients, API
//! resources and the managed key set (each port lives next to its model:
//! [`ClientStore`], [`ResourceStore`], [`KeyStore`], [`ProjectStore`]); the storage-shaped
//! rows both backends write ([`row`]); and the per-isolate read cache in
//! front of them ([`cache`]). Backends: D1 and KV in `m2m-edge-worker`,
//! memory in `m2m-edge-testkit`; one contract, one test suite run against
//! each (docs/storage.md).

pub mod cache;
pub mod row;

use crate::audit::AuditStore;
use crate::client::ClientStore;
use crate::keys::KeyStore;
use crate::project::ProjectStore;
use crate::resource::ResourceStore;

/// Everything the app needs from storage.
pub trait Store: ClientStore + ResourceStore + KeyStore + ProjectStore + AuditStore {}

impl<T: ClientStore + ResourceStore + KeyStore + ProjectStore + AuditStore> Store for T {}
