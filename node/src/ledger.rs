//! The node's handle on the ledger: `ledger::chain::Chain` over RocksDB behind a lock,
//! with the few operations the node's tasks need.
//!
//! The driver is the only writer (`commit_block`, `put_safety_state`); the API, the
//! admission pipeline and sync answers read. Execution of a block (build or validate)
//! holds a read lock; a commit holds the write lock for one atomic, synced write batch.
//! Storage failures are [`LedgerError`]s that stop the node; a block that does not fit
//! the chain is a [`BlockCheck::Invalid`] verdict, not an error.

use std::path::Path;
use std::sync::RwLock;

use serde::Serialize;
use tongban_consensus::SafetyState;
use tongban_ledger::chain::{Chain, ChainError, ChainHead, ExecutedBlock};
use tongban_ledger::codec::{decode, encode};
use tongban_ledger::execute::{self, BlockContext, CheckError};
use tongban_ledger::ids::{CaseId, LicenceId};
use tongban_ledger::merkle::InclusionProof;
use tongban_ledger::proof::{licence_bundle, ChainBundleError, ProofBundle};
use tongban_ledger::store::rocks::RocksStore;
use tongban_ledger::store::Store;
use tongban_ledger::types::{
    Block, CaseRecord, CatalogItem, ChainParams, Commit, Genesis, Height, LicenceRecord,
    LicenceType, Member, MemberStatus, SignedRecord, ValidatorSet,
};
use tongban_ledger::{Hash32, PublicKey};

/// `meta` key of the consensus safety state.
pub const META_SAFETY_STATE: &[u8] = b"node/safety-state";

/// A block that was executed and can be committed.
pub type Executed = ExecutedBlock;

/// A storage or consistency failure: the node stops.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Something else that must not happen.
    #[error("{0}")]
    Fault(String),
}

impl From<tongban_ledger::store::StoreError> for LedgerError {
    fn from(e: tongban_ledger::store::StoreError) -> Self {
        LedgerError::Chain(ChainError::Store(e))
    }
}

impl From<execute::ExecError> for LedgerError {
    fn from(e: execute::ExecError) -> Self {
        LedgerError::Chain(ChainError::Execution(e))
    }
}

/// The verdict on a proposed or synced block.
#[derive(Debug)]
pub enum BlockCheck {
    /// The block does not fit the chain (bad header, refused record, wrong root...).
    Invalid(String),
    /// Storage failed while checking.
    Fault(LedgerError),
}

/// Mempool admission's verdict on one record.
#[derive(Debug, Clone)]
pub enum CheckOutcome {
    /// Admissible.
    Ok,
    /// This very record is already committed.
    Committed,
    /// Refused by a ledger rule.
    Rejected {
        /// `RejectReason::code()`.
        code: &'static str,
        /// For humans.
        message: String,
    },
    /// State could not be read.
    Failed(String),
}

/// A block built from the mempool.
#[derive(Debug)]
pub struct Built {
    /// The block.
    pub block: Block,
    /// Its execution, ready to commit.
    pub executed: Executed,
    /// Records execution refused: (hash, code, message).
    pub dropped: Vec<(Hash32, &'static str, String)>,
}

/// What a commit changed that the node must react to.
#[derive(Debug, Clone, Copy)]
pub struct CommitInfo {
    /// The member list may have changed (governance applied).
    pub members_changed: bool,
}

/// A committed record for `GET /v1/records/{hash}`.
#[derive(Debug, Clone)]
pub struct FoundRecord {
    /// The record.
    pub record: SignedRecord,
    /// Block height.
    pub height: Height,
    /// Index in the block.
    pub index: u32,
    /// The block's hash.
    pub block_hash: Hash32,
    /// The block's records root.
    pub records_root: Hash32,
    /// RFC 9162 audit path.
    pub inclusion: InclusionProof,
}

impl FoundRecord {
    /// The JSON answer (see `RecordInfo` in the OpenAPI file).
    pub fn into_json(self, hash: Hash32) -> serde_json::Value {
        serde_json::json!({
            "record_hash": hash,
            "status": "committed",
            "record": self.record,
            "height": self.height,
            "index": self.index,
            "block_hash": self.block_hash,
            "records_root": self.records_root,
            "inclusion_proof": {
                "leaf_index": self.inclusion.leaf_index,
                "tree_size": self.inclusion.tree_size,
                "path": self.inclusion.path,
            },
        })
    }
}

/// `GET /v1/members`.
#[derive(Debug, Serialize)]
pub struct MembersView {
    /// Height of the state read.
    pub height: Height,
    /// Every member, removed ones included.
    pub members: Vec<Member>,
    /// Admin keys.
    pub admins: Vec<PublicKey>,
    /// Validators of the next height.
    pub validators: ValidatorSet,
    /// Chain parameters.
    pub params: ChainParams,
}

/// `GET /v1/catalog`.
#[derive(Debug, Serialize)]
pub struct CatalogView {
    /// Height of the state read.
    pub height: Height,
    /// Licence types.
    pub licence_types: Vec<LicenceType>,
    /// Service items.
    pub items: Vec<CatalogItem>,
}

/// The ledger as the node uses it.
#[derive(Debug)]
pub struct Ledger {
    chain: RwLock<Chain<RocksStore>>,
    chain_id: String,
    genesis: Genesis,
}

impl Ledger {
    /// Opens (or creates from `genesis`) the RocksDB ledger in `dir`.
    pub fn open(dir: &Path, genesis: &Genesis) -> Result<Ledger, LedgerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LedgerError::Fault(format!("cannot create {}: {e}", dir.display())))?;
        let store = RocksStore::open(dir)?;
        let chain = Chain::open(store, genesis)?;
        Ok(Ledger {
            chain_id: genesis.chain_id.clone(),
            chain: RwLock::new(chain),
            genesis: genesis.clone(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Chain<RocksStore>> {
        // The chain's own `failed` flag carries failures; a poisoned lock only means a
        // reader panicked.
        self.chain.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The chain once its head is on disk: what the API reads, so that nothing it
    /// shows could still be lost in a crash (the head's write lands behind the commit,
    /// ADR 0024).
    fn read_settled(
        &self,
    ) -> Result<std::sync::RwLockReadGuard<'_, Chain<RocksStore>>, LedgerError> {
        let chain = self.read();
        chain.settle()?;
        Ok(chain)
    }

    /// Waits until every committed block is on disk.
    pub fn settle(&self) -> Result<(), LedgerError> {
        // Waited for without the chain's lock, which the next commit needs.
        let in_flight = self.read().in_flight();
        Ok(in_flight.wait()?)
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Hash32 {
        self.genesis.hash()
    }

    /// The last committed block.
    pub fn head(&self) -> ChainHead {
        self.read().head().clone()
    }

    /// The chain parameters at the head (genesis parameters if unreadable).
    pub fn params(&self) -> ChainParams {
        let chain = self.read();
        execute::read_params(&chain.state()).unwrap_or_else(|_| self.genesis.params.clone())
    }

    /// The validators that vote on block `height`.
    pub fn validators_for(&self, height: Height) -> Result<ValidatorSet, LedgerError> {
        let chain = self.read();
        if let Some(set) = chain.validator_set(height)? {
            return Ok(set);
        }
        // The height after the head: the set the head announced.
        Ok(execute::validator_set(&chain.state())?)
    }

    /// Keys of the active members: who may connect.
    pub fn active_member_keys(&self) -> Result<Vec<PublicKey>, LedgerError> {
        let members = self.read().members()?;
        Ok(members
            .into_iter()
            .filter(|m| m.status == MemberStatus::Active)
            .map(|m| m.key)
            .collect())
    }

    /// The member with this key, if any.
    pub fn member_by_key(&self, key: &PublicKey) -> Result<Option<Member>, LedgerError> {
        let chain = self.read();
        Ok(execute::read_member_by_key(&chain.state(), key)?)
    }

    /// The last committed nonce of `author` (0 if none).
    pub fn nonce_of(&self, author: &PublicKey) -> Result<u64, LedgerError> {
        let chain = self.read();
        Ok(execute::read_nonce(&chain.state(), author)?)
    }

    /// Mempool admission of a batch: each record checked on its own against the same
    /// head state (under one read of the chain), signatures already verified by the
    /// caller. Items are `(record, hash of its encoding, encoded length)`.
    pub fn check_records(
        &self,
        items: &[(&SignedRecord, Hash32, usize)],
        now_ms: u64,
    ) -> Vec<CheckOutcome> {
        let chain = self.read();
        let head = chain.head();
        let ctx = BlockContext {
            chain_id: self.chain_id.clone(),
            height: head.height + 1,
            time_ms: now_ms.max(head.time_ms + 1),
        };
        // The licences, cases and nonces the records are about, read together (most
        // are new, and a seek each for "absent" was most of a check's store time).
        chain.read_values_ahead(items.iter().map(|(record, _, _)| *record));
        let state = chain.state();
        let mut checker = match execute::RecordChecker::new(&state, &ctx) {
            Ok(checker) => checker,
            Err(e) => return vec![CheckOutcome::Failed(e.to_string()); items.len()],
        };
        items
            .iter()
            .map(
                |(record, hash, len)| match checker.check(record, hash, *len, true) {
                    Ok(()) => CheckOutcome::Ok,
                    Err(CheckError::Rejected(reason)) => {
                        let code = reason.code();
                        // A stale nonce may mean this very record is committed already.
                        if code == "stale_nonce" {
                            if let Ok(Some(_)) = chain.store().record_location(hash) {
                                return CheckOutcome::Committed;
                            }
                        }
                        CheckOutcome::Rejected {
                            code,
                            message: reason.to_string(),
                        }
                    }
                    Err(CheckError::Exec(e)) => CheckOutcome::Failed(e.to_string()),
                },
            )
            .collect()
    }

    /// Builds the next block (proposer): refused records are reported in `dropped`.
    pub fn build_block(
        &self,
        records: &[SignedRecord],
        proposer: PublicKey,
        time_ms: u64,
        verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<Built, LedgerError> {
        let chain = self.read();
        let executed = chain.propose(records, time_ms, proposer, verified)?;
        let dropped = executed
            .outcome
            .results
            .iter()
            .filter_map(|(hash, result)| match result {
                Ok(()) => None,
                Err(reason) => Some((*hash, reason.code(), reason.to_string())),
            })
            .collect();
        Ok(Built {
            block: executed.block.clone(),
            executed,
            dropped,
        })
    }

    /// Validates a proposed or synced block by executing it on the head.
    pub fn validate_block(
        &self,
        block: &Block,
        max_time_ms: u64,
        verified: &dyn Fn(&Hash32) -> bool,
    ) -> Result<Executed, BlockCheck> {
        if block.header.time_ms > max_time_ms {
            return Err(BlockCheck::Invalid(format!(
                "block time {} is too far ahead of our clock",
                block.header.time_ms
            )));
        }
        let chain = self.read();
        match chain.validate(block.clone(), verified) {
            Ok(executed) => Ok(executed),
            Err(e) => Err(classify(e)),
        }
    }

    /// Commits a block with its commit (one atomic, synced write, landing behind: see
    /// [`Self::settle`]).
    pub fn commit_block(
        &self,
        block: &Block,
        executed: Executed,
        commit: &Commit,
    ) -> Result<CommitInfo, LedgerError> {
        let members_changed = executed.next_validator_set.is_some()
            || !executed.outcome.ended_proposals.is_empty()
            || block.records.iter().any(|r| {
                matches!(
                    r.payload.body,
                    tongban_ledger::types::RecordBody::Approve { .. }
                        | tongban_ledger::types::RecordBody::ProposeMemberChange { .. }
                )
            });
        let mut chain = self.chain.write().unwrap_or_else(|e| e.into_inner());
        chain.commit(executed, commit)?;
        Ok(CommitInfo { members_changed })
    }

    /// The persisted consensus safety state.
    pub fn safety_state(&self) -> Result<Option<SafetyState>, LedgerError> {
        let chain = self.read();
        match chain.store().meta(META_SAFETY_STATE)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| LedgerError::Fault(format!("stored safety state is corrupt: {e}"))),
        }
    }

    /// Writes the consensus safety state with fsync.
    pub fn put_safety_state(&self, state: &SafetyState) -> Result<(), LedgerError> {
        let chain = self.read();
        chain.store().put_meta(META_SAFETY_STATE, &encode(state))?;
        Ok(())
    }

    // -----------------------------------------------------------------------------
    // Reads for the API
    // -----------------------------------------------------------------------------

    /// A licence at the head.
    pub fn licence(&self, id: &LicenceId) -> Result<(Height, Option<LicenceRecord>), LedgerError> {
        let chain = self.read_settled()?;
        Ok((chain.head().height, chain.licence(id)?))
    }

    /// A case at the head.
    pub fn case(&self, id: &CaseId) -> Result<(Height, Option<CaseRecord>), LedgerError> {
        let chain = self.read_settled()?;
        Ok((chain.head().height, chain.case(id)?))
    }

    /// Members, admins, validators and parameters at the head.
    pub fn members(&self) -> Result<MembersView, LedgerError> {
        let chain = self.read_settled()?;
        let state = chain.state();
        Ok(MembersView {
            height: chain.head().height,
            members: chain.members()?,
            admins: execute::read_admins(&state)?,
            validators: execute::validator_set(&state)?,
            params: execute::read_params(&state)?,
        })
    }

    /// The catalogue at the head.
    pub fn catalog(&self) -> Result<CatalogView, LedgerError> {
        let chain = self.read_settled()?;
        let state = chain.state();
        let (licence_types, items) = execute::read_catalog(&state)?;
        Ok(CatalogView {
            height: chain.head().height,
            licence_types,
            items,
        })
    }

    /// A committed block and its commit.
    pub fn block(&self, height: Height) -> Result<Option<(Block, Commit)>, LedgerError> {
        let chain = self.read_settled()?;
        let Some(block) = chain.block(height)? else {
            return Ok(None);
        };
        let commit = chain
            .commit_at(height)?
            .ok_or_else(|| LedgerError::Fault(format!("block {height} has no commit")))?;
        Ok(Some((block, commit)))
    }

    /// A committed block and its commit in the block-sync form
    /// ([`tongban_ledger::wire::SyncedBlock`] bytes), read without decoding.
    pub fn synced_block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.read().synced_block_bytes(height)?)
    }

    /// A committed record with its inclusion proof.
    pub fn record(&self, hash: &Hash32) -> Result<Option<FoundRecord>, LedgerError> {
        let chain = self.read_settled()?;
        Ok(chain.record(hash)?.map(|found| FoundRecord {
            record: found.record,
            height: found.location.height,
            index: found.location.index,
            block_hash: found.header.hash(),
            records_root: found.header.records_root,
            inclusion: found.inclusion,
        }))
    }

    /// A proof bundle for a licence (or of its absence) at the head; `None` before the
    /// first block (there is no signed header to prove against yet).
    pub fn licence_proof(
        &self,
        id: &LicenceId,
        now_ms: u64,
    ) -> Result<Option<ProofBundle>, LedgerError> {
        let chain = self.read_settled()?;
        match licence_bundle(&chain, id, now_ms) {
            Ok(bundle) => Ok(Some(bundle)),
            Err(ChainBundleError::NoBlocks) => Ok(None),
            Err(ChainBundleError::Chain(e)) => Err(LedgerError::Chain(e)),
            Err(e) => Err(LedgerError::Fault(e.to_string())),
        }
    }
}

fn classify(error: ChainError) -> BlockCheck {
    match error {
        ChainError::InvalidBlock { .. }
        | ChainError::InvalidCommit { .. }
        | ChainError::StaleExecution { .. } => BlockCheck::Invalid(error.to_string()),
        ChainError::Execution(execute::ExecError::InvalidRecord { .. })
        | ChainError::Execution(execute::ExecError::TooManyRecords { .. }) => {
            BlockCheck::Invalid(error.to_string())
        }
        other => BlockCheck::Fault(LedgerError::Chain(other)),
    }
}
