//! The signed and stored formats of DESIGN §4 and §5.
//!
//! Field order and enum variant order are part of the format: the encoding is
//! `codec::encode` (bincode legacy), and golden-bytes tests in `tests/golden.rs` fail on
//! any accidental change. New variants go at the end of an enum.
//!
//! Times are Unix milliseconds (UTC) throughout: header `time_ms`, licence validity,
//! case deadlines.

use serde::{Deserialize, Serialize};

use crate::bytes::{Hash32, PublicKey, Signature};
use crate::ids::{CaseId, ItemCode, LicenceId, MemberId, RegionCode, TypeCode};

/// Height of a block; the first block after genesis is height 1.
pub type Height = u64;
/// Consensus round within a height.
pub type Round = u32;
/// A governance proposal's id, chosen by the proposing admin.
pub type ProposalId = u64;

// ---------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------

/// A record with its author's ed25519 signature over
/// `b"tongban/record/v1\0" ++ encode(payload)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// What is signed.
    pub payload: RecordPayload,
    /// The author's signature.
    pub signature: Signature,
}

/// The signed part of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPayload {
    /// The chain this record is for; records for another chain are refused.
    pub chain_id: String,
    /// The author's ed25519 public key (a member's key or an admin key).
    pub author: PublicKey,
    /// Strictly greater than the author's last committed nonce (gaps allowed).
    pub nonce: u64,
    /// What the record does.
    pub body: RecordBody,
}

/// Every change to the ledger. Governance bodies are admin-signed; licence and case
/// bodies are member-signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordBody {
    /// Propose a change to the member list, the admins or the chain parameters.
    ProposeMemberChange {
        /// Id of the new proposal; must not be in use.
        proposal_id: ProposalId,
        /// The change to apply once approved.
        change: MemberChange,
    },
    /// Approve an open proposal.
    Approve {
        /// The proposal approved.
        proposal_id: ProposalId,
    },
    /// Publish (or replace) a licence type and who may issue it.
    PublishLicenceType {
        /// The type's code.
        type_code: TypeCode,
        /// Human-readable name, e.g. 营业执照.
        name: String,
        /// Members that may issue licences of this type.
        issuers: Vec<MemberId>,
    },
    /// Publish (or replace) an item of the service catalogue (事项目录).
    PublishItem {
        /// The item's code.
        item_code: ItemCode,
        /// Human-readable name.
        name: String,
        /// Time limit (办结时限) in days from opening a case.
        time_limit_days: u32,
        /// Modes in which a case of this item may be handled.
        modes: Vec<CaseMode>,
        /// Licence types the item consumes as materials.
        uses_types: Vec<TypeCode>,
        /// Licence types the item results in.
        issues_types: Vec<TypeCode>,
    },
    /// Issue an electronic licence.
    IssueLicence {
        /// The licence's id; its type part must equal `type_code`.
        licence_id: LicenceId,
        /// The licence's type.
        type_code: TypeCode,
        /// `sha256(salt ‖ holder id)`; the salt stays with holder and issuer.
        holder_commitment: Hash32,
        /// `sha256(document)`.
        document_hash: Hash32,
        /// Start of validity, Unix ms.
        valid_from: u64,
        /// End of validity, Unix ms; `None` for no end.
        valid_until: Option<u64>,
        /// A licence of the same issuer that this one replaces (it becomes revoked).
        supersedes: Option<LicenceId>,
    },
    /// Suspend an active licence.
    SuspendLicence {
        /// The licence.
        licence_id: LicenceId,
        /// Why.
        reason: String,
    },
    /// Reinstate a suspended licence.
    ReinstateLicence {
        /// The licence.
        licence_id: LicenceId,
    },
    /// Revoke a licence for good.
    RevokeLicence {
        /// The licence.
        licence_id: LicenceId,
        /// Why.
        reason: String,
    },
    /// Open a case; the author is the accepting member.
    OpenCase {
        /// `<accepting member id>-<serial>`.
        case_id: CaseId,
        /// The catalogue item.
        item_code: ItemCode,
        /// How the case is handled.
        mode: CaseMode,
        /// The member that accepted the case.
        accepting: MemberId,
        /// Members that review and decide.
        handling: Vec<MemberId>,
        /// `sha256(salt ‖ applicant id)`.
        applicant_commitment: Hash32,
        /// Deadline, Unix ms; at most the item's time limit after the block time.
        deadline: u64,
    },
    /// Move a case to another state.
    AdvanceCase {
        /// The case.
        case_id: CaseId,
        /// The new state.
        to: CaseState,
        /// `sha256` of supporting evidence, if any.
        evidence_hash: Option<Hash32>,
        /// The licence issued, for `LicenceIssued`.
        licence_id: Option<LicenceId>,
    },
}

impl RecordBody {
    /// A short stable name of the body's kind, for logs, metrics and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordBody::ProposeMemberChange { .. } => "propose_member_change",
            RecordBody::Approve { .. } => "approve",
            RecordBody::PublishLicenceType { .. } => "publish_licence_type",
            RecordBody::PublishItem { .. } => "publish_item",
            RecordBody::IssueLicence { .. } => "issue_licence",
            RecordBody::SuspendLicence { .. } => "suspend_licence",
            RecordBody::ReinstateLicence { .. } => "reinstate_licence",
            RecordBody::RevokeLicence { .. } => "revoke_licence",
            RecordBody::OpenCase { .. } => "open_case",
            RecordBody::AdvanceCase { .. } => "advance_case",
        }
    }
}

/// A governance change, applied when its proposal reaches the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberChange {
    /// Add a new member.
    Add(Member),
    /// Mark a member removed (its key can no longer author records or connect).
    Remove(MemberId),
    /// Replace a member's key.
    RotateKey {
        /// The member.
        member_id: MemberId,
        /// Its new key.
        new_key: PublicKey,
    },
    /// Replace a member's roles.
    SetRoles {
        /// The member.
        member_id: MemberId,
        /// Its new roles.
        roles: Vec<Role>,
    },
    /// Add an admin key.
    AddAdmin(PublicKey),
    /// Remove an admin key.
    RemoveAdmin(PublicKey),
    /// Replace the chain parameters.
    SetParams(ChainParams),
    /// Suspend or reinstate a member (`Active` or `Suspended`; `Removed` is [`MemberChange::Remove`]).
    SetStatus {
        /// The member.
        member_id: MemberId,
        /// Its new status.
        status: MemberStatus,
    },
}

/// A participating department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// 统一社会信用代码.
    pub id: MemberId,
    /// Name, e.g. 福州市市场监督管理局.
    pub name: String,
    /// Region the department serves.
    pub region: RegionCode,
    /// ed25519 public key: signs records and votes, and is the libp2p identity.
    pub key: PublicKey,
    /// What the member does in consensus.
    pub roles: Vec<Role>,
    /// Whether the member takes part.
    pub status: MemberStatus,
}

impl Member {
    /// Active and holding the validator role.
    pub fn is_active_validator(&self) -> bool {
        self.status == MemberStatus::Active && self.roles.contains(&Role::Validator)
    }
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Votes in consensus (one vote each).
    Validator,
    /// Connects and syncs; does not vote.
    Observer,
}

/// A member's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Takes part.
    Active,
    /// Temporarily out: may not author records, connect or vote.
    Suspended,
    /// Out for good.
    Removed,
}

/// Chain parameters, set in genesis and changed by governance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainParams {
    /// A proposal applies when `approvals * denominator > numerator * admins`.
    pub governance_threshold: Threshold,
    /// A proposal not applied within this many blocks of its creation expires.
    pub proposal_expiry_blocks: u64,
    /// Most records in one block.
    pub max_block_records: u32,
    /// Largest encoded record, in bytes.
    pub max_record_bytes: u32,
    /// A block is proposed at least this often, even when empty.
    pub max_block_interval_ms: u64,
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            governance_threshold: Threshold {
                numerator: 2,
                denominator: 3,
            },
            proposal_expiry_blocks: 10_000,
            max_block_records: 10_000,
            max_record_bytes: 16 * 1024,
            max_block_interval_ms: 5_000,
        }
    }
}

/// "More than numerator/denominator".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    /// Numerator.
    pub numerator: u32,
    /// Denominator (non-zero).
    pub denominator: u32,
}

impl Threshold {
    /// Whether `count` out of `total` is more than the threshold.
    pub fn is_reached(&self, count: usize, total: usize) -> bool {
        (count as u128) * u128::from(self.denominator) > u128::from(self.numerator) * total as u128
    }
}

/// How a case is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseMode {
    /// 全程网办.
    Online,
    /// 异地代收代办.
    RemoteAcceptance,
    /// 多地联办.
    MultiSite,
}

/// The state of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Opened, not yet accepted.
    Submitted,
    /// Accepted by the accepting member.
    Accepted,
    /// More materials requested from the applicant.
    MaterialsRequested,
    /// Under review by a handling member.
    InReview,
    /// Decided: approved.
    Approved,
    /// Decided: rejected.
    Rejected,
    /// The resulting licence is issued.
    LicenceIssued,
    /// The result is delivered to the applicant.
    Delivered,
    /// Finished.
    Closed,
    /// Withdrawn by the applicant before a decision.
    Withdrawn,
}

// ---------------------------------------------------------------------------------
// State values (what the state tree stores, encoded)
// ---------------------------------------------------------------------------------

/// A licence's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    /// In force.
    Active,
    /// Suspended by its issuer; may be reinstated.
    Suspended,
    /// Revoked (or superseded) for good.
    Revoked,
}

/// A licence as held in state: the value a proof bundle proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceRecord {
    /// The licence id.
    pub licence_id: LicenceId,
    /// Its type.
    pub type_code: TypeCode,
    /// The issuing member.
    pub issuer: MemberId,
    /// `sha256(salt ‖ holder id)`.
    pub holder_commitment: Hash32,
    /// `sha256(document)`.
    pub document_hash: Hash32,
    /// Start of validity, Unix ms.
    pub valid_from: u64,
    /// End of validity, Unix ms.
    pub valid_until: Option<u64>,
    /// The licence this one replaced.
    pub supersedes: Option<LicenceId>,
    /// The licence that replaced this one.
    pub superseded_by: Option<LicenceId>,
    /// Current status.
    pub status: LicenceStatus,
    /// Reason given with the last suspension or revocation.
    pub status_reason: Option<String>,
    /// Height of the block that issued it.
    pub issued_height: Height,
    /// Height of the block that last changed it.
    pub updated_height: Height,
}

/// One transition in a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// Block height.
    pub height: Height,
    /// Block time, Unix ms.
    pub time_ms: u64,
    /// State before (`None` for opening).
    pub from: Option<CaseState>,
    /// State after.
    pub to: CaseState,
    /// The member that made the transition.
    pub by: MemberId,
    /// Evidence hash given with the transition.
    pub evidence_hash: Option<Hash32>,
    /// Licence given with the transition.
    pub licence_id: Option<LicenceId>,
}

/// A case as held in state, with its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The case id.
    pub case_id: CaseId,
    /// The catalogue item.
    pub item_code: ItemCode,
    /// How it is handled.
    pub mode: CaseMode,
    /// The accepting member.
    pub accepting: MemberId,
    /// The handling members.
    pub handling: Vec<MemberId>,
    /// `sha256(salt ‖ applicant id)`.
    pub applicant_commitment: Hash32,
    /// Deadline, Unix ms.
    pub deadline: u64,
    /// Current state.
    pub state: CaseState,
    /// Every transition, oldest first.
    pub timeline: Vec<CaseEvent>,
}

impl CaseRecord {
    /// Past its deadline at `now_ms` without being finished.
    pub fn is_overdue(&self, now_ms: u64) -> bool {
        let finished = matches!(
            self.state,
            CaseState::Approved
                | CaseState::Rejected
                | CaseState::LicenceIssued
                | CaseState::Delivered
                | CaseState::Closed
                | CaseState::Withdrawn
        );
        !finished && now_ms > self.deadline
    }
}

/// A catalogue entry for a licence type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceType {
    /// The type code.
    pub type_code: TypeCode,
    /// Name.
    pub name: String,
    /// Members that may issue it.
    pub issuers: Vec<MemberId>,
}

/// A catalogue entry for an item (事项).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    /// The item code.
    pub item_code: ItemCode,
    /// Name.
    pub name: String,
    /// Time limit in days.
    pub time_limit_days: u32,
    /// Allowed modes.
    pub modes: Vec<CaseMode>,
    /// Licence types used as materials.
    pub uses_types: Vec<TypeCode>,
    /// Licence types issued as a result.
    pub issues_types: Vec<TypeCode>,
}

/// An open or finished governance proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The id.
    pub proposal_id: ProposalId,
    /// The change.
    pub change: MemberChange,
    /// The admin that proposed it.
    pub proposer: PublicKey,
    /// Admins that approved it, the proposer first.
    pub approvals: Vec<PublicKey>,
    /// Height of the block that created it.
    pub created_height: Height,
    /// Last height at which it can still be applied.
    pub expires_height: Height,
    /// Where it stands.
    pub status: ProposalStatus,
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Collecting approvals.
    Open,
    /// Applied at this height.
    Applied(Height),
    /// Expired without reaching the threshold.
    Expired,
    /// Reached the threshold but could not be applied (e.g. the member was gone).
    Failed,
}

// ---------------------------------------------------------------------------------
// Validators, blocks, consensus messages
// ---------------------------------------------------------------------------------

/// One voting validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The member.
    pub member_id: MemberId,
    /// Its key.
    pub key: PublicKey,
}

/// The validators of one height, ordered by member id; equal power, one vote each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ValidatorSet {
    /// The validators; a validator's index in this list is its `validator_index`.
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// The validators among `members`: active members with the validator role, ordered
    /// by member id. This is the one rule that turns a member list into a validator set,
    /// used by execution, by the node and by the offline verifier.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a Member>) -> Self {
        let mut validators: Vec<Validator> = members
            .into_iter()
            .filter(|m| m.is_active_validator())
            .map(|m| Validator {
                member_id: m.id.clone(),
                key: m.key,
            })
            .collect();
        validators.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        ValidatorSet { validators }
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// No validators.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// Smallest number of votes that is more than two thirds: `floor(2n/3) + 1`.
    pub fn quorum(&self) -> usize {
        2 * self.len() / 3 + 1
    }

    /// Largest number of faulty validators tolerated: `floor((n-1)/3)`.
    pub fn max_faulty(&self) -> usize {
        self.len().saturating_sub(1) / 3
    }

    /// Index of the validator with this key.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.validators.iter().position(|v| &v.key == key)
    }

    /// Round-robin proposer of (height, round).
    pub fn proposer(&self, height: Height, round: Round) -> Option<&Validator> {
        if self.is_empty() {
            return None;
        }
        let n = self.len() as u64;
        let index = (height.wrapping_add(u64::from(round))) % n;
        self.validators.get(index as usize)
    }
}

/// A block header; `block_hash = sha256(b"tongban/header/v1\0" ++ encode(header))`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The chain.
    pub chain_id: String,
    /// Height, from 1.
    pub height: Height,
    /// Proposer's clock, Unix ms; strictly increasing along the chain.
    pub time_ms: u64,
    /// Hash of the previous header; the genesis hash for height 1.
    pub prev_hash: Hash32,
    /// RFC 9162 Merkle tree hash over the record hashes.
    pub records_root: Hash32,
    /// Root of the state tree after applying this block.
    pub state_root: Hash32,
    /// Hash of the validator set that commits this block.
    pub validators_hash: Hash32,
    /// Hash of the validator set of the next height.
    pub next_validators_hash: Hash32,
    /// The proposer's key.
    pub proposer: PublicKey,
}

/// A block: its header and records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The records, in execution order.
    pub records: Vec<SignedRecord>,
}

/// Prevote or precommit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// First voting step.
    Prevote,
    /// Second voting step.
    Precommit,
}

/// A vote; signed as `b"tongban/vote/v1\0" ++ encode(vote)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Vote {
    /// The chain.
    pub chain_id: String,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block voted for; `None` is a vote for nil.
    pub block_hash: Option<Hash32>,
}

/// A vote with its validator's index and signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedVote {
    /// The vote.
    pub vote: Vote,
    /// Index of the signer in the height's validator set.
    pub validator_index: u32,
    /// Signature over the vote's signing bytes.
    pub signature: Signature,
}

/// A proposal; signed as `b"tongban/proposal/v1\0" ++ encode(proposal)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProposalMessage {
    /// The chain.
    pub chain_id: String,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Hash of the proposed block.
    pub block_hash: Hash32,
    /// The proposer's valid round (−1 in the paper is `None`).
    pub valid_round: Option<Round>,
}

/// A proposal with its proposer's index and signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedProposal {
    /// The proposal.
    pub proposal: ProposalMessage,
    /// Index of the proposer in the height's validator set.
    pub validator_index: u32,
    /// Signature over the proposal's signing bytes.
    pub signature: Signature,
}

/// More than two thirds of precommit signatures for one block at one (height, round).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Height.
    pub height: Height,
    /// Round the block was decided in.
    pub round: Round,
    /// The decided block.
    pub block_hash: Hash32,
    /// `(validator_index, signature over the precommit)`, ascending by index.
    pub signatures: Vec<(u32, Signature)>,
}

// ---------------------------------------------------------------------------------
// Genesis
// ---------------------------------------------------------------------------------

/// The genesis of a chain: the only thing a verifier needs to trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The chain id; every record, vote and header names it.
    pub chain_id: String,
    /// Genesis time, Unix ms; block 1's time is later.
    pub genesis_time_ms: u64,
    /// Initial members.
    pub members: Vec<Member>,
    /// Initial admin keys.
    pub admins: Vec<PublicKey>,
    /// Initial chain parameters.
    pub params: ChainParams,
}
