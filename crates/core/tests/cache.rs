//! Host ring, paired with tests/e2e/cache.test.mjs: the isolate read cache
//! in front of a store.

use m2m_edge_core::client::{ClientId, ClientRecord, ClientStore, SecretHash, Status, StoredSecret};
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
        inner.update(&record(ID, "v2")).await.unwrap();
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
        store.update(&record(ID, "v2")).await.unwrap();
        assert_eq!(store.get(&id).await.unwrap().unwrap().name, "v2");
        store.delete(&id).await.unwrap();
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
        inner.update(&record(ID, "v2")).await.unwrap();
        assert_eq!(
            CachedStore::new(inner.clone(), cache.clone(), 0, 101).get(&id).await.unwrap().unwrap().name,
            "v2",
            "ttl 0: off"
        );
    });
}
