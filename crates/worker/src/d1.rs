//! The D1 adapter, the one store: the tables of `migrations/`, documented
//! in docs/storage.md. Every write, and every read a write depends on
//! (`get_fresh`, `resources_fresh`, `load_issuers_fresh`, the key set),
//! goes to the primary, so conditional writes compare against the truth.
//!
//! With `D1_READ_REPLICAS` on, the token path's reads — a client by id, the
//! resources, the trusted-issuer set — go through a Sessions API session,
//! which D1 serves from the nearest read replica that is at least as new as
//! the session's bookmark. Cloudflare bounds no replica's lag, so the
//! isolate bounds it: it keeps the newest bookmark it has seen and when a
//! session last started at the primary (its *anchor*), and opens its
//! sessions from that bookmark only while the anchor is younger than
//! [`REPLICA_ANCHOR_SECS`]; otherwise the session's first query goes to the
//! primary (`first-primary`) and anchors anew. So a read reflects every
//! change committed at least that long ago, and reads in one isolate never
//! go back in time. A change this isolate writes to what the token path
//! reads ages the anchor out at once, so this isolate's next token request
//! sees it. A client a replica lacks (created after the anchor) is read
//! again from the primary, and the rest of that request's reads go there
//! too, rather than to the replica that lacked it.

use std::cell::{Cell, OnceCell, RefCell};

use m2m_edge_core::config::REPLICA_ANCHOR_SECS;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, Env};

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

use crate::binding::Binding;

/// The store on D1, bound to `DB` on first use.
pub struct D1Store {
    db: Binding<D1Database>,
    /// Whether the token path's reads may go to a read replica.
    replicas: bool,
    /// This request's session for them, opened on first use.
    session: OnceCell<Session>,
    /// A replica lacked a record this request asked for: the rest of its
    /// reads go to the primary.
    primary_only: Cell<bool>,
    /// The API resources named by the grants of the client this request
    /// read on the token path, with their identifiers (`None`: none
    /// registered; a client has few grants, so a list),
    /// read with the client ([`CLIENT_WITH_GRANTED_RESOURCES`]) so that the
    /// token's resource lookup that follows costs no second round trip.
    granted: RefCell<Vec<(String, Option<ApiResource>)>>,
}

/// A request's Sessions API session.
struct Session {
    inner: D1DatabaseSession,
    /// Opened `first-primary`: its first answer anchors the isolate.
    anchoring: Cell<bool>,
    /// When it was opened, ms.
    opened_ms: i64,
}

/// The newest bookmark this isolate has seen, and when (ms) a session last
/// started at the primary.
struct Anchor {
    bookmark: String,
    at_ms: i64,
}

thread_local! {
    static ANCHOR: RefCell<Option<Anchor>> = const { RefCell::new(None) };
    /// When (ms) this isolate last finished a write of what the token path
    /// reads: a session opened before it anchors nothing.
    static LAST_RECORD_WRITE: Cell<i64> = const { Cell::new(i64::MIN) };
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Where a read goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// The primary: the truth a conditional write compares against.
    Primary,
    /// The nearest replica, when replicas are on: reads the token path
    /// can take a replication lag late.
    Near,
}

impl D1Store {
    /// The `DB` binding of `env`, looked up when first needed; the token
    /// path's reads from read replicas when `replicas`.
    pub fn new(env: Env, replicas: bool) -> D1Store {
        D1Store {
            db: Binding::new(env, "DB", |env, name| env.d1(name)),
            replicas,
            session: OnceCell::new(),
            primary_only: Cell::new(false),
            granted: RefCell::new(Vec::new()),
        }
    }

    fn statement(&self, sql: &str, reach: Reach) -> Result<D1PreparedStatement, StoreError> {
        let db = self.db.get()?;
        if reach == Reach::Primary || !self.replicas || self.primary_only.get() {
            return Ok(db.prepare(sql));
        }
        if let Some(session) = self.session.get() {
            return Ok(session.inner.prepare(sql));
        }
        let now = now_ms();
        let max_age = i64::from(REPLICA_ANCHOR_SECS) * 1000;
        let anchored = ANCHOR.with(|a| {
            a.borrow().as_ref().filter(|a| now.saturating_sub(a.at_ms) < max_age).map(|a| a.bookmark.clone())
        });
        let constraint = anchored.as_deref().unwrap_or("first-primary");
        let inner = db.with_session(Some(constraint)).map_err(backend)?;
        let session = Session { inner, anchoring: Cell::new(anchored.is_none()), opened_ms: now };
        Ok(self.session.get_or_init(|| session).inner.prepare(sql))
    }

    /// After a read through the session: keep its bookmark if it is newer
    /// (bookmarks sort by time), and, for the first answer of an anchoring
    /// session, the anchor's time.
    fn note_bookmark(&self) {
        let Some(session) = self.session.get() else { return };
        let Ok(Some(bookmark)) = session.inner.get_bookmark() else { return };
        let anchored_now = session.anchoring.replace(false) && session.opened_ms > LAST_RECORD_WRITE.with(Cell::get);
        let anchored_at = if anchored_now { session.opened_ms } else { i64::MIN };
        ANCHOR.with(|a| {
            let mut a = a.borrow_mut();
            let anchor = match a.take() {
                Some(held) => Anchor { bookmark: held.bookmark.max(bookmark), at_ms: held.at_ms.max(anchored_at) },
                None => Anchor { bookmark, at_ms: anchored_at },
            };
            *a = Some(anchor);
        });
    }

    /// A write of what the token path reads (a client, a resource, the
    /// issuer set): once it is done, this isolate's next session starts at
    /// the primary, so its next token request sees the change — also when
    /// another request anchored while the write was on its way.
    async fn record_write<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        let out = write.await;
        records_written();
        out
    }
}

/// What the token path reads has just been written — by this isolate, or by
/// the admin Worker it handed a request to: the next session starts at the
/// primary, and none opened before now anchors.
pub fn records_written() {
    LAST_RECORD_WRITE.with(|w| w.set(now_ms()));
    ANCHOR.with(|a| {
        if let Some(held) = a.borrow_mut().as_mut() {
            held.at_ms = i64::MIN;
        }
    });
}

/// D1's own message (`no such table: clients: SQLITE_ERROR`) without the JS
/// stack the `Debug` form carries. Bound values never appear in it.
fn backend(e: worker::Error) -> StoreError {
    match e {
        // A client joining a project deleted meanwhile, or a project deleted
        // while a client joins it: the same answer as any other conflict.
        worker::Error::D1(d1) if d1.cause().contains("FOREIGN KEY constraint failed") => StoreError::Conflict,
        worker::Error::D1(d1) => StoreError::Backend(format!("D1: {}", d1.cause())),
        other => StoreError::Backend(format!("D1: {other}")),
    }
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn opt_text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn opt_int(n: Option<i64>) -> JsValue {
    n.map_or(JsValue::NULL, int)
}

/// Bind values of a client row, in `client_columns!` order (?1 … ?19).
fn client_values(r: &ClientRow) -> [JsValue; 19] {
    [
        text(&r.id),
        text(&r.name),
        opt_text(r.description.as_deref()),
        text(&r.grants),
        text(&r.custom_claims),
        opt_int(r.token_ttl),
        text(&r.status),
        text(&r.secret_hash),
        opt_text(r.secret_last_four.as_deref()),
        opt_text(r.next_secret_hash.as_deref()),
        opt_text(r.next_secret_last_four.as_deref()),
        int(r.created_at),
        int(r.updated_at),
        int(r.version),
        opt_text(r.project_id.as_deref()),
        opt_text(r.jwks.as_deref()),
        opt_text(r.federated_credentials.as_deref()),
        opt_text(r.incarnation.as_deref()),
        int(r.dpop_bound_access_tokens),
    ]
}

/// Bind values of a project, in `project_columns!` order (?1 … ?7);
/// `allowed_grants` as JSON text.
fn project_values(p: &Project) -> Result<[JsValue; 7], StoreError> {
    let allowed = serde_json::to_string(&p.allowed_grants).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok([
        text(&p.id),
        text(&p.name),
        opt_text(p.description.as_deref()),
        int(p.created_at),
        int(p.updated_at),
        int(p.version),
        text(&allowed),
    ])
}

/// Bind values of a resource row, in `resource_columns!` order (?1 … ?8).
fn resource_values(r: &ResourceRow) -> [JsValue; 8] {
    [
        text(&r.id),
        text(&r.identifier),
        text(&r.name),
        text(&r.scopes),
        opt_int(r.token_ttl),
        int(r.created_at),
        int(r.updated_at),
        int(r.version),
    ]
}

macro_rules! client_columns {
    () => {
        "id, name, description, grants, custom_claims, token_ttl, status, secret_hash, secret_last_four, \
         next_secret_hash, next_secret_last_four, created_at, updated_at, version, project_id, jwks, \
         federated_credentials, incarnation, dpop_bound_access_tokens"
    };
}
macro_rules! project_columns {
    () => {
        "id, name, description, created_at, updated_at, version, allowed_grants"
    };
}
macro_rules! resource_columns {
    () => {
        "id, identifier, name, scopes, token_ttl, created_at, updated_at, version"
    };
}

const CLIENT_BY_ID: &str = concat!("SELECT ", client_columns!(), " FROM clients WHERE id = ?1");
// The token path's client read: the client, and as `granted_resources` a
// JSON array of the registered resources its grants' audiences name (a
// token's audience is always one of them), each as RESOURCE_BY_IDENTIFIER
// reads it. One round trip for both.
const CLIENT_WITH_GRANTED_RESOURCES: &str = concat!(
    "SELECT ",
    client_columns!(),
    ", (SELECT json_group_array(json_object('id', r.id, 'identifier', r.identifier, 'name', r.name, ",
    "'scopes', r.scopes, 'token_ttl', r.token_ttl, 'created_at', r.created_at, 'updated_at', r.updated_at, ",
    "'version', r.version)) FROM resources r WHERE r.identifier IN ",
    "(SELECT json_extract(g.value, '$.audience') FROM json_each(clients.grants) g)) AS granted_resources ",
    "FROM clients WHERE id = ?1"
);
// Filters ?3 project, ?4 status, ?5 name prefix, ?6 a federated
// credential's issuer: each NULL when not asked. The project filter walks
// the clients_by_project index; the issuer filter reads each row's
// credentials (JSON), asked only by a platform token sent without a
// client_id.
const CLIENT_PAGE: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients WHERE id > ?1 AND (?3 IS NULL OR project_id = ?3) AND (?4 IS NULL OR status = ?4) \
     AND (?5 IS NULL OR substr(name, 1, length(?5)) = ?5) \
     AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(federated_credentials) \
     WHERE json_extract(value, '$.issuer') = ?6)) ORDER BY id LIMIT ?2"
);
const CLIENT_INSERT: &str = concat!(
    "INSERT INTO clients (",
    client_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) ON CONFLICT DO NOTHING"
);
// Compare-and-swap: lands only if the stored version is still the one the
// record was read at (?14), of the same incarnation (?18): a record read
// before the client was deleted and created again never overwrites the
// new one. created_at (?12) and project_id (?15) never change; they sit in
// the WHERE clause too, so that every bound value is used (D1 refuses a
// bind index the statement lacks).
const CLIENT_UPDATE: &str = "UPDATE clients SET name = ?2, description = ?3, grants = ?4, custom_claims = ?5, \
     token_ttl = ?6, status = ?7, secret_hash = ?8, secret_last_four = ?9, next_secret_hash = ?10, \
     next_secret_last_four = ?11, updated_at = ?13, jwks = ?16, \
     federated_credentials = ?17, dpop_bound_access_tokens = ?19, version = version + 1 \
     WHERE id = ?1 AND created_at = ?12 AND version = ?14 AND project_id IS ?15 AND incarnation IS ?18";
// ?2 NULL: unconditional; otherwise only that incarnation (?3) at that version.
const CLIENT_DELETE: &str =
    "DELETE FROM clients WHERE id = ?1 AND (?2 IS NULL OR (version = ?2 AND incarnation IS ?3))";
const CLIENT_VERSION: &str = "SELECT version FROM clients WHERE id = ?1";

const PROJECT_BY_ID: &str = concat!("SELECT ", project_columns!(), " FROM projects WHERE id = ?1");
const PROJECT_PAGE: &str = concat!("SELECT ", project_columns!(), " FROM projects WHERE id > ?1 ORDER BY id LIMIT ?2");
const PROJECT_INSERT: &str = concat!(
    "INSERT INTO projects (",
    project_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING"
);
const PROJECT_UPDATE: &str = "UPDATE projects SET name = ?2, description = ?3, updated_at = ?5, allowed_grants = ?7, \
     version = version + 1 WHERE id = ?1 AND created_at = ?4 AND version = ?6";
const PROJECT_DELETE: &str = "DELETE FROM projects WHERE id = ?1 AND (?2 IS NULL OR version = ?2)";
const PROJECT_VERSION: &str = "SELECT version FROM projects WHERE id = ?1";

const AUDIT_INSERT: &str = "INSERT INTO audit_events (id, at, actor, project_id, action, target, changed_fields) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
// ?3 project, ?4 since: NULL when not asked. The project filter walks audit_by_project.
const AUDIT_PAGE: &str = "SELECT id, at, actor, project_id, action, target, changed_fields FROM audit_events \
     WHERE id > ?1 AND (?3 IS NULL OR project_id = ?3) AND (?4 IS NULL OR at >= ?4) ORDER BY id LIMIT ?2";
const USED_INSERT: &str = "INSERT INTO used_assertions (key, expires_at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";
const USED_PRUNE: &str = "DELETE FROM used_assertions WHERE expires_at < ?1";
const REVOKE: &str = "INSERT INTO revoked_tokens (jti, project_id, expires_at) VALUES (?1, ?2, ?3) \
     ON CONFLICT (jti, project_id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)";
const NOT_BEFORE: &str = "INSERT INTO token_not_before (holder, not_before) VALUES (?1, ?2) \
     ON CONFLICT (holder) DO UPDATE SET not_before = max(not_before, excluded.not_before)";
/// ?2 is the token's project or '' (a project's revocation never reaches a
/// token of no project); ?4 its project holder key or ''.
const STANDING: &str =
    "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1 AND project_id IN ('', ?2)) AS revoked, \
     (SELECT max(not_before) FROM token_not_before WHERE holder IN (?3, ?4)) AS not_before";
const REVOKED_LIST: &str = "SELECT jti, project_id, expires_at FROM revoked_tokens WHERE expires_at >= ?1";
const NOT_BEFORE_LIST: &str = "SELECT holder, not_before FROM token_not_before WHERE not_before >= ?1";
const REVOKED_PRUNE: &str = "DELETE FROM revoked_tokens WHERE expires_at < ?1";
const NOT_BEFORE_PRUNE: &str = "DELETE FROM token_not_before WHERE not_before < ?1";
const ISSUERS_LOAD: &str = "SELECT version, issuers AS items FROM trusted_issuers WHERE id = 1";
// Version 0 means "no row yet": the first writer inserts, later ones lose.
const ISSUERS_INSERT: &str =
    "INSERT INTO trusted_issuers (id, version, issuers) VALUES (1, 1, ?1) ON CONFLICT (id) DO NOTHING";
const ISSUERS_UPDATE: &str =
    "UPDATE trusted_issuers SET issuers = ?1, version = version + 1 WHERE id = 1 AND version = ?2";
const FAILURE_RECORD: &str = "INSERT INTO federation_failures (client_id, credential, count, last_reason, last_at) \
     VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (client_id, credential) \
     DO UPDATE SET count = count + 1, last_reason = ?3, last_at = ?4";
const FAILURES_OF: &str = "SELECT credential, count, last_reason, last_at FROM federation_failures \
     WHERE client_id = ?1 ORDER BY credential LIMIT 100";
const AUDIT_PRUNE: &str = "DELETE FROM audit_events WHERE at < ?1";
const FAILURES_PRUNE: &str = "DELETE FROM audit_auth_failures WHERE minute < ?1";
const FAILURE_COUNT: &str = "INSERT INTO audit_auth_failures (minute, count) VALUES (?1, ?2) \
     ON CONFLICT (minute) DO UPDATE SET count = count + ?2";
// A week of minutes at most (AUTH_FAILURE_RETENTION_SECS).
const FAILURES_SINCE: &str =
    "SELECT minute, count FROM audit_auth_failures WHERE minute >= ?1 ORDER BY minute LIMIT 10080";

const RESOURCE_BY_ID: &str = concat!("SELECT ", resource_columns!(), " FROM resources WHERE id = ?1");
const RESOURCE_BY_IDENTIFIER: &str = concat!("SELECT ", resource_columns!(), " FROM resources WHERE identifier = ?1");
const RESOURCE_ALL: &str = concat!("SELECT ", resource_columns!(), " FROM resources ORDER BY id LIMIT ?1");
const RESOURCE_INSERT: &str = concat!(
    "INSERT INTO resources (",
    resource_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING"
);
// Compare-and-swap on the version (?8). The identifier (?2) never changes;
// it is matched rather than set.
const RESOURCE_UPDATE: &str = "UPDATE resources SET name = ?3, scopes = ?4, token_ttl = ?5, updated_at = ?7, \
     version = version + 1 WHERE id = ?1 AND identifier = ?2 AND created_at = ?6 AND version = ?8";
const RESOURCE_DELETE: &str = "DELETE FROM resources WHERE id = ?1 AND version = ?2";
const RESOURCE_VERSION: &str = "SELECT version FROM resources WHERE id = ?1";

const KEYS_LOAD: &str = "SELECT version, keys AS items FROM key_set WHERE id = 1";
// Version 0 means "no row yet": the first writer inserts, later ones lose.
const KEYS_INSERT: &str = "INSERT INTO key_set (id, version, keys, updated_at) \
     VALUES (1, 1, ?1, CAST(strftime('%s', 'now') AS INTEGER)) ON CONFLICT (id) DO NOTHING";
// Compare-and-swap: lands only if nobody wrote since `version` was read.
const KEYS_UPDATE: &str = "UPDATE key_set SET keys = ?1, version = version + 1, \
     updated_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = 1 AND version = ?2";

#[derive(serde::Deserialize)]
struct VersionRow {
    #[allow(dead_code)] // read only to tell a stale write from a missing row
    version: i64,
}

/// The one row of a table that holds a versioned JSON set (`key_set`,
/// `trusted_issuers`), its column read `AS items`.
#[derive(serde::Deserialize)]
struct SetRow {
    version: i64,
    items: String,
}

impl D1Store {
    async fn changes(&self, sql: &str, values: &[JsValue]) -> Result<usize, StoreError> {
        let statement = self.statement(sql, Reach::Primary)?;
        let result = statement.bind(values).map_err(backend)?.run().await.map_err(backend)?;
        Ok(result.meta().map_err(backend)?.and_then(|m| m.changes).unwrap_or(0))
    }

    /// An `INSERT … ON CONFLICT DO NOTHING`: no row written means a
    /// uniqueness conflict (SQLite reports it as zero changes, no error
    /// text to match).
    async fn insert(&self, sql: &str, values: &[JsValue]) -> Result<(), StoreError> {
        match self.changes(sql, values).await? {
            0 => Err(StoreError::Conflict),
            _ => Ok(()),
        }
    }

    /// A conditional write's outcome: a row changed, or else whether the
    /// record is gone or was changed by someone else (one more read, on
    /// this path only).
    async fn outcome(&self, changed: usize, version_sql: &str, id: &str) -> Result<Write, StoreError> {
        if changed > 0 {
            return Ok(Write::Done);
        }
        let row: Option<VersionRow> = self.first(version_sql, &[text(id)]).await?;
        Ok(if row.is_some() { Write::Stale } else { Write::Missing })
    }

    /// A versioned set and its version; 0 and nothing when no row exists.
    async fn load_set<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        what: &str,
        reach: Reach,
    ) -> Result<(i64, Vec<T>), StoreError> {
        match self.first_at::<SetRow>(sql, &[], reach).await? {
            None => Ok((0, Vec::new())),
            Some(row) => {
                let items =
                    serde_json::from_str(&row.items).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
                Ok((row.version, items))
            }
        }
    }

    /// Replace a versioned set if it is still at `expected` (compare-and-swap;
    /// version 0: the first writer inserts the row, later ones lose).
    async fn save_set<T: serde::Serialize>(
        &self,
        (insert, update): (&str, &str),
        expected: i64,
        items: &[T],
    ) -> Result<bool, StoreError> {
        let text = serde_json::to_string(items).map_err(|e| StoreError::Backend(e.to_string()))?;
        let changed = if expected == 0 {
            self.changes(insert, &[JsValue::from_str(&text)]).await?
        } else {
            self.changes(update, &[JsValue::from_str(&text), int(expected)]).await?
        };
        Ok(changed == 1)
    }

    async fn first<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        values: &[JsValue],
    ) -> Result<Option<T>, StoreError> {
        self.first_at(sql, values, Reach::Primary).await
    }

    async fn first_at<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        values: &[JsValue],
        reach: Reach,
    ) -> Result<Option<T>, StoreError> {
        let found = self.statement(sql, reach)?.bind(values).map_err(backend)?.first(None).await.map_err(backend)?;
        if reach == Reach::Near {
            self.note_bookmark();
        }
        Ok(found)
    }

    async fn all<T: serde::de::DeserializeOwned>(&self, sql: &str, values: &[JsValue]) -> Result<Vec<T>, StoreError> {
        self.all_at(sql, values, Reach::Primary).await
    }

    async fn all_at<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        values: &[JsValue],
        reach: Reach,
    ) -> Result<Vec<T>, StoreError> {
        let statement = self.statement(sql, reach)?.bind(values).map_err(backend)?;
        let rows = statement.all().await.map_err(backend)?.results().map_err(backend)?;
        if reach == Reach::Near {
            self.note_bookmark();
        }
        Ok(rows)
    }

    /// A client by id, read where `reach` says.
    async fn client_at(&self, id: &ClientId, reach: Reach) -> Result<Option<ClientRecord>, StoreError> {
        let row: Option<ClientRow> = self.first_at(CLIENT_BY_ID, &[text(id.as_str())], reach).await?;
        row.map(ClientRow::into_record).transpose()
    }

    /// [`Self::client_at`], with the resources its grants name kept for
    /// [`ResourceStore::resource_by_identifier`] to answer from.
    async fn client_with_granted_at(&self, id: &ClientId, reach: Reach) -> Result<Option<ClientRecord>, StoreError> {
        let read: Option<ClientRow> = self.first_at(CLIENT_WITH_GRANTED_RESOURCES, &[text(id.as_str())], reach).await?;
        let Some(mut row) = read else {
            return Ok(None);
        };
        let resources = row.granted_resources.take();
        let record = row.into_record()?;
        // What does not read here is left to the resource lookup's own read,
        // which refuses only a token for that audience: a bad resource row
        // never stands in the way of reading the client. (The column is
        // always there: `json_group_array` of no rows is `[]`.) Parsed by
        // JS and read as D1's own rows are, so that no second deserializer
        // of resource rows is compiled into the wasm.
        let rows = resources
            .and_then(|json| js_sys::JSON::parse(&json).ok())
            .and_then(|parsed| serde_wasm_bindgen::from_value::<Vec<ResourceRow>>(parsed).ok());
        let Some(rows) = rows else {
            return Ok(Some(record));
        };
        let mut granted: Vec<(String, Option<ApiResource>)> =
            record.grants.iter().map(|g| (g.audience.as_str().to_string(), None)).collect();
        for row in rows {
            let identifier = row.identifier.clone();
            match row.into_resource() {
                Ok(resource) => {
                    if let Some((_, found)) = granted.iter_mut().find(|(audience, _)| *audience == identifier) {
                        *found = Some(resource);
                    }
                }
                Err(_) => granted.retain(|(audience, _)| *audience != identifier),
            }
        }
        *self.granted.borrow_mut() = granted;
        Ok(Some(record))
    }
}

impl ClientStore for D1Store {
    /// The token path's read: the nearest replica, then — when it has no
    /// such client, which may be one created seconds ago — the primary. A
    /// replica only ever lags: what it has is a state the primary had.
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        match self.client_with_granted_at(id, Reach::Near).await? {
            Some(record) => Ok(Some(record)),
            None if self.replicas => {
                self.primary_only.set(true);
                self.client_with_granted_at(id, Reach::Primary).await
            }
            None => Ok(None),
        }
    }

    async fn get_fresh(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.client_at(id, Reach::Primary).await
    }

    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let row = ClientRow::from_record(client)?;
        self.record_write(self.insert(CLIENT_INSERT, &client_values(&row))).await
    }

    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        let row = ClientRow::from_record(client)?;
        let changed = self.record_write(self.changes(CLIENT_UPDATE, &client_values(&row))).await?;
        self.outcome(changed, CLIENT_VERSION, client.id.as_str()).await
    }

    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError> {
        let incarnation = read.and_then(|r| r.incarnation.as_ref()).map(|i| i.as_str());
        let values = [text(id.as_str()), opt_int(read.map(|r| r.version)), opt_text(incarnation)];
        let changed = self.record_write(self.changes(CLIENT_DELETE, &values)).await?;
        self.outcome(changed, CLIENT_VERSION, id.as_str()).await
    }

    /// Keyset pagination on the primary key; the cursor is the last id.
    async fn list(&self, filter: &ClientFilter, cursor: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let after = match cursor {
            None => String::new(),
            Some(c) => ClientId::parse(c).ok_or(StoreError::BadCursor)?.as_str().to_string(),
        };
        let values = [
            text(&after),
            int(limit as i64 + 1),
            opt_text(filter.project_id.as_ref().map(|p| p.as_str())),
            opt_text(filter.status.map(|s| s.as_str())),
            opt_text(filter.name_prefix.as_deref()),
            opt_text(filter.federated_issuer.as_deref()),
        ];
        let rows: Vec<ClientRow> = self.all(CLIENT_PAGE, &values).await?;
        let clients = rows.into_iter().map(ClientRow::into_record).collect::<Result<Vec<_>, _>>()?;
        let (clients, next_cursor) = page_by_id(clients, limit, |c| c.id.as_str());
        Ok(Page { clients, next_cursor })
    }
}

/// An audit event as a row: `changed_fields` as JSON text.
#[derive(serde::Serialize, serde::Deserialize)]
struct AuditRow {
    id: String,
    at: i64,
    actor: String,
    project_id: Option<String>,
    action: String,
    target: String,
    changed_fields: String,
}

/// RFC 7523 §3 point 7, exactly: the primary key lets one INSERT of a key
/// land; a second, concurrent or later, changes nothing.
impl ReplayStore for D1Store {
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        Ok(self.changes(USED_INSERT, &[text(key), int(expires_at)]).await? == 1)
    }
    async fn prune_used(&self, before: i64) -> Result<u64, StoreError> {
        Ok(self.changes(USED_PRUNE, &[int(before)]).await? as u64)
    }
}

#[derive(serde::Deserialize)]
struct RevokedRow {
    jti: String,
    project_id: String,
    expires_at: i64,
}

#[derive(serde::Deserialize)]
struct NotBeforeRow {
    holder: String,
    not_before: i64,
}

#[derive(serde::Deserialize)]
struct StandingRow {
    revoked: i64,
    not_before: Option<i64>,
}

/// Each write only widens (the later expiry, the later time), in one statement.
impl RevocationStore for D1Store {
    async fn revoke(&self, revoked: &Revoked) -> Result<(), StoreError> {
        let project = revoked.project_id.as_deref().unwrap_or_default();
        self.changes(REVOKE, &[text(&revoked.jti), text(project), int(revoked.expires_at)]).await.map(|_| ())
    }
    async fn set_not_before(&self, holder: Holder<'_>, not_before: i64) -> Result<(), StoreError> {
        self.changes(NOT_BEFORE, &[text(&holder.key()), int(not_before)]).await.map(|_| ())
    }
    async fn standing(&self, token: &Issued<'_>) -> Result<Standing, StoreError> {
        let project = token.project_id.unwrap_or_default();
        let project_holder = token.project_id.map(|p| Holder::Project(p).key()).unwrap_or_default();
        let values =
            [text(token.jti), text(project), text(&Holder::Client(token.client_id).key()), text(&project_holder)];
        let row: Option<StandingRow> = self.first(STANDING, &values).await?;
        Ok(row.map(|r| Standing { revoked: r.revoked != 0, not_before: r.not_before }).unwrap_or_default())
    }
    async fn revocations(&self, now: i64) -> Result<Revocations, StoreError> {
        let mut all = Revocations::default();
        let tokens: Vec<RevokedRow> = self.all(REVOKED_LIST, &[int(now)]).await?;
        for row in tokens {
            let project_id = Some(row.project_id).filter(|p| !p.is_empty());
            all.tokens.push(Revoked { jti: row.jti, project_id, expires_at: row.expires_at });
        }
        let times: Vec<NotBeforeRow> = self.all(NOT_BEFORE_LIST, &[int(now - NOT_BEFORE_LIFETIME)]).await?;
        for row in times {
            all.add_not_before(&row.holder, row.not_before);
        }
        Ok(all)
    }
    async fn prune_revocations(&self, now: i64) -> Result<u64, StoreError> {
        let tokens = self.changes(REVOKED_PRUNE, &[int(now)]).await?;
        let times = self.changes(NOT_BEFORE_PRUNE, &[int(now - NOT_BEFORE_LIFETIME)]).await?;
        Ok((tokens + times) as u64)
    }
}

#[derive(serde::Deserialize)]
struct FailureRow {
    credential: String,
    count: i64,
    last_reason: String,
    last_at: i64,
}

impl IssuerStore for D1Store {
    async fn load_issuers(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        self.load_set(ISSUERS_LOAD, "trusted_issuers.issuers", Reach::Near).await
    }

    /// What an admin change compares against: the primary.
    async fn load_issuers_fresh(&self) -> Result<(i64, Vec<TrustedIssuer>), StoreError> {
        self.load_set(ISSUERS_LOAD, "trusted_issuers.issuers", Reach::Primary).await
    }

    async fn save_issuers(&self, expected: i64, issuers: &[TrustedIssuer]) -> Result<bool, StoreError> {
        self.record_write(self.save_set((ISSUERS_INSERT, ISSUERS_UPDATE), expected, issuers)).await
    }
}

impl FederationFailureStore for D1Store {
    async fn record_failure(&self, client: &ClientId, name: &str, reason: &str, at: i64) -> Result<(), StoreError> {
        self.changes(FAILURE_RECORD, &[text(client.as_str()), text(name), text(reason), int(at)]).await.map(|_| ())
    }

    async fn failures(&self, client: &ClientId) -> Result<Vec<CredentialFailures>, StoreError> {
        let rows: Vec<FailureRow> = self.all(FAILURES_OF, &[text(client.as_str())]).await?;
        Ok(rows
            .into_iter()
            .map(|r| CredentialFailures {
                credential: r.credential,
                count: u64::try_from(r.count).unwrap_or(0),
                last_reason: r.last_reason,
                last_at: r.last_at,
            })
            .collect())
    }
}

impl AuditStore for D1Store {
    /// Kept until the Cron Trigger prunes it (`expires_at` is KV's).
    async fn append(&self, e: &AuditEvent, _expires_at: i64) -> Result<(), StoreError> {
        let fields = serde_json::to_string(&e.changed_fields).map_err(|err| StoreError::Backend(err.to_string()))?;
        let values = [
            text(&e.id),
            int(e.at),
            text(&e.actor),
            opt_text(e.project_id.as_deref()),
            text(&e.action),
            text(&e.target),
            text(&fields),
        ];
        self.changes(AUDIT_INSERT, &values).await.map(|_| ())
    }

    async fn events(&self, filter: &AuditFilter, cursor: Option<&str>, limit: usize) -> Result<AuditPage, StoreError> {
        let after = match cursor {
            None => String::new(),
            Some(c) if AuditEvent::is_id(c) => c.to_string(),
            Some(_) => return Err(StoreError::BadCursor),
        };
        let values = [
            text(&after),
            int(limit as i64 + 1),
            opt_text(filter.project_id.as_ref().map(|p| p.as_str())),
            opt_int(filter.since),
        ];
        let rows: Vec<AuditRow> = self.all(AUDIT_PAGE, &values).await?;
        let events = rows
            .into_iter()
            .map(|r| {
                let changed_fields = serde_json::from_str(&r.changed_fields)
                    .map_err(|_| StoreError::Corrupt(format!("audit event {}: changed_fields", r.id)))?;
                Ok(AuditEvent {
                    id: r.id,
                    at: r.at,
                    actor: r.actor,
                    project_id: r.project_id,
                    action: r.action,
                    target: r.target,
                    changed_fields,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (events, next_cursor) = page_by_id(events, limit, |e| &e.id);
        Ok(AuditPage { events, next_cursor })
    }

    async fn prune(&self, events_before: i64, counts_before: i64) -> Result<u64, StoreError> {
        let gone = self.changes(AUDIT_PRUNE, &[int(events_before)]).await?;
        self.changes(FAILURES_PRUNE, &[int(counts_before.div_euclid(60))]).await?;
        Ok(gone as u64)
    }

    async fn count_auth_failures(&self, minute: i64, count: u64, _expires_at: i64) -> Result<(), StoreError> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.changes(FAILURE_COUNT, &[int(minute), int(count)]).await.map(|_| ())
    }

    async fn auth_failures(&self, since_minute: i64) -> Result<Vec<AuthFailures>, StoreError> {
        self.all(FAILURES_SINCE, &[int(since_minute)]).await
    }
}

impl ProjectStore for D1Store {
    async fn project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        self.first(PROJECT_BY_ID, &[text(id.as_str())]).await
    }

    async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        self.insert(PROJECT_INSERT, &project_values(project)?).await
    }

    async fn update_project(&self, project: &Project) -> Result<Write, StoreError> {
        let changed = self.changes(PROJECT_UPDATE, &project_values(project)?).await?;
        self.outcome(changed, PROJECT_VERSION, &project.id).await
    }

    /// The foreign key from `clients` refuses while clients belong to it.
    async fn delete_project(&self, id: &ProjectId, expected: Option<i64>) -> Result<Write, StoreError> {
        let changed = self.changes(PROJECT_DELETE, &[text(id.as_str()), opt_int(expected)]).await?;
        self.outcome(changed, PROJECT_VERSION, id.as_str()).await
    }

    async fn projects(&self, cursor: Option<&str>, limit: usize) -> Result<ProjectPage, StoreError> {
        let after = match cursor {
            None => String::new(),
            Some(c) => ProjectId::parse(c).ok_or(StoreError::BadCursor)?.as_str().to_string(),
        };
        let projects: Vec<Project> = self.all(PROJECT_PAGE, &[text(&after), int(limit as i64 + 1)]).await?;
        let (projects, next_cursor) = page_by_id(projects, limit, |p| &p.id);
        Ok(ProjectPage { projects, next_cursor })
    }
}

impl ResourceStore for D1Store {
    async fn resource(&self, id: &ResourceId) -> Result<Option<ApiResource>, StoreError> {
        let row: Option<ResourceRow> = self.first(RESOURCE_BY_ID, &[text(id.as_str())]).await?;
        row.map(ResourceRow::into_resource).transpose()
    }

    /// The token path's read (a resource by the token's audience): near.
    async fn resource_by_identifier(&self, identifier: &str) -> Result<Option<ApiResource>, StoreError> {
        if let Some((_, read)) = self.granted.borrow().iter().find(|(named, _)| named == identifier) {
            return Ok(read.clone());
        }
        let row: Option<ResourceRow> = self.first_at(RESOURCE_BY_IDENTIFIER, &[text(identifier)], Reach::Near).await?;
        row.map(ResourceRow::into_resource).transpose()
    }

    /// Discovery's `scopes_supported`: near.
    async fn resources(&self) -> Result<Vec<ApiResource>, StoreError> {
        let rows: Vec<ResourceRow> = self.all_at(RESOURCE_ALL, &[int(MAX_RESOURCES as i64)], Reach::Near).await?;
        rows.into_iter().map(ResourceRow::into_resource).collect()
    }

    /// What admin changes check against: the primary.
    async fn resources_fresh(&self) -> Result<Vec<ApiResource>, StoreError> {
        let rows: Vec<ResourceRow> = self.all(RESOURCE_ALL, &[int(MAX_RESOURCES as i64)]).await?;
        rows.into_iter().map(ResourceRow::into_resource).collect()
    }

    async fn create_resource(&self, resource: &ApiResource) -> Result<(), StoreError> {
        let row = ResourceRow::from_resource(resource)?;
        self.record_write(self.insert(RESOURCE_INSERT, &resource_values(&row))).await
    }

    async fn update_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        let row = ResourceRow::from_resource(resource)?;
        let changed = self.record_write(self.changes(RESOURCE_UPDATE, &resource_values(&row))).await?;
        self.outcome(changed, RESOURCE_VERSION, resource.id.as_str()).await
    }

    async fn delete_resource(&self, resource: &ApiResource) -> Result<Write, StoreError> {
        let values = [text(resource.id.as_str()), int(resource.version)];
        let changed = self.record_write(self.changes(RESOURCE_DELETE, &values)).await?;
        self.outcome(changed, RESOURCE_VERSION, resource.id.as_str()).await
    }
}

impl KeyStore for D1Store {
    async fn load_keys(&self) -> Result<StoredKeys, StoreError> {
        let (version, keys) = self.load_set(KEYS_LOAD, "key_set.keys", Reach::Primary).await?;
        Ok(StoredKeys { keys, version })
    }

    async fn save_keys(&self, expected: i64, keys: &[ManagedKey]) -> Result<bool, StoreError> {
        self.save_set((KEYS_INSERT, KEYS_UPDATE), expected, keys).await
    }
}
