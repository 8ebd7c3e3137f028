//! Host ring, paired with tests/e2e/cache.test.mjs: the isolate read cache
//! in front of a store.

use m2m_edge_core::client::{ClientId, ClientRecord, ClientStore, SecretHash, Status, StoredSecret};
use m2m_edge_core::http::Method;
use m2m_edge_core::ports::{StoreError, Write};
use m2m_edge_core::store::cache::{CachedStore, IsolateCache};
use m2m_edge_testkit::{MemoryStore, Req, World};
use serde_json::json;

fn record(id: &str, name: &str) -> ClientRecord {
    ClientRecord {
        id: ClientId::parse(id).unwrap(),
        project_id: None,
        name: name.into(),
        description: None,
        grants: Vec::new(),
        custom_claims: Default::default(),
        token_ttl: None,
        dpop_bound_access_tokens: false,
        status: Status::Active,
        secret: StoredSecret { hash: SecretHash::of("s"), last_four: "s".into() },
        next_secret: None,
        keys: None,
        federated_credentials: Vec::new(),
        incarnation: None,
        created_at: 0,
        updated_at: 0,
        version: 1,
    }
}

const ID: &str = "m2m_0123456789abcdef0123456789abcdef";

#[test]
fn hits_within_ttl_and_expires_after() {
    pollster::block_on(async {
        let inner = MemoryStore::default();
        let cache = std::rc::Rc::new(IsolateCache::default());
        inner.create(&record(ID, "v1")).await.unwrap();
        let id = ClientId::parse(ID).unwrap();
        assert_eq!(CachedStore::new(inner.clone(), cache.clone(), 5, 100).get(&id).await.unwrap().unwrap().name, "v1");
        // Another isolate changes the record directly in storage.
        assert_eq!(inner.update(&record(ID, "v2")).await.unwrap(), Write::Done);
        assert_eq!(
            CachedStore::new(inner.clone(), cache.clone(), 5, 104).get(&id).await.unwrap().unwrap().name,
            "v1",
            "within the TTL"
        );
        assert_eq!(
            CachedStore::new(inner.clone(), cache.clone(), 5, 105).get(&id).await.unwrap().unwrap().name,
            "v2",
            "after it"
        );
    });
}

#[test]
fn writes_through_the_cache_invalidate_at_once() {
    pollster::block_on(async {
        let inner = MemoryStore::default();
        let cache = std::rc::Rc::new(IsolateCache::default());
        let store = CachedStore::new(inner.clone(), cache.clone(), 5, 100);
        store.create(&record(ID, "v1")).await.unwrap();
        let id = ClientId::parse(ID).unwrap();
        store.get(&id).await.unwrap();
        assert_eq!(store.update(&record(ID, "v2")).await.unwrap(), Write::Done);
        assert_eq!(store.get(&id).await.unwrap().unwrap().name, "v2");
        assert_eq!(store.delete(&id, None).await.unwrap(), Write::Done);
        assert!(store.get(&id).await.unwrap().is_none());
    });
}

#[test]
fn ttl_zero_is_off_and_unknown_ids_are_remembered_for_the_ttl() {
    pollster::block_on(async {
        let inner = MemoryStore::default();
        let cache = std::rc::Rc::new(IsolateCache::default());
        let id = ClientId::parse(ID).unwrap();
        assert!(CachedStore::new(inner.clone(), cache.clone(), 5, 100).get(&id).await.unwrap().is_none());
        inner.create(&record(ID, "v1")).await.unwrap();
        assert!(
            CachedStore::new(inner.clone(), cache.clone(), 5, 101).get(&id).await.unwrap().is_none(),
            "remembered as unknown"
        );
        assert!(
            CachedStore::new(inner.clone(), cache.clone(), 5, 105).get(&id).await.unwrap().is_some(),
            "for the TTL only"
        );
        assert_eq!(inner.update(&record(ID, "v2")).await.unwrap(), Write::Done);
        assert_eq!(
            CachedStore::new(inner.clone(), cache.clone(), 0, 101).get(&id).await.unwrap().unwrap().name,
            "v2",
            "ttl 0: off"
        );
    });
}

/// A store whose reads take effect at once but answer only after the test
/// lets them: a read "in flight" while something else happens.
struct SlowReads {
    inner: MemoryStore,
    open: std::rc::Rc<std::cell::Cell<bool>>,
}

/// Pending until `open` is set.
struct Gate(std::rc::Rc<std::cell::Cell<bool>>);

impl std::future::Future for Gate {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0.get() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}

impl ClientStore for SlowReads {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let found = self.inner.get(id).await;
        Gate(self.open.clone()).await;
        found
    }
    async fn get_fresh(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.get_fresh(id).await
    }
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.inner.create(client).await
    }
    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        self.inner.update(client).await
    }
    async fn delete(&self, id: &ClientId, read: Option<&ClientRecord>) -> Result<Write, StoreError> {
        self.inner.delete(id, read).await
    }
    async fn list(
        &self,
        filter: &m2m_edge_core::client::ClientFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<m2m_edge_core::client::Page, StoreError> {
        self.inner.list(filter, cursor, limit).await
    }
}

/// A read that started before a write through the same isolate, and
/// answers after it, must not put the record it read (the one from before
/// the write) back into the cache: the next request would see a
/// deactivated client as active for up to the TTL.
#[test]
fn a_read_in_flight_during_a_write_does_not_cache_what_it_read() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let inner = MemoryStore::default();
    let open = std::rc::Rc::new(std::cell::Cell::new(false));
    let cache = std::rc::Rc::new(IsolateCache::default());
    let id = ClientId::parse(ID).unwrap();
    pollster::block_on(inner.create(&record(ID, "active"))).unwrap();
    let slow = CachedStore::new(SlowReads { inner: inner.clone(), open: open.clone() }, cache.clone(), 5, 100);
    let writer = CachedStore::new(inner.clone(), cache.clone(), 5, 100);

    // 1. A token request reads the client: the read has happened, its answer is in flight.
    let mut read = Box::pin(slow.get(&id));
    assert!(read.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    // 2. Meanwhile an admin request of the same isolate deactivates it.
    let mut inactive = record(ID, "active");
    inactive.status = Status::Inactive;
    assert_eq!(pollster::block_on(writer.update(&inactive)).unwrap(), Write::Done);
    // 3. The read answers with what it read before the write…
    open.set(true);
    let Poll::Ready(Ok(Some(old))) = read.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("the read completes once let through");
    };
    assert_eq!(old.status, Status::Active);
    // 4. …but the next request of this isolate sees the deactivation.
    let next = pollster::block_on(writer.get(&id)).unwrap().unwrap();
    assert_eq!(next.status, Status::Inactive, "the in-flight read put the old record back");
}

/// A client that keeps presenting an id nobody registered costs one
/// storage read per TTL per isolate, not one per request; a create through
/// the same isolate is seen at once.
#[test]
fn unknown_ids_are_remembered_briefly() {
    let w = World::new();
    let unknown = "m2m_00000000000000000000000000000000";
    let before = w.store.operations();
    for _ in 0..5 {
        assert_eq!(w.token_basic(unknown, "m2msk_x", "grant_type=client_credentials").status, 401);
    }
    assert_eq!(w.store.operations() - before, 1, "one read for five requests");
    // Created through this isolate: known at once.
    let (id, secret) = w.simple_client();
    assert_eq!(w.token_basic(&id, &secret, "grant_type=client_credentials").status, 200);
}

/// The lag the negative cache costs, bounded by the TTL: a client written
/// to storage by another isolate right after this one looked its id up.
#[test]
fn a_client_created_elsewhere_is_seen_within_the_ttl() {
    let here = World::new();
    let secret = m2m_edge_core::client::ClientSecret::generate(&m2m_edge_core::ports::OsRandom).unwrap();
    let mut elsewhere = record(ID, "elsewhere");
    elsewhere.grants = vec![serde_json::from_value(json!({"audience": "https://api.test", "scopes": []})).unwrap()];
    elsewhere.secret = secret.stored();
    let ask = || here.token_basic(ID, secret.expose(), "grant_type=client_credentials").status;
    assert_eq!(ask(), 401, "not there yet");
    pollster::block_on(here.store.create(&elsewhere)).unwrap();
    assert_eq!(ask(), 401, "within the TTL this isolate still remembers the id as unknown");
    here.clock.advance(i64::from(here.config.client_cache_ttl));
    assert_eq!(ask(), 200, "after it, the client works");
}

/// Discovery reads the resource list once per TTL per isolate; a change
/// through the isolate shows at once.
#[test]
fn discovery_is_served_from_the_isolate_cache() {
    let w = World::new();
    let before = w.store.operations();
    for _ in 0..5 {
        assert_eq!(w.call(Req::get("/.well-known/oauth-authorization-server")).status, 200);
    }
    assert_eq!(w.store.operations() - before, 1, "one resource listing for five requests");
    let r = w.admin(
        Method::Post,
        "/admin/resources",
        Some(json!({"identifier": "https://api.test", "name": "API", "scopes": [{"name": "read"}]})),
    );
    assert_eq!(r.status, 201);
    let d = w.call(Req::get("/.well-known/oauth-authorization-server")).body_json();
    assert_eq!(d["scopes_supported"], json!(["read"]));
}

/// The trusted issuers' set is read on every federated request: kept for
/// the TTL like a client record, so a federated token costs no storage
/// read for it within the TTL; a change through this isolate is seen at
/// once, one made elsewhere within the TTL; the admin API reads past it.
#[test]
fn the_trusted_issuers_set_is_kept_for_the_ttl_and_admin_reads_past_it() {
    use m2m_edge_core::federation::IssuerStore;
    pollster::block_on(async {
        let inner = MemoryStore::default();
        let cache = std::rc::Rc::new(IsolateCache::default());
        let at = |now| CachedStore::new(inner.clone(), cache.clone(), 5, now);
        assert_eq!(at(100).load_issuers().await.unwrap().0, 0);
        // Another isolate writes the set directly in storage.
        assert!(inner.save_issuers(0, &[]).await.unwrap());
        assert_eq!(at(104).load_issuers().await.unwrap().0, 0, "within the TTL: the kept set");
        assert_eq!(at(104).load_issuers_fresh().await.unwrap().0, 1, "the admin API reads past the cache");
        assert_eq!(at(105).load_issuers().await.unwrap().0, 1, "after the TTL: read again");
        // A write through this isolate is seen at once.
        assert!(at(106).save_issuers(1, &[]).await.unwrap());
        assert_eq!(at(106).load_issuers().await.unwrap().0, 2);
    });
}
