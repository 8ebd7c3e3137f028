//! In-memory store for host tests: the same contract as D1 and KV, so whole
//! flows run through the app without a runtime.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use m2m_edge_core::assertion::ReplayStore;
use m2m_edge_core::audit::{AuditEvent, AuditFilter, AuditPage, AuditStore, AuthFailures};
use m2m_edge_core::client::{ClientFilter, ClientId, ClientRecord, ClientStore, Page};
use m2m_edge_core::federation::{CredentialFailures, FederationFailureStore, IssuerStore, TrustedIssuer};
use m2m_edge_core::keys::{KeyStore, ManagedKey, StoredKeys};
use m2m_edge_core::ports::{StoreError, Write};
use m2m_edge_core::project::{Project, ProjectId, ProjectPage, ProjectStore};
use m2m_edge_core::resource::{ApiResource, ResourceId, ResourceStore, MAX_RESOURCES};
use m2m_edge_core::revocation::{Holder, Issued, RevocationStore, Revocations, Revoked, Standing, NOT_BEFORE_LIFETIME};
use m2m_edge_core::store::page_by_id;
use m2m_edge_core::store::row::{ClientRow, ResourceRow};

/// Keeps rows, not records, so every read goes through the same checked
/// conversion the real backends use. A clone is another handle on the same
/// storage, as two isolates share one database.
#[derive(Default, Clone)]
pub struct MemoryStore(Rc<State>);

#[derive(Default)]
struct State {
    rows: RefCell<BTreeMap<String, ClientRow>>,
    resources: RefCell<BTreeMap<String, ResourceRow>>,
    projects: RefCell<BTreeMap<String, Project>>,
    audit: RefCell<BTreeMap<String, AuditEvent>>,
    auth_failures: RefCell<BTreeMap<i64, u64>>,
    /// The trusted issuers' set and its version.
    issuers: RefCell<(i64, Vec<TrustedIssuer>)>,
    /// Federated credential failures by client and credential.
    federation_failures: RefCell<BTreeMap<String, Vec<CredentialFailures>>>,
    /// Used assertion keys and when each may be forgotten.
    used_assertions: RefCell<BTreeMap<String, i64>>,
    /// Revoked tokens by (`jti`, project or "" for any) and their expiry.
    revoked: RefCell<BTreeMap<(String, String), i64>>,
    /// Not-before times by holder key.
    not_before: RefCell<BTreeMap<String, i64>>,
    /// The key set as JSON text, as D1 and KV keep it.
    keys: RefCell<Option<(i64, String)>>,
    /// When set, every operation fails like an unreachable backend.
    broken: Cell<bool>,
    /// How many key-set saves still lose their compare-and-swap, as if
    /// another writer always got there first.
    lost_key_saves: Cell<u32>,
    /// Every operation so far, for tests that count storage round trips.
    operations: Cell<u64>,
}

impl MemoryStore {
    /// From now on every operation fails (or, with `false`, works again).
    pub fn set_broken(&self, broken: bool) {
        self.0.broken.set(broken);
    }

    /// The next `n` key-set saves lose their compare-and-swap (a writer in
    /// another isolate always wins).
    pub fn lose_key_saves(&self, n: u32) {
        self.0.lost_key_saves.set(n);
    }

    /// How many operations this storage has served (or refused) so far.
    pub fn operations(&self) -> u64 {
        self.0.operations.get()
    }

    fn check(&self) -> Result<(), StoreError> {
        self.0.operations.set(self.0.operations.get() + 1);
        if self.0.broken.get() {
            return Err(StoreError::Backend("memory store marked broken".into()));
        }
        Ok(())
    }

    /// Direct row access for tests that need to see what is stored.
    pub fn raw_row(&self, id: &str) -> Option<ClientRow> {
        self.0.rows.borrow().get(id).cloned()
    }
}

impl ClientStore for MemoryStore {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.check()?;
        self.0.rows.borrow().get(id.as_str()).cloned().map(ClientRow::into_record).transpose()
    }

    /// Memory has no replica and no cache: the same read.
    async fn get_fresh(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.get(id).await
    }

    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.check()?;
        let mut rows = self.0.rows.borrow_mut();
        if rows.contains_key(client.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        rows.insert(client.id.as_str().to_string(), ClientRow::from_record(client)?);
        Ok(())
    }

    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        self.check()?;
        let row = ClientRow { version: client.version + 1, ..ClientRow::from_record(client)? };
        let expected = (client.version, row.incarnation.clone());
        Ok(replace(&mut self.0.rows.borrow_mut(), client.id.as_str(), expected, row, identity))
    }

    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError> {
        self.check()?;
        let expected = read.map(|r| (r.version, r.incarnation.as_ref().map(|i| i.as_str().to_string())));
        Ok(remove(&mut self.0.rows.borrow_mut(), id.as_str(), expected, identity))
    }

    /// Pages by id, like D1: the cursor is the last id returned.
    async fn list(&self, filter: &ClientFilter, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        self.check()?;
        let after = cursor.map(|c| ClientId::parse(c).ok_or(StoreError::BadCursor)).transpose()?;
        let rows = self.0.rows.borrow();
        let records: Vec<ClientRecord> = rows
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k.as_str() > a.as_str()))
            .map(|(_, r)| r.clone().into_record())
            .collect::<Result<_, _>>()?;
        let page: Vec<ClientRecord> = records.into_iter().filter(|c| filter.matches(c)).take(limit + 1).collect();
        let (clients, next_cursor) = page_by_id(page, limit, |c| c.id.as_str());
        Ok(Page { clients, next_cursor })
    }
}

impl ResourceStore for MemoryStore {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError> {
        self.check()?;
        self.0.resources.borrow().get(id.as_str()).cloned().map(ResourceRow::into_resource).transpose()
    }

    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError> {
        self.check()?;
        let found = self.0.resources.borrow().values().find(|r| r.identifier == identifier).cloned();
        found.map(ResourceRow::into_resource).transpose()
    }

    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError> {
        self.check()?;
        self.0.resources.borrow().values().take(MAX_RESOURCES).cloned().map(ResourceRow::into_resource).collect()
    }

    async fn resources_fresh(&self) -> Result<Vec<ApiResource>, StoreError> {
        self.resources().await
    }

    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError> {
        self.check()?;
        let mut all = self.0.resources.borrow_mut();
        if all.contains_key(resource.id.as_str()) || all.values().any(|r| r.identifier == resource.identifier.as_str())
        {
            return Err(StoreError::Conflict);
        }
        all.insert(resource.id.as_str().to_string(), ResourceRow::from_resource(resource)?);
        Ok(())
    }

    async fn update_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        self.check()?;
        let row = ResourceRow { version: resource.version + 1, ..ResourceRow::from_resource(resource)? };
        Ok(replace(&mut self.0.resources.borrow_mut(), resource.id.as_str(), resource.version, row, |r| r.version))
    }

    async fn delete_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        self.check()?;
        Ok(remove(&mut self.0.resources.borrow_mut(), resource.id.as_str(), Some(resource.version), |r| r.version))
    }
}

/// Like D1: ordered by id, pruned by time.
impl IssuerStore for MemoryStore {
    async fn load_issuers(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        self.check()?;
        Ok(self.0.issuers.borrow().clone())
    }
    async fn load_issuers_fresh(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        self.load_issuers().await
    }
    async fn save_issuers(&self, expected: i64, issuers: &[TrustedIssuer]) -> Result<bool, StoreError> {
        self.check()?;
        let mut stored = self.0.issuers.borrow_mut();
        if stored.0 != expected {
            return Ok(false);
        }
        *stored = (expected + 1, issuers.to_vec());
        Ok(true)
    }
}

impl FederationFailureStore for MemoryStore {
    async fn record_failure(&self, client: &ClientId, name: &str, reason: &str, at: i64) -> Result<(), StoreError> {
        self.check()?;
        let mut failures = self.0.federation_failures.borrow_mut();
        CredentialFailures::record(failures.entry(client.as_str().to_string()).or_default(), name, reason, at);
        Ok(())
    }
    async fn failures(&self, client: &ClientId) -> Result<Vec<CredentialFailures>, StoreError> {
        self.check()?;
        Ok(self.0.federation_failures.borrow().get(client.as_str()).cloned().unwrap_or_default())
    }
}

impl ReplayStore for MemoryStore {
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.check()?;
        let mut used = self.0.used_assertions.borrow_mut();
        if used.contains_key(key) {
            return Ok(false);
        }
        used.insert(key.to_string(), expires_at);
        Ok(true)
    }
    async fn prune_used(&self, before: i64) -> Result<u64, StoreError> {
        self.check()?;
        let mut used = self.0.used_assertions.borrow_mut();
        let count = used.len();
        used.retain(|_, expires_at| *expires_at >= before);
        Ok((count - used.len()) as u64)
    }
}

impl RevocationStore for MemoryStore {
    async fn revoke(&self, revoked: &Revoked) -> Result<(), StoreError> {
        self.check()?;
        let key = (revoked.jti.clone(), revoked.project_id.clone().unwrap_or_default());
        let mut entries = self.0.revoked.borrow_mut();
        let expires_at = entries.entry(key).or_insert(revoked.expires_at);
        *expires_at = (*expires_at).max(revoked.expires_at);
        Ok(())
    }
    async fn set_not_before(&self, holder: Holder<'_>, not_before: i64) -> Result<(), StoreError> {
        self.check()?;
        let mut times = self.0.not_before.borrow_mut();
        let time = times.entry(holder.key()).or_insert(not_before);
        *time = (*time).max(not_before);
        Ok(())
    }
    async fn standing(&self, token: &Issued<'_>) -> Result<Standing, StoreError> {
        self.check()?;
        let entries = self.0.revoked.borrow();
        let revoked = ["", token.project_id.unwrap_or_default()]
            .iter()
            .any(|project| entries.contains_key(&(token.jti.to_string(), project.to_string())));
        let times = self.0.not_before.borrow();
        let mut holders = vec![Holder::Client(token.client_id)];
        holders.extend(token.project_id.map(Holder::Project));
        let not_before = holders.iter().filter_map(|h| times.get(&h.key()).copied()).max();
        Ok(Standing { revoked, not_before })
    }
    async fn revocations(&self, now: i64) -> Result<Revocations, StoreError> {
        self.check()?;
        let mut all = Revocations::default();
        for ((jti, project), expires_at) in self.0.revoked.borrow().iter().filter(|(_, e)| **e >= now) {
            let project_id = Some(project.clone()).filter(|p| !p.is_empty());
            all.tokens.push(Revoked { jti: jti.clone(), project_id, expires_at: *expires_at });
        }
        for (holder, not_before) in self.0.not_before.borrow().iter().filter(|(_, t)| **t + NOT_BEFORE_LIFETIME >= now)
        {
            all.add_not_before(holder, *not_before);
        }
        Ok(all)
    }
    async fn prune_revocations(&self, now: i64) -> Result<u64, StoreError> {
        self.check()?;
        let mut entries = self.0.revoked.borrow_mut();
        let mut times = self.0.not_before.borrow_mut();
        let before = entries.len() + times.len();
        entries.retain(|_, expires_at| *expires_at >= now);
        times.retain(|_, not_before| *not_before + NOT_BEFORE_LIFETIME >= now);
        Ok((before - entries.len() - times.len()) as u64)
    }
}

impl MemoryStore {
    /// How many revocation entries are kept (revoked `jti`s and not-before
    /// times): what a day of revocations leaves behind.
    pub fn revocation_entries(&self) -> usize {
        self.0.revoked.borrow().len() + self.0.not_before.borrow().len()
    }
}

impl AuditStore for MemoryStore {
    async fn append(&self, event: &AuditEvent, _expires_at: i64) -> Result<(), StoreError> {
        self.check()?;
        self.0.audit.borrow_mut().insert(event.id.clone(), event.clone());
        Ok(())
    }

    async fn events(&self, filter: &AuditFilter, cursor: Option<&str>, limit: usize) -> Result<AuditPage, StoreError> {
        self.check()?;
        if cursor.is_some_and(|c| !AuditEvent::is_id(c)) {
            return Err(StoreError::BadCursor);
        }
        let audit = self.0.audit.borrow();
        let events: Vec<AuditEvent> = audit
            .values()
            .filter(|e| cursor.is_none_or(|c| e.id.as_str() > c) && filter.matches(e))
            .take(limit + 1)
            .cloned()
            .collect();
        let (events, next_cursor) = page_by_id(events, limit, |e| &e.id);
        Ok(AuditPage { events, next_cursor })
    }

    async fn prune(&self, events_before: i64, counts_before: i64) -> Result<u64, StoreError> {
        self.check()?;
        let mut audit = self.0.audit.borrow_mut();
        let was = audit.len();
        audit.retain(|_, e| e.at >= events_before);
        self.0.auth_failures.borrow_mut().retain(|minute, _| minute * 60 >= counts_before);
        Ok((was - audit.len()) as u64)
    }

    async fn count_auth_failures(&self, minute: i64, count: u64, _expires_at: i64) -> Result<(), StoreError> {
        self.check()?;
        *self.0.auth_failures.borrow_mut().entry(minute).or_default() += count;
        Ok(())
    }

    async fn auth_failures(&self, since_minute: i64) -> Result<Vec<AuthFailures>, StoreError> {
        self.check()?;
        Ok(self
            .0
            .auth_failures
            .borrow()
            .range(since_minute..)
            .map(|(&minute, &count)| AuthFailures { minute, count })
            .collect())
    }
}

/// Like D1 (a foreign key from clients): a project that clients still
/// belong to is not deleted.
impl ProjectStore for MemoryStore {
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        self.check()?;
        Ok(self.0.projects.borrow().get(id.as_str()).cloned())
    }

    async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        self.check()?;
        let mut projects = self.0.projects.borrow_mut();
        if projects.contains_key(&project.id) {
            return Err(StoreError::Conflict);
        }
        projects.insert(project.id.clone(), project.clone());
        Ok(())
    }

    async fn update_project(&self, project: &Project) -> Result<Write, StoreError> {
        self.check()?;
        let row = Project { version: project.version + 1, ..project.clone() };
        Ok(replace(&mut self.0.projects.borrow_mut(), &project.id, project.version, row, |p| p.version))
    }

    async fn delete_project(&self, id: &ProjectId, expected: Option<i64>) -> Result<Write, StoreError> {
        self.check()?;
        if self.0.rows.borrow().values().any(|r| r.project_id.as_deref() == Some(id.as_str())) {
            return Err(StoreError::Conflict);
        }
        Ok(remove(&mut self.0.projects.borrow_mut(), id.as_str(), expected, |p| p.version))
    }

    async fn projects(&self, cursor: Option<&str>, limit: usize) -> Result<ProjectPage, StoreError> {
        self.check()?;
        let after = cursor.map(|c| ProjectId::parse(c).ok_or(StoreError::BadCursor)).transpose()?;
        let projects = self.0.projects.borrow();
        let page: Vec<Project> = projects
            .values()
            .filter(|p| after.as_ref().is_none_or(|a| p.id.as_str() > a.as_str()))
            .take(limit + 1)
            .cloned()
            .collect();
        let (projects, next_cursor) = page_by_id(page, limit, |p| &p.id);
        Ok(ProjectPage { projects, next_cursor })
    }
}

impl KeyStore for MemoryStore {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError> {
        self.check()?;
        match &*self.0.keys.borrow() {
            None => Ok(StoredKeys::default()),
            Some((version, text)) => Ok(StoredKeys {
                keys: serde_json::from_str(text).map_err(|_| StoreError::Corrupt("key set".into()))?,
                version: *version,
            }),
        }
    }

    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError> {
        self.check()?;
        let mut slot = self.0.keys.borrow_mut();
        let stored = slot.as_ref().map_or(0, |(v, _)| *v);
        if stored != expected {
            return Ok(false);
        }
        if self.0.lost_key_saves.get() > 0 {
            self.0.lost_key_saves.set(self.0.lost_key_saves.get() - 1);
            return Ok(false);
        }
        let text = serde_json::to_string(keys).map_err(|e| StoreError::Backend(e.to_string()))?;
        *slot = Some((expected + 1, text));
        Ok(true)
    }
}

/// Compare-and-swap: put `row` at `key` if the stored row is at `expected`.
fn replace<R, V: PartialEq>(
    table: &mut BTreeMap<String, R>,
    key: &str,
    expected: V,
    row: R,
    version: fn(&R) -> V,
) -> Write {
    match table.get_mut(key) {
        None => Write::Missing,
        Some(stored) if version(stored) != expected => Write::Stale,
        Some(stored) => {
            *stored = row;
            Write::Done
        }
    }
}

/// A client row's identity for a conditional write, as D1 compares it:
/// its version and its incarnation.
fn identity(row: &ClientRow) -> (i64, Option<String>) {
    (row.version, row.incarnation.clone())
}

/// Remove `key`; with `expected`, only if the stored row is at that version.
fn remove<R, V: PartialEq>(
    table: &mut BTreeMap<String, R>,
    key: &str,
    expected: Option<V>,
    version: fn(&R) -> V,
) -> Write {
    match table.get(key) {
        None => Write::Missing,
        Some(stored) if expected.is_some_and(|v| v != version(stored)) => Write::Stale,
        Some(_) => {
            table.remove(key);
            Write::Done
        }
    }
}
