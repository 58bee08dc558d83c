//! The chain: the one facade the node uses over execution, the state tree and the store.
//!
//! - [`Chain::open`] starts a fresh chain from genesis (the genesis state is state tree
//!   version 0) or recovers an existing one from the store's head.
//! - [`Chain::propose`] (a proposer building a block) and [`Chain::validate`] (a
//!   validator checking a proposed or synced block) execute records on top of the head
//!   and return an [`ExecutedBlock`]: the block, its new state root and the state tree
//!   nodes to write. Nothing is written.
//! - [`Chain::commit`] checks the commit's quorum and writes everything of one block
//!   (block, commit, record index, state nodes, validator-set change, head) in one
//!   atomic, synced write batch. The write runs behind: `commit` returns once it has
//!   started, the next block executes meanwhile and reads this one from the batch, and
//!   the next write of any kind waits for it; [`Chain::settle`] waits until it is on
//!   disk (ADR 0024). If that write fails, the chain refuses all further commits: the
//!   node must stop and restart from the disk.
//! - Reads: current state (licences, cases, members), blocks, commits, records with
//!   their inclusion proofs, and the inputs of a proof bundle (a value with its
//!   [`StateProof`] at a height, headers, commits, validator sets and the heights at
//!   which the validator set changed).
//!
//! Versions of the state tree are heights: block `h` writes version `h`.

mod nodes;
mod validators;

use std::collections::HashMap;
use std::sync::Mutex;

use nodes::{CachedTree, NodeCache, ReadAhead, RecentNodes};
pub use nodes::{NODE_CACHE_ENTRIES, RECENT_NODES};
use serde::{Deserialize, Serialize};
use validators::ValidatorSets;

use crate::bytes::{Hash32, PublicKey};
use crate::codec;
use crate::execute::{self, BlockContext, BlockOutcome, ExecError, Mode};
use crate::ids::{CaseId, LicenceId};
use crate::keys;
use crate::merkle::{self, InclusionProof};
use crate::proof::{self, CommitError};
use crate::state::{StateReadError, StateReader};
use crate::state_tree::{StateProof, StateTree, StateTreeError, TreeBatch, TreeStore};
use crate::store::behind::{InFlight, WriteBehind};
use crate::store::{self, Column, RecordLocation, Store, StoreBatch, StoreError};
use crate::types::{
    Block, BlockHeader, CaseRecord, Commit, Genesis, Height, LicenceRecord, Member, SignedRecord,
    ValidatorSet,
};

/// `meta` key of the head ([`ChainHead`]).
pub const META_HEAD: &[u8] = b"chain/head";
/// `meta` key of the genesis hash the store was created with.
pub const META_GENESIS: &[u8] = b"chain/genesis";
/// `indexes` prefix of validator sets by the first height they apply to.
pub const INDEX_VALIDATOR_SET: &[u8] = b"vset/";

/// The last committed block (or genesis, at height 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Height of the last committed block; 0 before the first block.
    pub height: Height,
    /// Its hash; the genesis hash at height 0 (block 1's `prev_hash`).
    pub block_hash: Hash32,
    /// The state root after it.
    pub state_root: Hash32,
    /// Its time (the genesis time at height 0), Unix ms.
    pub time_ms: u64,
}

/// A block executed on top of the head, ready to commit.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The block (with the header the proposer built or the validator checked).
    pub block: Block,
    /// `block.header.hash()`.
    pub block_hash: Hash32,
    /// Hashes of `block.records`, in order.
    pub record_hashes: Vec<Hash32>,
    /// The validator set of the next height, when this block changes it.
    pub next_validator_set: Option<ValidatorSet>,
    /// What execution said about each record examined.
    pub outcome: BlockOutcome,
    /// State tree nodes and values of the new version.
    node_batch: TreeBatch,
    /// The head this was executed on, to refuse committing it on another.
    parent: Hash32,
}

/// A block's state tree update: the new root and the nodes and values to write.
type TreeUpdate = Result<(Hash32, TreeBatch), StateTreeError>;

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The store failed. The node stops.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state tree failed (storage trouble or a broken tree). The node stops.
    #[error(transparent)]
    StateTree(#[from] StateTreeError),
    /// Execution failed, or (when validating) the block holds an invalid record.
    #[error(transparent)]
    Execution(#[from] ExecError),
    /// The genesis is not valid.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// The store was created for another genesis.
    #[error("the store holds chain with genesis {stored}, not {given}")]
    GenesisMismatch {
        /// The genesis hash in the store.
        stored: Hash32,
        /// The genesis hash given.
        given: Hash32,
    },
    /// A proposed or synced block does not fit the chain.
    #[error("invalid block at height {height}: {reason}")]
    InvalidBlock {
        /// Its height.
        height: Height,
        /// What is wrong.
        reason: String,
    },
    /// A commit does not certify the block ([`proof::verify_commit`]).
    #[error("invalid commit for height {height}: {error}")]
    InvalidCommit {
        /// Its height.
        height: Height,
        /// What is wrong.
        #[source]
        error: CommitError,
    },
    /// The executed block was built on another head (a block was committed since).
    #[error("the block was executed on {executed_on}, but the head is now {head}")]
    StaleExecution {
        /// The head it was executed on.
        executed_on: Hash32,
        /// The head now.
        head: Hash32,
    },
    /// Stored data contradicts itself.
    #[error("corrupt chain data: {0}")]
    Corrupt(String),
    /// An earlier write failed; the node must restart.
    #[error("an earlier write failed; restart the node")]
    Failed,
}

/// Reads the state of one version straight from the store's value index.
#[derive(Debug)]
pub struct VersionReader<'a, S: ?Sized> {
    store: &'a S,
    version: Height,
    /// The chain's cache of head values, when `version` is the head.
    cache: Option<&'a HeadCache>,
}

impl<S: TreeStore + ?Sized> StateReader for VersionReader<'_, S> {
    fn get(&self, key: &Hash32) -> Result<Option<Vec<u8>>, StateReadError> {
        if let Some(value) = self.cache.and_then(|cache| cache.get(key)) {
            return Ok(value);
        }
        let value = self
            .store
            .state_value(key, self.version)
            .map_err(|e| StateReadError(e.to_string()))?;
        if let Some(cache) = self.cache {
            cache.insert(*key, value.clone());
        }
        Ok(value)
    }
}

/// How many of a block's likely writes the read-ahead reads in one go: chunks in record
/// order, so that execution, which starts on the first records at the same time, soon
/// finds what it reads already there.
const READ_AHEAD_VALUES: usize = 1_024;

/// Most values the head cache holds; when full it starts again empty (the hot keys
/// return within a block).
pub const HEAD_CACHE_ENTRIES: usize = 65_536;

/// State values of the head, as recently read: every record's check reads its author's
/// member entry, key index and nonce, and the licence type, and those few keys are read
/// again for every record. Reading them from RocksDB each time (a versioned seek) was a
/// large share of admission and execution.
///
/// Invariant: every entry equals the value at the head. It holds because reads at the
/// head fill it, and a commit (which needs `&mut Chain`, so no reader is alive) updates
/// every cached key the block wrote before the head moves.
#[derive(Debug, Default)]
struct HeadCache {
    entries: Mutex<HashMap<Hash32, Option<Vec<u8>>>>,
}

impl HeadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Hash32, Option<Vec<u8>>>> {
        // A panic while holding the lock cannot leave a half-written entry behind.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Some(value)` on a hit (the value may be "absent").
    fn get(&self, key: &Hash32) -> Option<Option<Vec<u8>>> {
        self.lock().get(key).cloned()
    }

    /// The keys of `keys` not cached.
    fn missing(&self, keys: &[Hash32]) -> Vec<Hash32> {
        let entries = self.lock();
        keys.iter()
            .filter(|key| !entries.contains_key(*key))
            .copied()
            .collect()
    }

    fn insert_many(&self, values: impl Iterator<Item = (Hash32, Option<Vec<u8>>)>) {
        let mut entries = self.lock();
        for (key, value) in values {
            if entries.len() >= HEAD_CACHE_ENTRIES {
                entries.clear();
            }
            entries.insert(key, value);
        }
    }

    fn insert(&self, key: Hash32, value: Option<Vec<u8>>) {
        self.insert_many(std::iter::once((key, value)));
    }

    /// The block committed: cached keys it wrote take their new values.
    fn committed(&mut self, batch: &TreeBatch) {
        let entries = self.entries.get_mut().unwrap_or_else(|e| e.into_inner());
        for (key, value) in batch.values() {
            if let Some(slot) = entries.get_mut(key) {
                slot.clone_from(value);
            }
        }
    }
}

/// A record as committed: where it is, and its inclusion proof against the block's
/// `records_root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRecord {
    /// The record.
    pub record: SignedRecord,
    /// Block height and index.
    pub location: RecordLocation,
    /// RFC 9162 audit path to the header's `records_root`.
    pub inclusion: InclusionProof,
    /// The header of its block.
    pub header: BlockHeader,
}

/// The chain over a store.
#[derive(Debug)]
pub struct Chain<S> {
    /// The store, a committed block's write running behind (ADR 0024).
    store: WriteBehind<S>,
    genesis_hash: Hash32,
    chain_id: String,
    head: ChainHead,
    failed: bool,
    /// Values of the head state recently read.
    cache: HeadCache,
    /// State tree nodes recently read.
    nodes: NodeCache,
    /// State tree nodes recently written.
    recent: RecentNodes,
    /// Every validator set, as the store's index holds them.
    validators: ValidatorSets,
}

fn validator_set_key(height: Height) -> Vec<u8> {
    let mut key = INDEX_VALIDATOR_SET.to_vec();
    key.extend_from_slice(&height.to_be_bytes());
    key
}

fn invalid_block(height: Height, reason: impl Into<String>) -> ChainError {
    ChainError::InvalidBlock {
        height,
        reason: reason.into(),
    }
}

impl<S: Store + 'static> Chain<S> {
    /// Opens the chain in `store`: applies `genesis` if the store is empty, otherwise
    /// recovers the last committed block and checks the store is for this genesis.
    pub fn open(store: S, genesis: &Genesis) -> Result<Self, ChainError> {
        let store = WriteBehind::new(store);
        let genesis_hash = genesis.hash();
        if let Some(stored) = store.meta(META_GENESIS)? {
            let stored: Hash32 = codec::decode(&stored)
                .map_err(|e| ChainError::Corrupt(format!("genesis hash: {e}")))?;
            if stored != genesis_hash {
                return Err(ChainError::GenesisMismatch {
                    stored,
                    given: genesis_hash,
                });
            }
            let head_bytes = store
                .meta(META_HEAD)?
                .ok_or_else(|| ChainError::Corrupt("genesis hash without a head".into()))?;
            let head: ChainHead = codec::decode(&head_bytes)
                .map_err(|e| ChainError::Corrupt(format!("head: {e}")))?;
            // The head and the tree are written in one batch, so they always agree; a
            // disagreement means the disk was changed behind our back.
            let root = StateTree::new(&store).root(head.height)?;
            if root != Some(head.state_root) {
                return Err(ChainError::Corrupt(format!(
                    "head at height {} says state root {}, the tree has {:?}",
                    head.height, head.state_root, root
                )));
            }
            let validators = ValidatorSets::load(&store)?;
            return Ok(Chain::at_head(
                store,
                genesis_hash,
                genesis,
                head,
                validators,
            ));
        }

        let changes =
            execute::genesis_changes(genesis).map_err(|e| ChainError::Genesis(e.to_string()))?;
        let (state_root, nodes) = StateTree::new(&store).apply(&changes, 0)?;
        let head = ChainHead {
            height: 0,
            block_hash: genesis_hash,
            state_root,
            time_ms: genesis.genesis_time_ms,
        };
        let validators = ValidatorSet::from_members(&genesis.members);
        let mut batch = StoreBatch::new();
        batch.put_state_nodes(&nodes);
        batch.put(
            Column::Indexes,
            validator_set_key(1),
            codec::encode(&validators),
        );
        batch.put(Column::Meta, META_GENESIS, codec::encode(&genesis_hash));
        batch.put(Column::Meta, META_HEAD, codec::encode(&head));
        store.write(&batch)?;
        let validators = ValidatorSets::genesis(validators);
        Ok(Chain::at_head(
            store,
            genesis_hash,
            genesis,
            head,
            validators,
        ))
    }

    /// The chain over `store` at `head` with these validator sets, and empty caches.
    fn at_head(
        store: WriteBehind<S>,
        genesis_hash: Hash32,
        genesis: &Genesis,
        head: ChainHead,
        validators: ValidatorSets,
    ) -> Self {
        Chain {
            store,
            genesis_hash,
            chain_id: genesis.chain_id.clone(),
            head,
            failed: false,
            cache: HeadCache::default(),
            nodes: NodeCache::default(),
            recent: RecentNodes::default(),
            validators,
        }
    }

    /// The store seen through the chain's nodes in memory (and, for an update, the
    /// nodes read ahead for it), for a [`StateTree`].
    fn cached<'a>(&'a self, ahead: Option<&'a ReadAhead>) -> CachedTree<'a, WriteBehind<S>> {
        CachedTree {
            store: &self.store,
            recent: &self.recent,
            cache: &self.nodes,
            ahead,
        }
    }

    /// Reads ahead what executing `records` on the head will read of the keys it is
    /// expected to write: first their values ([`Self::read_values_ahead`]), so that
    /// execution (which starts at the same time, on another thread) finds most of them
    /// cached instead of seeking each one in the store; then the state tree nodes the
    /// update will change (see [`CachedTree::read_ahead`]). ADR 0013.
    fn read_ahead(&self, records: &[SignedRecord], ahead: &ReadAhead) {
        let mut keys = execute::likely_writes_in_order(records);
        self.cache_values(&keys);
        keys.sort_unstable();
        keys.dedup();
        self.cached(None).read_ahead(&keys, self.head.height, ahead);
    }

    /// Reads the head values of the keys `records` are expected to write
    /// ([`execute::likely_writes_in_order`]) into the head cache, many on one store
    /// read ([`store::state_values`]) instead of one seek each: for a caller about to
    /// check or execute them. Only a hint: a failed read is left for the caller's own
    /// read to report.
    pub fn read_values_ahead<'a>(&self, records: impl IntoIterator<Item = &'a SignedRecord>) {
        self.cache_values(&execute::likely_writes_in_order(records));
    }

    /// Caches the head values of `keys`, a chunk at a time in the order given.
    fn cache_values(&self, keys: &[Hash32]) {
        for chunk in keys.chunks(READ_AHEAD_VALUES) {
            let mut missing = self.cache.missing(chunk);
            missing.sort_unstable();
            missing.dedup();
            if let Ok(values) = store::state_values(&self.store, &missing, self.head.height) {
                self.cache.insert_many(missing.into_iter().zip(values));
            }
        }
    }

    /// The store (for the node's own meta entries, e.g. the consensus safety state):
    /// reads see the block being written, a synced write waits for it.
    pub fn store(&self) -> &WriteBehind<S> {
        &self.store
    }

    /// Waits until every committed block is on disk ([`Self::commit`] returns once
    /// its block's write has started): for whoever must not report a block committed
    /// before a crash could no longer lose it.
    pub fn settle(&self) -> Result<(), ChainError> {
        Ok(self.store.settle()?)
    }

    /// The blocks committed so far, to wait for ([`InFlight::wait`]) without holding
    /// the chain.
    pub fn in_flight(&self) -> InFlight {
        self.store.in_flight()
    }

    /// The last committed block.
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Hash32 {
        self.genesis_hash
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// A reader of the committed state at the head.
    pub fn state(&self) -> VersionReader<'_, WriteBehind<S>> {
        VersionReader {
            store: &self.store,
            version: self.head.height,
            cache: Some(&self.cache),
        }
    }

    /// The validator set that votes on block `height` (from height 1).
    pub fn validator_set(&self, height: Height) -> Result<Option<ValidatorSet>, ChainError> {
        Ok(self.validators.at(height).cloned())
    }

    /// The heights from which a new validator set applied, ascending; the first is 1
    /// (genesis). A proof bundle carries the header and commit of the block before each
    /// later one (the block whose `next_validators_hash` announced it).
    pub fn validator_set_changes(&self) -> Result<Vec<Height>, ChainError> {
        Ok(self.validators.changes().collect())
    }

    fn context(&self, time_ms: u64) -> BlockContext {
        BlockContext {
            chain_id: self.chain_id.clone(),
            height: self.head.height + 1,
            time_ms,
        }
    }

    fn check_usable(&self) -> Result<(), ChainError> {
        if self.failed || self.store.failure().is_some() {
            return Err(ChainError::Failed);
        }
        Ok(())
    }

    /// Builds the next block from `records` (a proposer): refused records are dropped,
    /// the kept ones executed. `already_verified(hash)` names records whose signatures
    /// the mempool has verified.
    pub fn propose(
        &self,
        records: &[SignedRecord],
        time_ms: u64,
        proposer: PublicKey,
        already_verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<ExecutedBlock, ChainError> {
        self.check_usable()?;
        let height = self.head.height + 1;
        if time_ms <= self.head.time_ms {
            return Err(invalid_block(
                height,
                format!("time {time_ms} is not after {}", self.head.time_ms),
            ));
        }
        let (outcome, tree) =
            self.execute_on_head(records, time_ms, Mode::Build, already_verified)?;
        let (state_root, node_batch) = tree?;
        let kept: Vec<SignedRecord> = outcome
            .kept
            .iter()
            .filter_map(|i| records.get(*i).cloned())
            .collect();
        // Execution examined records in order and gave each one result, so the result
        // at a kept index holds that record's hash.
        let record_hashes: Vec<Hash32> = outcome
            .kept
            .iter()
            .filter_map(|i| outcome.results.get(*i).map(|(hash, _)| *hash))
            .collect();
        if record_hashes.len() != kept.len() {
            return Err(ChainError::Corrupt(
                "execution results do not cover kept records".into(),
            ));
        }
        let validators = self.require_validator_set(height)?;
        let next = outcome
            .next_validator_set
            .clone()
            .unwrap_or_else(|| validators.clone());
        let header = BlockHeader {
            chain_id: self.chain_id.clone(),
            height,
            time_ms,
            prev_hash: self.head.block_hash,
            records_root: merkle::records_root(&record_hashes),
            state_root,
            validators_hash: validators.hash(),
            next_validators_hash: next.hash(),
            proposer,
        };
        let block = Block {
            header,
            records: kept,
        };
        Ok(self.executed(block, record_hashes, outcome, node_batch))
    }

    /// Executes `records` on top of the head at `time_ms` and updates the state tree
    /// with the outcome (the tree's result is returned apart, for the caller to check
    /// when it is ready). While this thread executes and then updates the tree, another
    /// reads ahead the tree nodes the update will need, then checks the signatures not
    /// `already_verified`.
    fn execute_on_head(
        &self,
        records: &[SignedRecord],
        time_ms: u64,
        mode: Mode,
        already_verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<(BlockOutcome, TreeUpdate), ChainError> {
        let height = self.head.height + 1;
        let ahead = ReadAhead::default();
        let cached = self.cached(Some(&ahead));
        let read_ahead = || self.read_ahead(records, &ahead);
        Ok(execute::execute_block_then(
            &self.state(),
            &self.context(time_ms),
            records,
            mode,
            already_verified,
            Some(&read_ahead),
            |outcome| StateTree::new(&cached).apply(&outcome.changes, height),
        )?)
    }

    /// The executed block, on top of the head.
    fn executed(
        &self,
        block: Block,
        record_hashes: Vec<Hash32>,
        outcome: BlockOutcome,
        node_batch: TreeBatch,
    ) -> ExecutedBlock {
        ExecutedBlock {
            block_hash: block.header.hash(),
            block,
            record_hashes,
            next_validator_set: outcome.next_validator_set.clone(),
            outcome,
            node_batch,
            parent: self.head.block_hash,
        }
    }

    fn require_validator_set(&self, height: Height) -> Result<ValidatorSet, ChainError> {
        self.validator_set(height)?
            .ok_or_else(|| ChainError::Corrupt(format!("no validator set for height {height}")))
    }

    /// Re-executes a proposed or synced block on top of the head and checks every
    /// header field against the result. Any refused record makes the block invalid.
    pub fn validate(
        &self,
        block: Block,
        already_verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<ExecutedBlock, ChainError> {
        self.check_usable()?;
        let header = &block.header;
        let height = self.head.height + 1;
        if header.height != height {
            return Err(invalid_block(
                header.height,
                format!("expected height {height}"),
            ));
        }
        if header.chain_id != self.chain_id {
            return Err(invalid_block(height, "wrong chain id"));
        }
        if header.prev_hash != self.head.block_hash {
            return Err(invalid_block(height, "prev_hash is not the head's hash"));
        }
        if header.time_ms <= self.head.time_ms {
            return Err(invalid_block(
                height,
                "time is not after the previous block",
            ));
        }
        let validators = self.require_validator_set(height)?;
        if header.validators_hash != validators.hash() {
            return Err(invalid_block(
                height,
                "validators_hash is not this height's set",
            ));
        }
        if validators.index_of(&header.proposer).is_none() {
            return Err(invalid_block(height, "proposer is not a validator"));
        }
        let (outcome, tree) = self.execute_on_head(
            &block.records,
            header.time_ms,
            Mode::Validate,
            already_verified,
        )?;
        // Validate mode kept every record (any refusal is an error above), and execution
        // hashed each one in parallel: the records root comes from those hashes rather
        // than from hashing the block again.
        let record_hashes: Vec<Hash32> = outcome.results.iter().map(|(hash, _)| *hash).collect();
        if record_hashes.len() != block.records.len()
            || header.records_root != merkle::records_root(&record_hashes)
        {
            return Err(invalid_block(
                height,
                "records_root does not match the records",
            ));
        }
        let next = outcome
            .next_validator_set
            .clone()
            .unwrap_or_else(|| validators.clone());
        if header.next_validators_hash != next.hash() {
            return Err(invalid_block(
                height,
                "next_validators_hash does not match the executed membership changes",
            ));
        }
        let (state_root, node_batch) = tree?;
        if header.state_root != state_root {
            return Err(invalid_block(
                height,
                format!(
                    "state_root {} differs from the re-executed {}",
                    header.state_root, state_root
                ),
            ));
        }
        Ok(self.executed(block, record_hashes, outcome, node_batch))
    }

    /// Commits an executed block with its commit: one atomic, synced write of block,
    /// commit, record index, state tree version, validator-set change and head, started
    /// here and landing behind (see [`Self::settle`]). An error may be the failure of
    /// the previous block's write.
    pub fn commit(&mut self, executed: ExecutedBlock, commit: &Commit) -> Result<(), ChainError> {
        self.check_usable()?;
        if executed.parent != self.head.block_hash {
            return Err(ChainError::StaleExecution {
                executed_on: executed.parent,
                head: self.head.block_hash,
            });
        }
        let height = executed.block.header.height;
        let validators = self.require_validator_set(height)?;
        // The same check, and so the same verdict, as a proof verifier's.
        proof::verify_commit(&self.chain_id, &validators, &executed.block.header, commit)
            .map_err(|error| ChainError::InvalidCommit { height, error })?;

        let head = ChainHead {
            height,
            block_hash: executed.block_hash,
            state_root: executed.block.header.state_root,
            time_ms: executed.block.header.time_ms,
        };
        let mut batch = StoreBatch::new();
        batch.put_block(&executed.block);
        batch.put_record_locations(height, &executed.record_hashes);
        batch.put_commit(commit);
        batch.put_state_nodes(&executed.node_batch);
        if let Some(next) = &executed.next_validator_set {
            batch.put(
                Column::Indexes,
                validator_set_key(height + 1),
                codec::encode(next),
            );
        }
        batch.put(Column::Meta, META_HEAD, codec::encode(&head));
        // Written behind: the next block executes meanwhile, reading this one from
        // the batch until it lands; the next write of any kind waits for it.
        if let Err(e) = self.store.write_behind(batch) {
            // The block before failed to land (or this one could not start): whether
            // any of it reached the disk is unknown to us (RocksDB says all or
            // nothing, but we cannot tell which): stop and recover on restart.
            self.failed = true;
            return Err(e.into());
        }
        self.cache.committed(&executed.node_batch);
        self.recent.committed(executed.node_batch);
        if let Some(next) = executed.next_validator_set {
            self.validators.push(height + 1, next);
        }
        self.head = head;
        Ok(())
    }

    // -----------------------------------------------------------------------------
    // Reads
    // -----------------------------------------------------------------------------

    /// A value of the current state.
    pub fn get(&self, key: &Hash32) -> Result<Option<Vec<u8>>, ChainError> {
        if let Some(value) = self.cache.get(key) {
            return Ok(value);
        }
        let value = self.store.state_value(key, self.head.height)?;
        self.cache.insert(*key, value.clone());
        Ok(value)
    }

    fn get_decoded<T: serde::de::DeserializeOwned>(
        &self,
        key: &Hash32,
        what: &str,
    ) -> Result<Option<T>, ChainError> {
        self.get(key)?
            .map(|bytes| {
                codec::decode(&bytes).map_err(|e| ChainError::Corrupt(format!("{what}: {e}")))
            })
            .transpose()
    }

    /// A licence as of the head.
    pub fn licence(&self, id: &LicenceId) -> Result<Option<LicenceRecord>, ChainError> {
        self.get_decoded(&keys::licence(id), "licence")
    }

    /// A case as of the head.
    pub fn case(&self, id: &CaseId) -> Result<Option<CaseRecord>, ChainError> {
        self.get_decoded(&keys::case(id), "case")
    }

    /// Every member (including removed ones), ordered by id.
    pub fn members(&self) -> Result<Vec<Member>, ChainError> {
        Ok(execute::read_members(&self.state())?)
    }

    /// A committed block.
    pub fn block(&self, height: Height) -> Result<Option<Block>, ChainError> {
        Ok(self.store.block(height)?)
    }

    /// A committed block and its commit as a peer's block sync sends them
    /// ([`crate::wire::SyncedBlock`] bytes), read without decoding.
    pub fn synced_block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self.store.synced_block_bytes(height)?)
    }

    /// The header of a committed block.
    pub fn header(&self, height: Height) -> Result<Option<BlockHeader>, ChainError> {
        Ok(self.store.header(height)?)
    }

    /// The commit of a committed block.
    pub fn commit_at(&self, height: Height) -> Result<Option<Commit>, ChainError> {
        Ok(self.store.commit(height)?)
    }

    /// A committed record with its location and inclusion proof.
    pub fn record(&self, hash: &Hash32) -> Result<Option<CommittedRecord>, ChainError> {
        let Some(location) = self.store.record_location(hash)? else {
            return Ok(None);
        };
        let block = self.store.block(location.height)?.ok_or_else(|| {
            ChainError::Corrupt(format!(
                "record index names missing block {}",
                location.height
            ))
        })?;
        let record = block
            .records
            .get(location.index as usize)
            .cloned()
            .ok_or_else(|| ChainError::Corrupt("record index past the block's end".into()))?;
        let hashes: Vec<Hash32> = block.records.iter().map(SignedRecord::hash).collect();
        let inclusion = merkle::records_inclusion_proof(&hashes, u64::from(location.index))
            .map_err(|e| ChainError::Corrupt(format!("record inclusion: {e}")))?;
        Ok(Some(CommittedRecord {
            record,
            location,
            inclusion,
            header: block.header,
        }))
    }

    /// A state value at `height` (0 = genesis) with its proof against that height's
    /// `state_root`.
    pub fn state_proof(
        &self,
        key: &Hash32,
        height: Height,
    ) -> Result<(Option<Vec<u8>>, StateProof), ChainError> {
        if height > self.head.height {
            return Err(ChainError::StateTree(StateTreeError::MissingVersion(
                height,
            )));
        }
        Ok(StateTree::new(&self.cached(None)).get_with_proof(key, height)?)
    }

    /// The state root at `height` (0 = genesis).
    pub fn state_root(&self, height: Height) -> Result<Option<Hash32>, ChainError> {
        if height > self.head.height {
            return Ok(None);
        }
        Ok(StateTree::new(&self.cached(None)).root(height)?)
    }
}
