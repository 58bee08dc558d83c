//! Storage behind a small trait, with a RocksDB implementation ([`rocks`], feature
//! `rocksdb`) and an in-memory one ([`memory`]) for tests and the simulator.
//!
//! The trait is a column-family key-value store with exactly the operations the ledger
//! needs: point reads, a floor read (greatest key at or below a bound, for "value as of
//! version" and "validator set as of height"), bounded prefix scans, and one atomic,
//! durable [`StoreBatch`] write. The key layouts of every column live here, once, so
//! both implementations store the same bytes.
//!
//! | column | key | value |
//! |---|---|---|
//! | `blocks` | height (u64 BE) | `encode(Block)` |
//! | `commits` | height (u64 BE) | `encode(Commit)` |
//! | `records` | record hash | `encode(RecordLocation)` |
//! | `state_nodes` | version (u64 BE) ‖ `encode(NibblePath)` | [`encode_state_node`]: compact internal node, or `encode(jmt Node)` |
//! | `state_values` | key hash ‖ version (u64 BE) | `encode(Option<Vec<u8>>)` |
//! | `indexes` | secondary indexes, keyed by their users (e.g. [`crate::chain`]) | … |
//! | `meta` | names chosen by the users (head, consensus safety state) | … |
//! | `headers` | height (u64 BE) | `encode(BlockHeader)` (none in stores written before it) |
//!
//! Big-endian heights and versions make byte order equal numeric order, so a floor read
//! finds "the newest at or before" and a range of versions is contiguous (for pruning).
//!
//! A failed write is an error the caller must stop on: after it, nothing says which
//! of the node's in-memory views match the disk.

use jmt::storage::{LeafNode, Node, NodeKey};
use jmt::{KeyHash, ValueHash, Version};
use serde::{Deserialize, Serialize};

use crate::bytes::Hash32;
use crate::codec;
use crate::state_tree::{NodeView, StateTreeError, TreeBatch, TreeStore};
use crate::types::{Block, BlockHeader, Commit, Height};

pub mod behind;
pub mod memory;
#[cfg(feature = "rocksdb")]
pub mod rocks;

/// A key and its value, as read by [`Store::floor`] and [`Store::scan_prefix`].
pub type Entry = (Vec<u8>, Vec<u8>);

/// Most entries one prefix scan returns, whatever the caller asks.
pub const MAX_SCAN_ENTRIES: usize = 100_000;

/// The column families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// height → block.
    Blocks,
    /// height → commit.
    Commits,
    /// record hash → where it is.
    Records,
    /// jmt node key → node.
    StateNodes,
    /// key hash ‖ version → value or tombstone.
    StateValues,
    /// secondary indexes.
    Indexes,
    /// metadata: head, consensus safety state.
    Meta,
    /// height → block header (also inside the block; kept apart so that a proof reads
    /// a few hundred bytes, not a whole block).
    Headers,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 8] = [
        Column::Blocks,
        Column::Commits,
        Column::Records,
        Column::StateNodes,
        Column::StateValues,
        Column::Indexes,
        Column::Meta,
        Column::Headers,
    ];

    /// The column family's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Column::Blocks => "blocks",
            Column::Commits => "commits",
            Column::Records => "records",
            Column::StateNodes => "state_nodes",
            Column::StateValues => "state_values",
            Column::Indexes => "indexes",
            Column::Meta => "meta",
            Column::Headers => "headers",
        }
    }

    /// Position in [`Column::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A storage failure. The node stops on any of these.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (I/O, a full disk, a locked directory).
    #[error("storage backend: {0}")]
    Backend(String),
    /// Bytes on disk do not decode as what the column holds.
    #[error("corrupt entry in column {column}: {detail}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An earlier write failed, so this store refuses further writes.
    #[error("the store failed an earlier write and refuses further writes")]
    Failed,
}

impl From<StoreError> for StateTreeError {
    fn from(e: StoreError) -> Self {
        StateTreeError::Store(e.to_string())
    }
}

fn corrupt<E: std::fmt::Display>(column: Column) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Corrupt {
        column: column.name(),
        detail: e.to_string(),
    }
}

/// Variant index of `Node::Leaf` in jmt's serde layout (`Null`, `Internal`, `Leaf`).
const NODE_LEAF_VARIANT: u32 = 2;
/// Variant byte of `Node::Internal` in jmt's borsh layout.
const BORSH_NODE_INTERNAL: u8 = 1;
/// Borsh size of an internal node with 16 internal children: variant, 16 × (tag, hash,
/// version, node type, leaf count), child count, leaf count.
const BORSH_INTERNAL_MAX_BYTES: usize = 1 + 16 * (1 + 32 + 8 + 1 + 8) + 8 + 8;
/// First byte of an internal node in its compact stored form (ADR 0010). The codec form
/// of any node starts with its `u32` variant index, a first byte of 0, 1 or 2.
pub const COMPACT_INTERNAL_NODE: u8 = 0xc1;
/// Most bytes of a compact internal node: marker, two bitmaps, 16 × (hash, version and
/// leaf count as LEB128 of at most 10 bytes each).
const COMPACT_INTERNAL_MAX_BYTES: usize = 1 + 2 + 2 + 16 * (32 + 10 + 10);

/// One child of an internal node: its hash, the version that wrote it, and its leaf
/// count if it is internal (`None`: a leaf).
pub type ChildEntry = ([u8; 32], u64, Option<u64>);

/// The stored bytes of a state tree node.
///
/// Internal nodes are stored compactly (ADR 0010): the byte [`COMPACT_INTERNAL_NODE`],
/// a `u16` little-endian bitmap of the child slots present (bit `i` for nibble `i`), a
/// `u16` bitmap of those children that are leaves, then for each present child in slot
/// order its 32-byte hash, its version as unsigned LEB128 and, for an internal child,
/// its leaf count as unsigned LEB128. The node's own leaf count is the sum of its
/// children's (a leaf counts 1), as jmt computes it. A block writes tens of thousands of
/// internal nodes (about 24,000 for 10,000 new licences in a tree of a million); in
/// the codec's form each child took 45 or 53 bytes and each empty slot one.
///
/// Leaves and the null node are stored as `codec::encode(node)`.
pub fn encode_state_node(node: &Node) -> Vec<u8> {
    match NodeView::of(node) {
        NodeView::Internal(children) => encode_internal_node(&children),
        NodeView::Leaf(leaf) => encode_leaf_node(&leaf),
        NodeView::Null => codec::encode(node),
    }
}

/// The slots of `children` that hold a child, and those of them that hold a leaf, as
/// bitmaps (bit `i` for slot `i`).
pub(crate) fn slot_bitmaps(children: &[Option<ChildEntry>; 16]) -> (u16, u16) {
    let mut present = 0u16;
    let mut leaves = 0u16;
    for (slot, child) in children.iter().enumerate() {
        if let Some((_, _, count)) = child {
            present |= 1 << slot;
            if count.is_none() {
                leaves |= 1 << slot;
            }
        }
    }
    (present, leaves)
}

/// The leaf count of an internal node with these children: the sum of theirs, a leaf
/// counting one (as jmt computes it).
pub(crate) fn leaf_count(children: &[Option<ChildEntry>; 16]) -> u64 {
    children
        .iter()
        .flatten()
        .map(|(_, _, internal)| internal.unwrap_or(1))
        .sum()
}

/// The stored bytes of an internal node with these children ([`encode_state_node`]),
/// written straight from its slots: what a tree update writes for every node it builds.
pub fn encode_internal_node(children: &[Option<ChildEntry>; 16]) -> Vec<u8> {
    encode_internal_with_bitmaps(children, slot_bitmaps(children))
}

/// [`encode_internal_node`] with the children's [`slot_bitmaps`] already worked out.
pub(crate) fn encode_internal_with_bitmaps(
    children: &[Option<ChildEntry>; 16],
    (present, leaves): (u16, u16),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(COMPACT_INTERNAL_MAX_BYTES);
    out.push(COMPACT_INTERNAL_NODE);
    out.extend_from_slice(&present.to_le_bytes());
    out.extend_from_slice(&leaves.to_le_bytes());
    for (hash, version, count) in children.iter().flatten() {
        out.extend_from_slice(hash);
        put_leb128(&mut out, *version);
        if let Some(count) = count {
            put_leb128(&mut out, *count);
        }
    }
    out
}

/// The stored bytes of a leaf: its codec form (`u32` LE variant 2, key hash, value
/// hash), written without serde.
pub fn encode_leaf_node(leaf: &LeafNode) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 64);
    out.extend_from_slice(&NODE_LEAF_VARIANT.to_le_bytes());
    // jmt keeps the value hash to itself but for its borsh form: the two hashes.
    borsh::BorshSerialize::serialize(leaf, &mut out).unwrap_or_else(|_| unreachable!());
    out
}

/// [`encode_leaf_node`] of the leaf of `key_hash` with `value_hash`.
pub fn encode_new_leaf(key_hash: &[u8; 32], value_hash: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 64);
    out.extend_from_slice(&NODE_LEAF_VARIANT.to_le_bytes());
    out.extend_from_slice(key_hash);
    out.extend_from_slice(value_hash);
    out
}

fn put_leb128(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one canonical unsigned LEB128 `u64` (no redundant final zero group, no bits
/// past 64) from the front of `bytes`.
fn take_leb128(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for index in 0..10 {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        let group = u64::from(byte & 0x7f);
        if index == 9 && byte > 1 {
            return None;
        }
        value |= group << (7 * index);
        if byte & 0x80 == 0 {
            return (index == 0 || byte != 0).then_some(value);
        }
    }
    None
}

fn take_hash(bytes: &mut &[u8]) -> Option<[u8; 32]> {
    let (hash, rest) = bytes.split_first_chunk::<32>()?;
    *bytes = rest;
    Some(*hash)
}

/// The children of a compact internal node (after its marker byte), by slot.
fn compact_children(mut bytes: &[u8]) -> Result<[Option<ChildEntry>; 16], &'static str> {
    let truncated = "compact internal node is truncated";
    let (bitmaps, rest) = bytes.split_first_chunk::<4>().ok_or(truncated)?;
    bytes = rest;
    let present = u16::from_le_bytes([bitmaps[0], bitmaps[1]]);
    let leaves = u16::from_le_bytes([bitmaps[2], bitmaps[3]]);
    if leaves & !present != 0 {
        return Err("compact internal node marks absent children as leaves");
    }
    let mut children = [None; 16];
    for (slot, entry) in children.iter_mut().enumerate() {
        if present & (1 << slot) == 0 {
            continue;
        }
        let hash = take_hash(&mut bytes).ok_or(truncated)?;
        let version = take_leb128(&mut bytes).ok_or("compact internal node has a bad version")?;
        let leaf_count = if leaves & (1 << slot) != 0 {
            None
        } else {
            Some(take_leb128(&mut bytes).ok_or("compact internal node has a bad leaf count")?)
        };
        *entry = Some((hash, version, leaf_count));
    }
    if !bytes.is_empty() {
        return Err("compact internal node has trailing bytes");
    }
    Ok(children)
}

/// The children of a compact internal node (after its marker byte), checked to be a
/// node jmt could have written ([`decode_state_node`]).
fn compact_internal(compact: &[u8]) -> Result<[Option<ChildEntry>; 16], StoreError> {
    let bad = corrupt::<&str>(Column::StateNodes);
    let children = compact_children(compact).map_err(&bad)?;
    children
        .iter()
        .flatten()
        .try_fold(0u64, |sum, (_, _, internal)| {
            sum.checked_add(internal.unwrap_or(1))
        })
        .ok_or_else(|| bad("internal node's leaf count overflows"))?;
    let mut present = children.iter().flatten();
    match (present.next(), present.next()) {
        (None, _) => Err(bad("internal node without children")),
        (Some((_, _, None)), None) => Err(bad("internal node whose only child is a leaf")),
        _ => Ok(children),
    }
}

/// jmt's borsh layout of an internal node with these children and leaf count: the
/// `Node` variant byte, 16 slots (`0`, or `1` then the child's hash, version as `u64`
/// LE and node type: `0` for a leaf, `1` and the leaf count as `u64` LE), the child
/// count and the leaf count. jmt's types can only be built through a serialised layout;
/// borsh's derive reads a hash as 32 bytes at once, the serde codec byte by byte (which
/// made decoding a third of reading a node).
fn borsh_internal(children: &[Option<ChildEntry>; 16], leaf_count: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BORSH_INTERNAL_MAX_BYTES);
    out.push(BORSH_NODE_INTERNAL);
    for child in children {
        let Some((hash, version, internal)) = child else {
            out.push(0);
            continue;
        };
        out.push(1);
        out.extend_from_slice(hash);
        out.extend_from_slice(&version.to_le_bytes());
        match internal {
            None => out.push(0),
            Some(count) => {
                out.push(1);
                out.extend_from_slice(&count.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&(children.iter().flatten().count() as u64).to_le_bytes());
    out.extend_from_slice(&leaf_count.to_le_bytes());
    out
}

/// The jmt internal node with these children (at least one; not one lone leaf), built
/// through its borsh layout, the only way to build one outside jmt.
pub(crate) fn internal_node(children: &[Option<ChildEntry>; 16]) -> Result<Node, StoreError> {
    from_borsh(&borsh_internal(children, leaf_count(children)))
}

fn from_borsh(bytes: &[u8]) -> Result<Node, StoreError> {
    borsh::from_slice(bytes).map_err(corrupt(Column::StateNodes))
}

/// A leaf in the codec's form (`u32` variant 2, key hash, value hash) read without
/// serde: a block's tree update reads thousands. Anything else is `None`, for the
/// general decoder.
fn codec_leaf(bytes: &[u8]) -> Option<LeafNode> {
    let hashes = bytes.strip_prefix(&NODE_LEAF_VARIANT.to_le_bytes()[..])?;
    let (key, value) = <&[u8; 64]>::try_from(hashes).ok()?.split_at(32);
    Some(LeafNode::new(
        KeyHash(key.try_into().ok()?),
        ValueHash(value.try_into().ok()?),
    ))
}

/// Decodes a stored state tree node straight into the form a tree update reads
/// ([`NodeView`]), refusing exactly what [`decode_state_node`] refuses; an internal node
/// in the compact form is never built as a jmt node.
pub fn decode_state_node_view(bytes: &[u8]) -> Result<NodeView, StoreError> {
    if let Some((&COMPACT_INTERNAL_NODE, compact)) = bytes.split_first() {
        return compact_internal(compact).map(NodeView::Internal);
    }
    if let Some(leaf) = codec_leaf(bytes) {
        return Ok(NodeView::Leaf(leaf));
    }
    decode_codec_node(bytes).map(|node| NodeView::of(&node))
}

/// Decodes a stored state tree node (bytes read from disk): the compact form of an
/// internal node ([`encode_state_node`]), or any node in the codec's form (every node
/// written before ADR 0010, and leaves).
///
/// Beyond the layout, an internal node must be one jmt could have written: at least one
/// child, not a lone leaf child (jmt asserts both when it rebuilds the node), a stored
/// child count equal to the children present (jmt keeps that count and trusts it), and
/// a leaf count that is the sum of its children's. Anything else is a corrupt entry,
/// not a panic or a wrong proof later inside jmt.
pub fn decode_state_node(bytes: &[u8]) -> Result<Node, StoreError> {
    if let Some((&COMPACT_INTERNAL_NODE, compact)) = bytes.split_first() {
        // The child count and the leaf count are derived here, so they are right.
        return internal_node(&compact_internal(compact)?);
    }
    if let Some(leaf) = codec_leaf(bytes) {
        return Ok(Node::Leaf(leaf));
    }
    decode_codec_node(bytes)
}

/// A node in the codec's form (every node written before ADR 0010), with the checks
/// of [`decode_state_node`].
fn decode_codec_node(bytes: &[u8]) -> Result<Node, StoreError> {
    let bad = corrupt::<&str>(Column::StateNodes);
    let node: Node = codec::decode(bytes).map_err(corrupt(Column::StateNodes))?;
    if let Node::Internal(internal) = &node {
        let present = internal.children_sorted().count() as u64;
        // An internal node's codec form ends with its child count and leaf count.
        let stored = bytes
            .len()
            .checked_sub(16)
            .and_then(|at| bytes.get(at..at + 8))
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| bad("internal node too short"))?;
        if stored != present {
            return Err(bad(
                "internal node's child count does not match its children",
            ));
        }
        match internal.children_sorted().next() {
            None => return Err(bad("internal node without children")),
            Some((_, only)) if present == 1 && only.is_leaf() => {
                return Err(bad("internal node whose only child is a leaf"))
            }
            Some(_) => {}
        }
        let sum = internal
            .children_sorted()
            .try_fold(0usize, |sum, (_, child)| {
                sum.checked_add(child.leaf_count())
            });
        if sum != Some(internal.leaf_count()) {
            return Err(bad(
                "internal node's leaf count is not the sum of its children's",
            ));
        }
    }
    Ok(node)
}

/// The stored bytes of a state value version (`None`: a deletion): exactly
/// `codec::encode(value)` — the `Option` tag byte, then the `u64` LE length and the
/// bytes — written without serde, whose `Vec<u8>` goes byte by byte (a block writes
/// 10,000 licence values of about 290 bytes; every read of the state decodes one).
pub fn encode_state_value(value: Option<&[u8]>) -> Vec<u8> {
    let Some(value) = value else {
        return vec![0];
    };
    let mut out = Vec::with_capacity(1 + 8 + value.len());
    out.push(1);
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// Decodes a stored state value version: the value, or `None` for a deletion. Accepts
/// exactly what `codec::decode::<Option<Vec<u8>>>` accepts (the codec's decode limit
/// included), without serde.
pub fn decode_state_value(bytes: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let bad = corrupt::<&str>(Column::StateValues);
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((0, _)) => Err(bad("trailing bytes after an absent value")),
        Some((1, rest)) => {
            let (length, value) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| bad("state value length is truncated"))?;
            let length = u64::from_le_bytes(*length);
            if length > codec::MAX_DECODE_BYTES as u64 {
                return Err(bad("state value is longer than the decode limit"));
            }
            if length != value.len() as u64 {
                return Err(bad("state value length does not match its bytes"));
            }
            Ok(Some(value.to_vec()))
        }
        Some(_) => Err(bad("state value has an invalid option tag")),
        None => Err(bad("state value is empty")),
    }
}

/// Where a committed record is: its block and its index in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLocation {
    /// Block height.
    pub height: Height,
    /// Index in the block's records.
    pub index: u32,
}

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOp {
    /// The column.
    pub column: Column,
    /// The key.
    pub key: Vec<u8>,
    /// The new value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// Writes applied together, atomically and durably, by [`Store::write`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreBatch {
    ops: Vec<BatchOp>,
}

/// Key of a height in `blocks` and `commits`.
pub fn height_key(height: Height) -> [u8; 8] {
    height.to_be_bytes()
}

/// Key of a jmt node in `state_nodes`.
///
/// The path's codec form is its nibble count and its byte length (each `u64` LE), then
/// its bytes; written here without serde (a block writes ~34,000 keys).
pub fn node_key(key: &NodeKey) -> Vec<u8> {
    let path = key.nibble_path();
    let nibbles = path.num_nibbles();
    let len = nibbles.div_ceil(2);
    let mut out = Vec::with_capacity(8 + 8 + 8 + len);
    out.extend_from_slice(&key.version().to_be_bytes());
    out.extend_from_slice(&(nibbles as u64).to_le_bytes());
    out.extend_from_slice(&(len as u64).to_le_bytes());
    // Two nibbles a byte, high half first; an odd path's last low half is 0.
    let at = out.len();
    out.resize(at + len, 0);
    for i in 0..nibbles {
        out[at + i / 2] |= u8::from(path.get_nibble(i)) << if i % 2 == 0 { 4 } else { 0 };
    }
    out
}

/// Key of a value version in `state_values`.
pub fn value_key(key: &Hash32, version: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&key.0);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

impl StoreBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `value` under `key`.
    pub fn put(&mut self, column: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp {
            column,
            key: key.into(),
            value: Some(value.into()),
        });
    }

    /// Deletes `key`.
    pub fn delete(&mut self, column: Column, key: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp {
            column,
            key: key.into(),
            value: None,
        });
    }

    /// The operations, in order (a later one wins over an earlier one on the same key).
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// No operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Puts a block's record locations (`hashes` in block order).
    ///
    /// They go in in key order. RocksDB inserts a batch's keys into its memtable one
    /// by one and looks for each from where the previous one went, so ascending keys
    /// are cheap and random ones a full search each: sorting a block's 10,000 random
    /// record hashes took the memtable insert from 37 to 24 ms (apply bench, 1M
    /// licences). The other columns' keys already come in order (heights, and a
    /// [`TreeBatch`]'s sorted nodes and values).
    pub fn put_record_locations(&mut self, height: Height, hashes: &[Hash32]) {
        let mut by_hash: Vec<(&Hash32, usize)> = hashes.iter().zip(0..).collect();
        // (hash, index): a repeated hash keeps block order, so the last still wins.
        by_hash.sort_unstable();
        self.ops.reserve(by_hash.len());
        for (hash, index) in by_hash {
            let location = RecordLocation {
                height,
                // Blocks hold at most `max_block_records: u32` records.
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            self.put(Column::Records, hash.0, codec::encode(&location));
        }
    }

    /// Puts a block (its record locations go in with [`Self::put_record_locations`]).
    pub fn put_block(&mut self, block: &Block) {
        let key = height_key(block.header.height);
        self.put(Column::Blocks, key, codec::encode(block));
        self.put(Column::Headers, key, codec::encode(&block.header));
    }

    /// Puts a commit.
    pub fn put_commit(&mut self, commit: &Commit) {
        self.put(
            Column::Commits,
            height_key(commit.height),
            codec::encode(commit),
        );
    }

    /// Puts the nodes and values of one state tree version (already in their stored
    /// form, and in key order).
    pub fn put_state_nodes(&mut self, batch: &TreeBatch) {
        self.ops.reserve(batch.nodes().len() + batch.values().len());
        for (key, bytes) in batch.nodes() {
            self.put(Column::StateNodes, node_key(key), bytes.clone());
        }
        for (key, value) in batch.values() {
            self.put(
                Column::StateValues,
                value_key(key, batch.version()).to_vec(),
                encode_state_value(value.as_deref()),
            );
        }
    }
}

/// A column-family key-value store with atomic, durable batches.
pub trait Store: Send + Sync {
    /// The value under `key`.
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The entry with the greatest key that is at most `key` and starts with `prefix`.
    fn floor(&self, column: Column, prefix: &[u8], key: &[u8])
        -> Result<Option<Entry>, StoreError>;

    /// [`Self::floor`] for each `(prefix, key)` of `queries`, one result each, in
    /// order. A backend may answer many at once faster than one by one (RocksDB: one
    /// iterator for all, where creating it costs more than a seek).
    fn floor_many(
        &self,
        column: Column,
        queries: &[(&[u8], &[u8])],
    ) -> Result<Vec<Option<Entry>>, StoreError> {
        queries
            .iter()
            .map(|(prefix, key)| self.floor(column, prefix, key))
            .collect()
    }

    /// Up to `limit` (and at most [`MAX_SCAN_ENTRIES`]) entries whose key starts with
    /// `prefix`, in ascending key order.
    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Applies `batch` atomically and durably (synced to disk before returning).
    fn write(&self, batch: &StoreBatch) -> Result<(), StoreError>;

    /// Puts one `meta` entry, synced before returning: for the consensus safety
    /// state, which must be on disk before a vote leaves the node.
    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut batch = StoreBatch::new();
        batch.put(Column::Meta, key, value);
        self.write(&batch)
    }

    /// The `meta` entry under `key`.
    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Column::Meta, key)
    }

    /// The block at `height`.
    fn block(&self, height: Height) -> Result<Option<Block>, StoreError> {
        self.get(Column::Blocks, &height_key(height))?
            .map(|bytes| codec::decode(&bytes).map_err(corrupt(Column::Blocks)))
            .transpose()
    }

    /// The block at `height` and its commit in their block-sync form
    /// ([`crate::wire::SyncedBlock`]): the stored bytes of both, one after the other,
    /// which is that struct's encoding, without decoding and encoding them again.
    fn synced_block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, StoreError> {
        let key = height_key(height);
        let Some(mut bytes) = self.get(Column::Blocks, &key)? else {
            return Ok(None);
        };
        let commit = self
            .get(Column::Commits, &key)?
            .ok_or_else(|| StoreError::Corrupt {
                column: Column::Commits.name(),
                detail: format!("block {height} has no commit"),
            })?;
        bytes.extend_from_slice(&commit);
        Ok(Some(bytes))
    }

    /// The header of the block at `height`: from `headers`, or from the block itself in
    /// a store written before headers were kept apart.
    fn header(&self, height: Height) -> Result<Option<BlockHeader>, StoreError> {
        match self.get(Column::Headers, &height_key(height))? {
            Some(bytes) => codec::decode(&bytes)
                .map(Some)
                .map_err(corrupt(Column::Headers)),
            None => Ok(self.block(height)?.map(|block| block.header)),
        }
    }

    /// The commit of `height`.
    fn commit(&self, height: Height) -> Result<Option<Commit>, StoreError> {
        self.get(Column::Commits, &height_key(height))?
            .map(|bytes| codec::decode(&bytes).map_err(corrupt(Column::Commits)))
            .transpose()
    }

    /// Where the record with this hash was committed.
    fn record_location(&self, hash: &Hash32) -> Result<Option<RecordLocation>, StoreError> {
        self.get(Column::Records, &hash.0)?
            .map(|bytes| codec::decode(&bytes).map_err(corrupt(Column::Records)))
            .transpose()
    }
}

// A store shared between the chain and the node's other users (the consensus safety
// state lives in the same database).
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(column, key)
    }
    fn floor(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        (**self).floor(column, prefix, key)
    }
    fn floor_many(
        &self,
        column: Column,
        queries: &[(&[u8], &[u8])],
    ) -> Result<Vec<Option<Entry>>, StoreError> {
        (**self).floor_many(column, queries)
    }
    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        (**self).scan_prefix(column, prefix, limit)
    }
    fn write(&self, batch: &StoreBatch) -> Result<(), StoreError> {
        (**self).write(batch)
    }
}

/// The values of `keys` as of `max_version` (each `None` when absent), read together
/// ([`Store::floor_many`]): what [`TreeStore::state_value`] gives for each key.
pub fn state_values<S: Store + ?Sized>(
    store: &S,
    keys: &[Hash32],
    max_version: Version,
) -> Result<Vec<Option<Vec<u8>>>, StateTreeError> {
    let bounds: Vec<[u8; 40]> = keys.iter().map(|k| value_key(k, max_version)).collect();
    let queries: Vec<(&[u8], &[u8])> = keys
        .iter()
        .zip(&bounds)
        .map(|(key, bound)| (&key.0[..], &bound[..]))
        .collect();
    store
        .floor_many(Column::StateValues, &queries)?
        .into_iter()
        .map(|found| match found {
            Some((_, bytes)) => Ok(decode_state_value(&bytes)?),
            None => Ok(None),
        })
        .collect()
}

impl<S: Store + ?Sized> TreeStore for S {
    fn state_node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        Ok(self
            .get(Column::StateNodes, &node_key(key))?
            .map(|bytes| decode_state_node(&bytes))
            .transpose()?)
    }

    fn state_node_view(&self, key: &NodeKey) -> Result<Option<NodeView>, StateTreeError> {
        Ok(self
            .get(Column::StateNodes, &node_key(key))?
            .map(|bytes| decode_state_node_view(&bytes))
            .transpose()?)
    }

    fn state_value(
        &self,
        key: &Hash32,
        max_version: Version,
    ) -> Result<Option<Vec<u8>>, StateTreeError> {
        let Some((_, bytes)) =
            self.floor(Column::StateValues, &key.0, &value_key(key, max_version))?
        else {
            return Ok(None);
        };
        Ok(decode_state_value(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::state::StateChanges;
    use crate::state_tree::StateTree;
    use crate::store::memory::MemoryStore;

    /// One child slot of an internal node: its hash, version and, for an internal child,
    /// its leaf count.
    type Slot = Option<([u8; 32], u64, Option<u64>)>;

    /// bincode's legacy bytes of an internal node with these slots, built by hand.
    fn internal_bytes(slots: &[Slot; 16], children: u64, leaf_count: u64) -> Vec<u8> {
        let mut out = 1u32.to_le_bytes().to_vec();
        for slot in slots {
            match slot {
                None => out.push(0),
                Some((hash, version, internal)) => {
                    out.push(1);
                    out.extend_from_slice(hash);
                    out.extend_from_slice(&version.to_le_bytes());
                    match internal {
                        None => out.extend_from_slice(&0u32.to_le_bytes()),
                        Some(count) => {
                            out.extend_from_slice(&1u32.to_le_bytes());
                            out.extend_from_slice(&count.to_le_bytes());
                        }
                    }
                }
            }
        }
        out.extend_from_slice(&children.to_le_bytes());
        out.extend_from_slice(&leaf_count.to_le_bytes());
        out
    }

    /// Slots of an internal node jmt could write (leaf counts small enough to add up).
    fn slots() -> impl Strategy<Value = [Slot; 16]> {
        let slot = proptest::option::of((
            any::<[u8; 32]>(),
            any::<u64>(),
            proptest::option::of(2..=u64::from(u32::MAX)),
        ));
        proptest::array::uniform16(slot).prop_filter("a node jmt could write", |slots| {
            let present: Vec<_> = slots.iter().flatten().collect();
            match present.as_slice() {
                [] => false,
                [(_, _, internal)] => internal.is_some(),
                _ => true,
            }
        })
    }

    fn leaf_sum(slots: &[Slot; 16]) -> u64 {
        slots.iter().flatten().map(|(_, _, c)| c.unwrap_or(1)).sum()
    }

    /// The compact bytes of an internal node with these slots, built by hand.
    fn compact_bytes(slots: &[Slot; 16]) -> Vec<u8> {
        let (mut present, mut leaves) = (0u16, 0u16);
        let mut body = Vec::new();
        for (i, slot) in slots.iter().enumerate() {
            if let Some((hash, version, internal)) = slot {
                present |= 1 << i;
                body.extend_from_slice(hash);
                put_leb128(&mut body, *version);
                match internal {
                    Some(count) => put_leb128(&mut body, *count),
                    None => leaves |= 1 << i,
                }
            }
        }
        let mut out = vec![COMPACT_INTERNAL_NODE];
        out.extend_from_slice(&present.to_le_bytes());
        out.extend_from_slice(&leaves.to_le_bytes());
        out.extend(body);
        out
    }

    proptest! {
        /// Every node jmt writes for random blocks is stored in the form of
        /// `encode_state_node` (compact for internal nodes, and smaller than the
        /// codec's), decodes back to itself from that form and from the codec's (a
        /// store written before ADR 0010), and goes into the batch in key order.
        #[test]
        fn nodes_of_random_blocks_round_trip(
            blocks in proptest::collection::vec(
                proptest::collection::btree_map(any::<[u8; 32]>(), any::<Vec<u8>>(), 1..200),
                1..4,
            ),
        ) {
            let store = MemoryStore::new();
            for (version, block) in blocks.into_iter().enumerate() {
                let changes: StateChanges =
                    block.into_iter().map(|(k, v)| (Hash32(k), Some(v))).collect();
                let (_, nodes) = StateTree::new(&store)
                    .apply(&changes, version as u64)
                    .expect("apply");
                for (_, stored) in nodes.nodes() {
                    let node = decode_state_node(stored).expect("decodes");
                    prop_assert_eq!(&encode_state_node(&node), stored);
                    prop_assert_eq!(decode_state_node_view(stored).expect("view"), NodeView::of(&node));
                    let codec_form = codec::encode(&node);
                    prop_assert_eq!(&decode_state_node(&codec_form).expect("decodes"), &node);
                    prop_assert_eq!(
                        decode_state_node_view(&codec_form).expect("view"),
                        NodeView::of(&node)
                    );
                    if matches!(node, Node::Internal(_)) {
                        prop_assert_eq!(stored[0], COMPACT_INTERNAL_NODE);
                        prop_assert!(stored.len() < codec_form.len());
                    } else {
                        prop_assert_eq!(stored, &codec_form);
                    }
                }
                let mut batch = StoreBatch::new();
                batch.put_state_nodes(&nodes);
                // Put in key order, under keys laid out as version ‖ encode(path).
                let put: Vec<(&[u8], Option<&[u8]>)> = batch
                    .ops()
                    .iter()
                    .filter(|op| op.column == Column::StateNodes)
                    .map(|op| (op.key.as_slice(), op.value.as_deref()))
                    .collect();
                prop_assert_eq!(put.len(), nodes.nodes().len());
                prop_assert!(put.windows(2).all(|pair| pair[0].0 < pair[1].0));
                for ((key, value), (node_key, stored)) in put.iter().zip(nodes.nodes()) {
                    let layout = [
                        &node_key.version().to_be_bytes()[..],
                        &codec::encode(node_key.nibble_path()),
                    ]
                    .concat();
                    prop_assert_eq!(*key, layout.as_slice());
                    prop_assert_eq!(*value, Some(stored.as_slice()));
                }
                store.write(&batch).expect("write");
            }
        }

        /// State values are stored as the codec writes them, and read back exactly as
        /// the codec reads them: the same values, and an error for the same bytes.
        #[test]
        fn state_values_match_the_codec(
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
            tag in 0u8..4,
            length in prop_oneof![Just(None), any::<u64>().prop_map(Some), (0u64..310).prop_map(Some)],
            body in proptest::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..12,
        ) {
            let stored = encode_state_value(value.as_deref());
            prop_assert_eq!(&stored, &codec::encode(&value));
            prop_assert_eq!(decode_state_value(&stored).expect("decodes"), value);
            // Hostile bytes: any tag, a right or wrong length, any body, cut short.
            let mut hostile = vec![tag];
            let length = length.unwrap_or(body.len() as u64);
            hostile.extend_from_slice(&length.to_le_bytes());
            hostile.extend_from_slice(&body);
            let take = hostile.len().saturating_sub(cut);
            for bytes in [&hostile[..], &hostile[..take], &hostile[..1], &[][..]] {
                let codec_reads = codec::decode::<Option<Vec<u8>>>(bytes).ok();
                prop_assert_eq!(decode_state_value(bytes).ok(), codec_reads);
            }
        }

        /// Any internal node jmt could write, with any hashes, versions and leaf
        /// counts: its codec bytes and its compact bytes decode to the same node, which
        /// encodes to those compact bytes and back to those codec bytes.
        #[test]
        fn any_internal_node_round_trips(slots in slots()) {
            let children = slots.iter().flatten().count() as u64;
            let codec_form = internal_bytes(&slots, children, leaf_sum(&slots));
            let node = decode_state_node(&codec_form).expect("decodes");
            prop_assert_eq!(codec::encode(&node), codec_form);
            let compact = compact_bytes(&slots);
            prop_assert_eq!(encode_state_node(&node), compact.clone());
            prop_assert_eq!(decode_state_node(&compact).expect("decodes"), node);
        }

        /// LEB128 round-trips every `u64` in its shortest form.
        #[test]
        fn leb128_round_trips(value in any::<u64>()) {
            let mut out = Vec::new();
            put_leb128(&mut out, value);
            prop_assert_eq!(out.len(), (64 - value.leading_zeros() as usize).div_ceil(7).max(1));
            let mut rest = out.as_slice();
            prop_assert_eq!(take_leb128(&mut rest), Some(value));
            prop_assert!(rest.is_empty());
        }

        /// Record locations go in in ascending key order, and each hash finds its
        /// record's index in the block (a repeated hash, its last).
        #[test]
        fn record_locations_go_in_in_key_order(
            hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..300),
            repeat in any::<proptest::sample::Index>(),
        ) {
            let mut hashes: Vec<Hash32> = hashes.into_iter().map(Hash32).collect();
            if !hashes.is_empty() {
                let again = hashes[repeat.index(hashes.len())];
                hashes.push(again);
            }
            let mut batch = StoreBatch::new();
            batch.put_record_locations(9, &hashes);
            prop_assert_eq!(batch.len(), hashes.len());
            prop_assert!(batch.ops().windows(2).all(|pair| pair[0].key <= pair[1].key));
            let store = MemoryStore::new();
            store.write(&batch).expect("write");
            for hash in &hashes {
                let last = hashes.iter().rposition(|h| h == hash).expect("present");
                let location = store.record_location(hash).expect("read").expect("stored");
                prop_assert_eq!(location, RecordLocation { height: 9, index: last as u32 });
            }
        }

    }

    #[test]
    fn leaf_and_null_nodes_encode_as_the_codec_does() {
        let store = MemoryStore::new();
        let mut changes = StateChanges::new();
        changes.insert(Hash32([7; 32]), Some(b"v".to_vec()));
        let (_, nodes) = StateTree::new(&store).apply(&changes, 0).expect("apply");
        let [(_, stored)] = nodes.nodes() else {
            panic!("one leaf");
        };
        let leaf = decode_state_node(stored).expect("decodes");
        let Node::Leaf(leaf_node) = &leaf else {
            panic!("a leaf");
        };
        assert_eq!(stored, &codec::encode(&leaf));
        assert_eq!(encode_state_node(&leaf), codec::encode(&leaf));
        assert_eq!(encode_leaf_node(leaf_node), codec::encode(&leaf));
        assert_eq!(
            encode_new_leaf(&[7; 32], &crate::crypto::sha256(&[b"v"]).0),
            codec::encode(&leaf)
        );
        assert_eq!(encode_state_node(&Node::Null), codec::encode(&Node::Null));
    }

    #[test]
    fn internal_nodes_jmt_could_not_write_are_corrupt() {
        let child = |internal: Option<u64>| Some(([9u8; 32], 3u64, internal));
        let mut two = [None; 16];
        two[1] = child(None);
        two[7] = child(Some(4));
        // Consistent: decodes.
        assert!(decode_state_node(&internal_bytes(&two, 2, 5)).is_ok());
        // A child count that is not the number of children.
        for wrong in [0, 1, 3, u64::MAX] {
            assert!(matches!(
                decode_state_node(&internal_bytes(&two, wrong, 5)),
                Err(StoreError::Corrupt { .. })
            ));
        }
        // No children at all.
        assert!(matches!(
            decode_state_node(&internal_bytes(&[None; 16], 0, 0)),
            Err(StoreError::Corrupt { .. })
        ));
        // A lone leaf child (jmt lifts such a leaf into the parent).
        let mut lone = [None; 16];
        lone[3] = child(None);
        assert!(matches!(
            decode_state_node(&internal_bytes(&lone, 1, 1)),
            Err(StoreError::Corrupt { .. })
        ));
        // A lone internal child is allowed.
        lone[3] = child(Some(2));
        assert!(decode_state_node(&internal_bytes(&lone, 1, 2)).is_ok());
        // A leaf count that is not the sum of the children's.
        for wrong in [0, 4, 6, u64::MAX] {
            assert!(matches!(
                decode_state_node(&internal_bytes(&two, 2, wrong)),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }

    #[test]
    fn compact_nodes_that_are_not_canonical_are_corrupt() {
        let child = |internal: Option<u64>| Some(([9u8; 32], 300u64, internal));
        let mut two = [None; 16];
        two[1] = child(None);
        two[7] = child(Some(4));
        let good = compact_bytes(&two);
        assert!(decode_state_node(&good).is_ok());
        let corrupt =
            |bytes: &[u8]| matches!(decode_state_node(bytes), Err(StoreError::Corrupt { .. }));
        // Cut anywhere, or with a byte more.
        for len in 1..good.len() {
            assert!(corrupt(&good[..len]), "cut at {len}");
        }
        assert!(corrupt(&[good.as_slice(), &[0]].concat()));
        // A leaf bit for an absent slot.
        let mut bytes = good.clone();
        bytes[3] |= 1 << 2;
        assert!(corrupt(&bytes));
        // No children; a lone leaf child.
        assert!(corrupt(&compact_bytes(&[None; 16])));
        let mut lone = [None; 16];
        lone[3] = child(None);
        assert!(corrupt(&compact_bytes(&lone)));
        // A version in a longer form than it needs (300 = ac 02; ac 82 00 is redundant),
        // and one past 64 bits.
        let at = 1 + 4 + 32;
        assert_eq!(&good[at..at + 2], &[0xac, 0x02]);
        let redundant = [&good[..at], &[0xac, 0x82, 0x00], &good[at + 2..]].concat();
        assert!(corrupt(&redundant));
        let too_long = [&good[..at], &[0xff; 9], &[0x02], &good[at + 2..]].concat();
        assert!(corrupt(&too_long));
        // Leaf counts that overflow when summed.
        let mut huge = [None; 16];
        huge[0] = child(Some(u64::MAX));
        huge[1] = child(Some(u64::MAX));
        assert!(corrupt(&compact_bytes(&huge)));
    }
}
