//! The Workers KV adapter. Keys (docs/storage.md):
//!
//! - `client:{client_id}` → a client row as JSON
//! - `project:{project_id}` → a project as JSON
//! - `audit:{event_id}` → an audit event as JSON, expiring after `AUDIT_RETENTION_DAYS`
//! - `audit-auth-failures:{minute}` → failed admin authentications that minute, expiring
//! - `resource:{resource_id}` → an API resource row as JSON
//! - `resource-by-audience:{digest}` → that resource's id, `digest` being
//!   base64url(SHA-256(identifier)): the token endpoint finds a resource by
//!   audience with two reads, no list, and a fixed-length key keeps every
//!   accepted identifier (up to 512 characters) inside KV's 512-byte key
//!   limit. `resource-by-identifier:{identifier}`, written by earlier
//!   versions, is still read when the new key is absent.
//! - `signing-keys` → the managed key set `{"version": n, "keys": [...]}`
//!
//! The key set's compare-and-swap is a read then a write here: KV has no
//! conditional write. Two cron runs racing in different locations can both
//! pass the check; the last write wins. Both computed the same promotion
//! from the same set (rotation is a pure function of set and time), so the
//! set still has exactly one `current` key — the same one — and only the
//! losing run's freshly made `next` key is lost, before it ever signed.
//! KV is eventually consistent: a write is visible at once in the location
//! that made it and within about 60 s elsewhere. KV has no transactions, so
//! "create if absent" is a read then a write; ids are 128 random bits, so
//! two writers never pick the same one.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use worker::kv::{KvError, KvStore as KvNamespace};
use worker::Env;

use crate::d1::D1Store;

use m2m_edge_core::assertion::ReplayStore;
use m2m_edge_core::audit::{AuditEvent, AuditFilter, AuditPage, AuditStore, AuthFailures};
use m2m_edge_core::client::{ClientFilter, ClientId, ClientRecord, ClientStore, Page};
use m2m_edge_core::federation::{CredentialFailures, FederationFailureStore, IssuerStore, TrustedIssuer};
use m2m_edge_core::keys::{KeyStore, ManagedKey, StoredKeys};
use m2m_edge_core::ports::{StoreError, Write};
use m2m_edge_core::project::{Project, ProjectId, ProjectPage, ProjectStore};
use m2m_edge_core::resource::{ApiResource, ResourceId, ResourceStore, MAX_RESOURCES};
use m2m_edge_core::store::row::{ClientRow, ResourceRow};

use crate::binding::Binding;

const CLIENT_PREFIX: &str = "client:";
const PROJECT_PREFIX: &str = "project:";
const AUDIT_PREFIX: &str = "audit:";
const FAILURES_PREFIX: &str = "audit-auth-failures:";
const RESOURCE_PREFIX: &str = "resource:";
const AUDIENCE_PREFIX: &str = "resource-by-audience:";
/// The index key of earlier versions, read as a fallback and deleted with the resource.
const LEGACY_IDENTIFIER_PREFIX: &str = "resource-by-identifier:";
/// KV refuses keys longer than this many bytes.
const MAX_KEY_BYTES: usize = 512;
const KEY_SET: &str = "signing-keys";
/// KV's bulk read takes at most 100 keys.
const BULK_MAX: usize = 100;

/// The store on Workers KV, bound to `KV` on first use.
pub struct KvStore {
    kv: Binding<KvNamespace>,
    /// Used assertion ids live in D1 even on KV: single use needs an atomic
    /// first write, which KV (read, then write; eventually consistent)
    /// cannot give (docs/storage.md, `used_assertions`).
    replay: D1Store,
}

fn backend(e: KvError) -> StoreError {
    StoreError::Backend(format!("KV: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<T, StoreError> {
    // serde_json's message names the line, column and expected type, never the value.
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("KV value of {key}: {e}")))
}

/// The stored record a conditional write expects: its version and, for a
/// client, its incarnation (records without one compare as `None`).
#[derive(Clone, Copy)]
struct Expected<'a> {
    version: i64,
    incarnation: Option<&'a str>,
}

impl<'a> Expected<'a> {
    fn version(version: i64) -> Expected<'static> {
        Expected { version, incarnation: None }
    }

    fn client(client: &'a ClientRecord) -> Expected<'a> {
        Expected { version: client.version, incarnation: client.incarnation.as_ref().map(|i| i.as_str()) }
    }
}

impl KvStore {
    /// The `KV` binding of `env`, looked up when first needed.
    pub fn new(env: Env) -> KvStore {
        KvStore { replay: D1Store::new(env.clone()), kv: Binding::new(env, "KV", |env, name| env.kv(name)) }
    }

    async fn read(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv.get()?.get(key).text().await.map_err(backend)
    }

    async fn write(&self, key: &str, value: String) -> Result<(), StoreError> {
        self.kv.get()?.put(key, value).map_err(backend)?.execute().await.map_err(backend)
    }

    /// Store `value` under `key` until `expires_at` (Unix seconds; KV
    /// deletes it then).
    async fn write_expiring(&self, key: &str, value: String, expires_at: i64) -> Result<(), StoreError> {
        let put = self.kv.get()?.put(key, value).map_err(backend)?;
        put.expiration(expires_at.max(0) as u64).execute().await.map_err(backend)
    }

    /// Store `value` as JSON under `key`.
    async fn write_json<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("KV value of {key}: {e}")))?;
        self.write(key, text).await
    }

    /// Values of `keys`, in the same order; keys deleted since they were
    /// listed are skipped.
    async fn read_many(&self, keys: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BULK_MAX) {
            let mut values: HashMap<String, Option<String>> =
                self.kv.get()?.get_bulk(chunk).text().await.map_err(backend)?;
            for key in chunk {
                if let Some(Some(v)) = values.remove(key) {
                    out.push((key.clone(), v));
                }
            }
        }
        Ok(out)
    }

    /// The check half of a conditional write: `Done` when the record exists
    /// and (if `expected` is given) is that version of that incarnation. KV has no
    /// conditional write, so the write that follows can still race a write
    /// made in the same instant elsewhere (docs/storage.md).
    async fn check_version(&self, key: &str, expected: Option<Expected<'_>>) -> Result<Write, StoreError> {
        #[derive(serde::Deserialize)]
        struct Versioned {
            #[serde(default = "first_version")]
            version: i64,
            #[serde(default)]
            incarnation: Option<String>,
        }
        fn first_version() -> i64 {
            1
        }
        let Some(text) = self.read(key).await? else { return Ok(Write::Missing) };
        let stored = decode::<Versioned>(key, &text)?;
        let stale =
            expected.is_some_and(|e| e.version != stored.version || e.incarnation != stored.incarnation.as_deref());
        Ok(if stale { Write::Stale } else { Write::Done })
    }

    /// Write `row` under `key` if the stored record is the one `expected` names.
    async fn replace_json<T: serde::Serialize>(
        &self,
        key: &str,
        expected: Expected<'_>,
        row: &T,
    ) -> Result<Write, StoreError> {
        match self.check_version(key, Some(expected)).await? {
            Write::Done => self.write_json(key, row).await.map(|()| Write::Done),
            other => Ok(other),
        }
    }

    /// Delete `key` if the record exists (at version `expected`, if given):
    /// a check then a delete, with [`KvStore::check_version`]'s race.
    async fn delete_checked(&self, key: &str, expected: Option<Expected<'_>>) -> Result<Write, StoreError> {
        match self.check_version(key, expected).await? {
            Write::Done => {}
            other => return Ok(other),
        }
        self.kv.get()?.delete(key).await.map_err(backend)?;
        Ok(Write::Done)
    }

    /// One `list` page under `prefix`: the values, decoded, and KV's
    /// cursor after them.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<T>, Option<String>), StoreError> {
        let (keys, next_cursor) = self.list_keys(prefix, cursor, limit).await?;
        let values = self
            .read_many(&keys)
            .await?
            .into_iter()
            .map(|(key, text)| decode::<T>(&key, &text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((values, next_cursor))
    }

    /// One `list` page of key names under `prefix`, and the cursor after it.
    async fn list_keys(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let mut request = self.kv.get()?.list().prefix(prefix.to_string()).limit(limit as u64);
        if let Some(c) = cursor {
            request = request.cursor(c.to_string());
        }
        let response = match request.execute().await {
            Ok(r) => r,
            // KV refuses a cursor it did not issue; anything else is the backend's.
            Err(_) if cursor.is_some() => return Err(StoreError::BadCursor),
            Err(e) => return Err(backend(e)),
        };
        let next = if response.list_complete { None } else { response.cursor.filter(|c| !c.is_empty()) };
        Ok((response.keys.into_iter().map(|k| k.name).collect(), next))
    }
}

/// The index key for an audience: fixed length whatever the identifier.
fn audience_key(identifier: &str) -> String {
    format!("{AUDIENCE_PREFIX}{}", URL_SAFE_NO_PAD.encode(Sha256::digest(identifier.as_bytes())))
}

/// The index key earlier versions wrote, when it fits KV's key limit.
fn legacy_key(identifier: &str) -> Option<String> {
    let key = format!("{LEGACY_IDENTIFIER_PREFIX}{identifier}");
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

impl ReplayStore for KvStore {
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.replay.first_use(key, expires_at).await
    }
    async fn prune_used(&self, before: i64) -> Result<u64, StoreError> {
        self.replay.prune_used(before).await
    }
}

impl ClientStore for KvStore {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let key = format!("{CLIENT_PREFIX}{}", id.as_str());
        match self.read(&key).await? {
            Some(text) => Ok(Some(decode::<ClientRow>(&key, &text)?.into_record()?)),
            None => Ok(None),
        }
    }

    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let key = format!("{CLIENT_PREFIX}{}", client.id.as_str());
        if self.read(&key).await?.is_some() {
            return Err(StoreError::Conflict);
        }
        self.write_json(&key, &ClientRow::from_record(client)?).await
    }

    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        let key = format!("{CLIENT_PREFIX}{}", client.id.as_str());
        let row = ClientRow { version: client.version + 1, ..ClientRow::from_record(client)? };
        self.replace_json(&key, Expected::client(client), &row).await
    }

    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError> {
        self.delete_checked(&format!("{CLIENT_PREFIX}{}", id.as_str()), read.map(Expected::client)).await
    }

    /// KV lists keys in byte order, so pages come in id order like D1's;
    /// the cursor is KV's own. KV cannot filter: a filtered listing reads
    /// the page's `limit` clients and returns those that pass, so a page may
    /// be short, or empty with a next cursor (docs/storage.md).
    async fn list(&self, filter: &ClientFilter, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let (rows, next_cursor) = self.page::<ClientRow>(CLIENT_PREFIX, cursor, limit).await?;
        let clients = rows
            .into_iter()
            .map(ClientRow::into_record)
            .filter(|record| record.as_ref().map_or(true, |c| filter.matches(c)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { clients, next_cursor })
    }
}

/// Events and minute counts carry a KV expiration (KV deletes them
/// itself, so `prune` has nothing to do); counting is a read then a write,
/// so failures counted at the same instant in one minute can undercount.
impl AuditStore for KvStore {
    async fn append(&self, event: &AuditEvent, expires_at: i64) -> Result<(), StoreError> {
        let key = format!("{AUDIT_PREFIX}{}", event.id);
        let text = serde_json::to_string(event).map_err(|e| StoreError::Backend(format!("KV value of {key}: {e}")))?;
        self.write_expiring(&key, text, expires_at).await
    }

    /// KV lists keys in byte order, so events come oldest first; a filter
    /// is applied as the page is read (pages may be short).
    async fn events(&self, filter: &AuditFilter, cursor: Option<&str>, limit: usize) -> Result<AuditPage, StoreError> {
        let (events, next_cursor) = self.page::<AuditEvent>(AUDIT_PREFIX, cursor, limit).await?;
        let events = events.into_iter().filter(|e| filter.matches(e)).collect();
        Ok(AuditPage { events, next_cursor })
    }

    async fn prune(&self, _events_before: i64, _counts_before: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn count_auth_failures(&self, minute: i64, count: u64, expires_at: i64) -> Result<(), StoreError> {
        let key = format!("{FAILURES_PREFIX}{minute:012}");
        let written: u64 = match self.read(&key).await? {
            Some(text) => decode(&key, &text)?,
            None => 0,
        };
        self.write_expiring(&key, written.saturating_add(count).to_string(), expires_at).await
    }

    async fn auth_failures(&self, since_minute: i64) -> Result<Vec<AuthFailures>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = self.list_keys(FAILURES_PREFIX, cursor.as_deref(), 1000).await?;
            keys.extend(page.into_iter().filter(|k| minute_of(k).is_some_and(|m| m >= since_minute)));
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.read_many(&keys)
            .await?
            .into_iter()
            .map(|(key, text)| {
                Ok(AuthFailures { minute: minute_of(&key).unwrap_or_default(), count: decode(&key, &text)? })
            })
            .collect()
    }
}

/// The minute of an `audit-auth-failures:` key.
fn minute_of(key: &str) -> Option<i64> {
    key.strip_prefix(FAILURES_PREFIX)?.parse().ok()
}

/// KV has no foreign key: deleting a project that clients still belong to
/// is refused by the admin API's own check, which a client created in the
/// same instant elsewhere can race (docs/storage.md).
impl ProjectStore for KvStore {
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        let key = format!("{PROJECT_PREFIX}{}", id.as_str());
        self.read(&key).await?.map(|text| decode::<Project>(&key, &text)).transpose()
    }

    async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        let key = format!("{PROJECT_PREFIX}{}", project.id);
        if self.read(&key).await?.is_some() {
            return Err(StoreError::Conflict);
        }
        self.write_json(&key, project).await
    }

    async fn update_project(&self, project: &Project) -> Result<Write, StoreError> {
        let key = format!("{PROJECT_PREFIX}{}", project.id);
        let row = Project { version: project.version + 1, ..project.clone() };
        self.replace_json(&key, Expected::version(project.version), &row).await
    }

    async fn delete_project(&self, id: &ProjectId, expected: Option<i64>) -> Result<Write, StoreError> {
        self.delete_checked(&format!("{PROJECT_PREFIX}{}", id.as_str()), expected.map(Expected::version)).await
    }

    async fn projects(&self, cursor: Option<&str>, limit: usize) -> Result<ProjectPage, StoreError> {
        let (projects, next_cursor) = self.page::<Project>(PROJECT_PREFIX, cursor, limit).await?;
        Ok(ProjectPage { projects, next_cursor })
    }
}

impl ResourceStore for KvStore {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError> {
        let key = format!("{RESOURCE_PREFIX}{}", id.as_str());
        match self.read(&key).await? {
            Some(text) => Ok(Some(decode::<ResourceRow>(&key, &text)?.into_resource()?)),
            None => Ok(None),
        }
    }

    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError> {
        let id = match self.read(&audience_key(identifier)).await? {
            Some(id) => id,
            None => match legacy_key(identifier) {
                Some(legacy) => match self.read(&legacy).await? {
                    Some(id) => id,
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        let id =
            ResourceId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("identifier index of {identifier}")))?;
        self.resource(&id).await
    }

    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError> {
        let (rows, _) = self.page::<ResourceRow>(RESOURCE_PREFIX, None, MAX_RESOURCES).await?;
        rows.into_iter().map(ResourceRow::into_resource).collect()
    }

    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError> {
        let index = audience_key(resource.identifier.as_str());
        if self.resource_by_identifier(resource.identifier.as_str()).await?.is_some() {
            return Err(StoreError::Conflict);
        }
        // The record first, then the index: a reader that finds the index
        // always finds the record.
        let key = format!("{RESOURCE_PREFIX}{}", resource.id.as_str());
        self.write_json(&key, &ResourceRow::from_resource(resource)?).await?;
        self.write(&index, resource.id.as_str().to_string()).await
    }

    async fn update_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        let key = format!("{RESOURCE_PREFIX}{}", resource.id.as_str());
        let row = ResourceRow { version: resource.version + 1, ..ResourceRow::from_resource(resource)? };
        self.replace_json(&key, Expected::version(resource.version), &row).await
    }

    async fn delete_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        let key = format!("{RESOURCE_PREFIX}{}", resource.id.as_str());
        match self.check_version(&key, Some(Expected::version(resource.version))).await? {
            Write::Done => {}
            other => return Ok(other),
        }
        // The index first, so the token endpoint stops finding the resource
        // before its record goes.
        let kv = self.kv.get()?;
        kv.delete(&audience_key(resource.identifier.as_str())).await.map_err(backend)?;
        if let Some(legacy) = legacy_key(resource.identifier.as_str()) {
            kv.delete(&legacy).await.map_err(backend)?;
        }
        kv.delete(&key).await.map_err(backend)?;
        Ok(Write::Done)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeySetDoc {
    version: i64,
    keys: Vec<ManagedKey>,
}

/// The trusted issuers' set under one key.
const TRUSTED_ISSUERS: &str = "trusted-issuers";
/// How long a client's failure counts stay without a new failure.
const FAILURES_KEPT_SECS: i64 = 30 * 86_400;

#[derive(serde::Serialize, serde::Deserialize)]
struct IssuersDoc {
    version: i64,
    issuers: Vec<TrustedIssuer>,
}

impl IssuerStore for KvStore {
    async fn load_issuers(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        match self.read(TRUSTED_ISSUERS).await? {
            None => Ok((0, Vec::new())),
            Some(text) => {
                let doc: IssuersDoc = decode(TRUSTED_ISSUERS, &text)?;
                Ok((doc.version, doc.issuers))
            }
        }
    }

    /// Read, compare, write: KV has no conditional write (docs/storage.md).
    async fn save_issuers(&self, expected: i64, issuers: &[TrustedIssuer]) -> Result<bool, StoreError> {
        if self.load_issuers().await?.0 != expected {
            return Ok(false);
        }
        self.write_json(TRUSTED_ISSUERS, &IssuersDoc { version: expected + 1, issuers: issuers.to_vec() }).await?;
        Ok(true)
    }
}

/// One key per client, `federation-failures:{client_id}`: read, then
/// written (two failures in the same instant may count as one).
impl FederationFailureStore for KvStore {
    async fn record_failure(
        &self,
        client: &ClientId,
        credential: &str,
        reason: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let key = format!("federation-failures:{}", client.as_str());
        let mut failures = self.failures(client).await?;
        CredentialFailures::record(&mut failures, credential, reason, at);
        let text = serde_json::to_string(&failures).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.write_expiring(&key, text, at + FAILURES_KEPT_SECS).await
    }

    async fn failures(&self, client: &ClientId) -> Result<Vec<CredentialFailures>, StoreError> {
        let key = format!("federation-failures:{}", client.as_str());
        match self.read(&key).await? {
            None => Ok(Vec::new()),
            Some(text) => decode(&key, &text),
        }
    }
}

impl KeyStore for KvStore {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError> {
        match self.read(KEY_SET).await? {
            None => Ok(StoredKeys::default()),
            Some(text) => {
                let doc: KeySetDoc = decode(KEY_SET, &text)?;
                Ok(StoredKeys { keys: doc.keys, version: doc.version })
            }
        }
    }

    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError> {
        let stored = self.load_keys().await?.version;
        if stored != expected {
            return Ok(false);
        }
        self.write_json(KEY_SET, &KeySetDoc { version: expected + 1, keys: keys.to_vec() }).await?;
        Ok(true)
    }
}
