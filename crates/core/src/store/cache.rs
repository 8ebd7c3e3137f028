//! An isolate-level read cache in front of a store: client records by id and
//! API resources by identifier, each for a short TTL (`CLIENT_CACHE_TTL`,
//! default 5 s, 0 turns it off). It spares the token endpoint its storage
//! reads for clients that ask repeatedly.
//!
//! The cost, documented in the README: a change made through *another*
//! isolate (or directly in storage) is seen here up to the TTL late — a
//! deactivation may lag that long per isolate. Writes through this isolate
//! drop the affected entries at once, and a read that was in flight during
//! such a write never puts its (older) answer back: every write moves the
//! cache's generation on, and a read caches only if the generation is the
//! one it started under. Read-modify-writes (the admin API) read past the
//! cache ([`ClientStore::get_fresh`], [`ResourceStore::resources_fresh`]).
//!
//! Unknown client ids are remembered for the same TTL, so a caller that
//! keeps presenting an id nobody registered costs one storage read per TTL
//! per isolate; the cost is that a client created through *another*
//! isolate may be refused here for up to the TTL after this isolate last
//! looked its id up (one created through this isolate works at once). The
//! whole resource list (discovery's `scopes_supported`) and the trusted
//! issuers' set (read on every federated request) are kept the same way.
//!
//! Failed admin authentications are counted here before they are written:
//! at most one write per isolate per 10 s (`audit::FailureTally`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use crate::assertion::ReplayStore;
use crate::audit::{AuditEvent, AuditFilter, AuditPage, AuditStore, AuthFailures, FailureTally};
use crate::client::{ClientFilter, ClientId, ClientRecord, ClientStore, Page};
use crate::federation::{CredentialFailures, FederationFailureStore, IssuerStore, TrustedIssuer};
use crate::keys::{KeyStore, ManagedKey, StoredKeys};
use crate::ports::{StoreError, Write};
use crate::project::{Project, ProjectId, ProjectPage, ProjectStore};
use crate::resource::{ApiResource, ResourceId, ResourceStore};
use crate::revocation::{Holder, Issued, RevocationStore, Revocations, Revoked, Standing};

/// Entries kept before the cache starts over (bounds memory under a flood of ids).
const MAX_ENTRIES: usize = 10_000;

/// How often an isolate writes a failure of one federated credential.
pub const FEDERATION_FAILURE_WRITE_SECS: i64 = 10;

/// The trusted issuers' set as storage answers it: its version and issuers.
type IssuerSet = (i64, Vec<TrustedIssuer>);

/// One value kept whole, until when (Unix seconds).
type Slot<T> = RefCell<Option<(i64, T)>>;

/// What one isolate remembers between requests. Times in Unix seconds.
#[derive(Default)]
pub struct IsolateCache {
    clients: RefCell<HashMap<String, (i64, ClientRecord)>>,
    /// Ids looked up and not found, until when.
    unknown: RefCell<HashMap<String, i64>>,
    resources: RefCell<HashMap<String, (i64, Option<ApiResource>)>>,
    /// Every resource, until when.
    all_resources: Slot<Vec<ApiResource>>,
    /// The trusted issuers' set and its version, until when.
    issuers: Slot<IssuerSet>,
    /// Moved on by every write through this isolate, before and after it.
    generation: Cell<u64>,
    /// Failed admin authentications not yet written.
    auth_failures: FailureTally,
    /// When this isolate last wrote a federation failure, per client and
    /// credential.
    federation_failures: RefCell<HashMap<String, i64>>,
}

/// Insert into one of the cache's maps, starting the map over when it is
/// full (bounds memory under a flood of distinct keys).
fn bounded_insert<V>(map: &RefCell<HashMap<String, V>>, key: &str, value: V) {
    let mut map = map.borrow_mut();
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key.to_string(), value);
}

impl IsolateCache {
    fn client(&self, id: &str, now: i64) -> Option<ClientRecord> {
        self.clients.borrow().get(id).filter(|(until, _)| now < *until).map(|(_, c)| c.clone())
    }

    fn put_client(&self, record: &ClientRecord, until: i64) {
        bounded_insert(&self.clients, record.id.as_str(), (until, record.clone()));
    }

    fn is_unknown(&self, id: &str, now: i64) -> bool {
        self.unknown.borrow().get(id).is_some_and(|until| now < *until)
    }

    fn put_unknown(&self, id: &str, until: i64) {
        bounded_insert(&self.unknown, id, until);
    }

    fn forget_client(&self, id: &str) {
        self.clients.borrow_mut().remove(id);
        self.unknown.borrow_mut().remove(id);
    }

    fn forget_resources(&self) {
        self.resources.borrow_mut().clear();
        *self.all_resources.borrow_mut() = None;
    }

    /// Drop every record kept — clients, unknown ids, resources, trusted
    /// issuers — for a write made outside this isolate's store that may have
    /// changed any of them: the admin Worker's, in the token service isolate
    /// that handed it the request. Reads in flight keep nothing (the
    /// generation moves on).
    pub fn forget_records(&self) {
        self.clients.borrow_mut().clear();
        self.unknown.borrow_mut().clear();
        self.forget_resources();
        *self.issuers.borrow_mut() = None;
        self.generation.set(self.generation.get().wrapping_add(1));
    }
}

/// A store that reads through an [`IsolateCache`] for one request.
pub struct CachedStore<S> {
    inner: S,
    cache: Rc<IsolateCache>,
    ttl: i64,
    now: i64,
}

impl<S> CachedStore<S> {
    /// `inner` read through `cache` for one request at `now` (Unix seconds);
    /// a `ttl_seconds` of 0 turns the cache off.
    pub fn new(inner: S, cache: Rc<IsolateCache>, ttl_seconds: u32, now: i64) -> CachedStore<S> {
        CachedStore { inner, cache, ttl: i64::from(ttl_seconds), now }
    }

    fn enabled(&self) -> bool {
        self.ttl > 0
    }

    /// Read past the cache, then let `keep` store the answer, unless this
    /// isolate wrote in the meantime (the answer may predate that write).
    async fn read_through<T>(
        &self,
        read: impl Future<Output = Result<T, StoreError>>,
        keep: impl FnOnce(&T),
    ) -> Result<T, StoreError> {
        let started = self.cache.generation.get();
        let found = read.await?;
        if self.enabled() && self.cache.generation.get() == started {
            keep(&found);
        }
        Ok(found)
    }

    /// What `slot` holds while it is fresh, else `read`, kept in `slot`
    /// for the TTL (unless this isolate wrote meanwhile).
    async fn slot_through<T: Clone>(
        &self,
        slot: &Slot<T>,
        read: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.enabled() {
            let hit = slot.borrow().as_ref().filter(|(until, _)| self.now < *until).map(|(_, v)| v.clone());
            if let Some(value) = hit {
                return Ok(value);
            }
        }
        let until = self.now + self.ttl;
        self.read_through(read, |found| *slot.borrow_mut() = Some((until, found.clone()))).await
    }

    /// A write: `forget` drops what it may change, before and after it, and
    /// each time the generation moves on, so reads in flight keep nothing.
    async fn write_through<T>(&self, forget: impl Fn(&IsolateCache), write: impl Future<Output = T>) -> T {
        let written = |cache: &IsolateCache| {
            forget(cache);
            cache.generation.set(cache.generation.get().wrapping_add(1));
        };
        written(&self.cache);
        let out = write.await;
        written(&self.cache);
        out
    }
}

impl<S: ClientStore> ClientStore for CachedStore<S> {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        if self.enabled() {
            if let Some(hit) = self.cache.client(id.as_str(), self.now) {
                return Ok(Some(hit));
            }
            if self.cache.is_unknown(id.as_str(), self.now) {
                return Ok(None);
            }
        }
        let until = self.now + self.ttl;
        self.read_through(self.inner.get(id), |found| match found {
            Some(record) => self.cache.put_client(record, until),
            None => self.cache.put_unknown(id.as_str(), until),
        })
        .await
    }

    async fn get_fresh(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.get_fresh(id).await
    }

    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.write_through(|c| c.forget_client(client.id.as_str()), self.inner.create(client)).await
    }

    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        self.write_through(|c| c.forget_client(client.id.as_str()), self.inner.update(client)).await
    }

    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError> {
        self.write_through(|c| c.forget_client(id.as_str()), self.inner.delete(id, read)).await
    }

    async fn list(&self, filter: &ClientFilter, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        self.inner.list(filter, cursor, limit).await
    }
}

/// The audit trail is read and written on admin paths only: never cached;
/// failed-authentication counts are batched per isolate, and read with what
/// this isolate holds added.
impl<S: AuditStore> AuditStore for CachedStore<S> {
    async fn append(&self, event: &AuditEvent, expires_at: i64) -> Result<(), StoreError> {
        self.inner.append(event, expires_at).await
    }
    async fn events(&self, filter: &AuditFilter, cursor: Option<&str>, limit: usize) -> Result<AuditPage, StoreError> {
        self.inner.events(filter, cursor, limit).await
    }
    async fn prune(&self, events_before: i64, counts_before: i64) -> Result<u64, StoreError> {
        self.inner.prune(events_before, counts_before).await
    }
    async fn count_auth_failures(&self, minute: i64, count: u64, expires_at: i64) -> Result<(), StoreError> {
        let tally = &self.cache.auth_failures;
        let Some(due) = tally.add(minute, count, self.now) else { return Ok(()) };
        for (i, c) in due.iter().enumerate() {
            if let Err(e) = self.inner.count_auth_failures(c.minute, c.count, expires_at).await {
                tally.unwritten(&due[i..], self.now);
                return Err(e);
            }
        }
        Ok(())
    }
    async fn auth_failures(&self, since_minute: i64) -> Result<Vec<AuthFailures>, StoreError> {
        let written = self.inner.auth_failures(since_minute).await?;
        Ok(self.cache.auth_failures.with_held(written, since_minute))
    }
}

/// Single use is decided by the backend on every use: never cached.
impl<S: ReplayStore> ReplayStore for CachedStore<S> {
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.inner.first_use(key, expires_at).await
    }
    async fn prune_used(&self, before: i64) -> Result<u64, StoreError> {
        self.inner.prune_used(before).await
    }
}

/// Never cached: a revocation is seen by the next request.
impl<S: RevocationStore> RevocationStore for CachedStore<S> {
    async fn revoke(&self, revoked: &Revoked) -> Result<(), StoreError> {
        self.inner.revoke(revoked).await
    }
    async fn set_not_before(&self, holder: Holder<'_>, not_before: i64) -> Result<(), StoreError> {
        self.inner.set_not_before(holder, not_before).await
    }
    async fn standing(&self, token: &Issued<'_>) -> Result<Standing, StoreError> {
        self.inner.standing(token).await
    }
    async fn revocations(&self, now: i64) -> Result<Revocations, StoreError> {
        self.inner.revocations(now).await
    }
    async fn prune_revocations(&self, now: i64) -> Result<u64, StoreError> {
        self.inner.prune_revocations(now).await
    }
}

/// The trusted issuers' set: read on every federated request, so kept
/// like client records — a removed or changed issuer is seen by other
/// isolates up to `CLIENT_CACHE_TTL` late (README, "Storage"); the admin
/// API reads past the cache.
impl<S: IssuerStore> IssuerStore for CachedStore<S> {
    async fn load_issuers(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        self.slot_through(&self.cache.issuers, self.inner.load_issuers()).await
    }
    async fn load_issuers_fresh(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        self.inner.load_issuers_fresh().await
    }
    async fn save_issuers(&self, expected: i64, issuers: &[TrustedIssuer]) -> Result<bool, StoreError> {
        let forget = |c: &IsolateCache| *c.issuers.borrow_mut() = None;
        self.write_through(forget, self.inner.save_issuers(expected, issuers)).await
    }
}

impl<S: FederationFailureStore> FederationFailureStore for CachedStore<S> {
    async fn record_failure(&self, client: &ClientId, name: &str, reason: &str, at: i64) -> Result<(), StoreError> {
        // A stranger holding genuine tokens of an open platform (anyone can
        // mint a GitHub Actions token) matches no credential on every try:
        // at most one write per credential per isolate per window, the rest
        // logged only, so failures cost no write per request.
        let key = format!("{} {name}", client.as_str());
        let last = self.cache.federation_failures.borrow().get(&key).copied();
        if last.is_some_and(|last| at.saturating_sub(last) < FEDERATION_FAILURE_WRITE_SECS) {
            return Ok(());
        }
        bounded_insert(&self.cache.federation_failures, &key, at);
        self.inner.record_failure(client, name, reason, at).await
    }
    async fn failures(&self, client: &ClientId) -> Result<Vec<CredentialFailures>, StoreError> {
        self.inner.failures(client).await
    }
}

/// Projects are read on admin paths only: never cached.
impl<S: ProjectStore> ProjectStore for CachedStore<S> {
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        self.inner.project(id).await
    }
    async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        self.inner.create_project(project).await
    }
    async fn update_project(&self, project: &Project) -> Result<Write, StoreError> {
        self.inner.update_project(project).await
    }
    async fn delete_project(&self, id: &ProjectId, expected: Option<i64>) -> Result<Write, StoreError> {
        self.inner.delete_project(id, expected).await
    }
    async fn projects(&self, cursor: Option<&str>, limit: usize) -> Result<ProjectPage, StoreError> {
        self.inner.projects(cursor, limit).await
    }
}

impl<S: ResourceStore> ResourceStore for CachedStore<S> {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError> {
        self.inner.resource(id).await
    }

    /// Cached including "none": with no resources registered (the common
    /// case) the token endpoint then makes no resource read at all.
    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError> {
        if self.enabled() {
            let hit = self
                .cache
                .resources
                .borrow()
                .get(identifier)
                .filter(|(until, _)| self.now < *until)
                .map(|(_, r)| r.clone());
            if let Some(resource) = hit {
                return Ok(resource);
            }
        }
        let until = self.now + self.ttl;
        self.read_through(self.inner.resource_by_identifier(identifier), |found| {
            bounded_insert(&self.cache.resources, identifier, (until, found.clone()))
        })
        .await
    }

    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError> {
        self.slot_through(&self.cache.all_resources, self.inner.resources()).await
    }

    async fn resources_fresh(&self) -> Result<Vec<ApiResource>, StoreError> {
        self.inner.resources_fresh().await
    }

    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError> {
        self.write_through(IsolateCache::forget_resources, self.inner.create_resource(resource)).await
    }

    async fn update_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        self.write_through(IsolateCache::forget_resources, self.inner.update_resource(resource)).await
    }

    async fn delete_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        self.write_through(IsolateCache::forget_resources, self.inner.delete_resource(resource)).await
    }
}

impl<S: KeyStore> KeyStore for CachedStore<S> {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError> {
        self.inner.load_keys().await
    }

    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError> {
        self.inner.save_keys(expected, keys).await
    }
}
