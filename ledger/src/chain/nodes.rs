//! The chain's state tree nodes in memory: the node cache (nodes read), the recent
//! batches (nodes the last commits wrote) and the read-ahead of one block's update
//! (nodes its keys' paths will need, read on another core while the block executes).
//! Every node here is a committed node, which never changes: nothing is ever stale.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use jmt::storage::{Node, NodeKey};

use crate::bytes::Hash32;
use crate::state_tree::{
    node_key_at, runs_by_nibble, NodeView, StateTreeError, TreeBatch, TreeStore,
};
use crate::store::{
    decode_state_node, decode_state_node_view, node_key, Column, Store, StoreError,
};
use crate::types::Height;

/// Most state tree nodes the node cache holds (about 1 KiB each at most; the upper
/// four levels of a tree of a million licences hold about 70,000 internal nodes).
pub const NODE_CACHE_ENTRIES: usize = 131_072;

/// State tree nodes recently read by proofs and roots, in their stored form. jmt nodes
/// never change once written (the key holds the version that wrote them), so a cached
/// node is never stale and nothing needs invalidating. State proofs read the same upper
/// nodes again and again: through the cache a licence's state proof took 35 µs instead
/// of 75 µs (apply bench, 100k licences, with jmt's walk). Nodes a commit writes are not
/// added (copying ~30,000 nodes per block cost more than it saved the next block's
/// update); [`RecentNodes`] keeps them instead, and only nodes read from the store come
/// here ([`CachedTree::read_node_view`]).
#[derive(Debug, Default)]
pub(super) struct NodeCache {
    nodes: Mutex<HashMap<NodeKey, Vec<u8>>>,
}

impl NodeCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeKey, Vec<u8>>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, key: NodeKey, bytes: Vec<u8>) {
        let mut nodes = self.lock();
        if nodes.len() >= NODE_CACHE_ENTRIES {
            nodes.clear();
        }
        nodes.insert(key, bytes);
    }

    /// The node under `key` decoded by `decode`, if cached.
    fn get<T>(
        &self,
        key: &NodeKey,
        decode: impl FnOnce(&[u8]) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.lock().get(key).map(|bytes| decode(bytes)).transpose()
    }
}

/// Most state tree nodes [`RecentNodes`] keeps (in their stored form: at most about
/// 600 bytes for an internal node, 68 for a leaf; about 100 MiB). At a million licences
/// a 10,000-record block writes about 34,000 nodes, so this is the last five or six
/// blocks.
pub const RECENT_NODES: usize = 200_000;

/// The node batches of the last few commits (up to [`RECENT_NODES`] nodes, and always
/// the newest), kept whole after they were written. The next blocks' tree updates read
/// many of those nodes again: at a million licences a 10,000-record block rewrites
/// nearly every node of the upper four levels and one in seven at the fifth, so the next
/// block's update finds most of its upper-level reads here instead of in RocksDB. Each
/// batch is the one the commit owned and would have dropped, so keeping it costs no
/// copy (copying its nodes into [`NodeCache`] instead cost more than it saved). A node's
/// key holds the version that wrote it, so the version alone says which batch can hold
/// it, and a node of an older version costs no lookup here.
#[derive(Debug, Default)]
pub(super) struct RecentNodes {
    /// Oldest first.
    batches: VecDeque<TreeBatch>,
    /// Nodes in `batches`.
    nodes: usize,
}

impl RecentNodes {
    /// The stored bytes of the node under `key`, if a recent batch wrote it.
    fn get(&self, key: &NodeKey) -> Option<&[u8]> {
        // A batch of another version answers at once, without a search.
        self.batches.iter().rev().find_map(|batch| batch.node(key))
    }

    pub(super) fn committed(&mut self, batch: TreeBatch) {
        self.nodes += batch.nodes().len();
        self.batches.push_back(batch);
        while self.nodes > RECENT_NODES && self.batches.len() > 1 {
            if let Some(oldest) = self.batches.pop_front() {
                self.nodes -= oldest.nodes().len();
            }
        }
    }
}

/// The store seen through the recent batches, the read-ahead and the node cache, for
/// [`crate::state_tree::StateTree`].
pub(super) struct CachedTree<'a, S> {
    pub(super) store: &'a S,
    pub(super) recent: &'a RecentNodes,
    pub(super) cache: &'a NodeCache,
    /// Nodes read ahead for the update under way, if any.
    pub(super) ahead: Option<&'a ReadAhead>,
}

impl<S: Store> TreeStore for CachedTree<'_, S> {
    /// The node for jmt (genesis and blocks that delete), from the recent batches, the
    /// read-ahead, the node cache or the store, first found first.
    fn state_node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        if let Some(ahead) = self.ahead {
            ahead.reached(key);
        }
        if let Some(bytes) = self.recent.get(key) {
            return Ok(Some(decode_state_node(bytes)?));
        }
        if let Some(view) = self.ahead.and_then(|ahead| ahead.take(key)) {
            return Ok(Some(view.to_node()?));
        }
        if let Some(node) = self.cache.get(key, decode_state_node)? {
            return Ok(Some(node));
        }
        self.store.state_node(key)
    }

    /// The node for a tree update, never built as a jmt node, from the recent batches,
    /// the read-ahead (taken: an update reads each node once), the node cache or the
    /// store, first found first. Nothing is cached: the next block finds the nodes
    /// this one writes among the recent batches.
    fn state_node_view(&self, key: &NodeKey) -> Result<Option<NodeView>, StateTreeError> {
        if let Some(ahead) = self.ahead {
            ahead.reached(key);
        }
        if let Some(bytes) = self.recent.get(key) {
            return Ok(Some(decode_state_node_view(bytes)?));
        }
        if let Some(view) = self.ahead.and_then(|ahead| ahead.take(key)) {
            return Ok(Some(*view));
        }
        if let Some(view) = self.cache.get(key, decode_state_node_view)? {
            return Ok(Some(view));
        }
        self.store.state_node_view(key)
    }

    /// The node for a proof or a root, from the recent batches, the node cache or the
    /// store; one read from the store goes into the node cache, for the next proofs that
    /// pass it.
    fn read_node_view(&self, key: &NodeKey) -> Result<Option<NodeView>, StateTreeError> {
        if let Some(bytes) = self.recent.get(key) {
            return Ok(Some(decode_state_node_view(bytes)?));
        }
        if let Some(view) = self.cache.get(key, decode_state_node_view)? {
            return Ok(Some(view));
        }
        let Some(bytes) = self.store.get(Column::StateNodes, &node_key(key))? else {
            return Ok(None);
        };
        let view = decode_state_node_view(&bytes)?;
        self.cache.insert(key.clone(), bytes);
        Ok(Some(view))
    }

    fn state_value(
        &self,
        key: &Hash32,
        max_version: jmt::Version,
    ) -> Result<Option<Vec<u8>>, StateTreeError> {
        self.store.state_value(key, max_version)
    }
}

/// Nodes read ahead of one state tree update, for it to take: filled on another core
/// while the block executes ([`CachedTree::read_ahead`]), emptied by the update.
///
/// Nodes are boxed (a view is about 900 bytes): the walk putting nodes and the update
/// taking them contend for the lock, which was held for two copies of each.
#[derive(Debug, Default)]
pub(super) struct ReadAhead {
    nodes: Mutex<HashMap<NodeKey, Box<NodeView>>>,
    /// Where the update has got to: one more than the lowest key under the last node it
    /// read (which only grows, as the update reads in key order), taking keys by their
    /// first 16 nibbles; 0 before it has read anything.
    progress: AtomicU64,
}

/// How far past the update a read-ahead that it has caught up with jumps: 1/256 of the
/// key space (about 40 keys of a 10,000-key block). Jumping only past where the update
/// is, the read-ahead stayed a node ahead at most, and most of the next nodes the update
/// wanted were still being read, so both read them.
const READ_AHEAD_LEAD: u64 = 1 << 56;

/// The first 16 nibbles of the keys under the node at `path` (`nibble(i)` for
/// `i < len`), the rest of them `fill`: 0 gives the lowest key, 0xf the highest.
fn path_bound(len: usize, nibble: impl Fn(usize) -> u8, fill: u8) -> u64 {
    (0..16).fold(0u64, |bound, i| {
        (bound << 4) | u64::from(if i < len { nibble(i) } else { fill })
    })
}

impl ReadAhead {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeKey, Box<NodeView>>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that the update is reading the node under `key`.
    fn reached(&self, key: &NodeKey) {
        let path = key.nibble_path();
        let lowest = path_bound(path.num_nibbles(), |i| u8::from(path.get_nibble(i)), 0);
        self.progress
            .fetch_max(lowest.saturating_add(1), Ordering::Relaxed);
    }

    /// Whether the update has already gone into the subtree at `path` (one nibble per
    /// element; not the root), or past it, or is about to ([`READ_AHEAD_LEAD`]): it
    /// then reads what it needs there itself, and reading it ahead would come too late.
    fn passed(&self, path: &[u8]) -> bool {
        let progress = self.progress.load(Ordering::Relaxed);
        progress > 0
            && !path.is_empty()
            && path_bound(path.len(), |i| path[i], 0) < progress.saturating_add(READ_AHEAD_LEAD)
    }

    fn take(&self, key: &NodeKey) -> Option<Box<NodeView>> {
        self.lock().remove(key)
    }

    fn put(&self, key: NodeKey, node: Box<NodeView>) {
        self.lock().insert(key, node);
    }
}

impl<S: Store> CachedTree<'_, S> {
    /// Reads into `ahead` the nodes that an update of `keys` (sorted ascending) on top
    /// of `version` will read, where neither the recent batches nor the node cache hold
    /// them: the path of every key from the root down to where it ends (a leaf, or an
    /// empty slot), as jmt walks it. A hint only: a node not read ahead in time is read
    /// by the update itself, and a failed read ends the walk below that node quietly
    /// (the update's own read reports it).
    ///
    /// The walk and the update both go in key order. When the update catches up with
    /// the walk, the walk skips every subtree the update has already gone into
    /// ([`ReadAhead::passed`]) and so gets ahead of it again, instead of reading, a step
    /// behind, each node the update has just read itself.
    pub(super) fn read_ahead(&self, keys: &[Hash32], version: Height, ahead: &ReadAhead) {
        let mut path = Vec::with_capacity(2 * 32);
        self.read_ahead_below(version, &mut path, keys, ahead);
    }

    /// Reads the node at `path` (written at `version`) and, if it is internal, walks on
    /// to its children that `keys` (all of which start with `path`) go through; nothing
    /// under a node the update has passed.
    fn read_ahead_below(
        &self,
        version: jmt::Version,
        path: &mut Vec<u8>,
        keys: &[Hash32],
        ahead: &ReadAhead,
    ) {
        if ahead.passed(path) {
            return;
        }
        let Some(NodeView::Internal(slots)) =
            self.read_ahead_node(node_key_at(version, path), ahead)
        else {
            return;
        };
        for (nibble, through) in runs_by_nibble(keys, path.len(), |key| key) {
            let Some((_, child_version, leaves)) = slots[usize::from(nibble)] else {
                continue;
            };
            path.push(nibble);
            // A child with a leaf count is internal.
            if leaves.is_some() {
                self.read_ahead_below(child_version, path, through, ahead);
            } else if !ahead.passed(path) {
                self.read_ahead_node(node_key_at(child_version, path), ahead);
            }
            path.pop();
        }
    }

    /// The node under `key` as the walk needs it, reading it from the store into `ahead`
    /// if nothing in memory holds it; `None` if it is not found or the read failed.
    fn read_ahead_node(&self, key: NodeKey, ahead: &ReadAhead) -> Option<NodeView> {
        if let Some(bytes) = self.recent.get(&key) {
            return decode_state_node_view(bytes).ok();
        }
        if let Ok(Some(view)) = self.cache.get(&key, decode_state_node_view) {
            return Some(view);
        }
        let view = self.store.state_node_view(&key).ok()??;
        ahead.put(key, Box::new(view.clone()));
        Some(view)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::crypto::sha256;
    use crate::state::StateChanges;
    use crate::state_tree::{nibble_at, StateTree};
    use crate::store::memory::MemoryStore;
    use crate::store::{Column, Entry, StoreBatch, StoreError};

    /// A memory store that counts the state tree nodes read from it.
    #[derive(Debug, Default)]
    struct Counting {
        inner: MemoryStore,
        node_reads: AtomicUsize,
    }

    impl Store for Counting {
        fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            if column == Column::StateNodes {
                self.node_reads.fetch_add(1, Ordering::SeqCst);
            }
            self.inner.get(column, key)
        }
        fn floor(
            &self,
            column: Column,
            prefix: &[u8],
            key: &[u8],
        ) -> Result<Option<Entry>, StoreError> {
            self.inner.floor(column, prefix, key)
        }
        fn scan_prefix(
            &self,
            column: Column,
            prefix: &[u8],
            limit: usize,
        ) -> Result<Vec<Entry>, StoreError> {
            self.inner.scan_prefix(column, prefix, limit)
        }
        fn write(&self, batch: &StoreBatch) -> Result<(), StoreError> {
            self.inner.write(batch)
        }
    }

    fn key(i: u32) -> Hash32 {
        sha256(&[b"read-ahead test", &i.to_le_bytes()])
    }

    fn changes(keys: impl Iterator<Item = u32>, tag: u8) -> StateChanges {
        keys.map(|i| (key(i), Some(vec![tag; 8]))).collect()
    }

    /// Writes `changes` as `version` straight to the store.
    fn commit(store: &Counting, changes: &StateChanges, version: Height) {
        let (_, nodes) = StateTree::new(store)
            .apply(changes, version)
            .expect("apply");
        let mut batch = StoreBatch::new();
        batch.put_state_nodes(&nodes);
        store.write(&batch).expect("write");
    }

    #[test]
    fn the_update_reads_only_what_was_read_ahead() {
        // A tree of 3,000 keys written over three versions, so that paths hold nodes of
        // several versions. Then an update of 500 new keys and 200 existing ones: with
        // its paths read ahead, it must find every node it reads in memory, and use
        // every node read ahead.
        let store = Counting::default();
        commit(&store, &changes(0..1_000, 1), 0);
        commit(&store, &changes(1_000..2_000, 2), 1);
        commit(&store, &changes((2_000..3_000).chain(0..300), 3), 2);
        let update = changes((3_000..3_500).chain((500..2_500).step_by(10)), 4);
        let keys: Vec<Hash32> = update.keys().copied().collect();

        let recent = RecentNodes::default();
        let cache = NodeCache::default();
        let ahead = ReadAhead::default();
        let tree = CachedTree {
            store: &store,
            recent: &recent,
            cache: &cache,
            ahead: Some(&ahead),
        };
        tree.read_ahead(&keys, 2, &ahead);
        let read_ahead = store.node_reads.swap(0, Ordering::SeqCst);
        assert!(read_ahead > keys.len(), "{read_ahead} nodes read ahead");

        let (root, _) = StateTree::new(&tree).apply(&update, 3).expect("apply");
        assert_eq!(
            store.node_reads.load(Ordering::SeqCst),
            0,
            "reads past the read-ahead"
        );
        assert!(ahead.lock().is_empty(), "nodes read ahead but not used");
        let (straight, _) = StateTree::new(&store).apply(&update, 3).expect("apply");
        assert_eq!(root, straight);
    }

    #[test]
    fn the_read_ahead_stops_where_the_update_has_been() {
        // The update has read a node under nibble 8 at the top: the walk reads the root
        // and the paths under 9..f, and nothing under 0..8, where the update has been.
        let store = Counting::default();
        commit(&store, &changes(0..2_000, 1), 0);
        let mut keys: Vec<Hash32> = (0..2_000).map(key).collect();
        keys.sort_unstable();

        let recent = RecentNodes::default();
        let cache = NodeCache::default();
        let ahead = ReadAhead::default();
        ahead.reached(&node_key_at(0, &[8, 3]));
        let tree = CachedTree {
            store: &store,
            recent: &recent,
            cache: &cache,
            ahead: None,
        };
        tree.read_ahead(&keys, 0, &ahead);
        let nodes = ahead.lock();
        let first_nibbles: Vec<Option<u8>> = nodes
            .keys()
            .map(|key| {
                let path = key.nibble_path();
                (path.num_nibbles() > 0).then(|| u8::from(path.get_nibble(0)))
            })
            .collect();
        assert!(first_nibbles.contains(&None), "the root was not read");
        assert!(
            first_nibbles.contains(&Some(0xf)),
            "the last paths were not read"
        );
        assert!(
            first_nibbles.contains(&Some(9)),
            "the paths under 9 were not read"
        );
        assert!(
            first_nibbles.iter().flatten().all(|&nibble| nibble >= 9),
            "read paths the update had passed: {first_nibbles:?}"
        );
        // Without the update's progress, the walk reads the paths under every nibble.
        let everything = ReadAhead::default();
        tree.read_ahead(&keys, 0, &everything);
        assert!(everything.lock().len() > nodes.len());
    }

    #[test]
    fn path_bounds_pad_with_the_lowest_or_highest_nibble() {
        assert_eq!(path_bound(2, |i| [0xa, 0xb][i], 0), 0xab00_0000_0000_0000);
        assert_eq!(path_bound(2, |i| [0xa, 0xb][i], 0xf), 0xabff_ffff_ffff_ffff);
        assert_eq!(path_bound(0, |_| 0, 0xf), u64::MAX);
    }

    #[test]
    fn nibbles_are_taken_high_half_first() {
        let mut key = Hash32([0; 32]);
        key.0[0] = 0xab;
        key.0[31] = 0xcd;
        assert_eq!(nibble_at(&key, 0), 0xa);
        assert_eq!(nibble_at(&key, 1), 0xb);
        assert_eq!(nibble_at(&key, 62), 0xc);
        assert_eq!(nibble_at(&key, 63), 0xd);
        assert_eq!(node_key_at(7, &[0xa, 0xb]).nibble_path().num_nibbles(), 2);
    }
}
