//! Deterministic execution of records (DESIGN §4): the rules of the ledger.
//!
//! [`execute_block`] runs a block's records, in order, over the latest committed state
//! ([`StateReader`]) through an in-block overlay, so each record sees the effects of the
//! records before it. It returns the block's [`StateChanges`], one result per record and
//! the validator set of the next height when it changed. A proposer runs it in
//! [`Mode::Build`] (failing records are dropped) and a validator in [`Mode::Validate`]
//! (any failing record makes the block invalid). [`check_record`] applies the same rules
//! to one record for mempool admission, without applying it.
//!
//! Determinism: the overlay and the output are `BTreeMap`s, lists in state are kept
//! sorted, time is only `BlockContext::time_ms`, and end-of-block work (governance)
//! visits proposals in ascending id order. Nothing here reads a clock or iterates a
//! `HashMap`.
//!
//! A refused record leaves no trace: each record writes into a pending layer that is
//! merged into the block's overlay only when every rule passed, and the author's nonce
//! is stored only then.
//!
//! Order of checks (so every node gives the same reason): chain id, encoded size,
//! signature, nonce, then the body's rules (author, then the body's fields in the order
//! of its module).
//!
//! Where DESIGN §4 is silent, these choices were made:
//! - a licence id's issuer part must be the issuing member's id or its region code
//!   (`issuer_code_mismatch`), so a member cannot mint ids under another department;
//! - superseding a revoked licence is refused (nothing leaves `Revoked`);
//! - withdrawal is recorded by the accepting member, on the applicant's behalf;
//! - a governance change is checked when proposed and again when applied; one that no
//!   longer applies (say, it would remove the last validator) ends `Failed`;
//! - approvals count only while their admin is still an admin; proposals are visited in
//!   ascending id order at the end of a block, each seeing the changes of the ones
//!   before it;
//! - a removed member keeps its record, id and key index entry (its key stays taken and
//!   its records get `author_not_active`); a rotated-out key is freed and unknown.

mod cases;
mod catalog;
mod genesis;
mod governance;
mod licences;
mod reads;
mod reject;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

use crate::bytes::{Hash32, PublicKey};
use crate::codec::encode;
use crate::crypto::{verify_many_on_this_thread, SignatureCheck, SIGNATURE_BATCH_MAX};
use crate::ids::TypeCode;
use crate::keys;
use crate::state::{StateChanges, StateReadError, StateReader};
use crate::types::{
    ChainParams, Height, LicenceType, Member, MemberStatus, ProposalId, ProposalStatus, RecordBody,
    SignedRecord, ValidatorSet,
};

pub use cases::case_transition_role;
pub use genesis::{genesis_changes, validate_genesis, GenesisError, MAX_CHAIN_ID_BYTES};
pub use governance::{
    validate_params, MAX_BLOCK_INTERVAL_MS, MAX_BLOCK_RECORDS_LIMIT, MAX_PROPOSAL_EXPIRY_BLOCKS,
    MAX_RECORD_BYTES_LIMIT, MIN_BLOCK_INTERVAL_MS, MIN_RECORD_BYTES_LIMIT,
};
pub use reads::{
    read_admins, read_case, read_catalog, read_item, read_item_list, read_licence,
    read_licence_type, read_licence_type_list, read_member, read_member_by_key, read_member_list,
    read_members, read_nonce, read_open_proposals, read_params, read_proposal, validator_set,
};
pub use reject::{CaseRole, ChangeError, ParamsError, RejectReason};

// ---------------------------------------------------------------------------------
// Limits (every list kept in state has one)
// ---------------------------------------------------------------------------------

/// Most members ever registered (removed ones included: their ids stay taken).
pub const MAX_MEMBERS: usize = 1_024;
/// Most admin keys.
pub const MAX_ADMINS: usize = 64;
/// Most proposals open at once.
pub const MAX_OPEN_PROPOSALS: usize = 128;
/// Most licence types in the catalogue.
pub const MAX_LICENCE_TYPES: usize = 4_096;
/// Most items in the catalogue.
pub const MAX_ITEMS: usize = 8_192;
/// Most issuers of one licence type.
pub const MAX_ISSUERS_PER_TYPE: usize = 256;
/// Most licence types an item uses or issues (each list).
pub const MAX_ITEM_TYPES: usize = 64;
/// Most handling members of one case.
pub const MAX_HANDLING_MEMBERS: usize = 32;
/// Most events in a case's timeline; further transitions are refused.
pub const MAX_CASE_TIMELINE: usize = 256;
/// Longest name (member, licence type, item), in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest suspension or revocation reason, in bytes.
pub const MAX_REASON_BYTES: usize = 1_024;
/// Longest time limit of an item, in days (ten years).
pub const MAX_TIME_LIMIT_DAYS: u32 = 3_650;
/// Milliseconds in a day, for case deadlines.
pub const DAY_MS: u64 = 86_400_000;

// ---------------------------------------------------------------------------------
// Interface
// ---------------------------------------------------------------------------------

/// What execution knows about the block being executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    /// This chain's id; records naming another chain are refused.
    pub chain_id: String,
    /// Height of the block.
    pub height: Height,
    /// The block's time (header `time_ms`), Unix ms: the only clock execution knows.
    pub time_ms: u64,
}

/// Who is executing, and so what a failing record means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A proposer building a block: failing records are dropped, the rest are kept.
    Build,
    /// A validator checking a proposed block: any failing record makes it invalid.
    Validate,
}

/// The result of executing a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The state changes of the whole block, to apply as one new version.
    pub changes: StateChanges,
    /// One entry per examined record, in order: its hash and whether it was applied.
    /// In [`Mode::Build`] the records after the block became full
    /// (`params.max_block_records` kept) are not examined and have no entry.
    pub results: Vec<(Hash32, Result<(), RejectReason>)>,
    /// Indexes (into the input) of the records applied, ascending: the block's records.
    pub kept: Vec<usize>,
    /// Whether the validator set of the next height differs from this height's.
    pub validator_set_changed: bool,
    /// The validator set of height + 1, present exactly when `validator_set_changed`.
    pub next_validator_set: Option<ValidatorSet>,
    /// Proposals that ended in this block (applied, failed or expired), ascending by id.
    pub ended_proposals: Vec<(ProposalId, ProposalStatus)>,
}

/// A failure of execution itself (not of a record): the block cannot be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// State could not be read.
    #[error(transparent)]
    State(#[from] StateReadError),
    /// A stored value does not decode or contradicts another (a fault, not bad input).
    #[error("corrupt state ({what} at {key}): {detail}")]
    CorruptState {
        /// What was read.
        what: &'static str,
        /// Its key.
        key: Hash32,
        /// What is wrong.
        detail: String,
    },
    /// A value genesis always writes is missing: genesis was not applied.
    #[error("state has no {0}: genesis was not applied")]
    MissingState(&'static str),
    /// [`Mode::Validate`]: a record of the block is refused, so the block is invalid.
    #[error("record {index} ({hash}) is invalid: {reason}")]
    InvalidRecord {
        /// Index of the record in the block.
        index: usize,
        /// Its hash.
        hash: Hash32,
        /// Why.
        reason: RejectReason,
    },
    /// [`Mode::Validate`]: the block has more records than `params.max_block_records`.
    #[error("block has {count} records, the limit is {max}")]
    TooManyRecords {
        /// Records in the block.
        count: usize,
        /// The limit.
        max: u32,
    },
}

/// Why [`check_record`] did not admit a record.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The record breaks a rule.
    #[error(transparent)]
    Rejected(#[from] RejectReason),
    /// State could not be read; the record's fate is unknown.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl From<StateReadError> for CheckError {
    fn from(e: StateReadError) -> Self {
        CheckError::Exec(ExecError::State(e))
    }
}

impl From<ChangeError> for CheckError {
    fn from(e: ChangeError) -> Self {
        CheckError::Rejected(RejectReason::InvalidChange(e))
    }
}

/// An "already verified" predicate that trusts nothing: every signature is checked.
pub fn verify_every_signature(_record_hash: &Hash32) -> bool {
    false
}

/// Executes a block's records over `reader` (the state after the previous block).
///
/// `already_verified(record_hash)` says which records' signatures the caller has
/// already verified (the node checks each record once, when it enters the mempool); the
/// others are verified here with [`verify_many`] (batches spread across all cores).
/// Pass [`verify_every_signature`] to check them all.
///
/// Errors: [`ExecError::InvalidRecord`] / [`ExecError::TooManyRecords`] in
/// [`Mode::Validate`]; state read failures in both modes.
pub fn execute_block(
    reader: &dyn StateReader,
    ctx: &BlockContext,
    records: &[SignedRecord],
    mode: Mode,
    already_verified: &dyn Fn(&Hash32) -> bool,
) -> Result<BlockOutcome, ExecError> {
    let (outcome, ()) =
        execute_block_then(reader, ctx, records, mode, already_verified, None, |_| ())?;
    Ok(outcome)
}

/// [`execute_block`], then `then(&outcome)` (the caller's next step, e.g. the state
/// tree update), with the signature checks running alongside both, after `alongside`
/// (the caller's work for the other core, e.g. reading ahead what `then` will read).
///
/// The records are executed on this thread as if every signature were valid while
/// other threads verify the ones not `already_verified`. When every signature is
/// valid, that was the real execution, and `then` has already run on it. Otherwise the
/// block is executed again with the real verdicts and `then` runs again on the new
/// outcome, so the result is always exactly that of checking first and executing
/// after; `then` must only compute. A block whose signatures all need checking (a
/// synced block, a validator that has not seen the records) so no longer waits for
/// its signatures before execution starts.
///
/// `alongside` runs on the other thread, before its signature checks (or alone there,
/// when there are none); it must not change anything the execution reads. The checks
/// are batches that either thread takes: this one joins in once `then` is done.
/// Which thread checks a batch never changes a verdict.
pub fn execute_block_then<R>(
    reader: &dyn StateReader,
    ctx: &BlockContext,
    records: &[SignedRecord],
    mode: Mode,
    already_verified: &dyn Fn(&Hash32) -> bool,
    alongside: Option<&(dyn Fn() + Sync)>,
    then: impl Fn(&BlockOutcome) -> R,
) -> Result<(BlockOutcome, R), ExecError> {
    let exec = Exec::new(reader, ctx)?;
    let max_records = exec.params.max_block_records;
    if mode == Mode::Validate && records.len() > max_records as usize {
        return Err(ExecError::TooManyRecords {
            count: records.len(),
            max: max_records,
        });
    }
    // Hash and size every record (in parallel: it is a third of the per-record cost
    // after signatures).
    let prepared: Vec<(Hash32, usize)> = records
        .par_iter()
        .map(|record| {
            let bytes = encode(record);
            (crate::crypto::sha256(&[&bytes]), bytes.len())
        })
        .collect();
    let to_check: Vec<usize> = (0..records.len())
        .filter(|&i| !already_verified(&prepared[i].0))
        .collect();
    let run_then = |exec: Exec<'_>, signature_ok: &dyn Fn(usize) -> bool| {
        run_block(exec, reader, records, &prepared, mode, signature_ok).map(|outcome| {
            let next = then(&outcome);
            (outcome, next)
        })
    };
    if to_check.is_empty() {
        let Some(alongside) = alongside else {
            return run_then(exec, &|_| true);
        };
        return std::thread::scope(|scope| {
            let helper = scope.spawn(alongside);
            let result = run_then(exec, &|_| true);
            helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            result
        });
    }
    let checks = SignatureWork::new(records, &to_check);
    let (verdicts, optimistic) = std::thread::scope(|scope| {
        let checker = scope.spawn(|| {
            if let Some(alongside) = alongside {
                alongside();
            }
            checks.work();
        });
        let optimistic = run_then(exec, &|_| true);
        // Whichever thread is done first takes the batches that are left.
        checks.work();
        (checker.join(), optimistic)
    });
    verdicts.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let verdicts = checks.verdicts();
    if verdicts.iter().all(|ok| *ok) {
        return optimistic;
    }
    let mut signature_ok = vec![true; records.len()];
    for (&index, ok) in to_check.iter().zip(verdicts) {
        signature_ok[index] = ok;
    }
    run_then(Exec::new(reader, ctx)?, &|index| signature_ok[index])
}

/// The state keys that `records` are expected to write, sorted and without repeats:
/// each author's nonce and the one entry each body is about (a licence, the licence it
/// supersedes, a case, a proposal, a catalogue entry). A hint for reading ahead, not a
/// rule: execution alone decides what a block writes.
pub fn likely_writes(records: &[SignedRecord]) -> Vec<Hash32> {
    let mut written = likely_writes_in_order(records);
    written.sort_unstable();
    written.dedup();
    written
}

/// [`likely_writes`] in the order execution reads them, record by record (the entry
/// each body is about, then its author's nonce), with repeats.
pub fn likely_writes_in_order<'a>(
    records: impl IntoIterator<Item = &'a SignedRecord>,
) -> Vec<Hash32> {
    records
        .into_iter()
        .flat_map(|record| {
            let body = match &record.payload.body {
                RecordBody::IssueLicence {
                    licence_id,
                    supersedes,
                    ..
                } => vec![
                    Some(keys::licence(licence_id)),
                    supersedes.as_ref().map(keys::licence),
                ],
                RecordBody::SuspendLicence { licence_id, .. }
                | RecordBody::ReinstateLicence { licence_id, .. }
                | RecordBody::RevokeLicence { licence_id, .. } => {
                    vec![Some(keys::licence(licence_id))]
                }
                RecordBody::OpenCase { case_id, .. } | RecordBody::AdvanceCase { case_id, .. } => {
                    vec![Some(keys::case(case_id))]
                }
                RecordBody::ProposeMemberChange { proposal_id, .. }
                | RecordBody::Approve { proposal_id } => vec![Some(keys::proposal(*proposal_id))],
                RecordBody::PublishLicenceType { type_code, .. } => {
                    vec![Some(keys::licence_type(type_code))]
                }
                RecordBody::PublishItem { item_code, .. } => vec![Some(keys::item(item_code))],
            };
            body.into_iter()
                .flatten()
                .chain([keys::nonce(&record.payload.author)])
        })
        .collect()
}

/// Executes the records in order with `exec` (fresh from [`Exec::new`]);
/// `signature_ok(index)` is the verdict on each one's signature.
fn run_block(
    mut exec: Exec<'_>,
    reader: &dyn StateReader,
    records: &[SignedRecord],
    prepared: &[(Hash32, usize)],
    mode: Mode,
    signature_ok: &dyn Fn(usize) -> bool,
) -> Result<BlockOutcome, ExecError> {
    let max_records = exec.params.max_block_records;
    exec.state.reserve(records.len());

    let mut results = Vec::with_capacity(records.len());
    let mut kept = Vec::with_capacity(records.len());
    for (index, (record, &(hash, size))) in records.iter().zip(prepared).enumerate() {
        if kept.len() >= max_records as usize {
            break;
        }
        let outcome = exec.apply_record(record, &hash, size, signature_ok(index));
        match outcome {
            Ok(()) => {
                exec.state.commit_pending();
                kept.push(index);
                results.push((hash, Ok(())));
            }
            Err(CheckError::Rejected(reason)) => {
                exec.state.discard_pending();
                if mode == Mode::Validate {
                    return Err(ExecError::InvalidRecord {
                        index,
                        hash,
                        reason,
                    });
                }
                results.push((hash, Err(reason)));
            }
            Err(CheckError::Exec(e)) => return Err(e),
        }
    }

    let ended_proposals = exec.end_of_block()?;
    exec.state.commit_pending();

    let (validator_set_changed, next_validator_set) = if exec.members_touched {
        let before = validator_set(reader)?;
        let after = validator_set(&exec.state)?;
        if before == after {
            (false, None)
        } else {
            (true, Some(after))
        }
    } else {
        (false, None)
    };

    Ok(BlockOutcome {
        changes: exec.state.into_changes(),
        results,
        kept,
        validator_set_changed,
        next_validator_set,
        ended_proposals,
    })
}

/// Checks one record against committed state for mempool admission: every rule of
/// [`execute_block`], nothing applied. `ctx` is the next block's (height of the head + 1,
/// the current time). `signature_verified` says the caller has already verified the
/// signature (the mempool verifies arrivals in batches).
pub fn check_record(
    reader: &dyn StateReader,
    ctx: &BlockContext,
    record: &SignedRecord,
    signature_verified: bool,
) -> Result<(), CheckError> {
    let bytes = encode(record);
    let hash = crate::crypto::sha256(&[&bytes]);
    RecordChecker::new(reader, ctx)?.check(record, &hash, bytes.len(), signature_verified)
}

/// Checks many records, each on its own, against the same state: what
/// [`check_record`] does for one, without reading the parameters and admins again for
/// every record, and with the state values read once (mempool admission checks its
/// records in batches).
///
/// Every check sees only `reader`'s state, never the effects of the records checked
/// before it: two records of one author with nonces 5 and 3 both pass against a last
/// nonce of 2, as they would one by one (the mempool orders them).
pub struct RecordChecker<'a> {
    exec: Exec<'a>,
}

impl std::fmt::Debug for RecordChecker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordChecker")
            .field("height", &self.exec.ctx.height)
            .finish_non_exhaustive()
    }
}

impl<'a> RecordChecker<'a> {
    /// A checker over `reader` for a block with `ctx`.
    pub fn new(reader: &'a dyn StateReader, ctx: &'a BlockContext) -> Result<Self, ExecError> {
        Ok(RecordChecker {
            exec: Exec::new(reader, ctx)?,
        })
    }

    /// Checks one record; `hash` and `encoded_len` are those of `encode(record)`, and
    /// `signature_verified` says the caller has verified its signature already.
    pub fn check(
        &mut self,
        record: &SignedRecord,
        hash: &Hash32,
        encoded_len: usize,
        signature_verified: bool,
    ) -> Result<(), CheckError> {
        let signature_ok = signature_verified || record.verify_signature().is_ok();
        let result = self
            .exec
            .apply_record(record, hash, encoded_len, signature_ok);
        // Nothing of this record may be seen by the next check.
        self.exec.state.discard_pending();
        result
    }
}

/// The signature checks of a block, in batches that any thread may take: the one
/// that reads ahead starts on them, and the one that executes joins in when it is done,
/// so neither waits on the other while checks are left.
struct SignatureWork<'a> {
    records: &'a [SignedRecord],
    /// Batches of indexes into `records`.
    batches: Vec<&'a [usize]>,
    /// The next batch nobody has taken.
    next: AtomicUsize,
    /// Each batch's verdicts, once checked.
    verdicts: Vec<OnceLock<Vec<bool>>>,
}

impl<'a> SignatureWork<'a> {
    fn new(records: &'a [SignedRecord], to_check: &'a [usize]) -> Self {
        let batches: Vec<&[usize]> = to_check.chunks(SIGNATURE_BATCH_MAX).collect();
        let verdicts = batches.iter().map(|_| OnceLock::new()).collect();
        SignatureWork {
            records,
            batches,
            next: AtomicUsize::new(0),
            verdicts,
        }
    }

    /// Checks batches on this thread until none is left untaken.
    fn work(&self) {
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(batch) = self.batches.get(index) else {
                return;
            };
            let verdicts = verify_signatures(self.records, batch);
            // Only the thread that took `index` sets it.
            let _ = self.verdicts[index].set(verdicts);
        }
    }

    /// The verdicts in `to_check` order; call after every [`Self::work`] returned.
    fn verdicts(&self) -> Vec<bool> {
        self.verdicts
            .iter()
            .zip(&self.batches)
            .flat_map(|(verdicts, batch)| {
                // A batch whose thread panicked has no verdicts; the panic was resumed
                // before this is called, so every batch has them here.
                verdicts
                    .get()
                    .cloned()
                    .unwrap_or_else(|| vec![false; batch.len()])
            })
            .collect()
    }
}

/// Verdicts on the signatures of `records[i]` for each `i` in `to_check`, in order.
fn verify_signatures(records: &[SignedRecord], to_check: &[usize]) -> Vec<bool> {
    let signing_bytes: Vec<Vec<u8>> = to_check
        .iter()
        .map(|&i| records[i].payload.signing_bytes())
        .collect();
    let items: Vec<SignatureCheck<'_>> = to_check
        .iter()
        .zip(&signing_bytes)
        .map(|(&i, bytes)| {
            (
                &records[i].payload.author,
                bytes.as_slice(),
                &records[i].signature,
            )
        })
        .collect();
    verify_many_on_this_thread(&items)
        .into_iter()
        .map(|r| r.is_ok())
        .collect()
}

// ---------------------------------------------------------------------------------
// The overlay: committed state + this block's writes + the current record's writes
// ---------------------------------------------------------------------------------

/// Layers: `pending` (the record being executed) over `block` (records applied so far)
/// over `base` (committed state). Reads of `base` are cached for the block, since most
/// records read the same members, types and parameters.
///
/// The two block-long layers are hash maps: a 10,000-record block puts ~20,000 keys in
/// each, and every read looks in both, so ordered maps spent a B-tree descent of 32-byte
/// compares per read. Nothing iterates them but [`Overlay::into_changes`], which sorts.
pub(crate) struct Overlay<'a> {
    base: &'a dyn StateReader,
    base_cache: RefCell<HashMap<Hash32, Option<Vec<u8>>>>,
    block: HashMap<Hash32, Option<Vec<u8>>>,
    pending: BTreeMap<Hash32, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a dyn StateReader) -> Self {
        Overlay {
            base,
            base_cache: RefCell::new(HashMap::new()),
            block: HashMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// Makes room for the keys of `records` records (most write two, read one more),
    /// so that the block-long layers do not grow by rehashing as the block runs.
    fn reserve(&mut self, records: usize) {
        self.block.reserve(2 * records);
        self.base_cache.get_mut().reserve(records);
    }

    /// Writes `value` (encoded) under `key` in the pending layer.
    pub(crate) fn put<T: Serialize + ?Sized>(&mut self, key: Hash32, value: &T) {
        self.pending.insert(key, Some(encode(value)));
    }

    /// Deletes `key` in the pending layer.
    pub(crate) fn delete(&mut self, key: Hash32) {
        self.pending.insert(key, None);
    }

    fn commit_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.block.extend(pending);
    }

    fn discard_pending(&mut self) {
        self.pending.clear();
    }

    fn into_changes(self) -> StateChanges {
        self.block.into_iter().collect()
    }
}

impl StateReader for Overlay<'_> {
    fn get(&self, key: &Hash32) -> Result<Option<Vec<u8>>, StateReadError> {
        if let Some(value) = self.pending.get(key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.block.get(key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.base_cache.borrow().get(key) {
            return Ok(value.clone());
        }
        let value = self.base.get(key)?;
        self.base_cache.borrow_mut().insert(*key, value.clone());
        Ok(value)
    }
}

// ---------------------------------------------------------------------------------
// The executor
// ---------------------------------------------------------------------------------

/// Execution state of one block.
pub(crate) struct Exec<'a> {
    pub(crate) ctx: &'a BlockContext,
    pub(crate) state: Overlay<'a>,
    /// Parameters in force (they change only at the end of a block, by governance).
    pub(crate) params: ChainParams,
    /// Admins in force, ascending (they change only at the end of a block).
    pub(crate) admins: Vec<PublicKey>,
    /// A member was added or changed: the validator set may have changed.
    pub(crate) members_touched: bool,
    /// Licence types decoded in this block, with the stored bytes they came from.
    licence_types: HashMap<Hash32, (Vec<u8>, Arc<LicenceType>)>,
    /// Authors seen in this block: their keys hashed once, their member decoded once.
    authors: HashMap<PublicKey, Author>,
}

/// What a block's execution keeps about one author. Every record reads its author's
/// nonce and (member-signed records) its member, each under a SHA-256-derived key, and
/// the same few authors write a whole block: hashing those keys again for each record
/// was a fifth of executing an `IssueLicence`, and decoding the member (ids with their
/// checksums) as much again.
struct Author {
    nonce_key: Hash32,
    member_index_key: Hash32,
    /// The member as last decoded, with the stored bytes of the key index entry and of
    /// the member it came from.
    member: Option<SeenMember>,
}

struct SeenMember {
    index_bytes: Vec<u8>,
    member_key: Hash32,
    member_bytes: Vec<u8>,
    member: Member,
}

impl<'a> Exec<'a> {
    fn new(reader: &'a dyn StateReader, ctx: &'a BlockContext) -> Result<Self, ExecError> {
        let params = read_params(reader)?;
        let admins = read_admins(reader)?;
        Ok(Exec {
            ctx,
            state: Overlay::new(reader),
            params,
            admins,
            members_touched: false,
            licence_types: HashMap::new(),
            authors: HashMap::new(),
        })
    }

    fn author(&mut self, key: &PublicKey) -> &mut Author {
        self.authors.entry(*key).or_insert_with(|| Author {
            nonce_key: keys::nonce(key),
            member_index_key: keys::member_key(key),
            member: None,
        })
    }

    /// [`read_member_by_key`], decoding again only when the stored bytes of the key
    /// index entry or of the member differ from those last decoded for this author.
    /// The answer is a function of those two values alone (the entry names the member;
    /// the member's bytes are the member), so it is the same as reading afresh, whatever
    /// changed them.
    fn member_by_key(&mut self, key: &PublicKey) -> Result<Option<Member>, ExecError> {
        let index_key = self.author(key).member_index_key;
        let Some(index_bytes) = self.state.get(&index_key)? else {
            return Ok(None);
        };
        if let Some(seen) = self.authors.get(key).and_then(|a| a.member.as_ref()) {
            if seen.index_bytes == index_bytes
                && self.state.get(&seen.member_key)?.as_ref() == Some(&seen.member_bytes)
            {
                return Ok(Some(seen.member.clone()));
            }
        }
        let Some(member) = read_member_by_key(&self.state, key)? else {
            return Ok(None);
        };
        let member_key = keys::member(&member.id);
        if let Some(member_bytes) = self.state.get(&member_key)? {
            self.author(key).member = Some(SeenMember {
                index_bytes,
                member_key,
                member_bytes,
                member: member.clone(),
            });
        }
        Ok(Some(member))
    }

    /// A licence type, decoded once for as long as its stored bytes stay the same. Every
    /// `IssueLicence` reads its type, and decoding it (a name and every issuer's id, each
    /// with its checksum) cost more than the rest of the record's rules. Comparing bytes
    /// rather than tracking writes keeps it right whatever changes the type.
    pub(crate) fn licence_type(
        &mut self,
        code: &TypeCode,
    ) -> Result<Option<Arc<LicenceType>>, ExecError> {
        let key = keys::licence_type(code);
        let Some(bytes) = self.state.get(&key)? else {
            return Ok(None);
        };
        if let Some((seen, value)) = self.licence_types.get(&key) {
            if *seen == bytes {
                return Ok(Some(Arc::clone(value)));
            }
        }
        let value: LicenceType =
            crate::codec::decode(&bytes).map_err(|e| ExecError::CorruptState {
                what: "licence type",
                key,
                detail: e.to_string(),
            })?;
        let value = Arc::new(value);
        self.licence_types.insert(key, (bytes, Arc::clone(&value)));
        Ok(Some(value))
    }

    /// Runs every rule for one record and, if all pass, writes its effects into the
    /// pending layer (the caller commits or discards it).
    fn apply_record(
        &mut self,
        record: &SignedRecord,
        hash: &Hash32,
        encoded_len: usize,
        signature_ok: bool,
    ) -> Result<(), CheckError> {
        let payload = &record.payload;
        if payload.chain_id != self.ctx.chain_id {
            return Err(RejectReason::WrongChainId {
                expected: self.ctx.chain_id.clone(),
                found: payload.chain_id.clone(),
            }
            .into());
        }
        if encoded_len > self.params.max_record_bytes as usize {
            return Err(RejectReason::RecordTooLarge {
                size: encoded_len,
                max: self.params.max_record_bytes,
            }
            .into());
        }
        if !signature_ok {
            return Err(RejectReason::BadSignature { record: *hash }.into());
        }
        let nonce_key = self.author(&payload.author).nonce_key;
        let last = reads::get(&self.state, &nonce_key, "nonce")?.unwrap_or(0);
        if payload.nonce <= last {
            return Err(RejectReason::StaleNonce {
                nonce: payload.nonce,
                last,
            }
            .into());
        }

        let author = &payload.author;
        match &payload.body {
            RecordBody::ProposeMemberChange {
                proposal_id,
                change,
            } => self.propose(author, *proposal_id, change)?,
            RecordBody::Approve { proposal_id } => self.approve(author, *proposal_id)?,
            RecordBody::PublishLicenceType {
                type_code,
                name,
                issuers,
            } => self.publish_licence_type(author, type_code, name, issuers)?,
            RecordBody::PublishItem {
                item_code,
                name,
                time_limit_days,
                modes,
                uses_types,
                issues_types,
            } => self.publish_item(
                author,
                catalog::ItemFields {
                    item_code,
                    name,
                    time_limit_days: *time_limit_days,
                    modes,
                    uses_types,
                    issues_types,
                },
            )?,
            RecordBody::IssueLicence {
                licence_id,
                type_code,
                holder_commitment,
                document_hash,
                valid_from,
                valid_until,
                supersedes,
            } => self.issue_licence(
                author,
                licences::IssueFields {
                    licence_id,
                    type_code,
                    holder_commitment,
                    document_hash,
                    valid_from: *valid_from,
                    valid_until: *valid_until,
                    supersedes: supersedes.as_ref(),
                },
            )?,
            RecordBody::SuspendLicence { licence_id, reason } => {
                self.suspend_licence(author, licence_id, reason)?
            }
            RecordBody::ReinstateLicence { licence_id } => {
                self.reinstate_licence(author, licence_id)?
            }
            RecordBody::RevokeLicence { licence_id, reason } => {
                self.revoke_licence(author, licence_id, reason)?
            }
            RecordBody::OpenCase {
                case_id,
                item_code,
                mode,
                accepting,
                handling,
                applicant_commitment,
                deadline,
            } => self.open_case(
                author,
                cases::OpenFields {
                    case_id,
                    item_code,
                    mode: *mode,
                    accepting,
                    handling,
                    applicant_commitment,
                    deadline: *deadline,
                },
            )?,
            RecordBody::AdvanceCase {
                case_id,
                to,
                evidence_hash,
                licence_id,
            } => self.advance_case(
                author,
                case_id,
                *to,
                evidence_hash.as_ref(),
                licence_id.as_ref(),
            )?,
        }

        self.state.put(nonce_key, &payload.nonce);
        Ok(())
    }

    /// The active member whose key is `author` (member-signed records).
    pub(crate) fn member_author(&mut self, author: &PublicKey) -> Result<Member, CheckError> {
        let member = self
            .member_by_key(author)?
            .ok_or(RejectReason::UnknownAuthor(*author))?;
        if member.status != MemberStatus::Active {
            return Err(RejectReason::AuthorNotActive {
                member_id: member.id,
                status: member.status,
            }
            .into());
        }
        Ok(member)
    }

    /// Refuses a governance record whose author is not an admin.
    pub(crate) fn admin_author(&self, author: &PublicKey) -> Result<(), CheckError> {
        if self.admins.binary_search(author).is_err() {
            return Err(RejectReason::NotAdmin(*author).into());
        }
        Ok(())
    }
}

/// Refuses a text field longer than `max` bytes.
pub(crate) fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), RejectReason> {
    if value.len() > max {
        return Err(RejectReason::FieldTooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// Refuses a list longer than `max`.
pub(crate) fn check_list<T>(
    field: &'static str,
    list: &[T],
    max: usize,
) -> Result<(), RejectReason> {
    if list.len() > max {
        return Err(RejectReason::ListTooLong {
            field,
            len: list.len(),
            max,
        });
    }
    Ok(())
}

/// Whether a list names some element twice.
pub(crate) fn has_duplicates<T: Ord>(list: &[T]) -> bool {
    let mut sorted: Vec<&T> = list.iter().collect();
    sorted.sort();
    sorted.windows(2).any(|w| w[0] == w[1])
}

/// Inserts `value` into a sorted list unless present; false if the list is full.
pub(crate) fn insert_sorted<T: Ord>(list: &mut Vec<T>, value: T, max: usize) -> bool {
    match list.binary_search(&value) {
        Ok(_) => true,
        Err(position) => {
            if list.len() >= max {
                return false;
            }
            list.insert(position, value);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::crypto::public_key;
    use crate::ids::{uscc_check_char, MemberId, RegionCode};
    use crate::types::{ChainParams, Genesis, Role};

    fn member(n: u32, seed: u8) -> Member {
        let first17 = format!("91350100{n:09}");
        let check = uscc_check_char(first17.as_bytes()).expect("alphabet");
        Member {
            id: MemberId::parse(&format!("{first17}{}", char::from(check))).expect("id"),
            name: format!("Department {n}"),
            region: RegionCode::parse("350100").expect("region"),
            key: public_key(&SigningKey::from_bytes(&[seed; 32])),
            roles: vec![Role::Validator],
            status: MemberStatus::Active,
        }
    }

    /// The author memo gives what a fresh read gives, also after the member or its key
    /// index changed under it within the same execution.
    #[test]
    fn the_author_memo_follows_changes_to_the_member() {
        let a = member(0, 1);
        let genesis = Genesis {
            chain_id: "test".into(),
            genesis_time_ms: 1,
            members: vec![a.clone(), member(1, 2)],
            admins: vec![public_key(&SigningKey::from_bytes(&[9; 32]))],
            params: ChainParams::default(),
        };
        let state: BTreeMap<Hash32, Vec<u8>> = genesis::genesis_changes(&genesis)
            .expect("genesis")
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let ctx = BlockContext {
            chain_id: "test".into(),
            height: 1,
            time_ms: 2,
        };
        let mut exec = Exec::new(&state, &ctx).expect("exec");
        let fresh =
            |exec: &Exec<'_>, key: &PublicKey| read_member_by_key(&exec.state, key).expect("read");
        assert_eq!(exec.member_by_key(&a.key).expect("read"), Some(a.clone()));
        assert_eq!(exec.member_by_key(&a.key).expect("read"), Some(a.clone()));

        let mut suspended = a.clone();
        suspended.status = MemberStatus::Suspended;
        exec.state.put(keys::member(&a.id), &suspended);
        exec.state.commit_pending();
        assert_eq!(
            exec.member_by_key(&a.key).expect("read"),
            Some(suspended.clone())
        );
        assert_eq!(fresh(&exec, &a.key), Some(suspended.clone()));

        let mut rotated = suspended;
        rotated.key = public_key(&SigningKey::from_bytes(&[3; 32]));
        exec.state.delete(keys::member_key(&a.key));
        exec.state.put(keys::member_key(&rotated.key), &a.id);
        exec.state.put(keys::member(&a.id), &rotated);
        exec.state.commit_pending();
        assert_eq!(exec.member_by_key(&a.key).expect("read"), None);
        assert_eq!(
            exec.member_by_key(&rotated.key).expect("read"),
            Some(rotated.clone())
        );
        assert_eq!(fresh(&exec, &rotated.key), Some(rotated));
        assert_eq!(fresh(&exec, &a.key), None);
    }
}
