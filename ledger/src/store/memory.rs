//! The in-memory [`Store`]: for unit tests and the deterministic simulator only.
//!
//! Same semantics as the RocksDB store (atomic batches, floor reads, bounded scans),
//! nothing durable. It can be told to fail writes, to test that callers stop, and to
//! hold writes until released, to test readers of a write in flight.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, RwLock};

use super::{Column, Entry, Store, StoreBatch, StoreError, MAX_SCAN_ENTRIES};

type Table = BTreeMap<Vec<u8>, Vec<u8>>;

/// A [`Store`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RwLock<[Table; Column::ALL.len()]>,
    fail_writes: AtomicBool,
    hold: Mutex<bool>,
    released: Condvar,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, every write fails (as a full disk would) and changes nothing.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// While `hold`, every write waits (before it changes anything) until released.
    pub fn hold_writes(&self, hold: bool) {
        *self.hold.lock().unwrap_or_else(|e| e.into_inner()) = hold;
        self.released.notify_all();
    }

    /// Number of entries in a column (for tests).
    pub fn len(&self, column: Column) -> usize {
        self.tables
            .read()
            .map(|tables| tables[column.index()].len())
            .unwrap_or(0)
    }

    /// Whether every column is empty.
    pub fn is_empty(&self) -> bool {
        Column::ALL.iter().all(|c| self.len(*c) == 0)
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("memory store lock poisoned".into())
}

impl Store for MemoryStore {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let tables = self.tables.read().map_err(poisoned)?;
        Ok(tables[column.index()].get(key).cloned())
    }

    fn floor(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        let tables = self.tables.read().map_err(poisoned)?;
        let found = tables[column.index()]
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()));
        Ok(found)
    }

    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let tables = self.tables.read().map_err(poisoned)?;
        Ok(tables[column.index()]
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit.min(MAX_SCAN_ENTRIES))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: &StoreBatch) -> Result<(), StoreError> {
        let mut held = self.hold.lock().map_err(poisoned)?;
        while *held {
            held = self.released.wait(held).map_err(poisoned)?;
        }
        drop(held);
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected write failure".into()));
        }
        let mut tables = self.tables.write().map_err(poisoned)?;
        for op in batch.ops() {
            let table = &mut tables[op.column.index()];
            match &op.value {
                Some(value) => {
                    table.insert(op.key.clone(), value.clone());
                }
                None => {
                    table.remove(&op.key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_respects_prefix_and_bound() {
        let store = MemoryStore::new();
        let mut batch = StoreBatch::new();
        batch.put(Column::Indexes, b"a/1".to_vec(), b"x".to_vec());
        batch.put(Column::Indexes, b"a/3".to_vec(), b"y".to_vec());
        batch.put(Column::Indexes, b"b/0".to_vec(), b"z".to_vec());
        store.write(&batch).expect("write");
        let floor = |k: &[u8]| {
            store
                .floor(Column::Indexes, b"a/", k)
                .expect("floor")
                .map(|(_, v)| v)
        };
        assert_eq!(floor(b"a/0"), None);
        assert_eq!(floor(b"a/1"), Some(b"x".to_vec()));
        assert_eq!(floor(b"a/2"), Some(b"x".to_vec()));
        assert_eq!(floor(b"a/9"), Some(b"y".to_vec()));
        assert_eq!(
            store.floor(Column::Indexes, b"b/", b"b/").expect("floor"),
            None
        );
        let scan = store.scan_prefix(Column::Indexes, b"a/", 10).expect("scan");
        assert_eq!(scan.len(), 2);
        assert_eq!(
            store
                .scan_prefix(Column::Indexes, b"a/", 1)
                .expect("scan")
                .len(),
            1
        );
    }

    #[test]
    fn failed_write_changes_nothing() {
        let store = MemoryStore::new();
        store.fail_writes(true);
        let mut batch = StoreBatch::new();
        batch.put(Column::Meta, b"k".to_vec(), b"v".to_vec());
        assert!(store.write(&batch).is_err());
        assert!(store.is_empty());
    }
}
