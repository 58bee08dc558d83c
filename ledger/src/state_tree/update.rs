//! A block's state tree update of inserts and updates, computed here over jmt's node
//! layout instead of by jmt's `batch_put_value_sets` (ADR 0020).
//!
//! It walks the tree exactly as jmt's batch update does (`batch_insert_at`,
//! `batch_create_subtree_with_existing_leaf`, `batch_create_subtree` in jmt 0.12) and
//! writes the same nodes under the same keys, so the tree, its roots and its proofs are
//! jmt's: `tests::same_nodes_as_jmt` holds the two to identical node batches. What it
//! leaves out is jmt's bookkeeping around that walk: a node cache keyed by SipHash over
//! node keys that every node goes in and out of (and is cloned on the way), a stale node
//! index we drop, a second copy of every node into the batch at the end, and the hash
//! of each internal node worked out again by its parent. It writes each node straight in
//! its stored form, and in key order, so the commit has nothing left to encode or sort.

use jmt::storage::{LeafNode, NodeKey};
use jmt::Version;
use sha2::Sha256;

use super::{
    nibble_at, node_key_at, range_hash, runs_by_nibble, NodeView, StateProofLeaf, StateTreeError,
    TreeStore,
};
use crate::bytes::Hash32;
use crate::store::{
    encode_internal_with_bitmaps, encode_leaf_node, encode_new_leaf, leaf_count, slot_bitmaps,
    ChildEntry,
};

/// A key and the hash of its new value.
pub(super) type KeyValueHash = (Hash32, Hash32);

/// The children of an internal node by slot: hash, version, leaf count (`None`: a leaf).
type Slots = [Option<ChildEntry>; 16];

/// What a parent records of a node just written under it: its hash and its leaf count
/// (`None`: it is a leaf).
#[derive(Debug, Clone, Copy)]
struct Written {
    hash: [u8; 32],
    leaves: Option<u64>,
}

/// A node's key and stored bytes.
type StoredNode = (NodeKey, Vec<u8>);

/// One update: the version it writes, the nodes written so far and the path (one nibble
/// per element) of the node being visited.
struct Update<'a, S: ?Sized> {
    store: &'a S,
    version: Version,
    /// By depth (path length), each in path order: node keys sort by version, then
    /// path length, then path, so the depths one after the other are in key order. The
    /// walk goes in key order, and so writes each depth's nodes in path order.
    nodes: Vec<Vec<StoredNode>>,
    path: Vec<u8>,
}

/// Writes `kvs` (sorted by key, no repeats, at least one) as `version` on top of
/// `version - 1`, whose root must exist. Returns the new root and the nodes written,
/// in key order, each with its stored bytes (what jmt's batch update writes; the caller
/// adds the values).
pub(super) fn put_sorted<S: TreeStore + ?Sized>(
    store: &S,
    kvs: &[KeyValueHash],
    version: Version,
) -> Result<(Hash32, Vec<StoredNode>), StateTreeError> {
    let base = version
        .checked_sub(1)
        .ok_or_else(|| StateTreeError::Tree("version 0 has no tree below it".into()))?;
    if kvs.is_empty() {
        return Err(StateTreeError::Tree(
            "an update needs at least one key".into(),
        ));
    }
    let mut update = Update {
        store,
        version,
        nodes: Vec::new(),
        path: Vec::with_capacity(64),
    };
    let root = update.insert_at(base, kvs, 0)?;
    let mut nodes = Vec::with_capacity(update.nodes.iter().map(Vec::len).sum());
    for depth in update.nodes {
        nodes.extend(depth);
    }
    debug_assert!(nodes.windows(2).all(|pair| pair[0].0 < pair[1].0));
    Ok((Hash32(root.hash), nodes))
}

/// The runs of `kvs` (all sharing their first `depth` nibbles) by their nibble at `depth`.
fn by_nibble(kvs: &[KeyValueHash], depth: usize) -> impl Iterator<Item = (u8, &[KeyValueHash])> {
    runs_by_nibble(kvs, depth, |(key, _)| key)
}

/// jmt's hash of an internal node: the binary Merkle tree over its 16 slots, where an
/// empty range is the placeholder and a range holding a single leaf (or a single slot)
/// is that child's own hash.
fn slots_hash(slots: &Slots, (present, leaves): (u16, u16)) -> [u8; 32] {
    range_hash(slots, present, leaves, 0, 16)
}

impl<S: TreeStore + ?Sized> Update<'_, S> {
    /// Updates the subtree at the current path, whose node was written at `at`, with
    /// `kvs` (jmt `batch_insert_at`).
    fn insert_at(
        &mut self,
        at: Version,
        kvs: &[KeyValueHash],
        depth: usize,
    ) -> Result<Written, StateTreeError> {
        let key = node_key_at(at, &self.path);
        let node = self.store.state_node_view(&key)?.ok_or_else(|| {
            StateTreeError::Tree(format!("missing node {key:?} on an update's path"))
        })?;
        match node {
            NodeView::Internal(mut slots) => {
                for (nibble, run) in by_nibble(kvs, depth) {
                    self.path.push(nibble);
                    let slot = &slots[usize::from(nibble)];
                    let written = match slot {
                        Some((_, child_at, _)) => self.insert_at(*child_at, run, depth + 1),
                        None => Ok(self.create(run, depth + 1)),
                    };
                    self.path.pop();
                    slots[usize::from(nibble)] = Some(self.child(written?));
                }
                Ok(self.internal(&slots))
            }
            NodeView::Leaf(leaf) => Ok(self.with_leaf(&leaf, kvs, depth)),
            NodeView::Null if self.path.is_empty() => Ok(self.create(kvs, depth)),
            NodeView::Null => Err(StateTreeError::Tree(format!(
                "null node {key:?} below the root"
            ))),
        }
    }

    /// A new subtree at the current path holding `existing` (a leaf that was here) and
    /// `kvs` (jmt `batch_create_subtree_with_existing_leaf`).
    fn with_leaf(&mut self, existing: &LeafNode, kvs: &[KeyValueHash], depth: usize) -> Written {
        let existing_key = Hash32(existing.key_hash().0);
        if let [(key, value_hash)] = kvs {
            if *key == existing_key {
                return self.leaf(key, value_hash);
            }
        }
        let bucket = nibble_at(&existing_key, depth);
        let mut slots: Slots = [None; 16];
        // Whether no key goes the existing leaf's way: jmt then writes the leaf again,
        // one level down, under the new version (in its place among its siblings, to
        // keep the nodes of each depth in path order).
        let mut isolated = by_nibble(kvs, depth).all(|(nibble, _)| nibble != bucket);
        for (nibble, run) in by_nibble(kvs, depth) {
            if isolated && nibble > bucket {
                self.rewrite_leaf(existing, bucket, &mut slots);
                isolated = false;
            }
            self.path.push(nibble);
            let written = if nibble == bucket {
                self.with_leaf(existing, run, depth + 1)
            } else {
                self.create(run, depth + 1)
            };
            self.path.pop();
            slots[usize::from(nibble)] = Some(self.child(written));
        }
        if isolated {
            self.rewrite_leaf(existing, bucket, &mut slots);
        }
        self.internal(&slots)
    }

    /// Writes `existing` again under slot `bucket` of the current path.
    fn rewrite_leaf(&mut self, existing: &LeafNode, bucket: u8, slots: &mut Slots) {
        self.path.push(bucket);
        self.push(encode_leaf_node(existing));
        self.path.pop();
        slots[usize::from(bucket)] = Some((existing.hash::<Sha256>(), self.version, None));
    }

    /// Writes a node with these stored bytes at the current path.
    fn push(&mut self, bytes: Vec<u8>) {
        let depth = self.path.len();
        if self.nodes.len() <= depth {
            self.nodes.resize_with(depth + 1, Vec::new);
        }
        self.nodes[depth].push((node_key_at(self.version, &self.path), bytes));
    }

    /// A new subtree at the current path holding `kvs` (jmt `batch_create_subtree`).
    fn create(&mut self, kvs: &[KeyValueHash], depth: usize) -> Written {
        if let [(key, value_hash)] = kvs {
            return self.leaf(key, value_hash);
        }
        let mut slots: Slots = [None; 16];
        for (nibble, run) in by_nibble(kvs, depth) {
            self.path.push(nibble);
            let written = self.create(run, depth + 1);
            self.path.pop();
            slots[usize::from(nibble)] = Some(self.child(written));
        }
        self.internal(&slots)
    }

    /// The slot entry of a child written by this update.
    fn child(&self, written: Written) -> ChildEntry {
        (written.hash, self.version, written.leaves)
    }

    /// Writes a leaf at the current path.
    fn leaf(&mut self, key: &Hash32, value_hash: &Hash32) -> Written {
        let hash = StateProofLeaf {
            key_hash: *key,
            value_hash: *value_hash,
        }
        .hash();
        self.push(encode_new_leaf(&key.0, &value_hash.0));
        Written {
            hash: hash.0,
            leaves: None,
        }
    }

    /// Writes an internal node with `slots` at the current path.
    fn internal(&mut self, slots: &Slots) -> Written {
        let bitmaps = slot_bitmaps(slots);
        self.push(encode_internal_with_bitmaps(slots, bitmaps));
        Written {
            hash: slots_hash(slots, bitmaps),
            leaves: Some(leaf_count(slots)),
        }
    }
}

#[cfg(test)]
mod tests {
    use jmt::{JellyfishMerkleTree, KeyHash};
    use proptest::prelude::*;

    use super::*;
    use crate::crypto::sha256;
    use crate::state::StateChanges;
    use crate::state_tree::{JmtReader, StateTree, TreeBatch};
    use crate::store::memory::MemoryStore;
    use crate::store::{Store as _, StoreBatch};

    /// Keys from a few hand-made prefixes (so that leaves meet deep down and split),
    /// and hashed ones.
    fn key_strategy() -> impl Strategy<Value = Hash32> {
        prop_oneof![
            (0u8..4, 0u8..4, any::<u8>()).prop_map(|(a, b, c)| {
                let mut key = [0u8; 32];
                key[0] = a << 4;
                key[5] = b;
                key[31] = c;
                Hash32(key)
            }),
            any::<u16>().prop_map(|i| sha256(&[b"update test", &i.to_le_bytes()])),
        ]
    }

    fn block_strategy() -> impl Strategy<Value = StateChanges> {
        proptest::collection::btree_map(
            key_strategy(),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(Some),
            1..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Over several versions, our update writes exactly the nodes jmt's batch update
        /// writes (same keys, same nodes, same root).
        #[test]
        fn same_nodes_as_jmt(genesis in block_strategy(), blocks in proptest::collection::vec(block_strategy(), 1..6)) {
            let store = MemoryStore::new();
            let tree = StateTree::new(&store);
            let (_, nodes) = tree.apply(&genesis, 0).expect("genesis");
            prop_assert!(nodes.nodes().windows(2).all(|pair| pair[0].0 < pair[1].0));
            let mut batch = StoreBatch::new();
            batch.put_state_nodes(&nodes);
            store.write(&batch).expect("write");
            for (index, changes) in blocks.iter().enumerate() {
                let version = index as u64 + 1;
                let kvs: Vec<KeyValueHash> = changes
                    .iter()
                    .map(|(key, value)| (*key, sha256(&[value.as_deref().unwrap_or_default()])))
                    .collect();
                let (root, ours) = put_sorted(&store, &kvs, version).expect("ours");
                let reader = JmtReader(&store);
                let jmt_tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
                let value_set = changes
                    .iter()
                    .map(|(key, value)| (KeyHash(key.0), value.clone().unwrap_or_default()))
                    .collect();
                let (roots, theirs) = jmt_tree
                    .batch_put_value_sets(vec![value_set], None, version)
                    .expect("jmt");
                prop_assert_eq!(root.0, roots[0].0);
                // The same nodes in the same (key) order: their stored bytes are equal.
                let theirs = TreeBatch::from_jmt(theirs.node_batch, version).expect("jmt batch");
                prop_assert_eq!(ours.as_slice(), theirs.nodes());
                let mut batch = StoreBatch::new();
                batch.put_state_nodes(&theirs);
                store.write(&batch).expect("write");
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let store = MemoryStore::new();
        let kv = (Hash32([1; 32]), Hash32([2; 32]));
        assert!(put_sorted(&store, &[kv], 0).is_err());
        assert!(put_sorted(&store, &[], 1).is_err());
        // No tree at version 0 to build on.
        assert!(put_sorted(&store, &[kv], 1).is_err());
    }
}
