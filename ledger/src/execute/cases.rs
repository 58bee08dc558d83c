//! Case rules: opening a case and its state machine (DESIGN §4).
//!
//! ```text
//! Submitted → Accepted → InReview → Approved | Rejected
//! Accepted ↔ MaterialsRequested
//! Approved → LicenceIssued → Delivered → Closed
//! Rejected → Closed
//! Submitted | Accepted | MaterialsRequested | InReview → Withdrawn
//! ```
//!
//! The accepting member accepts, requests materials (and takes them back), delivers,
//! closes, and withdraws on the applicant's behalf; a handling member starts review,
//! approves, rejects and records the issued licence (which must exist and be its own).
//! Every transition appends a [`CaseEvent`] to the case's timeline.

use crate::bytes::{Hash32, PublicKey};
use crate::ids::{CaseId, ItemCode, LicenceId, MemberId};
use crate::keys;
use crate::types::{CaseEvent, CaseMode, CaseRecord, CaseState, MemberStatus};

use super::{
    check_list, has_duplicates, read_case, read_item, read_licence, read_member, CaseRole,
    CheckError, Exec, RejectReason, DAY_MS, MAX_CASE_TIMELINE, MAX_HANDLING_MEMBERS,
};

/// Who may move a case from `from` to `to`, or `None` if the state machine has no such
/// transition. This table is the whole case state machine.
pub fn case_transition_role(from: CaseState, to: CaseState) -> Option<CaseRole> {
    use CaseState::*;
    match (from, to) {
        (Submitted, Accepted) => Some(CaseRole::Accepting),
        (Accepted, MaterialsRequested) => Some(CaseRole::Accepting),
        (MaterialsRequested, Accepted) => Some(CaseRole::Accepting),
        (Accepted, InReview) => Some(CaseRole::Handling),
        (InReview, Approved) => Some(CaseRole::Handling),
        (InReview, Rejected) => Some(CaseRole::Handling),
        (Approved, LicenceIssued) => Some(CaseRole::Handling),
        (LicenceIssued, Delivered) => Some(CaseRole::Accepting),
        (Delivered, Closed) => Some(CaseRole::Accepting),
        (Rejected, Closed) => Some(CaseRole::Accepting),
        // Withdrawal is possible until a decision is made.
        (Submitted | Accepted | MaterialsRequested | InReview, Withdrawn) => {
            Some(CaseRole::Accepting)
        }
        _ => None,
    }
}

/// The fields of an `OpenCase` body.
pub(crate) struct OpenFields<'r> {
    pub(crate) case_id: &'r CaseId,
    pub(crate) item_code: &'r ItemCode,
    pub(crate) mode: CaseMode,
    pub(crate) accepting: &'r MemberId,
    pub(crate) handling: &'r [MemberId],
    pub(crate) applicant_commitment: &'r Hash32,
    pub(crate) deadline: u64,
}

impl Exec<'_> {
    pub(crate) fn open_case(
        &mut self,
        author: &PublicKey,
        fields: OpenFields<'_>,
    ) -> Result<(), CheckError> {
        let member = self.member_author(author)?;
        let OpenFields {
            case_id,
            item_code,
            mode,
            accepting,
            handling,
            applicant_commitment,
            deadline,
        } = fields;

        if accepting != &member.id || case_id.accepting_member() != member.id.as_str() {
            return Err(RejectReason::CaseAcceptingMismatch {
                case_id: case_id.clone(),
                accepting: accepting.clone(),
                author: member.id,
            }
            .into());
        }
        if read_case(&self.state, case_id)?.is_some() {
            return Err(RejectReason::CaseExists(case_id.clone()).into());
        }
        let item = read_item(&self.state, item_code)?
            .ok_or_else(|| RejectReason::UnknownItem(item_code.clone()))?;
        if !item.modes.contains(&mode) {
            return Err(RejectReason::ModeNotAllowed {
                item_code: item_code.clone(),
                mode,
            }
            .into());
        }
        check_list("handling", handling, MAX_HANDLING_MEMBERS)?;
        if handling.is_empty() || has_duplicates(handling) {
            return Err(RejectReason::InvalidHandling.into());
        }
        for id in handling {
            let handler = read_member(&self.state, id)?
                .ok_or_else(|| RejectReason::HandlingMemberUnknown(id.clone()))?;
            if handler.status != MemberStatus::Active {
                return Err(RejectReason::HandlingMemberInactive {
                    member_id: id.clone(),
                    status: handler.status,
                }
                .into());
            }
        }
        let now_ms = self.ctx.time_ms;
        if deadline <= now_ms {
            return Err(RejectReason::DeadlineInPast { deadline, now_ms }.into());
        }
        let latest = now_ms.saturating_add(u64::from(item.time_limit_days).saturating_mul(DAY_MS));
        if deadline > latest {
            return Err(RejectReason::DeadlineBeyondLimit { deadline, latest }.into());
        }

        let case = CaseRecord {
            case_id: case_id.clone(),
            item_code: item_code.clone(),
            mode,
            accepting: accepting.clone(),
            handling: handling.to_vec(),
            applicant_commitment: *applicant_commitment,
            deadline,
            state: CaseState::Submitted,
            timeline: vec![CaseEvent {
                height: self.ctx.height,
                time_ms: now_ms,
                from: None,
                to: CaseState::Submitted,
                by: member.id,
                evidence_hash: None,
                licence_id: None,
            }],
        };
        self.state.put(keys::case(case_id), &case);
        Ok(())
    }

    pub(crate) fn advance_case(
        &mut self,
        author: &PublicKey,
        case_id: &CaseId,
        to: CaseState,
        evidence_hash: Option<&Hash32>,
        licence_id: Option<&LicenceId>,
    ) -> Result<(), CheckError> {
        let member = self.member_author(author)?;
        let mut case = read_case(&self.state, case_id)?
            .ok_or_else(|| RejectReason::UnknownCase(case_id.clone()))?;
        let from = case.state;
        let needed = case_transition_role(from, to)
            .ok_or(RejectReason::InvalidCaseTransition { from, to })?;
        let is_accepting = case.accepting == member.id;
        let is_handling = case.handling.contains(&member.id);
        let permitted = match needed {
            CaseRole::Accepting => is_accepting,
            CaseRole::Handling => is_handling,
            CaseRole::Unrelated => false,
        };
        if !permitted {
            let author_role = if is_accepting {
                CaseRole::Accepting
            } else if is_handling {
                CaseRole::Handling
            } else {
                CaseRole::Unrelated
            };
            return Err(RejectReason::TransitionNotPermitted {
                to,
                needed,
                author_role,
            }
            .into());
        }
        match (to, licence_id) {
            (CaseState::LicenceIssued, None) => return Err(RejectReason::LicenceIdMissing.into()),
            (CaseState::LicenceIssued, Some(id)) => {
                let licence = read_licence(&self.state, id)?
                    .ok_or_else(|| RejectReason::UnknownLicence(id.clone()))?;
                if licence.issuer != member.id {
                    return Err(RejectReason::NotLicenceIssuer {
                        licence_id: id.clone(),
                        issuer: licence.issuer,
                        author: member.id,
                    }
                    .into());
                }
            }
            (_, Some(_)) => return Err(RejectReason::LicenceIdNotExpected.into()),
            (_, None) => {}
        }
        if case.timeline.len() >= MAX_CASE_TIMELINE {
            return Err(RejectReason::TimelineFull {
                case_id: case_id.clone(),
                max: MAX_CASE_TIMELINE,
            }
            .into());
        }

        case.state = to;
        case.timeline.push(CaseEvent {
            height: self.ctx.height,
            time_ms: self.ctx.time_ms,
            from: Some(from),
            to,
            by: member.id,
            evidence_hash: evidence_hash.copied(),
            licence_id: licence_id.cloned(),
        });
        self.state.put(keys::case(case_id), &case);
        Ok(())
    }
}
