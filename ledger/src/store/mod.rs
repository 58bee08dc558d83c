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
//! | `state_nodes` | version (u64 BE) ‖ `encode(NibblePath)` | `encode(jmt Node)` |
//! | `state_values` | key hash ‖ version (u64 BE) | `encode(Option<Vec<u8>>)` |
//! | `indexes` | secondary indexes, keyed by their users (e.g. [`crate::chain`]) | … |
//! | `meta` | names chosen by the users (head, consensus safety state) | … |
//!
//! Big-endian heights and versions make byte order equal numeric order, so a floor read
//! finds "the newest at or before" and a range of versions is contiguous (for pruning).
//!
//! A failed write is an error the caller must stop on: after it, nothing says which
//! of the node's in-memory views match the disk.

use jmt::storage::{Node, NodeBatch, NodeKey};
use jmt::Version;
use serde::{Deserialize, Serialize};

use crate::bytes::Hash32;
use crate::codec::{self, CodecError};
use crate::state_tree::{StateTreeError, TreeStore};
use crate::types::{Block, Commit, Height};

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
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 7] = [
        Column::Blocks,
        Column::Commits,
        Column::Records,
        Column::StateNodes,
        Column::StateValues,
        Column::Indexes,
        Column::Meta,
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
        }
    }

    /// Position in [`Column::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A storage failure. The node stops on any of these.
#[derive(Debug, thiserror::Error)]
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

fn corrupt(column: Column) -> impl Fn(CodecError) -> StoreError {
    move |e| StoreError::Corrupt {
        column: column.name(),
        detail: e.to_string(),
    }
}

/// Decodes a stored state tree node (bytes read from disk).
pub fn decode_state_node(bytes: &[u8]) -> Result<Node, StoreError> {
    codec::decode(bytes).map_err(corrupt(Column::StateNodes))
}

/// Decodes a stored state value version: the value, or `None` for a deletion.
pub fn decode_state_value(bytes: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    codec::decode(bytes).map_err(corrupt(Column::StateValues))
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
pub fn node_key(key: &NodeKey) -> Vec<u8> {
    let mut out = key.version().to_be_bytes().to_vec();
    out.extend_from_slice(&codec::encode(key.nibble_path()));
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

    /// Puts a block, and the location of each of its records.
    pub fn put_block(&mut self, block: &Block) {
        self.put(
            Column::Blocks,
            height_key(block.header.height),
            codec::encode(block),
        );
        for (index, record) in block.records.iter().enumerate() {
            let location = RecordLocation {
                height: block.header.height,
                // Blocks hold at most `max_block_records: u32` records.
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            self.put(Column::Records, record.hash().0, codec::encode(&location));
        }
    }

    /// Puts a block's record locations when the record hashes are already known.
    pub fn put_record_locations(&mut self, height: Height, hashes: &[Hash32]) {
        for (index, hash) in hashes.iter().enumerate() {
            let location = RecordLocation {
                height,
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            self.put(Column::Records, hash.0, codec::encode(&location));
        }
    }

    /// Puts a block without computing record locations (see [`Self::put_record_locations`]).
    pub fn put_block_only(&mut self, block: &Block) {
        self.put(
            Column::Blocks,
            height_key(block.header.height),
            codec::encode(block),
        );
    }

    /// Puts a commit.
    pub fn put_commit(&mut self, commit: &Commit) {
        self.put(
            Column::Commits,
            height_key(commit.height),
            codec::encode(commit),
        );
    }

    /// Puts the nodes and values of one state tree version.
    pub fn put_state_nodes(&mut self, batch: &NodeBatch) {
        for (key, node) in batch.nodes() {
            self.put(Column::StateNodes, node_key(key), codec::encode(node));
        }
        for ((version, key), value) in batch.values() {
            self.put(
                Column::StateValues,
                value_key(&Hash32(key.0), *version).to_vec(),
                codec::encode(value),
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

    /// Up to `limit` (and at most [`MAX_SCAN_ENTRIES`]) entries whose key starts with
    /// `prefix`, in ascending key order.
    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Applies `batch` atomically and durably (synced to disk before returning).
    fn write(&self, batch: StoreBatch) -> Result<(), StoreError>;

    /// Puts one `meta` entry, synced before returning: for the consensus safety
    /// state, which must be on disk before a vote leaves the node.
    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut batch = StoreBatch::new();
        batch.put(Column::Meta, key, value);
        self.write(batch)
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
    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        (**self).scan_prefix(column, prefix, limit)
    }
    fn write(&self, batch: StoreBatch) -> Result<(), StoreError> {
        (**self).write(batch)
    }
}

impl<S: Store + ?Sized> TreeStore for S {
    fn state_node(&self, key: &NodeKey) -> Result<Option<Node>, StateTreeError> {
        Ok(self
            .get(Column::StateNodes, &node_key(key))?
            .map(|bytes| decode_state_node(&bytes))
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
