//! Host ring, paired with tests/e2e/cache.test.mjs: the isolate read cache
//! in front of a store.

use m2m_edge_core::client::{ClientId, ClientRecord, ClientStore, SecretHash, Status, StoredSecret};
use m2m_edge_core::ports::{StoreError, Write};
use m2m_edge_core::store::cache::{CachedStore, IsolateCache};
use m2m_edge_testkit::MemoryStore;

fn record(id: &str, name: &str) -> ClientRecord {
    ClientRecord {
        id: ClientId::parse(id).unwrap(),
        name: name.into(),
        description: None,
        grants: Vec::new(),
        custom_claims: Default::default(),
        token_ttl: None,
        status: Status::Active,
        secret: StoredSecret { hash: SecretHash::of("s"), last_four: "s".into() },
        next_secret: None,
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
fn ttl_zero_is_off_and_unknown_ids_are_not_cached() {
    pollster::block_on(async {
        let inner = MemoryStore::default();
        let cache = std::rc::Rc::new(IsolateCache::default());
        let id = ClientId::parse(ID).unwrap();
        assert!(CachedStore::new(inner.clone(), cache.clone(), 5, 100).get(&id).await.unwrap().is_none());
        inner.create(&record(ID, "v1")).await.unwrap();
        assert!(
            CachedStore::new(inner.clone(), cache.clone(), 5, 101).get(&id).await.unwrap().is_some(),
            "no negative caching"
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
    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.inner.create(client).await
    }
    async fn update(&self, client: &ClientRecord) -> Result<Write, StoreError> {
        self.inner.update(client).await
    }
    async fn delete(&self, id: &ClientId, expected: Option<i64>) -> Result<Write, StoreError> {
        self.inner.delete(id, expected).await
    }
    async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<m2m_edge_core::client::Page, StoreError> {
        self.inner.list(cursor, limit).await
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
