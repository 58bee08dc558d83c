//! Governance rules: proposals, approvals, and applying member changes (DESIGN §4).
//!
//! Admins propose a [`MemberChange`] (the proposer's approval included) and approve
//! open proposals. At the end of every block, open proposals are visited in ascending
//! id order: one whose approvals by current admins reach
//! `params.governance_threshold` is applied (or marked `Failed` if the change is no
//! longer valid), one past its `expires_height` expires, the rest stay open. So a
//! proposal applies at the end of the block in which its approvals reach the threshold,
//! and a membership change applied in block h shapes the validator set from h + 1.
//!
//! Member changes keep `MEMBER_LIST` (sorted, removed members included), the
//! `MEMBER_KEY` index (one entry per current key; a removed member keeps its entry so
//! its key stays taken and its records get `author_not_active`) and the admin list
//! (sorted) consistent.

use crate::bytes::PublicKey;
use crate::crypto::verifying_key;
use crate::keys;
use crate::state::StateReader;
use crate::types::{
    ChainParams, Member, MemberChange, MemberStatus, Proposal, ProposalId, ProposalStatus,
    ValidatorSet,
};

use super::{
    has_duplicates, insert_sorted, read_member, read_member_list, read_members,
    read_open_proposals, read_proposal, ChangeError, CheckError, Exec, ExecError, ParamsError,
    RejectReason, MAX_ADMINS, MAX_MEMBERS, MAX_NAME_BYTES, MAX_OPEN_PROPOSALS,
};

/// Largest `proposal_expiry_blocks` (about a year of 5-second blocks).
pub const MAX_PROPOSAL_EXPIRY_BLOCKS: u64 = 6_400_000;
/// Largest `max_block_records`.
pub const MAX_BLOCK_RECORDS_LIMIT: u32 = 100_000;
/// Smallest `max_record_bytes`: every body with maximal ids must fit.
pub const MIN_RECORD_BYTES_LIMIT: u32 = 2 * 1024;
/// Largest `max_record_bytes`.
pub const MAX_RECORD_BYTES_LIMIT: u32 = 1024 * 1024;
/// Smallest `max_block_interval_ms`.
pub const MIN_BLOCK_INTERVAL_MS: u64 = 100;
/// Largest `max_block_interval_ms` (proofs are never older than this on a live chain).
pub const MAX_BLOCK_INTERVAL_MS: u64 = 3_600_000;

/// Checks a set of chain parameters (genesis and `SetParams`).
pub fn validate_params(params: &ChainParams) -> Result<(), ParamsError> {
    let threshold = params.governance_threshold;
    if threshold.denominator == 0 {
        return Err(ParamsError::ThresholdDenominatorZero);
    }
    if threshold.numerator >= threshold.denominator {
        return Err(ParamsError::ThresholdUnreachable {
            numerator: threshold.numerator,
            denominator: threshold.denominator,
        });
    }
    if params.proposal_expiry_blocks == 0
        || params.proposal_expiry_blocks > MAX_PROPOSAL_EXPIRY_BLOCKS
    {
        return Err(ParamsError::ProposalExpiry {
            value: params.proposal_expiry_blocks,
            max: MAX_PROPOSAL_EXPIRY_BLOCKS,
        });
    }
    if params.max_block_records == 0 || params.max_block_records > MAX_BLOCK_RECORDS_LIMIT {
        return Err(ParamsError::MaxBlockRecords {
            value: params.max_block_records,
            max: MAX_BLOCK_RECORDS_LIMIT,
        });
    }
    if !(MIN_RECORD_BYTES_LIMIT..=MAX_RECORD_BYTES_LIMIT).contains(&params.max_record_bytes) {
        return Err(ParamsError::MaxRecordBytes {
            value: params.max_record_bytes,
            min: MIN_RECORD_BYTES_LIMIT,
            max: MAX_RECORD_BYTES_LIMIT,
        });
    }
    if !(MIN_BLOCK_INTERVAL_MS..=MAX_BLOCK_INTERVAL_MS).contains(&params.max_block_interval_ms) {
        return Err(ParamsError::MaxBlockInterval {
            value: params.max_block_interval_ms,
            min: MIN_BLOCK_INTERVAL_MS,
            max: MAX_BLOCK_INTERVAL_MS,
        });
    }
    Ok(())
}

/// Checks a member's own fields (name, roles, key) for `Add` and genesis.
pub(crate) fn check_member_fields(member: &Member) -> Result<(), ChangeError> {
    if member.name.trim().is_empty() || member.name.len() > MAX_NAME_BYTES {
        return Err(ChangeError::InvalidName {
            len: member.name.len(),
            max: MAX_NAME_BYTES,
        });
    }
    check_roles(&member.roles)?;
    if verifying_key(&member.key).is_err() {
        return Err(ChangeError::InvalidKey(member.key));
    }
    Ok(())
}

fn check_roles(roles: &[crate::types::Role]) -> Result<(), ChangeError> {
    if roles.is_empty() || has_duplicates(roles) {
        return Err(ChangeError::InvalidRoles);
    }
    Ok(())
}

/// An existing, not removed member.
fn live_member(state: &dyn StateReader, id: &crate::ids::MemberId) -> Result<Member, CheckError> {
    let member = read_member(state, id)?.ok_or_else(|| ChangeError::MemberUnknown(id.clone()))?;
    if member.status == MemberStatus::Removed {
        return Err(ChangeError::MemberRemoved(id.clone()).into());
    }
    Ok(member)
}

/// Refuses a member update after which no active validator would remain.
fn keeps_a_validator(state: &dyn StateReader, updated: &Member) -> Result<(), CheckError> {
    let mut members = read_members(state)?;
    for member in members.iter_mut() {
        if member.id == updated.id {
            *member = updated.clone();
        }
    }
    if ValidatorSet::from_members(&members).is_empty() {
        return Err(ChangeError::NoValidatorLeft.into());
    }
    Ok(())
}

impl Exec<'_> {
    pub(crate) fn propose(
        &mut self,
        author: &PublicKey,
        proposal_id: ProposalId,
        change: &MemberChange,
    ) -> Result<(), CheckError> {
        self.admin_author(author)?;
        if read_proposal(&self.state, proposal_id)?.is_some() {
            return Err(RejectReason::ProposalExists(proposal_id).into());
        }
        let mut open = read_open_proposals(&self.state)?;
        if !insert_sorted(&mut open, proposal_id, MAX_OPEN_PROPOSALS) {
            return Err(RejectReason::TooManyOpenProposals {
                max: MAX_OPEN_PROPOSALS,
            }
            .into());
        }
        // Refuse now what could not be applied now; it is checked again when applied.
        self.check_change(change)?;
        let height = self.ctx.height;
        let proposal = Proposal {
            proposal_id,
            change: change.clone(),
            proposer: *author,
            approvals: vec![*author],
            created_height: height,
            expires_height: height.saturating_add(self.params.proposal_expiry_blocks),
            status: ProposalStatus::Open,
        };
        self.state.put(keys::proposal(proposal_id), &proposal);
        self.state.put(keys::open_proposals(), &open);
        Ok(())
    }

    pub(crate) fn approve(
        &mut self,
        author: &PublicKey,
        proposal_id: ProposalId,
    ) -> Result<(), CheckError> {
        self.admin_author(author)?;
        let mut proposal = read_proposal(&self.state, proposal_id)?
            .ok_or(RejectReason::UnknownProposal(proposal_id))?;
        if proposal.status != ProposalStatus::Open {
            return Err(RejectReason::ProposalNotOpen(proposal_id).into());
        }
        if self.ctx.height > proposal.expires_height {
            return Err(RejectReason::ProposalExpired {
                proposal_id,
                expires_height: proposal.expires_height,
            }
            .into());
        }
        if proposal.approvals.contains(author) {
            return Err(RejectReason::AlreadyApproved {
                proposal_id,
                admin: *author,
            }
            .into());
        }
        // Bounded: only admins approve, each once, and there are at most MAX_ADMINS.
        proposal.approvals.push(*author);
        self.state.put(keys::proposal(proposal_id), &proposal);
        Ok(())
    }

    /// Whether `change` could be applied to the current state.
    fn check_change(&self, change: &MemberChange) -> Result<(), CheckError> {
        let state = &self.state;
        match change {
            MemberChange::Add(member) => {
                check_member_fields(member)?;
                if member.status == MemberStatus::Removed {
                    return Err(ChangeError::InvalidStatus(member.status).into());
                }
                if read_member(state, &member.id)?.is_some() {
                    return Err(ChangeError::MemberExists(member.id.clone()).into());
                }
                if state.get(&keys::member_key(&member.key))?.is_some() {
                    return Err(ChangeError::KeyInUse(member.key).into());
                }
                if read_member_list(state)?.len() >= MAX_MEMBERS {
                    return Err(ChangeError::TooManyMembers { max: MAX_MEMBERS }.into());
                }
            }
            MemberChange::Remove(id) => {
                let mut member = live_member(state, id)?;
                member.status = MemberStatus::Removed;
                keeps_a_validator(state, &member)?;
            }
            MemberChange::RotateKey { member_id, new_key } => {
                live_member(state, member_id)?;
                if verifying_key(new_key).is_err() {
                    return Err(ChangeError::InvalidKey(*new_key).into());
                }
                if state.get(&keys::member_key(new_key))?.is_some() {
                    return Err(ChangeError::KeyInUse(*new_key).into());
                }
            }
            MemberChange::SetRoles { member_id, roles } => {
                let mut member = live_member(state, member_id)?;
                check_roles(roles)?;
                member.roles = roles.clone();
                keeps_a_validator(state, &member)?;
            }
            MemberChange::SetStatus { member_id, status } => {
                let mut member = live_member(state, member_id)?;
                if *status == MemberStatus::Removed {
                    return Err(ChangeError::InvalidStatus(*status).into());
                }
                if member.status == *status {
                    return Err(ChangeError::StatusUnchanged {
                        member_id: member_id.clone(),
                        status: *status,
                    }
                    .into());
                }
                member.status = *status;
                keeps_a_validator(state, &member)?;
            }
            MemberChange::AddAdmin(key) => {
                if verifying_key(key).is_err() {
                    return Err(ChangeError::InvalidKey(*key).into());
                }
                if self.admins.binary_search(key).is_ok() {
                    return Err(ChangeError::AdminExists(*key).into());
                }
                if self.admins.len() >= MAX_ADMINS {
                    return Err(ChangeError::TooManyAdmins { max: MAX_ADMINS }.into());
                }
            }
            MemberChange::RemoveAdmin(key) => {
                if self.admins.binary_search(key).is_err() {
                    return Err(ChangeError::AdminUnknown(*key).into());
                }
                if self.admins.len() <= 1 {
                    return Err(ChangeError::LastAdmin.into());
                }
            }
            MemberChange::SetParams(params) => {
                validate_params(params).map_err(ChangeError::InvalidParams)?;
            }
        }
        Ok(())
    }

    /// Applies a change that [`Exec::check_change`] accepted, into the pending layer.
    fn apply_change(&mut self, change: &MemberChange) -> Result<(), CheckError> {
        self.check_change(change)?;
        match change {
            MemberChange::Add(member) => {
                let mut list = read_member_list(&self.state)?;
                insert_sorted(&mut list, member.id.clone(), MAX_MEMBERS);
                self.state.put(keys::member_list(), &list);
                self.state.put(keys::member_key(&member.key), &member.id);
                self.state.put(keys::member(&member.id), member);
                self.members_touched = true;
            }
            MemberChange::Remove(id) => {
                let mut member = live_member(&self.state, id)?;
                member.status = MemberStatus::Removed;
                self.state.put(keys::member(id), &member);
                self.members_touched = true;
            }
            MemberChange::RotateKey { member_id, new_key } => {
                let mut member = live_member(&self.state, member_id)?;
                self.state.delete(keys::member_key(&member.key));
                self.state.put(keys::member_key(new_key), member_id);
                member.key = *new_key;
                self.state.put(keys::member(member_id), &member);
                self.members_touched = true;
            }
            MemberChange::SetRoles { member_id, roles } => {
                let mut member = live_member(&self.state, member_id)?;
                member.roles = roles.clone();
                self.state.put(keys::member(member_id), &member);
                self.members_touched = true;
            }
            MemberChange::SetStatus { member_id, status } => {
                let mut member = live_member(&self.state, member_id)?;
                member.status = *status;
                self.state.put(keys::member(member_id), &member);
                self.members_touched = true;
            }
            MemberChange::AddAdmin(key) => {
                insert_sorted(&mut self.admins, *key, MAX_ADMINS);
                let admins = self.admins.clone();
                self.state.put(keys::admins(), &admins);
            }
            MemberChange::RemoveAdmin(key) => {
                self.admins.retain(|k| k != key);
                let admins = self.admins.clone();
                self.state.put(keys::admins(), &admins);
            }
            MemberChange::SetParams(params) => {
                self.state.put(keys::params(), params);
                self.params = params.clone();
            }
        }
        Ok(())
    }

    /// End-of-block governance: apply proposals that reached the threshold, expire
    /// those past their last height. Writes go to the pending layer.
    pub(crate) fn end_of_block(&mut self) -> Result<Vec<(ProposalId, ProposalStatus)>, ExecError> {
        let open = read_open_proposals(&self.state)?;
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let height = self.ctx.height;
        let mut still_open = Vec::with_capacity(open.len());
        let mut ended = Vec::new();
        for proposal_id in open {
            let mut proposal = read_proposal(&self.state, proposal_id)?.ok_or_else(|| {
                ExecError::CorruptState {
                    what: "open proposals",
                    key: keys::open_proposals(),
                    detail: format!("lists proposal {proposal_id}, which does not exist"),
                }
            })?;
            // Approvals count only while their admin is an admin (admins can be removed
            // by an earlier proposal).
            let approvals = proposal
                .approvals
                .iter()
                .filter(|a| self.admins.binary_search(a).is_ok())
                .count();
            let reached = self
                .params
                .governance_threshold
                .is_reached(approvals, self.admins.len());
            proposal.status = if reached {
                match self.apply_change(&proposal.change) {
                    Ok(()) => ProposalStatus::Applied(height),
                    Err(CheckError::Rejected(reason)) => {
                        tracing::info!(proposal_id, %reason, "proposal reached the threshold but cannot be applied");
                        ProposalStatus::Failed
                    }
                    Err(CheckError::Exec(e)) => return Err(e),
                }
            } else if height >= proposal.expires_height {
                ProposalStatus::Expired
            } else {
                still_open.push(proposal_id);
                continue;
            };
            ended.push((proposal_id, proposal.status));
            self.state.put(keys::proposal(proposal_id), &proposal);
        }
        if !ended.is_empty() {
            self.state.put(keys::open_proposals(), &still_open);
        }
        Ok(ended)
    }
}
