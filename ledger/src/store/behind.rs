//! Writing a block behind the chain's back: [`WriteBehind`] hands a committed block's
//! batch to a thread of its own and returns, so that the next block executes while the
//! last one is being written and synced (ADR 0024).
//!
//! The batch stays readable meanwhile: every read looks in the batch first and merges
//! what it finds with the store beneath, so a reader sees the same as if the write had
//! already returned. At most one batch is in flight. Every other way in waits for it
//! first: a synced [`Store::write`] (the consensus safety state), the next
//! [`WriteBehind::write_behind`], and [`WriteBehind::settle`], which is what a caller
//! that needs the block on disk (an answer to a client, a test that kills the process)
//! waits on. The order of writes on disk is therefore the order of the calls.
//!
//! A failed write is kept: every later write and settle reports it, and the caller
//! must stop and recover from what is on disk (as after a failed synced write).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{BatchOp, Column, Entry, Store, StoreBatch, StoreError, MAX_SCAN_ENTRIES};

/// A [`Store`] that can write a batch in the background while serving reads from it.
#[derive(Debug)]
pub struct WriteBehind<S> {
    inner: Arc<S>,
    flight: Arc<Flight>,
    /// Taken by each write, behind or in place, from waiting for the one in flight to
    /// starting its own: writes reach the store in the order of the calls. Readers
    /// never take it.
    writer: Mutex<()>,
}

#[derive(Debug, Default)]
struct Flight {
    state: Mutex<FlightState>,
    landed: Condvar,
}

#[derive(Debug, Default)]
struct FlightState {
    /// The batch being written, readable meanwhile (`None` once it is in the store).
    overlay: Option<Arc<Overlay>>,
    /// Writes behind started so far; the one in flight, if any, is the last.
    started: u64,
    /// Writes behind that have ended (landed or failed).
    ended: u64,
    /// The failure of a write behind, reported from then on.
    failed: Option<StoreError>,
}

impl FlightState {
    fn writing(&self) -> bool {
        self.ended < self.started
    }
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, FlightState> {
        // Every update of the state is a plain assignment: a panic cannot leave it
        // half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the first `count` writes behind have ended; the state, or the
    /// failure of a write.
    fn ended(&self, count: u64) -> Result<MutexGuard<'_, FlightState>, StoreError> {
        let mut state = self.lock();
        while state.ended < count {
            state = self.landed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        match &state.failed {
            Some(e) => Err(e.clone()),
            None => Ok(state),
        }
    }

    /// Waits until no write is in flight; the state, or the failure of a write.
    fn landed(&self) -> Result<MutexGuard<'_, FlightState>, StoreError> {
        let started = self.lock().started;
        self.ended(started)
    }

    fn overlay(&self) -> Option<Arc<Overlay>> {
        self.lock().overlay.clone()
    }
}

/// Marks the write in flight as ended, however the writing thread ends (a panic in
/// the backend included, so that no waiter waits for ever).
struct Landing<'a> {
    flight: &'a Flight,
    result: Option<Result<(), StoreError>>,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        let result = self
            .result
            .take()
            .unwrap_or_else(|| Err(StoreError::Backend("the writing thread panicked".into())));
        let mut state = self.flight.lock();
        state.ended += 1;
        match result {
            // On disk now: reads go to the store.
            Ok(()) => state.overlay = None,
            Err(e) => state.failed = Some(e),
        }
        drop(state);
        self.flight.landed.notify_all();
    }
}

impl<S: Store + 'static> WriteBehind<S> {
    /// `inner`, with nothing in flight.
    pub fn new(inner: S) -> Self {
        WriteBehind {
            inner: Arc::new(inner),
            flight: Arc::default(),
            writer: Mutex::new(()),
        }
    }

    /// The store beneath. Reading it directly misses a batch still in flight.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Starts writing `batch` (atomic and synced, as [`Store::write`]) on a thread of
    /// its own, after the one in flight, if any, has landed; returns once it is
    /// started. Reads see `batch` from now on. An error is the failure of the write
    /// before it (or of starting this one): `batch` was not written.
    pub fn write_behind(&self, batch: StoreBatch) -> Result<(), StoreError> {
        if batch.ops().iter().any(|op| op.value.is_none()) {
            // The overlay answers from puts only; a delete (never in a block's batch)
            // is written in place.
            return self.write(&batch);
        }
        let overlay = Arc::new(Overlay::new(batch));
        let _writer = self.lock_writer();
        let mut state = self.flight.landed()?;
        state.overlay = Some(overlay.clone());
        state.started += 1;
        drop(state);
        let inner = self.inner.clone();
        let flight = self.flight.clone();
        let spawned = std::thread::Builder::new()
            .name("store-write".into())
            .spawn(move || {
                let mut landing = Landing {
                    flight: &flight,
                    result: None,
                };
                landing.result = Some(inner.write(&overlay.batch));
            });
        if let Err(e) = spawned {
            let mut state = self.flight.lock();
            state.ended += 1;
            state.overlay = None;
            drop(state);
            // Whoever waits for this write now finds it ended (and the caller hears
            // why; the batch was not written).
            self.flight.landed.notify_all();
            return Err(StoreError::Backend(format!(
                "cannot start the writing thread: {e}"
            )));
        }
        Ok(())
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every batch written behind so far is on disk; the failure of one
    /// if it failed.
    pub fn settle(&self) -> Result<(), StoreError> {
        self.in_flight().wait()
    }

    /// The batches written behind so far, to wait for later without holding `self`
    /// (e.g. without holding a lock on whatever owns the store).
    pub fn in_flight(&self) -> InFlight {
        InFlight {
            flight: self.flight.clone(),
            started: self.flight.lock().started,
        }
    }

    /// The failure of a write behind, if one failed (without waiting).
    pub fn failure(&self) -> Option<StoreError> {
        self.flight.lock().failed.clone()
    }
}

/// The writes behind started up to some moment ([`WriteBehind::in_flight`]).
#[derive(Debug)]
pub struct InFlight {
    flight: Arc<Flight>,
    started: u64,
}

impl InFlight {
    /// Waits until they are on disk (not for any started since); the failure of a
    /// write behind if one failed.
    pub fn wait(self) -> Result<(), StoreError> {
        self.flight.ended(self.started).map(drop)
    }
}

impl<S> Drop for WriteBehind<S> {
    fn drop(&mut self) {
        // The thread holds the store open: let it finish, so that whoever opens the
        // same directory next finds it unlocked and whole.
        let mut state = self.flight.lock();
        while state.writing() {
            state = self
                .flight
                .landed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<S: Store + 'static> Store for WriteBehind<S> {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(overlay) = self.flight.overlay() {
            if let Some(value) = overlay.get(column, key) {
                return Ok(Some(value.to_vec()));
            }
        }
        self.inner.get(column, key)
    }

    fn floor(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        let overlay = self.flight.overlay();
        let below = self.inner.floor(column, prefix, key)?;
        Ok(match overlay {
            Some(overlay) => later(overlay.floor(column, prefix, key), below),
            None => below,
        })
    }

    fn floor_many(
        &self,
        column: Column,
        queries: &[(&[u8], &[u8])],
    ) -> Result<Vec<Option<Entry>>, StoreError> {
        let overlay = self.flight.overlay();
        let below = self.inner.floor_many(column, queries)?;
        Ok(match overlay {
            Some(overlay) => below
                .into_iter()
                .zip(queries)
                .map(|(below, (prefix, key))| later(overlay.floor(column, prefix, key), below))
                .collect(),
            None => below,
        })
    }

    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let limit = limit.min(MAX_SCAN_ENTRIES);
        let overlay = self.flight.overlay();
        let below = self.inner.scan_prefix(column, prefix, limit)?;
        let Some(overlay) = overlay else {
            return Ok(below);
        };
        // Both in key order: merge, the batch's value winning on an equal key. The
        // first `limit` of the union are among the first `limit` of each.
        let mut merged = Vec::with_capacity(limit.min(below.len() + 16));
        let mut below = below.into_iter().peekable();
        let mut above = overlay.with_prefix(column, prefix).peekable();
        while merged.len() < limit {
            let take_above = match (above.peek(), below.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((key, _)), Some((below_key, _))) => *key <= below_key.as_slice(),
            };
            if take_above {
                if let Some((key, value)) = above.next() {
                    if below.peek().is_some_and(|(k, _)| k.as_slice() == key) {
                        below.next();
                    }
                    merged.push((key.to_vec(), value.to_vec()));
                }
            } else if let Some(entry) = below.next() {
                merged.push(entry);
            }
        }
        Ok(merged)
    }

    /// Waits for the batch in flight, then writes `batch` in place (synced).
    fn write(&self, batch: &StoreBatch) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        drop(self.flight.landed()?);
        self.inner.write(batch)
    }
}

/// The entry with the greater key; the batch's (`above`) on an equal one.
fn later(above: Option<(&[u8], &[u8])>, below: Option<Entry>) -> Option<Entry> {
    match (above, below) {
        (Some((key, _)), Some(below)) if below.0.as_slice() > key => Some(below),
        (Some((key, value)), _) => Some((key.to_vec(), value.to_vec())),
        (None, below) => below,
    }
}

/// A batch in flight, indexed for reads: per column, its operations in key order.
#[derive(Debug)]
struct Overlay {
    batch: StoreBatch,
    /// Per column, indices into `batch.ops()` in key order (equal keys in batch order,
    /// so the last of them is the one that wins).
    by_column: Vec<Vec<usize>>,
}

impl Overlay {
    fn new(batch: StoreBatch) -> Self {
        let ops = batch.ops();
        let mut by_column = vec![Vec::new(); Column::ALL.len()];
        for (i, op) in ops.iter().enumerate() {
            by_column[op.column.index()].push(i);
        }
        for indices in &mut by_column {
            // A block's batch puts each column's keys in order already: check, and
            // sort (stably) only what is not.
            if !indices.windows(2).all(|w| ops[w[0]].key <= ops[w[1]].key) {
                indices.sort_by(|a, b| ops[*a].key.cmp(&ops[*b].key));
            }
        }
        Overlay { batch, by_column }
    }

    fn op(&self, index: usize) -> &BatchOp {
        &self.batch.ops()[index]
    }

    /// The last put with the greatest key at most `key`.
    fn floor_op(&self, column: Column, key: &[u8]) -> Option<&BatchOp> {
        let indices = &self.by_column[column.index()];
        let end = indices.partition_point(|i| self.op(*i).key.as_slice() <= key);
        end.checked_sub(1).map(|p| self.op(indices[p]))
    }

    fn get(&self, column: Column, key: &[u8]) -> Option<&[u8]> {
        self.floor_op(column, key)
            .filter(|op| op.key == key)
            .and_then(|op| op.value.as_deref())
    }

    fn floor(&self, column: Column, prefix: &[u8], key: &[u8]) -> Option<(&[u8], &[u8])> {
        self.floor_op(column, key)
            .filter(|op| op.key.starts_with(prefix))
            .and_then(|op| Some((op.key.as_slice(), op.value.as_deref()?)))
    }

    /// The entries whose key starts with `prefix`, in key order, one per key.
    fn with_prefix<'a>(
        &'a self,
        column: Column,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let indices = &self.by_column[column.index()];
        let start = indices.partition_point(|i| self.op(*i).key.as_slice() < prefix);
        let run = &indices[start..];
        run.iter()
            .enumerate()
            .map(move |(n, i)| (n, self.op(*i)))
            .take_while(move |(_, op)| op.key.starts_with(prefix))
            // Of equal keys, the last.
            .filter(move |(n, op)| {
                run.get(n + 1)
                    .is_none_or(|next| self.op(*next).key != op.key)
            })
            .filter_map(|(_, op)| Some((op.key.as_slice(), op.value.as_deref()?)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn put(batch: &mut StoreBatch, column: Column, key: &[u8], value: &[u8]) {
        batch.put(column, key, value);
    }

    /// A store holding `entries`, its writes held from now on.
    fn opened_with(entries: &[(&[u8], &[u8])]) -> WriteBehind<MemoryStore> {
        let store = MemoryStore::new();
        let mut batch = StoreBatch::new();
        for (key, value) in entries {
            put(&mut batch, Column::StateValues, key, value);
        }
        store.write(&batch).unwrap();
        store.hold_writes(true);
        WriteBehind::new(store)
    }

    #[test]
    fn reads_see_the_batch_in_flight_merged_with_the_store() {
        let store = opened_with(&[(b"a1", b"old a1"), (b"b1", b"old b1"), (b"c1", b"c1")]);
        let mut batch = StoreBatch::new();
        // Out of order on purpose, and one key twice: the last wins.
        put(&mut batch, Column::StateValues, b"b2", b"first b2");
        put(&mut batch, Column::StateValues, b"a2", b"a2");
        put(&mut batch, Column::StateValues, b"b2", b"b2");
        put(&mut batch, Column::StateValues, b"b1", b"new b1");
        put(&mut batch, Column::Meta, b"head", b"2");
        store.write_behind(batch).unwrap();
        assert!(
            store.inner().get(Column::Meta, b"head").unwrap().is_none(),
            "still in flight"
        );

        assert_eq!(
            store.get(Column::Meta, b"head").unwrap(),
            Some(b"2".to_vec())
        );
        assert_eq!(
            store.get(Column::StateValues, b"b1").unwrap(),
            Some(b"new b1".to_vec())
        );
        assert_eq!(
            store.get(Column::StateValues, b"c1").unwrap(),
            Some(b"c1".to_vec())
        );
        assert_eq!(store.get(Column::StateValues, b"zz").unwrap(), None);
        let floor = |prefix: &[u8], key: &[u8]| {
            store
                .floor(Column::StateValues, prefix, key)
                .unwrap()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        };
        assert_eq!(floor(b"a", b"a9"), Some(("a2".into(), "a2".into())));
        assert_eq!(floor(b"a", b"a1"), Some(("a1".into(), "old a1".into())));
        assert_eq!(floor(b"b", b"b9"), Some(("b2".into(), "b2".into())));
        assert_eq!(floor(b"c", b"c9"), Some(("c1".into(), "c1".into())));
        assert_eq!(floor(b"d", b"d9"), None);
        let many = store
            .floor_many(
                Column::StateValues,
                &[(b"a", b"a9"), (b"b", b"b1"), (b"c", b"c9"), (b"d", b"d1")],
            )
            .unwrap();
        assert_eq!(
            many,
            vec![
                Some((b"a2".to_vec(), b"a2".to_vec())),
                Some((b"b1".to_vec(), b"new b1".to_vec())),
                Some((b"c1".to_vec(), b"c1".to_vec())),
                None,
            ]
        );
        let scan = |prefix: &[u8], limit| {
            store
                .scan_prefix(Column::StateValues, prefix, limit)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            scan(b"", 10),
            vec![
                ("a1".into(), "old a1".into()),
                ("a2".into(), "a2".into()),
                ("b1".into(), "new b1".into()),
                ("b2".into(), "b2".into()),
                ("c1".into(), "c1".into()),
            ]
        );
        assert_eq!(
            scan(b"b", 1),
            vec![("b1".to_string(), "new b1".to_string())]
        );

        store.inner().hold_writes(false);
        store.settle().unwrap();
        // Landed: the same answers, now from the store beneath.
        assert_eq!(
            store.inner().get(Column::StateValues, b"b2").unwrap(),
            Some(b"b2".to_vec())
        );
        assert_eq!(scan(b"", 10).len(), 5);
        assert!(store.flight.overlay().is_none());
    }

    #[test]
    fn overlay_lookups_agree_with_a_sorted_map() {
        // Keys over a tiny alphabet, of many lengths, some sharing a long prefix (as a
        // version's state tree nodes do) and some not: every floor and get through the
        // overlay's index (unsorted puts, repeated keys: the last wins) must be what a
        // plain sorted map gives.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut random_key = |shared: &[u8]| {
            let mut key = if next(2) == 0 {
                shared.to_vec()
            } else {
                Vec::new()
            };
            for _ in 0..next(12) {
                key.push(next(3) as u8);
            }
            key
        };
        for shared in [&b""[..], &[0, 0, 0, 7][..], &[1; 12][..]] {
            let mut batch = StoreBatch::new();
            let mut map = std::collections::BTreeMap::new();
            for n in 0..300u32 {
                let key = random_key(shared);
                batch.put(Column::StateNodes, key.clone(), n.to_be_bytes().to_vec());
                map.insert(key, n.to_be_bytes().to_vec());
            }
            let overlay = Overlay::new(batch);
            for _ in 0..3_000 {
                let query = random_key(shared);
                let expected = map
                    .range(..=query.clone())
                    .next_back()
                    .map(|(k, v)| (k.as_slice(), v.as_slice()));
                assert_eq!(
                    overlay.floor(Column::StateNodes, b"", &query),
                    expected,
                    "floor {query:?}"
                );
                assert_eq!(
                    overlay.get(Column::StateNodes, &query),
                    map.get(&query).map(Vec::as_slice),
                    "get {query:?}"
                );
            }
            assert_eq!(overlay.floor(Column::Meta, b"", b"anything"), None);
        }
    }

    #[test]
    fn a_synced_write_waits_for_the_batch_in_flight() {
        let store = Arc::new(opened_with(&[]));
        let mut first = StoreBatch::new();
        put(&mut first, Column::Meta, b"k", b"behind");
        store.write_behind(first).unwrap();
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut second = StoreBatch::new();
                put(&mut second, Column::Meta, b"k", b"synced");
                store.write(&second).unwrap();
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!writer.is_finished(), "the synced write waits");
        assert_eq!(
            store.get(Column::Meta, b"k").unwrap(),
            Some(b"behind".to_vec())
        );
        store.inner().hold_writes(false);
        writer.join().unwrap();
        // Written in call order: the synced write's value is the one that stays.
        assert_eq!(
            store.get(Column::Meta, b"k").unwrap(),
            Some(b"synced".to_vec())
        );
        assert_eq!(
            store.inner().get(Column::Meta, b"k").unwrap(),
            Some(b"synced".to_vec())
        );
    }

    #[test]
    fn a_failed_write_behind_is_reported_from_then_on() {
        let store = opened_with(&[]);
        store.inner().fail_writes(true);
        let mut batch = StoreBatch::new();
        put(&mut batch, Column::Meta, b"k", b"v");
        store.write_behind(batch.clone()).unwrap();
        store.inner().hold_writes(false);
        assert!(matches!(store.settle(), Err(StoreError::Backend(_))));
        assert!(store.failure().is_some());
        // Nothing more goes in, behind or in place, even once the disk would take it.
        store.inner().fail_writes(false);
        assert!(store.write_behind(batch.clone()).is_err());
        assert!(store.write(&batch).is_err());
        assert_eq!(store.inner().get(Column::Meta, b"k").unwrap(), None);
    }
}
