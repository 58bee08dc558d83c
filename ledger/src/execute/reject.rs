//! Every way a record can be refused, as one typed enum with stable codes.
//!
//! The same [`RejectReason`] is produced by mempool admission ([`super::check_record`]),
//! by a proposer dropping a record and by a validator refusing a block, and the node's
//! HTTP API returns its [`RejectReason::code`] as the error code. Codes are part of the
//! API: they never change once published; new reasons get new codes.

use crate::bytes::{Hash32, PublicKey};
use crate::ids::{CaseId, ItemCode, LicenceId, MemberId, TypeCode};
use crate::types::{CaseMode, CaseState, LicenceStatus, MemberStatus, ProposalId};

/// Who a case transition needs, and who the author of a refused transition was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseRole {
    /// The case's accepting member.
    Accepting,
    /// One of the case's handling members.
    Handling,
    /// A member that is neither accepting nor handling for the case.
    Unrelated,
}

impl std::fmt::Display for CaseRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CaseRole::Accepting => "the accepting member",
            CaseRole::Handling => "a handling member",
            CaseRole::Unrelated => "a member unrelated to the case",
        })
    }
}

/// Why a set of chain parameters is refused (in genesis or in a `SetParams` proposal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The governance threshold's denominator is 0.
    #[error("governance threshold denominator is 0")]
    ThresholdDenominatorZero,
    /// numerator ≥ denominator: "more than n/d" could never be reached.
    #[error("governance threshold {numerator}/{denominator} can never be reached (numerator must be below denominator)")]
    ThresholdUnreachable {
        /// Numerator.
        numerator: u32,
        /// Denominator.
        denominator: u32,
    },
    /// `proposal_expiry_blocks` is 0 or above the limit.
    #[error("proposal_expiry_blocks {value} is outside 1..={max}")]
    ProposalExpiry {
        /// The value.
        value: u64,
        /// Largest allowed.
        max: u64,
    },
    /// `max_block_records` is 0 or above the limit.
    #[error("max_block_records {value} is outside 1..={max}")]
    MaxBlockRecords {
        /// The value.
        value: u32,
        /// Largest allowed.
        max: u32,
    },
    /// `max_record_bytes` is outside the allowed range.
    #[error("max_record_bytes {value} is outside {min}..={max}")]
    MaxRecordBytes {
        /// The value.
        value: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// `max_block_interval_ms` is outside the allowed range.
    #[error("max_block_interval_ms {value} is outside {min}..={max}")]
    MaxBlockInterval {
        /// The value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
}

/// Why a governance change cannot be proposed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// `Add` of a member id that exists (removed members keep their id).
    #[error("member {0} already exists")]
    MemberExists(MemberId),
    /// The change names a member that does not exist.
    #[error("member {0} is unknown")]
    MemberUnknown(MemberId),
    /// The change names a removed member.
    #[error("member {0} is removed")]
    MemberRemoved(MemberId),
    /// The key is already a member's key (current or former).
    #[error("key {0} is already in use by a member")]
    KeyInUse(PublicKey),
    /// The key is not a valid ed25519 public key.
    #[error("key {0} is not a valid ed25519 public key")]
    InvalidKey(PublicKey),
    /// After the change no active validator would remain.
    #[error("the change would leave no active validator")]
    NoValidatorLeft,
    /// A role list that is empty or repeats a role.
    #[error("roles must be non-empty and distinct")]
    InvalidRoles,
    /// `Add` with status `Removed`, or `SetStatus` to `Removed` (use `Remove`).
    #[error("status {0:?} is not allowed here")]
    InvalidStatus(MemberStatus),
    /// `SetStatus` to the member's current status.
    #[error("member {member_id} is already {status:?}")]
    StatusUnchanged {
        /// The member.
        member_id: MemberId,
        /// Its status.
        status: MemberStatus,
    },
    /// A name that is empty or too long.
    #[error("name must be 1..={max} bytes, found {len}")]
    InvalidName {
        /// Length found.
        len: usize,
        /// Largest allowed.
        max: usize,
    },
    /// `AddAdmin` of an existing admin.
    #[error("{0} is already an admin")]
    AdminExists(PublicKey),
    /// `RemoveAdmin` of a key that is not an admin.
    #[error("{0} is not an admin")]
    AdminUnknown(PublicKey),
    /// `RemoveAdmin` of the last admin.
    #[error("the last admin cannot be removed")]
    LastAdmin,
    /// The admin set is full.
    #[error("the admin set is full ({max})")]
    TooManyAdmins {
        /// Largest allowed.
        max: usize,
    },
    /// The member list is full.
    #[error("the member list is full ({max})")]
    TooManyMembers {
        /// Largest allowed.
        max: usize,
    },
    /// Invalid chain parameters.
    #[error("invalid parameters: {0}")]
    InvalidParams(ParamsError),
}

impl ChangeError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ChangeError::MemberExists(_) => "member_exists",
            ChangeError::MemberUnknown(_) => "member_unknown",
            ChangeError::MemberRemoved(_) => "member_removed",
            ChangeError::KeyInUse(_) => "key_in_use",
            ChangeError::InvalidKey(_) => "invalid_key",
            ChangeError::NoValidatorLeft => "no_validator_left",
            ChangeError::InvalidRoles => "invalid_roles",
            ChangeError::InvalidStatus(_) => "invalid_status",
            ChangeError::StatusUnchanged { .. } => "status_unchanged",
            ChangeError::InvalidName { .. } => "invalid_name",
            ChangeError::AdminExists(_) => "admin_exists",
            ChangeError::AdminUnknown(_) => "admin_unknown",
            ChangeError::LastAdmin => "last_admin",
            ChangeError::TooManyAdmins { .. } => "too_many_admins",
            ChangeError::TooManyMembers { .. } => "too_many_members",
            ChangeError::InvalidParams(_) => "invalid_params",
        }
    }
}

/// Why a record was refused. A refused record changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    // --- envelope ----------------------------------------------------------------
    /// The record names another chain.
    #[error("record is for chain {found:?}, this chain is {expected:?}")]
    WrongChainId {
        /// This chain.
        expected: String,
        /// The record's chain id.
        found: String,
    },
    /// The signature does not verify (or the author key is not a valid ed25519 key).
    #[error("bad signature on record {record}")]
    BadSignature {
        /// The record's hash.
        record: Hash32,
    },
    /// The encoded record is larger than `params.max_record_bytes`.
    #[error("record is {size} bytes, the limit is {max}")]
    RecordTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// The nonce is not above the author's last committed nonce.
    #[error("nonce {nonce} is not above the author's last committed nonce {last}")]
    StaleNonce {
        /// The record's nonce.
        nonce: u64,
        /// The author's last committed nonce.
        last: u64,
    },
    /// A text field is longer than its limit.
    #[error("field {field} is {len} bytes, the limit is {max}")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },

    // --- authors -----------------------------------------------------------------
    /// A member-signed record whose author key is no member's key.
    #[error("author {0} is not a member")]
    UnknownAuthor(PublicKey),
    /// The author is a member that is suspended or removed.
    #[error("author {member_id} is {status:?}, not active")]
    AuthorNotActive {
        /// The member.
        member_id: MemberId,
        /// Its status.
        status: MemberStatus,
    },
    /// A governance record whose author is not an admin.
    #[error("author {0} is not an admin")]
    NotAdmin(PublicKey),

    // --- licences ----------------------------------------------------------------
    /// The type is not in the catalogue.
    #[error("licence type {0} is unknown")]
    UnknownLicenceType(TypeCode),
    /// The author is not listed as an issuer of the type.
    #[error("member {member_id} is not an issuer of licence type {type_code}")]
    NotTypeIssuer {
        /// The author.
        member_id: MemberId,
        /// The type.
        type_code: TypeCode,
    },
    /// The licence id's type part differs from `type_code`.
    #[error("licence id has type {in_id}, the record says {type_code}")]
    TypeCodeMismatch {
        /// Type part of the id.
        in_id: String,
        /// The record's type code.
        type_code: TypeCode,
    },
    /// The licence id's issuer part is neither the author's id nor its region.
    #[error("licence id has issuer code {in_id}, which is neither {member_id} nor its region")]
    IssuerCodeMismatch {
        /// Issuer part of the id.
        in_id: String,
        /// The author.
        member_id: MemberId,
    },
    /// `valid_until` is not after `valid_from`.
    #[error("valid_until {valid_until} is not after valid_from {valid_from}")]
    InvalidValidity {
        /// Start.
        valid_from: u64,
        /// End.
        valid_until: u64,
    },
    /// A licence with this id exists.
    #[error("licence {0} already exists")]
    LicenceExists(LicenceId),
    /// No licence with this id.
    #[error("licence {0} is unknown")]
    UnknownLicence(LicenceId),
    /// The author is not the licence's issuer.
    #[error("licence {licence_id} was issued by {issuer}, not by {author}")]
    NotLicenceIssuer {
        /// The licence.
        licence_id: LicenceId,
        /// Its issuer.
        issuer: MemberId,
        /// The author.
        author: MemberId,
    },
    /// The status change is not allowed from the licence's current status.
    #[error("licence {licence_id} is {from:?} and cannot become {to:?}")]
    InvalidStatusChange {
        /// The licence.
        licence_id: LicenceId,
        /// Current status.
        from: LicenceStatus,
        /// Requested status.
        to: LicenceStatus,
    },
    /// `supersedes` names a licence that does not exist.
    #[error("superseded licence {0} is unknown")]
    SupersedesUnknown(LicenceId),
    /// `supersedes` names another issuer's licence.
    #[error("superseded licence {licence_id} was issued by {issuer}, not by the author")]
    SupersedesOtherIssuer {
        /// The old licence.
        licence_id: LicenceId,
        /// Its issuer.
        issuer: MemberId,
    },
    /// `supersedes` names a revoked licence.
    #[error("superseded licence {0} is already revoked")]
    SupersedesRevoked(LicenceId),

    // --- catalogue ---------------------------------------------------------------
    /// The item is not in the catalogue.
    #[error("item {0} is unknown")]
    UnknownItem(ItemCode),
    /// The item does not allow the case's mode.
    #[error("item {item_code} does not allow mode {mode:?}")]
    ModeNotAllowed {
        /// The item.
        item_code: ItemCode,
        /// The mode.
        mode: CaseMode,
    },
    /// A catalogue entry is malformed (empty list, duplicates, zero time limit ...).
    #[error("invalid catalogue entry: {0}")]
    InvalidCatalogEntry(&'static str),
    /// A list in a record is longer than its limit.
    #[error("list {field} has {len} entries, the limit is {max}")]
    ListTooLong {
        /// Which list.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A catalogue list is full.
    #[error("the {what} list is full ({max})")]
    CatalogFull {
        /// Which list.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A record names a member that does not exist.
    #[error("member {0} is unknown")]
    UnknownMember(MemberId),

    // --- cases -------------------------------------------------------------------
    /// A case with this id exists.
    #[error("case {0} already exists")]
    CaseExists(CaseId),
    /// The case id's member part, `accepting` and the author do not all agree.
    #[error("case {case_id}: accepting member {accepting} must be the case id's member and the author {author}")]
    CaseAcceptingMismatch {
        /// The case.
        case_id: CaseId,
        /// `accepting` of the record.
        accepting: MemberId,
        /// The author.
        author: MemberId,
    },
    /// No case with this id.
    #[error("case {0} is unknown")]
    UnknownCase(CaseId),
    /// The state machine has no such transition.
    #[error("a case cannot go from {from:?} to {to:?}")]
    InvalidCaseTransition {
        /// Current state.
        from: CaseState,
        /// Requested state.
        to: CaseState,
    },
    /// The transition exists but the author may not make it.
    #[error("moving a case to {to:?} needs {needed}; the author is {author_role}")]
    TransitionNotPermitted {
        /// Requested state.
        to: CaseState,
        /// Who may make it.
        needed: CaseRole,
        /// What the author is to the case.
        author_role: CaseRole,
    },
    /// A handling member does not exist.
    #[error("handling member {0} is unknown")]
    HandlingMemberUnknown(MemberId),
    /// A handling member is suspended or removed.
    #[error("handling member {member_id} is {status:?}, not active")]
    HandlingMemberInactive {
        /// The member.
        member_id: MemberId,
        /// Its status.
        status: MemberStatus,
    },
    /// The handling list is empty or names a member twice.
    #[error("handling members must be non-empty and distinct")]
    InvalidHandling,
    /// The deadline is not after the block time.
    #[error("deadline {deadline} is not after the block time {now_ms}")]
    DeadlineInPast {
        /// The deadline.
        deadline: u64,
        /// Block time.
        now_ms: u64,
    },
    /// The deadline is beyond the item's time limit.
    #[error("deadline {deadline} is beyond the item's time limit (latest {latest})")]
    DeadlineBeyondLimit {
        /// The deadline.
        deadline: u64,
        /// Block time + time limit.
        latest: u64,
    },
    /// `LicenceIssued` without a licence id.
    #[error("moving a case to licence_issued needs a licence id")]
    LicenceIdMissing,
    /// A licence id given with a transition other than `LicenceIssued`.
    #[error("a licence id is only given when moving a case to licence_issued")]
    LicenceIdNotExpected,
    /// The case's timeline is full.
    #[error("case {case_id} has {max} events, the limit")]
    TimelineFull {
        /// The case.
        case_id: CaseId,
        /// The limit.
        max: usize,
    },

    // --- governance --------------------------------------------------------------
    /// A proposal with this id exists.
    #[error("proposal {0} already exists")]
    ProposalExists(ProposalId),
    /// No proposal with this id.
    #[error("proposal {0} is unknown")]
    UnknownProposal(ProposalId),
    /// The proposal is applied, expired or failed.
    #[error("proposal {0} is not open")]
    ProposalNotOpen(ProposalId),
    /// The proposal is past its last height.
    #[error("proposal {proposal_id} expired at height {expires_height}")]
    ProposalExpired {
        /// The proposal.
        proposal_id: ProposalId,
        /// Its last height.
        expires_height: u64,
    },
    /// The admin has already approved the proposal.
    #[error("proposal {proposal_id} is already approved by {admin}")]
    AlreadyApproved {
        /// The proposal.
        proposal_id: ProposalId,
        /// The admin.
        admin: PublicKey,
    },
    /// Too many proposals are open.
    #[error("{max} proposals are open, the limit")]
    TooManyOpenProposals {
        /// The limit.
        max: usize,
    },
    /// The proposed change is not valid against the current state.
    #[error("invalid change: {0}")]
    InvalidChange(ChangeError),
}

impl RejectReason {
    /// A stable snake_case code for the API, logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::WrongChainId { .. } => "wrong_chain_id",
            RejectReason::BadSignature { .. } => "bad_signature",
            RejectReason::RecordTooLarge { .. } => "record_too_large",
            RejectReason::StaleNonce { .. } => "stale_nonce",
            RejectReason::FieldTooLong { .. } => "field_too_long",
            RejectReason::UnknownAuthor(_) => "unknown_author",
            RejectReason::AuthorNotActive { .. } => "author_not_active",
            RejectReason::NotAdmin(_) => "not_admin",
            RejectReason::UnknownLicenceType(_) => "unknown_licence_type",
            RejectReason::NotTypeIssuer { .. } => "not_type_issuer",
            RejectReason::TypeCodeMismatch { .. } => "type_code_mismatch",
            RejectReason::IssuerCodeMismatch { .. } => "issuer_code_mismatch",
            RejectReason::InvalidValidity { .. } => "invalid_validity",
            RejectReason::LicenceExists(_) => "licence_exists",
            RejectReason::UnknownLicence(_) => "unknown_licence",
            RejectReason::NotLicenceIssuer { .. } => "not_licence_issuer",
            RejectReason::InvalidStatusChange { .. } => "invalid_status_change",
            RejectReason::SupersedesUnknown(_) => "supersedes_unknown",
            RejectReason::SupersedesOtherIssuer { .. } => "supersedes_other_issuer",
            RejectReason::SupersedesRevoked(_) => "supersedes_revoked",
            RejectReason::UnknownItem(_) => "unknown_item",
            RejectReason::ModeNotAllowed { .. } => "mode_not_allowed",
            RejectReason::InvalidCatalogEntry(_) => "invalid_catalog_entry",
            RejectReason::ListTooLong { .. } => "list_too_long",
            RejectReason::CatalogFull { .. } => "catalog_full",
            RejectReason::UnknownMember(_) => "unknown_member",
            RejectReason::CaseExists(_) => "case_exists",
            RejectReason::CaseAcceptingMismatch { .. } => "case_accepting_mismatch",
            RejectReason::UnknownCase(_) => "unknown_case",
            RejectReason::InvalidCaseTransition { .. } => "invalid_case_transition",
            RejectReason::TransitionNotPermitted { .. } => "transition_not_permitted",
            RejectReason::HandlingMemberUnknown(_) => "handling_member_unknown",
            RejectReason::HandlingMemberInactive { .. } => "handling_member_inactive",
            RejectReason::InvalidHandling => "invalid_handling",
            RejectReason::DeadlineInPast { .. } => "deadline_in_past",
            RejectReason::DeadlineBeyondLimit { .. } => "deadline_beyond_limit",
            RejectReason::LicenceIdMissing => "licence_id_missing",
            RejectReason::LicenceIdNotExpected => "licence_id_not_expected",
            RejectReason::TimelineFull { .. } => "timeline_full",
            RejectReason::ProposalExists(_) => "proposal_exists",
            RejectReason::UnknownProposal(_) => "unknown_proposal",
            RejectReason::ProposalNotOpen(_) => "proposal_not_open",
            RejectReason::ProposalExpired { .. } => "proposal_expired",
            RejectReason::AlreadyApproved { .. } => "already_approved",
            RejectReason::TooManyOpenProposals { .. } => "too_many_open_proposals",
            RejectReason::InvalidChange(_) => "invalid_change",
        }
    }
}

impl From<ChangeError> for RejectReason {
    fn from(e: ChangeError) -> Self {
        RejectReason::InvalidChange(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code in this file's `code()` matches, read from the source so that no
    /// variant can be missed: snake_case and distinct within each enum.
    #[test]
    fn codes_are_snake_case_and_distinct() {
        let source = include_str!("reject.rs");
        for enum_name in ["impl ChangeError {", "impl RejectReason {"] {
            let start = source.find(enum_name).expect("impl block");
            let body = &source[start..];
            let end = body.find("\n    }\n}").expect("end of impl");
            let mut codes: Vec<&str> = body[..end]
                .split("=> \"")
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap_or_default())
                .collect();
            assert!(codes.len() > 10, "{enum_name}: {codes:?}");
            for code in &codes {
                assert!(
                    !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{code:?}"
                );
            }
            let n = codes.len();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), n, "{enum_name}: duplicate code");
        }
        let id = MemberId::parse("91350100M000100Y43").expect("valid id");
        assert_eq!(RejectReason::UnknownMember(id).code(), "unknown_member");
        assert_eq!(
            RejectReason::from(ChangeError::LastAdmin).code(),
            "invalid_change"
        );
        assert_eq!(ChangeError::LastAdmin.code(), "last_admin");
    }
}
