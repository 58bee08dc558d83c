//! The safety rules, in one place, one small function per rule, and the state they
//! protect.
//!
//! [`SafetyState`] is everything a validator must remember across a crash so that it
//! never signs two different messages for one (height, round, step) and never votes
//! against its lock. The state machine emits it as `Output::PersistSafetyState` before
//! any broadcast of a freshly signed message; the caller writes it with fsync before
//! sending what follows (see ADR 0003). On restart it comes back through
//! [`crate::Consensus::restore`].

use serde::{Deserialize, Serialize};
use tongban_ledger::types::{Height, Round, SignedProposal, SignedVote, VoteKind};
use tongban_ledger::Hash32;

use crate::io::Step;

/// A value together with the round in which it was locked or found valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundValue {
    /// The round (`lockedRound_p` / `validRound_p`).
    pub round: Round,
    /// The block hash (`lockedValue_p` / `validValue_p`).
    pub block_hash: Hash32,
}

/// What a validator persists before it sends anything it signed.
///
/// Stored with `tongban_ledger::codec::encode`; the field order is part of the stored
/// format (golden-bytes test in `tests/golden.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyState {
    /// `h_p`.
    pub height: Height,
    /// `round_p`.
    pub round: Round,
    /// `step_p`.
    pub step: Step,
    /// `lockedValue_p`, `lockedRound_p` (`None` is the paper's nil / −1).
    pub locked: Option<RoundValue>,
    /// `validValue_p`, `validRound_p`.
    pub valid: Option<RoundValue>,
    /// The prevotes (more than 2/3) for the valid value in the valid round. A restarted
    /// node has lost its message log; without these it could not show the others why
    /// its re-proposal (L28) deserves a prevote, and a network whose locked nodes all
    /// restarted would stay stuck (found by the simulator).
    pub valid_polka: Vec<SignedVote>,
    /// The last proposal this validator signed, at any height.
    pub last_proposal: Option<SignedProposal>,
    /// The last prevote this validator signed, at any height.
    pub last_prevote: Option<SignedVote>,
    /// The last precommit this validator signed, at any height.
    pub last_precommit: Option<SignedVote>,
}

impl SafetyState {
    /// The state of a validator that has never signed anything, at `height`.
    pub fn initial(height: Height) -> Self {
        SafetyState {
            height,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            valid_polka: Vec::new(),
            last_proposal: None,
            last_prevote: None,
            last_precommit: None,
        }
    }

    /// The last signed vote of `kind`.
    pub fn last_vote(&self, kind: VoteKind) -> Option<&SignedVote> {
        match kind {
            VoteKind::Prevote => self.last_prevote.as_ref(),
            VoteKind::Precommit => self.last_precommit.as_ref(),
        }
    }
}

/// What the signing guard allows for a new message at (height, round, step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignDecision<T> {
    /// Nothing signed yet for this (height, round, step) nor for a later one: sign.
    Sign,
    /// A message was already signed for exactly this (height, round, step): send that
    /// one again, whatever the caller now wants to sign.
    Resend(T),
    /// A message was signed for a later (height, round) of this step: sign nothing.
    Refuse,
}

/// Rule S1 (no double vote): a vote of kind `kind` may be signed at (`height`,
/// `round`) only if the last signed vote of that kind is for an earlier
/// (height, round). If it is for the same (height, round), that vote is re-sent
/// instead; if it is for a later one, nothing is signed.
///
/// Because the last signed vote per kind is persisted before it is sent, this holds
/// across crashes: (height, round) of signed votes of each kind only increases.
pub fn guard_vote(
    state: &SafetyState,
    kind: VoteKind,
    height: Height,
    round: Round,
) -> SignDecision<SignedVote> {
    match state.last_vote(kind) {
        None => SignDecision::Sign,
        Some(last) => compare(
            (last.vote.height, last.vote.round),
            (height, round),
            last.clone(),
        ),
    }
}

/// Rule S2 (no double proposal): a proposal may be signed at (`height`, `round`) only
/// if the last signed proposal is for an earlier (height, round); the same one is
/// re-sent for the same (height, round), and nothing is signed for an earlier one.
pub fn guard_proposal(
    state: &SafetyState,
    height: Height,
    round: Round,
) -> SignDecision<SignedProposal> {
    match &state.last_proposal {
        None => SignDecision::Sign,
        Some(last) => compare(
            (last.proposal.height, last.proposal.round),
            (height, round),
            last.clone(),
        ),
    }
}

fn compare<T>(last: (Height, Round), new: (Height, Round), last_message: T) -> SignDecision<T> {
    match last.cmp(&new) {
        std::cmp::Ordering::Less => SignDecision::Sign,
        std::cmp::Ordering::Equal => SignDecision::Resend(last_message),
        std::cmp::Ordering::Greater => SignDecision::Refuse,
    }
}

/// Rule S3 (line 23, lock on a fresh proposal): a proposal with no valid round for
/// value `v` may be prevoted only if `v` is valid and the validator is not locked, or
/// is locked on `v` itself: `valid(v) ∧ (lockedRound = −1 ∨ lockedValue = v)`.
pub fn may_prevote_fresh(locked: Option<&RoundValue>, valid: bool, block_hash: &Hash32) -> bool {
    valid && (lock_disabled() || locked.is_none_or(|lock| &lock.block_hash == block_hash))
}

/// Rule S4 (line 29, unlock by a later polka): a proposal for `v` re-proposed with
/// valid round `vr` (backed by more than 2/3 prevotes for `v` in `vr`) may be
/// prevoted only if `v` is valid and the lock is not newer than that polka, or is on
/// `v` itself: `valid(v) ∧ (lockedRound ≤ vr ∨ lockedValue = v)`.
pub fn may_prevote_repropose(
    locked: Option<&RoundValue>,
    valid: bool,
    valid_round: Round,
    block_hash: &Hash32,
) -> bool {
    valid
        && (lock_disabled()
            || locked
                .is_none_or(|lock| lock.round <= valid_round || &lock.block_hash == block_hash))
}

/// Rule S5 (lines 36–41, lock on a polka): on more than 2/3 prevotes for a valid `v` in
/// the current round while in the prevote step, the validator locks `v` at this round
/// and precommits `v`; in a later step it only records `v` as its valid value.
pub fn lock_on_polka(step: Step) -> bool {
    step == Step::Prevote
}

/// The `mutation-no-lock` feature disables rules S3 and S4's lock conditions, to show
/// that the simulator catches a real safety bug. Never enabled in a build that runs.
const fn lock_disabled() -> bool {
    cfg!(feature = "mutation-no-lock")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tongban_ledger::types::Vote;
    use tongban_ledger::Signature;

    fn vote(height: Height, round: Round, kind: VoteKind, byte: u8) -> SignedVote {
        SignedVote {
            vote: Vote {
                chain_id: "c".into(),
                height,
                round,
                kind,
                block_hash: Some(Hash32([byte; 32])),
            },
            validator_index: 0,
            signature: Signature([0; 64]),
        }
    }

    #[test]
    fn guard_vote_signs_only_forward() {
        let mut state = SafetyState::initial(5);
        assert_eq!(
            guard_vote(&state, VoteKind::Prevote, 5, 0),
            SignDecision::Sign
        );
        let v = vote(5, 2, VoteKind::Prevote, 1);
        state.last_prevote = Some(v.clone());
        assert_eq!(
            guard_vote(&state, VoteKind::Prevote, 5, 2),
            SignDecision::Resend(v)
        );
        assert_eq!(
            guard_vote(&state, VoteKind::Prevote, 5, 1),
            SignDecision::Refuse
        );
        assert_eq!(
            guard_vote(&state, VoteKind::Prevote, 4, 9),
            SignDecision::Refuse
        );
        assert_eq!(
            guard_vote(&state, VoteKind::Prevote, 5, 3),
            SignDecision::Sign
        );
        // The precommit guard is independent of the prevote one.
        assert_eq!(
            guard_vote(&state, VoteKind::Precommit, 5, 2),
            SignDecision::Sign
        );
    }

    #[cfg(not(feature = "mutation-no-lock"))]
    #[test]
    fn lock_rules() {
        let a = Hash32([1; 32]);
        let b = Hash32([2; 32]);
        let lock = RoundValue {
            round: 3,
            block_hash: a,
        };
        assert!(may_prevote_fresh(None, true, &b));
        assert!(!may_prevote_fresh(None, false, &b));
        assert!(may_prevote_fresh(Some(&lock), true, &a));
        assert!(!may_prevote_fresh(Some(&lock), true, &b));
        assert!(may_prevote_repropose(Some(&lock), true, 3, &b));
        assert!(may_prevote_repropose(Some(&lock), true, 4, &b));
        assert!(!may_prevote_repropose(Some(&lock), true, 2, &b));
        assert!(may_prevote_repropose(Some(&lock), true, 2, &a));
        assert!(!may_prevote_repropose(Some(&lock), false, 5, &a));
    }
}
