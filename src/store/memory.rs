//! In-memory client store for host tests: the same contract as D1, so whole
//! flows run through the app without a runtime.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::row::ClientRow;
use super::{ClientStore, StoreError};
use crate::client::{ClientId, ClientRecord};

/// Keeps rows, not records, so every read goes through the same checked
/// conversion the real backends use.
#[derive(Default)]
pub struct MemoryStore {
    rows: RefCell<BTreeMap<String, ClientRow>>,
    /// When set, every operation fails like an unreachable backend.
    pub broken: std::cell::Cell<bool>,
}

impl MemoryStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.broken.get() {
            return Err(StoreError::Backend("memory store marked broken".into()));
        }
        Ok(())
    }

    /// Direct row access for tests that need to see what is stored.
    pub fn raw_row(&self, id: &str) -> Option<ClientRow> {
        self.rows.borrow().get(id).cloned()
    }
}

impl ClientStore for MemoryStore {
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        self.check()?;
        self.rows.borrow().get(id.as_str()).cloned().map(ClientRow::into_record).transpose()
    }

    async fn create(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.check()?;
        let mut rows = self.rows.borrow_mut();
        if rows.contains_key(client.id.as_str()) {
            return Err(StoreError::Conflict);
        }
        rows.insert(client.id.as_str().to_string(), ClientRow::from_record(client));
        Ok(())
    }

    async fn update(&self, client: &ClientRecord) -> Result<bool, StoreError> {
        self.check()?;
        let mut rows = self.rows.borrow_mut();
        match rows.get_mut(client.id.as_str()) {
            Some(row) => {
                *row = ClientRow::from_record(client);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.rows.borrow_mut().remove(id.as_str()).is_some())
    }

    async fn list(&self, after: Option<&ClientId>, limit: usize) -> Result<Vec<ClientRecord>, StoreError> {
        self.check()?;
        let rows = self.rows.borrow();
        let start = after.map(|a| a.as_str().to_string());
        rows.iter()
            .filter(|(k, _)| start.as_ref().is_none_or(|s| k.as_str() > s.as_str()))
            .take(limit)
            .map(|(_, r)| r.clone().into_record())
            .collect()
    }
}
