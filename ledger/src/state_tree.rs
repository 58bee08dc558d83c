//! The authenticated state tree: a Jellyfish Merkle Tree (crate `jmt`) over our store.
//!
//! Every piece of state (DESIGN §5) lives under a 32-byte key `sha256(namespace ‖ id)`
//! built by [`crate::keys`]; the tree maps those key hashes to encoded values. Versions
//! are block heights: the genesis state is version 0 and block `h` writes version `h`,
//! so the root and proofs of every past height stay available (no pruning yet, see
//! ADR 0002).
//!
//! Two halves:
//!
//! - [`StateTree`]: the writer and reader, over any [`TreeStore`] (RocksDB or memory).
//!   [`StateTree::apply`] turns one block's [`StateChanges`] into the new root and the
//!   [`TreeBatch`] (nodes and values in their stored form) that the caller writes in
//!   the block's atomic write batch; nothing is written by the tree itself. A block of inserts and updates (all but genesis and
//!   the rare block that deletes) is applied by our own walk over jmt's node layout
//!   (`update`, ADR 0020), which writes exactly the nodes jmt's batch update writes;
//!   jmt applies the rest. Roots and proofs are read by our own walk down the stored
//!   nodes ([`StateTree::get_with_proof`], ADR 0023), which gives jmt's proofs.
//! - [`StateProof`]: our own proof format and its verification, pure and
//!   self-contained, written out step by step so that a verifier in another language can
//!   follow it. It is tested to agree with `jmt`'s own `SparseMerkleProof::verify`.
//!
//! # The hashing a verifier re-implements
//!
//! The JMT is a 16-ary tree, but it is hashed as the equivalent *binary* sparse Merkle
//! tree over the 256 bits of the key hash (most significant bit of byte 0 first), with
//! empty subtrees collapsed and single leaves lifted as high as they can go:
//!
//! - empty subtree: the 32 ASCII bytes `SPARSE_MERKLE_PLACEHOLDER_HASH__`;
//! - leaf: `sha256("JMT::LeafNode" ‖ key_hash ‖ sha256(value))`;
//! - internal: `sha256("JMT::IntrnalNode" ‖ left ‖ right)` (the misspelling is jmt's).
//!
//! A proof lists the sibling hashes from the bottom of the path up to the root. With
//! `n` siblings, sibling `i` (0 = lowest) sits at depth `n - 1 - i`, and bit
//! `n - 1 - i` of the key says whether the path goes right (1: the sibling is on the
//! left) or left (0: the sibling is on the right).

use std::marker::PhantomData;

use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, Version};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::bytes::Hash32;
use crate::codec;
use crate::crypto::sha256;
use crate::state::StateChanges;
use crate::store::{encode_state_node, slot_bitmaps, ChildEntry};

mod update;

/// Hash of an empty subtree (jmt `SPARSE_MERKLE_PLACEHOLDER_HASH`).
pub const PLACEHOLDER_HASH: Hash32 = Hash32(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");
/// Domain of leaf hashes (jmt `LEAF_DOMAIN_SEPARATOR`).
pub const LEAF_DOMAIN: &[u8] = b"JMT::LeafNode";
/// Domain of internal node hashes (jmt `INTERNAL_DOMAIN_SEPARATOR`).
pub const INTERNAL_DOMAIN: &[u8] = b"JMT::IntrnalNode";
/// A key hash has 256 bits, so no path is longer: a proof with more siblings is refused.
pub const MAX_PROOF_SIBLINGS: usize = 256;

/// The leaf a proof ends at: the key hash stored there and the hash of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProofLeaf {
    /// The key hash of the leaf.
    pub key_hash: Hash32,
    /// `sha256(value)`.
    pub value_hash: Hash32,
}

impl StateProofLeaf {
    /// The key hash and value hash of a stored leaf. jmt shows a leaf's value hash only
    /// in its borsh form: the key hash, then the value hash.
    fn of(leaf: &LeafNode) -> Result<StateProofLeaf, StateTreeError> {
        let bytes = borsh::to_vec(leaf).map_err(|e| StateTreeError::Tree(e.to_string()))?;
        let hashes = <&[u8; 64]>::try_from(bytes.as_slice())
            .map_err(|_| StateTreeError::Tree(format!("a jmt leaf of {} bytes", bytes.len())))?;
        let (key_hash, value_hash) = hashes.split_at(32);
        Ok(StateProofLeaf {
            key_hash: Hash32(key_hash.try_into().unwrap_or_else(|_| unreachable!())),
            value_hash: Hash32(value_hash.try_into().unwrap_or_else(|_| unreachable!())),
        })
    }

    /// `sha256("JMT::LeafNode" ‖ key_hash ‖ value_hash)`.
    pub fn hash(&self) -> Hash32 {
        sha256(&[LEAF_DOMAIN, &self.key_hash.0, &self.value_hash.0])
    }
}

/// A proof that a key holds a value, or holds none, in the state tree at some root.
///
/// - Inclusion: `leaf` is the key's own leaf; its `value_hash` is `sha256(value)`.
/// - Non-inclusion, other leaf: `leaf` is the only leaf in the subtree where the key
///   would be; its key shares at least `siblings.len()` leading bits with the key.
/// - Non-inclusion, empty: `leaf` is `None`; the key's place is an empty subtree.
///
/// Size is one hash per level of the path: O(log n) for n keys. In JSON every hash is
/// lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProof {
    /// The leaf the path ends at, if any.
    pub leaf: Option<StateProofLeaf>,
    /// Sibling hashes from the bottom of the path up to the root.
    pub siblings: Vec<Hash32>,
}

/// Why a state proof does not prove what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateProofError {
    /// More siblings than a 256-bit key has levels.
    #[error("proof has {count} siblings; at most {MAX_PROOF_SIBLINGS} are possible")]
    TooManySiblings {
        /// How many the proof has.
        count: usize,
    },
    /// A value was claimed but the proof shows the key absent.
    #[error("a value was expected but the proof is a non-inclusion proof")]
    ExpectedInclusion,
    /// The proof's leaf is for another key, so it cannot prove this key's value.
    #[error("the proof's leaf is for key {proof_key}, not {key}")]
    KeyMismatch {
        /// The key in the proof's leaf.
        proof_key: Hash32,
        /// The key asked about.
        key: Hash32,
    },
    /// The value's hash is not the one in the proof's leaf.
    #[error("value hash {actual} does not match the proof's {expected}")]
    ValueMismatch {
        /// Value hash in the proof.
        expected: Hash32,
        /// Hash of the value given.
        actual: Hash32,
    },
    /// Absence was claimed but the proof's leaf is the key itself.
    #[error("absence was expected but the key is present in the proof")]
    KeyPresent,
    /// The proof's leaf does not share the key's path, so the key could sit elsewhere.
    #[error("the proof's leaf does not cover the key's path, so it proves nothing about it")]
    LeafOffPath,
    /// The path does not hash to the trusted root.
    #[error("proof gives root {computed}, expected {expected}")]
    RootMismatch {
        /// The trusted root.
        expected: Hash32,
        /// What the proof hashes to.
        computed: Hash32,
    },
}

/// `sha256("JMT::IntrnalNode" ‖ left ‖ right)`.
pub fn internal_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    sha256(&[INTERNAL_DOMAIN, &left.0, &right.0])
}

/// Bit `index` of a key hash, most significant bit of byte 0 first.
fn key_bit(key: &Hash32, index: usize) -> bool {
    let byte = key.0[index / 8];
    (byte >> (7 - index % 8)) & 1 == 1
}

/// Nibble `index` of a key: the high half of byte `index / 2` first.
pub(crate) fn nibble_at(key: &Hash32, index: usize) -> u8 {
    let byte = key.0[index / 2];
    if index % 2 == 0 {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// The runs of `items` (sorted by `key`, all sharing their first `depth` nibbles) by
/// the nibble of their key at `depth`: the child slot each run goes into, in slot order.
pub(crate) fn runs_by_nibble<T>(
    items: &[T],
    depth: usize,
    key: impl Fn(&T) -> &Hash32,
) -> impl Iterator<Item = (u8, &[T])> {
    let mut rest = items;
    std::iter::from_fn(move || {
        let nibble = nibble_at(key(rest.first()?), depth);
        let end = rest.partition_point(|item| nibble_at(key(item), depth) == nibble);
        let (run, after) = rest.split_at(end);
        rest = after;
        Some((nibble, run))
    })
}

/// The key of the node at `path` (one nibble per element) written at `version`.
pub(crate) fn node_key_at(version: Version, path: &[u8]) -> NodeKey {
    NodeKey::new(version, path.iter().map(|&nibble| nibble.into()).collect())
}

/// Number of leading bits two key hashes share.
fn common_prefix_bits(a: &Hash32, b: &Hash32) -> usize {
    for (i, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
        let diff = x ^ y;
        if diff != 0 {
            return i * 8 + diff.leading_zeros() as usize;
        }
    }
    256
}

/// What the slots `start..start + width` of an internal node hold, as jmt's hashing
/// sees them (`present` and `leaves` the node's [`crate::store::slot_bitmaps`]).
enum SlotRange {
    /// No child.
    Empty,
    /// One child that stands for the whole range: a single leaf, or the one child of
    /// a single slot. The range's hash is that child's.
    Single(usize),
    /// More: the range hashes as its two halves.
    Split,
}

fn slot_range(present: u16, leaves: u16, start: usize, width: usize) -> SlotRange {
    let mask = (((1u32 << width) - 1) << start) as u16;
    let (present_here, leaves_here) = (present & mask, leaves & mask);
    if present_here == 0 {
        SlotRange::Empty
    } else if width == 1 || (present_here.count_ones() == 1 && leaves_here != 0) {
        SlotRange::Single(present_here.trailing_zeros() as usize)
    } else {
        SlotRange::Split
    }
}

/// jmt's hash of the slots `start..start + width` of an internal node (`present` and
/// `leaves` its [`crate::store::slot_bitmaps`]): the binary Merkle tree over them, where
/// an empty range is the placeholder and a range holding a single leaf (or a single
/// slot) is that child's own hash. Slots `0..16` give the node's hash.
pub(crate) fn range_hash(
    slots: &[Option<ChildEntry>; 16],
    present: u16,
    leaves: u16,
    start: usize,
    width: usize,
) -> [u8; 32] {
    match slot_range(present, leaves, start, width) {
        SlotRange::Empty => PLACEHOLDER_HASH.0,
        SlotRange::Single(slot) => slots[slot]
            .map(|(hash, _, _)| hash)
            .unwrap_or(PLACEHOLDER_HASH.0),
        SlotRange::Split => {
            let half = width / 2;
            let left = range_hash(slots, present, leaves, start, half);
            let right = range_hash(slots, present, leaves, start + half, half);
            internal_hash(&Hash32(left), &Hash32(right)).0
        }
    }
}

/// One step of a proof's walk through an internal node: pushes the sibling hashes of
/// the four binary levels inside the node on the way to `nibble`, top first, and gives
/// the slot the walk goes on to, or `None` where the key's place is empty.
///
/// As jmt's `get_only_child_with_siblings`: the walk stops early at a range holding a
/// single leaf, which is then the leaf the proof ends at (the key's own or, for a
/// non-inclusion proof, the one leaf in the subtree where the key would be). Every
/// sibling hash comes from the node's own child entries; jmt instead reads the node of
/// the lowest sibling and hashes its halves again.
fn child_on_path(
    slots: &[Option<ChildEntry>; 16],
    nibble: u8,
    siblings: &mut Vec<Hash32>,
) -> Option<usize> {
    let (present, leaves) = slot_bitmaps(slots);
    for height in (0..4).rev() {
        let width = 1usize << height;
        let child_start = usize::from(nibble) & !(width - 1);
        let sibling_start = child_start ^ width;
        let sibling = range_hash(slots, present, leaves, sibling_start, width);
        siblings.push(Hash32(sibling));
        match slot_range(present, leaves, child_start, width) {
            SlotRange::Empty => return None,
            SlotRange::Single(slot) => return Some(slot),
            SlotRange::Split => {}
        }
    }
    // A range of width 1 (height 0) is never split.
    None
}

/// The hash of a node as its parent records it.
fn node_hash(node: &NodeView) -> Result<Hash32, StateTreeError> {
    Ok(match node {
        NodeView::Internal(slots) => {
            let (present, leaves) = slot_bitmaps(slots);
            Hash32(range_hash(slots, present, leaves, 0, 16))
        }
        NodeView::Leaf(leaf) => StateProofLeaf::of(leaf)?.hash(),
        NodeView::Null => PLACEHOLDER_HASH,
    })
}

impl StateProof {
    /// Checks that, in the tree with root `root`, `key` holds `value` (`Some`) or holds
    /// nothing (`None`).
    ///
    /// Steps: (1) at most 256 siblings; (2) match the claim against the leaf: inclusion
    /// needs the leaf's key to be `key` and its value hash to be `sha256(value)`;
    /// absence needs no leaf, or a leaf of another key sharing at least
    /// `siblings.len()` leading bits with `key`; (3) hash up from the leaf (or the
    /// placeholder) with the siblings, as described in the module docs, and compare
    /// with `root`.
    pub fn verify(
        &self,
        root: &Hash32,
        key: &Hash32,
        value: Option<&[u8]>,
    ) -> Result<(), StateProofError> {
        if self.siblings.len() > MAX_PROOF_SIBLINGS {
            return Err(StateProofError::TooManySiblings {
                count: self.siblings.len(),
            });
        }
        match (value, &self.leaf) {
            (Some(value), Some(leaf)) => {
                if leaf.key_hash != *key {
                    return Err(StateProofError::KeyMismatch {
                        proof_key: leaf.key_hash,
                        key: *key,
                    });
                }
                let actual = sha256(&[value]);
                if actual != leaf.value_hash {
                    return Err(StateProofError::ValueMismatch {
                        expected: leaf.value_hash,
                        actual,
                    });
                }
            }
            (Some(_), None) => return Err(StateProofError::ExpectedInclusion),
            (None, Some(leaf)) => {
                if leaf.key_hash == *key {
                    return Err(StateProofError::KeyPresent);
                }
                // The leaf must be the only one in the subtree the key would fall into,
                // i.e. share the whole path down to where the proof ends.
                if common_prefix_bits(key, &leaf.key_hash) < self.siblings.len() {
                    return Err(StateProofError::LeafOffPath);
                }
            }
            (None, None) => {}
        }
        let computed = self.root_for(key);
        if computed != *root {
            return Err(StateProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        Ok(())
    }

    /// The root this proof hashes to along `key`'s path (no other check). Callers check
    /// at most [`MAX_PROOF_SIBLINGS`] siblings first; extra ones are ignored here.
    pub fn root_for(&self, key: &Hash32) -> Hash32 {
        let depth = self.siblings.len().min(MAX_PROOF_SIBLINGS);
        let mut hash = self.leaf.map_or(PLACEHOLDER_HASH, |leaf| leaf.hash());
        for (i, sibling) in self.siblings.iter().take(depth).enumerate() {
            let bit_index = depth - 1 - i;
            hash = if key_bit(key, bit_index) {
                internal_hash(sibling, &hash)
            } else {
                internal_hash(&hash, sibling)
            };
        }
        hash
    }
}

// ---------------------------------------------------------------------------------
// Conversion from jmt's proof
// ---------------------------------------------------------------------------------

// jmt keeps the fields of `SparseMerkleProof` and its node type crate-private but
// derives serde for them; these mirrors have the same serde shape, so a jmt proof is
// read by encoding it with our codec and decoding the mirror. A change of jmt's layout
// makes the decode fail (a typed error, and the tests below), never a silent misread.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JmtLeafMirror {
    pub(crate) key_hash: Hash32,
    pub(crate) value_hash: Hash32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JmtInternalMirror {
    pub(crate) left_child: Hash32,
    pub(crate) right_child: Hash32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JmtNodeMirror {
    Null,
    Internal(JmtInternalMirror),
    Leaf(JmtLeafMirror),
}

impl JmtNodeMirror {
    fn hash(&self) -> Hash32 {
        match self {
            JmtNodeMirror::Null => PLACEHOLDER_HASH,
            JmtNodeMirror::Internal(node) => internal_hash(&node.left_child, &node.right_child),
            JmtNodeMirror::Leaf(leaf) => StateProofLeaf {
                key_hash: leaf.key_hash,
                value_hash: leaf.value_hash,
            }
            .hash(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JmtProofMirror {
    pub(crate) leaf: Option<JmtLeafMirror>,
    pub(crate) siblings: Vec<JmtNodeMirror>,
    pub(crate) phantom_hasher: PhantomData<()>,
}

impl JmtProofMirror {
    pub(crate) fn from_jmt(
        proof: &jmt::proof::SparseMerkleProof<Sha256>,
    ) -> Result<Self, StateTreeError> {
        codec::decode(&codec::encode(proof))
            .map_err(|e| StateTreeError::Tree(format!("unexpected jmt proof layout: {e}")))
    }

    pub(crate) fn to_state_proof(&self) -> StateProof {
        StateProof {
            leaf: self.leaf.map(|leaf| StateProofLeaf {
                key_hash: leaf.key_hash,
                value_hash: leaf.value_hash,
            }),
            siblings: self.siblings.iter().map(JmtNodeMirror::hash).collect(),
        }
    }
}

impl StateProof {
    /// Our form of a jmt proof: the same leaf, and each sibling node replaced by its hash.
    pub fn from_jmt(
        proof: &jmt::proof::SparseMerkleProof<Sha256>,
    ) -> Result<StateProof, StateTreeError> {
        Ok(JmtProofMirror::from_jmt(proof)?.to_state_proof())
    }
}

// ---------------------------------------------------------------------------------
// The tree over a store
// ---------------------------------------------------------------------------------

/// A failure of the state tree: storage trouble or a broken tree on disk.
#[derive(Debug, thiserror::Error)]
pub enum StateTreeError {
    /// The store failed to read.
    #[error("state store: {0}")]
    Store(String),
    /// jmt reported an error (a missing node, a version out of order).
    #[error("state tree: {0}")]
    Tree(String),
    /// There is no tree at this version (never written, or pruned).
    #[error("no state tree at version {0}")]
    MissingVersion(Version),
}

/// A stored node as a tree update reads it: an internal node's children by slot (each
/// its hash, the version that wrote it and, if internal, its leaf count), or a leaf.
///
/// The slots are held inline (about 900 bytes, on the stack of the update that reads
/// the node): boxing them would put back the allocation per node read that this type
/// exists to avoid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum NodeView {
    /// An internal node's 16 child slots.
    Internal([Option<ChildEntry>; 16]),
    /// A leaf.
    Leaf(LeafNode),
    /// The null node (the root of an empty tree).
    Null,
}

/// The nodes and values one version of the state tree writes, in their stored form
/// ([`crate::store::encode_state_node`], [`crate::store::encode_state_value`]): what a
/// commit puts in its write batch, and what the chain keeps of its last commits for the
/// next updates to read. A tree update builds the stored bytes of its nodes directly,
/// so neither a jmt node nor a second encoding stands between it and the disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeBatch {
    version: Version,
    /// Every node's key and stored bytes, sorted by key, no repeats.
    nodes: Vec<(NodeKey, Vec<u8>)>,
    /// [`packed_node_key`] of each node, in the same order: what [`Self::node`] searches
    /// (a search over the keys themselves compared two byte vectors at every step: about
    /// 5% of a node's CPU in the 4-node bench, 3% in the apply bench).
    index: Vec<u128>,
    /// Every key written and its new value (`None`: deleted), sorted by key.
    values: Vec<(Hash32, Option<Vec<u8>>)>,
}

/// Nibbles of a path that [`packed_node_key`] holds: every path of a tree of fewer than
/// about 16^30 keys, so in practice all of them.
const PACKED_NIBBLES: usize = 30;

/// A node key within its version packed in 128 bits, ordered as the keys are: the
/// path's nibble count in the top byte, then the path's first [`PACKED_NIBBLES`]
/// nibbles. Exact for paths no longer than that; longer paths that agree on their first
/// nibbles pack alike (and are then told apart by their keys).
fn packed_node_key(key: &NodeKey) -> u128 {
    let path = key.nibble_path();
    let nibbles = path.num_nibbles();
    // A path is at most 64 nibbles long.
    let mut packed = u128::from(u8::try_from(nibbles).unwrap_or(u8::MAX)) << 120;
    for i in 0..nibbles.min(PACKED_NIBBLES) {
        packed |= u128::from(u8::from(path.get_nibble(i))) << (116 - 4 * i);
    }
    packed
}

impl TreeBatch {
    /// The version every node and value of the batch was written at.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The nodes: key and stored bytes, in key order.
    pub fn nodes(&self) -> &[(NodeKey, Vec<u8>)] {
        &self.nodes
    }

    /// The values: key and new value (`None`: deleted), in key order.
    pub fn values(&self) -> &[(Hash32, Option<Vec<u8>>)] {
        &self.values
    }

    /// A batch of `version` with these nodes and values, each sorted by key.
    fn new(
        version: Version,
        nodes: Vec<(NodeKey, Vec<u8>)>,
        values: Vec<(Hash32, Option<Vec<u8>>)>,
    ) -> Self {
        let index = nodes.iter().map(|(key, _)| packed_node_key(key)).collect();
        TreeBatch {
            version,
            nodes,
            index,
            values,
        }
    }

    /// The stored bytes of the node under `key`, if the batch wrote it.
    pub fn node(&self, key: &NodeKey) -> Option<&[u8]> {
        if key.version() != self.version {
            return None;
        }
        let packed = packed_node_key(key);
        let first = self.index.partition_point(|at| *at < packed);
        self.index[first..]
            .iter()
            .take_while(|at| **at == packed)
            .zip(&self.nodes[first..])
            .find(|(_, (k, _))| k == key)
            .map(|(_, (_, bytes))| bytes.as_slice())
    }

    /// jmt's batch for `version`, in stored form.
    fn from_jmt(batch: NodeBatch, version: Version) -> Result<Self, StateTreeError> {
        let nodes = batch
            .nodes()
            .iter()
            .map(|(key, node)| (key.clone(), encode_state_node(node)))
            .collect();
        let values = batch
            .values()
            .iter()
            .map(|((at, key), value)| {
                if *at == version {
                    Ok((Hash32(key.0), value.clone()))
                } else {
                    Err(StateTreeError::Tree(format!(
                        "jmt wrote a value at version {at} for version {version}"
                    )))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(TreeBatch::new(version, nodes, values))
    }
}

impl NodeView {
    /// The view of `node`.
    pub fn of(node: &Node) -> NodeView {
        match node {
            Node::Internal(internal) => {
                let mut slots = [None; 16];
                for (nibble, child) in internal.children_sorted() {
                    let leaves = (!child.is_leaf()).then(|| child.leaf_count() as u64);
                    slots[usize::from(u8::from(nibble))] =
                        Some((child.hash, child.version, leaves));
                }
                NodeView::Internal(slots)
            }
            Node::Leaf(leaf) => NodeView::Leaf(leaf.clone()),
            Node::Null => NodeView::Null,
        }
    }
    /// The jmt node this is the view of.
    pub fn to_node(&self) -> Result<Node, StateTreeError> {
        Ok(match self {
            NodeView::Internal(children) => crate::store::internal_node(children)?,
            NodeView::Leaf(leaf) => Node::Leaf(leaf.clone()),
            NodeView::Null => Node::Null,
        })
    }
}

/// What the state tree needs to read from a store. Implemented by the stores in
/// [`crate::store`] and by anything else that can serve nodes and values.
pub trait TreeStore {
    /// The node under `key`, if any.
    fn state_node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError>;
    /// The node under `key` as a tree update reads it ([`NodeView`]); a store that holds
    /// nodes in memory can give it without copying the node.
    fn state_node_view(&self, key: &NodeKey) -> Result<Option<NodeView>, StateTreeError> {
        Ok(self.state_node(key)?.as_ref().map(NodeView::of))
    }
    /// The node under `key` for a read of the tree (a proof, a root) rather than an
    /// update: as [`Self::state_node_view`], but a store that caches the nodes such
    /// reads come back to (the upper levels every proof passes) serves and fills its
    /// cache here.
    fn read_node_view(&self, key: &NodeKey) -> Result<Option<NodeView>, StateTreeError> {
        self.state_node_view(key)
    }
    /// The value of `key` as of `max_version`: the newest write at or before it,
    /// `None` if never written or deleted by then.
    fn state_value(
        &self,
        key: &Hash32,
        max_version: Version,
    ) -> Result<Option<Vec<u8>>, StateTreeError>;
}

/// Adapts a [`TreeStore`] to jmt's reader trait.
struct JmtReader<'a, S: ?Sized>(&'a S);

impl<S: TreeStore + ?Sized> TreeReader for JmtReader<'_, S> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.0.state_node(node_key)?)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.0.state_value(&Hash32(key_hash.0), max_version)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only jmt's state-sync restore calls this, and tongban syncs by replaying
        // blocks, not by restoring trees; refusing is safer than a slow full scan.
        anyhow::bail!("tongban does not support jmt restore (get_rightmost_leaf)")
    }
}

/// The state tree over a store: reads at any stored version, computes new versions.
#[derive(Debug)]
pub struct StateTree<'a, S: ?Sized> {
    store: &'a S,
}

fn tree_error(e: anyhow::Error) -> StateTreeError {
    StateTreeError::Tree(format!("{e:#}"))
}

impl<'a, S: TreeStore + ?Sized> StateTree<'a, S> {
    /// The tree over `store`.
    pub fn new(store: &'a S) -> Self {
        StateTree { store }
    }

    /// Applies one block's changes as `version` on top of `version - 1` (or the empty
    /// tree, for version 0). Returns the new root and the nodes and values to write in
    /// the block's write batch; the store is not touched. Computing twice on the same
    /// base (two proposals in two rounds) is fine: only the committed batch is written.
    ///
    /// Genesis, deletions and empty changes go through jmt's one-by-one update; every
    /// other block through [`update`], which gives the same nodes as jmt's batch update.
    pub fn apply(
        &self,
        changes: &StateChanges,
        version: Version,
    ) -> Result<(Hash32, TreeBatch), StateTreeError> {
        let has_deletions = changes.values().any(Option::is_none);
        if changes.is_empty() || has_deletions || version == 0 {
            let reader = JmtReader(self.store);
            let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
            let value_set = changes
                .iter()
                .map(|(key, value)| (KeyHash(key.0), value.clone()));
            let (root, update) = tree.put_value_set(value_set, version).map_err(tree_error)?;
            return Ok((
                Hash32(root.0),
                TreeBatch::from_jmt(update.node_batch, version)?,
            ));
        }
        // Inserts and updates only (every block after genesis but a rare few): our own
        // walk over jmt's layout, which writes exactly jmt's nodes (ADR 0020).
        let kvs: Vec<update::KeyValueHash> = changes
            .iter()
            .filter_map(|(key, value)| value.as_ref().map(|v| (*key, sha256(&[v]))))
            .collect();
        let (root, nodes) = update::put_sorted(self.store, &kvs, version)?;
        let values = changes
            .iter()
            .map(|(key, value)| (*key, value.clone()))
            .collect();
        Ok((root, TreeBatch::new(version, nodes, values)))
    }

    /// The root at `version`, or `None` if that version was never written.
    pub fn root(&self, version: Version) -> Result<Option<Hash32>, StateTreeError> {
        self.store
            .read_node_view(&node_key_at(version, &[]))?
            .map(|root| node_hash(&root))
            .transpose()
    }

    /// The value of `key` at `version`.
    pub fn get(&self, key: &Hash32, version: Version) -> Result<Option<Vec<u8>>, StateTreeError> {
        // jmt's `get` walks the tree and would read a stale value for a version that was
        // never written; check the version exists first.
        if self.root(version)?.is_none() {
            return Err(StateTreeError::MissingVersion(version));
        }
        let reader = JmtReader(self.store);
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
        tree.get(KeyHash(key.0), version).map_err(tree_error)
    }

    /// The value of `key` at `version` with a proof against that version's root.
    ///
    /// The walk of jmt's `get_with_proof` down the key's path, giving the same proof
    /// (`tests::proofs_are_jmts`), over the nodes as [`NodeView`]s: each sibling hash
    /// comes from the child entries of the node on the path ([`child_on_path`]), so a
    /// proof reads the nodes on its path and nothing else.
    pub fn get_with_proof(
        &self,
        key: &Hash32,
        version: Version,
    ) -> Result<(Option<Vec<u8>>, StateProof), StateTreeError> {
        let mut path = Vec::with_capacity(8);
        let mut node = self
            .store
            .read_node_view(&node_key_at(version, &path))?
            .ok_or(StateTreeError::MissingVersion(version))?;
        // Top first while walking down; a proof lists them bottom first.
        let mut siblings = Vec::with_capacity(32);
        let proof = |leaf, mut siblings: Vec<Hash32>| {
            siblings.reverse();
            StateProof { leaf, siblings }
        };
        loop {
            let slots = match node {
                NodeView::Internal(slots) => slots,
                NodeView::Null if path.is_empty() => return Ok((None, proof(None, siblings))),
                NodeView::Null => {
                    return Err(StateTreeError::Tree(format!(
                        "a null node below the root of version {version}, at path {path:x?}"
                    )))
                }
                NodeView::Leaf(leaf) => {
                    let leaf = StateProofLeaf::of(&leaf)?;
                    let value = if leaf.key_hash == *key {
                        Some(self.leaf_value(&leaf, version)?)
                    } else {
                        None
                    };
                    return Ok((value, proof(Some(leaf), siblings)));
                }
            };
            if path.len() == 64 {
                return Err(StateTreeError::Tree(format!(
                    "an internal node at depth 64 in version {version}"
                )));
            }
            let Some(slot) = child_on_path(&slots, nibble_at(key, path.len()), &mut siblings)
            else {
                return Ok((None, proof(None, siblings)));
            };
            let Some((_, child_version, _)) = slots[slot] else {
                unreachable!("child_on_path gives a present slot");
            };
            path.push(slot as u8);
            let child = node_key_at(child_version, &path);
            node = self.store.read_node_view(&child)?.ok_or_else(|| {
                StateTreeError::Tree(format!("missing node {child:?} of version {version}"))
            })?;
        }
    }

    /// The value of the key of `leaf` at `version`, which must be the value the leaf
    /// holds the hash of.
    fn leaf_value(
        &self,
        leaf: &StateProofLeaf,
        version: Version,
    ) -> Result<Vec<u8>, StateTreeError> {
        let value = self
            .store
            .state_value(&leaf.key_hash, version)?
            .ok_or_else(|| {
                StateTreeError::Tree(format!(
                    "the tree of version {version} holds {} but the store has no value",
                    leaf.key_hash
                ))
            })?;
        let actual = sha256(&[&value]);
        if actual != leaf.value_hash {
            return Err(StateTreeError::Tree(format!(
                "the value of {} hashes to {actual}, its leaf holds {}",
                leaf.key_hash, leaf.value_hash
            )));
        }
        Ok(value)
    }

    /// As [`StateTree::get_with_proof`], with jmt's own proof type (for cross-checks).
    pub fn get_with_jmt_proof(
        &self,
        key: &Hash32,
        version: Version,
    ) -> Result<(Option<Vec<u8>>, jmt::proof::SparseMerkleProof<Sha256>), StateTreeError> {
        if self.root(version)?.is_none() {
            return Err(StateTreeError::MissingVersion(version));
        }
        let reader = JmtReader(self.store);
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
        tree.get_with_proof(KeyHash(key.0), version)
            .map_err(tree_error)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::Store as _;
    use crate::store::StoreBatch;

    fn key(i: u32) -> Hash32 {
        sha256(&[b"test-key", &i.to_le_bytes()])
    }

    /// Applies `changes` as `version` and writes the batch.
    fn commit(store: &MemoryStore, changes: &StateChanges, version: Version) -> Hash32 {
        let (root, nodes) = StateTree::new(store)
            .apply(changes, version)
            .expect("apply");
        let mut batch = StoreBatch::default();
        batch.put_state_nodes(&nodes);
        store.write(&batch).expect("write");
        root
    }

    fn jmt_verify(
        proof: &jmt::proof::SparseMerkleProof<Sha256>,
        root: &Hash32,
        key: &Hash32,
        value: Option<&[u8]>,
    ) -> bool {
        proof
            .verify(jmt::RootHash(root.0), KeyHash(key.0), value)
            .is_ok()
    }

    #[test]
    fn empty_tree_root_is_the_placeholder() {
        let store = MemoryStore::new();
        let root = commit(&store, &StateChanges::new(), 0);
        assert_eq!(root, PLACEHOLDER_HASH);
        let (value, proof) = StateTree::new(&store)
            .get_with_proof(&key(1), 0)
            .expect("proof");
        assert_eq!(value, None);
        assert_eq!(proof.verify(&root, &key(1), None), Ok(()));
    }

    #[test]
    fn versions_keep_history_and_deletes_work() {
        let store = MemoryStore::new();
        let mut changes = StateChanges::new();
        changes.insert(key(1), Some(b"one".to_vec()));
        changes.insert(key(2), Some(b"two".to_vec()));
        let root0 = commit(&store, &changes, 0);

        let mut changes = StateChanges::new();
        changes.insert(key(1), Some(b"uno".to_vec()));
        changes.insert(key(2), None);
        let root1 = commit(&store, &changes, 1);
        // An empty block still makes a new version with the same root.
        let root2 = commit(&store, &StateChanges::new(), 2);
        assert_ne!(root0, root1);
        assert_eq!(root1, root2);

        let tree = StateTree::new(&store);
        assert_eq!(tree.get(&key(1), 0).expect("get"), Some(b"one".to_vec()));
        assert_eq!(tree.get(&key(2), 0).expect("get"), Some(b"two".to_vec()));
        assert_eq!(tree.get(&key(1), 2).expect("get"), Some(b"uno".to_vec()));
        assert_eq!(tree.get(&key(2), 1).expect("get"), None);
        assert!(matches!(
            tree.get(&key(1), 3),
            Err(StateTreeError::MissingVersion(3))
        ));

        // Historical proofs verify against historical roots only.
        let (value, proof) = tree.get_with_proof(&key(2), 0).expect("proof");
        assert_eq!(value.as_deref(), Some(&b"two"[..]));
        assert_eq!(proof.verify(&root0, &key(2), Some(b"two")), Ok(()));
        assert!(proof.verify(&root1, &key(2), Some(b"two")).is_err());
        let (value, proof) = tree.get_with_proof(&key(2), 1).expect("proof");
        assert_eq!(value, None);
        assert_eq!(proof.verify(&root1, &key(2), None), Ok(()));
        assert!(proof.verify(&root1, &key(2), Some(b"two")).is_err());
    }

    #[test]
    fn proof_errors_are_specific() {
        let store = MemoryStore::new();
        let mut changes = StateChanges::new();
        for i in 0..50 {
            changes.insert(key(i), Some(i.to_le_bytes().to_vec()));
        }
        let root = commit(&store, &changes, 0);
        let tree = StateTree::new(&store);
        let (_, proof) = tree.get_with_proof(&key(7), 0).expect("proof");
        let seven = 7u32.to_le_bytes();
        assert_eq!(proof.verify(&root, &key(7), Some(&seven)), Ok(()));
        assert!(matches!(
            proof.verify(&root, &key(7), Some(b"x")),
            Err(StateProofError::ValueMismatch { .. })
        ));
        assert_eq!(
            proof.verify(&root, &key(7), None),
            Err(StateProofError::KeyPresent)
        );
        assert!(matches!(
            proof.verify(&root, &key(8), Some(&seven)),
            Err(StateProofError::KeyMismatch { .. })
        ));
        assert!(matches!(
            proof.verify(&Hash32([1; 32]), &key(7), Some(&seven)),
            Err(StateProofError::RootMismatch { .. })
        ));
        let mut bad = proof.clone();
        bad.siblings[0].0[0] ^= 1;
        assert!(matches!(
            bad.verify(&root, &key(7), Some(&seven)),
            Err(StateProofError::RootMismatch { .. })
        ));
        let mut long = proof.clone();
        long.siblings = vec![PLACEHOLDER_HASH; MAX_PROOF_SIBLINGS + 1];
        assert_eq!(
            long.verify(&root, &key(7), Some(&seven)),
            Err(StateProofError::TooManySiblings { count: 257 })
        );
        let (_, absent) = tree.get_with_proof(&key(1000), 0).expect("proof");
        assert_eq!(absent.verify(&root, &key(1000), None), Ok(()));
        assert!(absent.verify(&root, &key(1000), Some(b"x")).is_err());
    }

    #[test]
    fn proof_size_is_logarithmic() {
        let store = MemoryStore::new();
        let changes: StateChanges = (0..4096u32).map(|i| (key(i), Some(vec![1]))).collect();
        let root = commit(&store, &changes, 0);
        let tree = StateTree::new(&store);
        for i in (0..4096u32).step_by(97) {
            let (_, proof) = tree.get_with_proof(&key(i), 0).expect("proof");
            assert_eq!(proof.verify(&root, &key(i), Some(&[1])), Ok(()));
            // log2(4096) = 12 bits; leaf lifting ends most paths within a nibble or two
            // of that, never near the 256 of an unsorted Merkle tree.
            assert!(
                proof.siblings.len() <= 24,
                "{} siblings",
                proof.siblings.len()
            );
        }
    }

    #[test]
    fn json_is_hex() {
        let proof = StateProof {
            leaf: Some(StateProofLeaf {
                key_hash: Hash32([0xab; 32]),
                value_hash: Hash32([0xcd; 32]),
            }),
            siblings: vec![PLACEHOLDER_HASH],
        };
        let json = serde_json::to_string(&proof).expect("json");
        assert_eq!(
            json,
            format!(
                "{{\"leaf\":{{\"key_hash\":\"{}\",\"value_hash\":\"{}\"}},\"siblings\":[\"{}\"]}}",
                "ab".repeat(32),
                "cd".repeat(32),
                hex::encode(PLACEHOLDER_HASH.0)
            )
        );
        let back: StateProof = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, proof);
    }

    #[test]
    fn mirror_reads_jmt_layout_exactly() {
        let store = MemoryStore::new();
        let changes: StateChanges = (0..300u32).map(|i| (key(i), Some(vec![i as u8]))).collect();
        commit(&store, &changes, 0);
        let tree = StateTree::new(&store);
        for probe in [key(3), key(299), key(5000)] {
            let (_, proof) = tree.get_with_jmt_proof(&probe, 0).expect("proof");
            let mirror = JmtProofMirror::from_jmt(&proof).expect("mirror");
            // Re-encoding the mirror gives jmt's bytes back: no field was skipped.
            assert_eq!(codec::encode(&mirror), codec::encode(&proof));
        }
    }

    /// A change to apply to a proof before both verifiers judge it.
    #[derive(Debug, Clone)]
    enum Tamper {
        None,
        FlipSiblingByte(usize, usize),
        DropSibling(usize),
        AddNullSibling,
        DropLeaf,
        FlipLeafKey(usize),
        FlipLeafValue(usize),
    }

    fn tamper_strategy() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            3 => Just(Tamper::None),
            1 => (any::<usize>(), 0usize..32).prop_map(|(i, b)| Tamper::FlipSiblingByte(i, b)),
            1 => any::<usize>().prop_map(Tamper::DropSibling),
            1 => Just(Tamper::AddNullSibling),
            1 => Just(Tamper::DropLeaf),
            1 => (0usize..32).prop_map(Tamper::FlipLeafKey),
            1 => (0usize..32).prop_map(Tamper::FlipLeafValue),
        ]
    }

    fn apply_tamper(mirror: &mut JmtProofMirror, tamper: &Tamper) {
        match *tamper {
            Tamper::None => {}
            Tamper::FlipSiblingByte(i, b) => {
                if !mirror.siblings.is_empty() {
                    let n = mirror.siblings.len();
                    // Replace the sibling by a leaf with a changed hash input.
                    let sibling = &mut mirror.siblings[i % n];
                    *sibling = match *sibling {
                        JmtNodeMirror::Null => JmtNodeMirror::Leaf(JmtLeafMirror {
                            key_hash: Hash32([b as u8; 32]),
                            value_hash: Hash32([0; 32]),
                        }),
                        JmtNodeMirror::Internal(mut node) => {
                            node.left_child.0[b] ^= 1;
                            JmtNodeMirror::Internal(node)
                        }
                        JmtNodeMirror::Leaf(mut leaf) => {
                            leaf.value_hash.0[b] ^= 1;
                            JmtNodeMirror::Leaf(leaf)
                        }
                    };
                }
            }
            Tamper::DropSibling(i) => {
                if !mirror.siblings.is_empty() {
                    let n = mirror.siblings.len();
                    mirror.siblings.remove(i % n);
                }
            }
            Tamper::AddNullSibling => mirror.siblings.push(JmtNodeMirror::Null),
            Tamper::DropLeaf => mirror.leaf = None,
            Tamper::FlipLeafKey(b) => {
                if let Some(leaf) = &mut mirror.leaf {
                    leaf.key_hash.0[b] ^= 0x80;
                }
            }
            Tamper::FlipLeafValue(b) => {
                if let Some(leaf) = &mut mirror.leaf {
                    leaf.value_hash.0[b] ^= 1;
                }
            }
        }
    }

    /// Applies `blocks` one version each, with jmt's one-by-one path only.
    fn one_by_one(blocks: &[StateChanges]) -> (MemoryStore, Vec<Hash32>) {
        let store = MemoryStore::new();
        let mut roots = Vec::new();
        for (version, changes) in blocks.iter().enumerate() {
            let reader = JmtReader(&store);
            let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
            let set = changes.iter().map(|(k, v)| (KeyHash(k.0), v.clone()));
            let (root, update) = tree.put_value_set(set, version as u64).expect("put");
            let mut batch = StoreBatch::default();
            batch.put_state_nodes(
                &TreeBatch::from_jmt(update.node_batch, version as u64).expect("batch"),
            );
            store.write(&batch).expect("write");
            roots.push(Hash32(root.0));
        }
        (store, roots)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// `apply` (batch path for insert-only blocks) builds exactly the tree that
        /// jmt's one-by-one path builds: same roots and same proofs at every version.
        #[test]
        fn batch_and_one_by_one_agree(
            blocks in proptest::collection::vec(
                (
                    any::<bool>(),
                    proptest::collection::btree_map(
                        0u32..400,
                        proptest::option::weighted(0.85, proptest::collection::vec(any::<u8>(), 0..4)),
                        0..60,
                    ),
                ),
                1..6,
            ),
        ) {
            // Half the blocks are insert-only (the batch path), the rest mix deletions in.
            let blocks: Vec<StateChanges> = blocks
                .iter()
                .map(|(insert_only, b)| {
                    b.iter()
                        .map(|(i, v)| {
                            let v = if *insert_only { Some(v.clone().unwrap_or_default()) } else { v.clone() };
                            (key(*i), v)
                        })
                        .collect()
                })
                .collect();
            let (reference, roots) = one_by_one(&blocks);
            let store = MemoryStore::new();
            for (version, changes) in blocks.iter().enumerate() {
                let root = commit(&store, changes, version as u64);
                prop_assert_eq!(root, roots[version]);
            }
            let last = blocks.len() as u64 - 1;
            for i in (0u32..400).step_by(37) {
                let ours = StateTree::new(&store).get_with_proof(&key(i), last).expect("proof");
                let theirs = StateTree::new(&reference).get_with_proof(&key(i), last).expect("proof");
                prop_assert_eq!(ours, theirs);
            }
        }
    }

    #[test]
    fn a_value_that_is_not_its_leafs_is_refused() {
        let store = MemoryStore::new();
        let changes: StateChanges = (0..50).map(|i| (key(i), Some(vec![i as u8; 3]))).collect();
        let root = commit(&store, &changes, 0);
        let tree = StateTree::new(&store);
        let (value, proof) = tree.get_with_proof(&key(7), 0).expect("proof");
        assert_eq!(value, Some(vec![7; 3]));
        assert_eq!(proof.verify(&root, &key(7), value.as_deref()), Ok(()));
        // The value column changed under the tree (a corrupt or tampered store).
        let mut batch = StoreBatch::default();
        batch.put(
            crate::store::Column::StateValues,
            crate::store::value_key(&key(7), 0).to_vec(),
            crate::store::encode_state_value(Some(&[9, 9, 9])),
        );
        store.write(&batch).expect("write");
        let error = tree
            .get_with_proof(&key(7), 0)
            .expect_err("a value its leaf does not hold");
        assert!(
            matches!(&error, StateTreeError::Tree(why) if why.contains("hashes to")),
            "{error}"
        );
        // Other keys are unaffected.
        assert!(tree.get_with_proof(&key(8), 0).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Our walk gives jmt's proof, and value, for every key (present, absent under an
        /// empty slot, absent beside a lone leaf) at every version of a tree grown over
        /// several blocks, deletions among them, and jmt's root.
        #[test]
        fn proofs_are_jmts(
            blocks in proptest::collection::vec(
                proptest::collection::btree_map(
                    0u32..600,
                    proptest::option::weighted(0.9, proptest::collection::vec(any::<u8>(), 0..4)),
                    0..120,
                ),
                1..5,
            ),
        ) {
            let store = MemoryStore::new();
            let mut roots = Vec::new();
            for (version, block) in blocks.iter().enumerate() {
                let changes: StateChanges = block.iter().map(|(i, v)| (key(*i), v.clone())).collect();
                roots.push(commit(&store, &changes, version as u64));
            }
            let tree = StateTree::new(&store);
            for (version, root) in roots.iter().enumerate() {
                let version = version as u64;
                let reader = JmtReader(&store);
                let jmt_root = JellyfishMerkleTree::<_, Sha256>::new(&reader)
                    .get_root_hash(version)
                    .expect("jmt root");
                prop_assert_eq!(tree.root(version).expect("root"), Some(Hash32(jmt_root.0)));
                prop_assert_eq!(tree.root(version).expect("root"), Some(*root));
                for i in (0u32..600).step_by(7) {
                    let (value, proof) = tree.get_with_proof(&key(i), version).expect("proof");
                    let (jmt_value, jmt_proof) = tree.get_with_jmt_proof(&key(i), version).expect("jmt proof");
                    prop_assert_eq!(&value, &jmt_value);
                    prop_assert_eq!(&proof, &StateProof::from_jmt(&jmt_proof).expect("ours"));
                    prop_assert_eq!(proof.verify(root, &key(i), value.as_deref()), Ok(()));
                }
            }
            prop_assert!(matches!(
                tree.get_with_proof(&key(0), roots.len() as u64),
                Err(StateTreeError::MissingVersion(_))
            ));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Our verifier and jmt's accept and refuse exactly the same proofs: inclusion
        /// and non-inclusion, honest and tampered, with the right and the wrong value.
        #[test]
        fn our_verify_agrees_with_jmt(
            entries in proptest::collection::btree_map(0u32..2000, proptest::collection::vec(any::<u8>(), 0..8), 0..200),
            probes in proptest::collection::vec(0u32..2000, 1..8),
            claim_other_value in any::<bool>(),
            tamper in tamper_strategy(),
        ) {
            let store = MemoryStore::new();
            let changes: StateChanges = entries
                .iter()
                .map(|(i, v)| (key(*i), Some(v.clone())))
                .collect();
            let root = commit(&store, &changes, 0);
            let tree = StateTree::new(&store);
            let values: BTreeMap<Hash32, Vec<u8>> =
                entries.iter().map(|(i, v)| (key(*i), v.clone())).collect();
            for probe in probes {
                let k = key(probe);
                let (value, jmt_proof) = tree.get_with_jmt_proof(&k, 0).expect("proof");
                prop_assert_eq!(value.as_ref(), values.get(&k));
                let mut mirror = JmtProofMirror::from_jmt(&jmt_proof).expect("mirror");
                apply_tamper(&mut mirror, &tamper);
                let tampered: jmt::proof::SparseMerkleProof<Sha256> =
                    codec::decode(&codec::encode(&mirror)).expect("back to jmt");
                let ours = mirror.to_state_proof();
                let other = [0xEEu8];
                let claims: [Option<&[u8]>; 3] = [
                    value.as_deref(),
                    None,
                    Some(if claim_other_value { &other[..] } else { &[][..] }),
                ];
                for claim in claims {
                    let ours_ok = ours.verify(&root, &k, claim).is_ok();
                    let jmt_ok = jmt_verify(&tampered, &root, &k, claim);
                    prop_assert_eq!(ours_ok, jmt_ok, "claim {:?} tamper {:?}", claim, tamper);
                }
                // The honest proof of the true value always verifies.
                let honest = JmtProofMirror::from_jmt(&jmt_proof).expect("mirror").to_state_proof();
                prop_assert_eq!(honest.verify(&root, &k, value.as_deref()), Ok(()));
            }
        }
    }

    proptest! {
        /// `TreeBatch::node` finds exactly the batch's nodes: paths of every length, many
        /// of them longer than the packed key holds and alike in their first nibbles.
        #[test]
        fn a_batch_finds_exactly_its_nodes(
            stem in proptest::collection::vec(0u8..16, 40),
            tails in proptest::collection::vec(proptest::collection::vec(0u8..16, 0..=34), 1..60),
            lengths in proptest::collection::vec(0usize..=64, 1..60),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..16, 0..=64), 0..40),
        ) {
            let version = 7;
            // Paths on a shared 30-nibble stem, and paths of random lengths.
            let mut paths: Vec<Vec<u8>> = tails
                .iter()
                .map(|tail| stem[..30].iter().chain(tail).copied().collect())
                .collect();
            paths.extend(lengths.iter().map(|&n| {
                (0..n).map(|i| stem[i % stem.len()] ^ (n as u8 & 15)).collect()
            }));
            let mut nodes: Vec<(NodeKey, Vec<u8>)> = paths
                .iter()
                .map(|p| (node_key_at(version, p), p.clone()))
                .collect();
            nodes.sort_by(|a, b| a.0.cmp(&b.0));
            nodes.dedup_by(|a, b| a.0 == b.0);
            let batch = TreeBatch::new(version, nodes.clone(), Vec::new());
            for (key, bytes) in &nodes {
                prop_assert_eq!(batch.node(key), Some(bytes.as_slice()));
                let other_version = NodeKey::new(version + 1, key.nibble_path().clone());
                prop_assert_eq!(batch.node(&other_version), None);
            }
            let expected: BTreeMap<&NodeKey, &Vec<u8>> =
                nodes.iter().map(|(k, v)| (k, v)).collect();
            for probe in probes.iter().chain(&paths) {
                let key = node_key_at(version, probe);
                prop_assert_eq!(batch.node(&key), expected.get(&key).map(|v| v.as_slice()));
            }
        }
    }
}
