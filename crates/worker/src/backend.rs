//! The configured storage backend, chosen once per request from `STORAGE`.
//!
//! An enum rather than a type parameter: the app is then compiled once, not
//! once per backend. Compiling it per backend was measured at +58 KB of
//! gzipped wasm and a slower first request in a fresh isolate
//! (docs/architecture.md, "Performance decisions"); a `match` per storage
//! call costs nothing measurable next to the call itself.

use m2m_edge_core::assertion::ReplayStore;
use m2m_edge_core::audit::{AuditEvent, AuditFilter, AuditPage, AuditStore, AuthFailures};
use m2m_edge_core::client::{ClientFilter, ClientId, ClientRecord, ClientStore, Page};
use m2m_edge_core::federation::{CredentialFailures, FederationFailureStore, IssuerStore, TrustedIssuer};
use m2m_edge_core::keys::{KeyStore, ManagedKey, StoredKeys};
use m2m_edge_core::ports::{StoreError, Write};
use m2m_edge_core::project::{Project, ProjectId, ProjectPage, ProjectStore};
use m2m_edge_core::resource::{ApiResource, ResourceId, ResourceStore};

use m2m_edge_core::config::StorageKind;
use worker::Env;

use crate::d1::D1Store;
use crate::kv::KvStore;

/// The same call on whichever backend this is.
macro_rules! on_backend {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::D1($s) => $call,
            Backend::Kv($s) => $call,
        }
    };
}

/// D1 or Workers KV.
pub enum Backend {
    /// `STORAGE = "d1"`.
    D1(D1Store),
    /// `STORAGE = "kv"`.
    Kv(KvStore),
}

impl Backend {
    /// The backend `STORAGE` names, over the bindings of `env`.
    pub fn new(storage: StorageKind, env: Env) -> Backend {
        match storage {
            StorageKind::D1 => Backend::D1(D1Store::new(env)),
            StorageKind::Kv => Backend::Kv(KvStore::new(env)),
        }
    }
}

impl ClientStore for Backend {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        on_backend!(self, s => s.get(id).await)
    }
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        on_backend!(self, s => s.create(client).await)
    }
    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        on_backend!(self, s => s.update(client).await)
    }
    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError> {
        on_backend!(self, s => s.delete(id, read).await)
    }
    async fn list(&self, filter: &ClientFilter, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        on_backend!(self, s => s.list(filter, cursor, limit).await)
    }
}

impl AuditStore for Backend {
    async fn append(&self, event: &AuditEvent, expires_at: i64) -> Result<(), StoreError> {
        on_backend!(self, s => s.append(event, expires_at).await)
    }
    async fn events(&self, filter: &AuditFilter, cursor: Option<&str>, limit: usize) -> Result<AuditPage, StoreError> {
        on_backend!(self, s => s.events(filter, cursor, limit).await)
    }
    async fn prune(&self, events_before: i64, counts_before: i64) -> Result<u64, StoreError> {
        on_backend!(self, s => s.prune(events_before, counts_before).await)
    }
    async fn count_auth_failures(&self, minute: i64, count: u64, expires_at: i64) -> Result<(), StoreError> {
        on_backend!(self, s => s.count_auth_failures(minute, count, expires_at).await)
    }
    async fn auth_failures(&self, since_minute: i64) -> Result<Vec<AuthFailures>, StoreError> {
        on_backend!(self, s => s.auth_failures(since_minute).await)
    }
}

impl ProjectStore for Backend {
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        on_backend!(self, s => s.project(id).await)
    }
    async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        on_backend!(self, s => s.create_project(project).await)
    }
    async fn update_project(&self, project: &Project) -> Result<Write, StoreError> {
        on_backend!(self, s => s.update_project(project).await)
    }
    async fn delete_project(&self, id: &ProjectId, expected: Option<i64>) -> Result<Write, StoreError> {
        on_backend!(self, s => s.delete_project(id, expected).await)
    }
    async fn projects(&self, cursor: Option<&str>, limit: usize) -> Result<ProjectPage, StoreError> {
        on_backend!(self, s => s.projects(cursor, limit).await)
    }
}

impl ResourceStore for Backend {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError> {
        on_backend!(self, s => s.resource(id).await)
    }
    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError> {
        on_backend!(self, s => s.resource_by_identifier(identifier).await)
    }
    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError> {
        on_backend!(self, s => s.resources().await)
    }
    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError> {
        on_backend!(self, s => s.create_resource(resource).await)
    }
    async fn update_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        on_backend!(self, s => s.update_resource(resource).await)
    }
    async fn delete_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        on_backend!(self, s => s.delete_resource(resource).await)
    }
}

impl ReplayStore for Backend {
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        on_backend!(self, s => s.first_use(key, expires_at).await)
    }
    async fn prune_used(&self, before: i64) -> Result<u64, StoreError> {
        on_backend!(self, s => s.prune_used(before).await)
    }
}

impl IssuerStore for Backend {
    async fn load_issuers(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        on_backend!(self, s => s.load_issuers().await)
    }
    async fn save_issuers(&self, expected: i64, issuers: &[TrustedIssuer]) -> Result<bool, StoreError> {
        on_backend!(self, s => s.save_issuers(expected, issuers).await)
    }
}

impl FederationFailureStore for Backend {
    async fn record_failure(
        &self,
        client: &ClientId,
        credential: &str,
        reason: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, s => s.record_failure(client, credential, reason, at).await)
    }
    async fn failures(&self, client: &ClientId) -> Result<Vec<CredentialFailures>, StoreError> {
        on_backend!(self, s => s.failures(client).await)
    }
}

impl KeyStore for Backend {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError> {
        on_backend!(self, s => s.load_keys().await)
    }
    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError> {
        on_backend!(self, s => s.save_keys(expected, keys).await)
    }
}
