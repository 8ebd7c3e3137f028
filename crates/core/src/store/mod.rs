//! Storage as the app sees it: one [`Store`] that keeps clients, API
//! resources and the managed key set (each port lives next to its model:
//! [`ClientStore`], [`ResourceStore`], [`KeyStore`], [`ProjectStore`]); the storage-shaped
//! rows both backends write ([`row`]); and the per-isolate read cache in
//! front of them ([`cache`]). Backends: D1 and KV in `m2m-edge-worker`,
//! memory in `m2m-edge-testkit`; one contract, one test suite run against
//! each (docs/storage.md).

pub mod cache;
pub mod row;

use crate::assertion::ReplayStore;
use crate::audit::AuditStore;
use crate::client::ClientStore;
use crate::federation::{FederationFailureStore, IssuerStore};
use crate::keys::KeyStore;
use crate::ports::StoreError;
use crate::project::ProjectStore;
use crate::resource::ResourceStore;
use crate::revocation::RevocationStore;

/// Everything the app needs from storage.
pub trait Store:
    ClientStore
    + ResourceStore
    + KeyStore
    + ProjectStore
    + AuditStore
    + ReplayStore
    + IssuerStore
    + FederationFailureStore
    + RevocationStore
{
}

impl<T> Store for T where
    T: ClientStore
        + ResourceStore
        + KeyStore
        + ProjectStore
        + AuditStore
        + ReplayStore
        + IssuerStore
        + FederationFailureStore
        + RevocationStore
{
}

/// One page of a listing that pages by id (D1, memory): given up to
/// `limit + 1` items in id order, the first `limit` and, when the extra one
/// showed there is more, the id of the last as the next cursor.
pub fn page_by_id<T>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(|item| id(item).to_string()) } else { None };
    (items, next_cursor)
}

/// What the Cron Trigger prunes from storage: audit events past
/// `retention_secs` (and failure counts past their own bound), and used
/// assertion ids whose assertions have expired (they can no longer be
/// replayed), and revocations whose tokens have all expired. Idempotent: concurrent runs are harmless.
pub async fn prune<S: Store>(store: &S, retention_secs: i64, now: i64) -> Result<(), StoreError> {
    crate::audit::prune_expired(store, retention_secs, now).await?;
    store.prune_used(now).await?;
    store.prune_revocations(now).await?;
    Ok(())
}
