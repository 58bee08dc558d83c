//! The message log of one height: proposals and votes per round, counted per
//! (round, kind, value), with equivocation detection.
//!
//! Votes are counted per (round, kind, value), each validator at most once per value.
//! A validator that signs two different votes for one (round, kind) is reported as
//! evidence, and each of its votes still counts towards its own value: that is what
//! the BFT bound already allows a Byzantine validator (it could have sent each vote
//! to a different node), and it keeps a polka checkable by every node even when some
//! saw the equivocator's other vote first. Without that, a node locked on a polka
//! that included an equivocator's vote could never convince the others (liveness).
//! Two quorums for different values in one (round, kind) still need f+1 equivocators.
//!
//! Memory is bounded: at most [`MAX_VOTES_PER_SLOT`] votes per (round, kind,
//! validator), rounds only up to `MAX_ROUND_LOOKAHEAD` beyond the current one (checked
//! by the caller), and at most `MAX_VALIDATORS` validators.

use std::collections::BTreeMap;

use tongban_ledger::types::{Round, SignedProposal, SignedVote, VoteKind};
use tongban_ledger::Hash32;

use crate::io::Evidence;

/// Distinct votes kept per (round, kind, validator): the first and, from an
/// equivocator, up to two conflicting ones. Honest validators sign one.
pub const MAX_VOTES_PER_SLOT: usize = 3;

/// The votes of one round: for each kind and validator, the distinct votes it sent
/// (normally one; more only if it equivocated, at most [`MAX_VOTES_PER_SLOT`]).
#[derive(Debug, Clone)]
struct RoundVotes {
    prevotes: Vec<Vec<SignedVote>>,
    precommits: Vec<Vec<SignedVote>>,
}

impl RoundVotes {
    fn new(validators: usize) -> Self {
        RoundVotes {
            prevotes: vec![Vec::new(); validators],
            precommits: vec![Vec::new(); validators],
        }
    }

    fn of(&self, kind: VoteKind) -> &[Vec<SignedVote>] {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    fn of_mut(&mut self, kind: VoteKind) -> &mut [Vec<SignedVote>] {
        match kind {
            VoteKind::Prevote => &mut self.prevotes,
            VoteKind::Precommit => &mut self.precommits,
        }
    }
}

/// A proposal with the application's verdict on its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceivedProposal {
    pub(crate) signed: SignedProposal,
    pub(crate) valid: bool,
}

/// What adding a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Added {
    /// First message of its kind from this validator for this round: counted.
    New,
    /// The very same message again: nothing changed.
    Duplicate,
    /// A different message for the same slot: evidence. A conflicting vote is still
    /// counted for its own value; a conflicting proposal is not stored.
    Conflict(Box<Evidence>),
    /// A further conflicting vote, already reported: counted, no new evidence.
    Counted,
}

/// The message log of one height.
#[derive(Debug, Clone)]
pub(crate) struct HeightLog {
    validators: usize,
    rounds: BTreeMap<Round, RoundVotes>,
    proposals: BTreeMap<Round, ReceivedProposal>,
    /// Highest round of any verified message from each validator (for line 55).
    highest_round: Vec<Option<Round>>,
    /// Slots already reported as equivocation, so evidence is emitted once each.
    reported: BTreeMap<(Round, u8, u32), ()>,
}

impl HeightLog {
    pub(crate) fn new(validators: usize) -> Self {
        HeightLog {
            validators,
            rounds: BTreeMap::new(),
            proposals: BTreeMap::new(),
            highest_round: vec![None; validators],
            reported: BTreeMap::new(),
        }
    }

    /// Notes that `index` sent a verified message for `round` (line 55 counting).
    pub(crate) fn saw_round(&mut self, index: usize, round: Round) {
        if let Some(slot) = self.highest_round.get_mut(index) {
            if slot.is_none_or(|r| r < round) {
                *slot = Some(round);
            }
        }
    }

    /// The highest round `r` such that at least `f_plus_one` validators sent a
    /// message for round `r` or later.
    pub(crate) fn skip_round(&self, f_plus_one: usize) -> Option<Round> {
        let mut rounds: Vec<Round> = self.highest_round.iter().flatten().copied().collect();
        if rounds.len() < f_plus_one || f_plus_one == 0 {
            return None;
        }
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        rounds.get(f_plus_one - 1).copied()
    }

    /// Whether exactly this signed vote is already stored (a duplicate delivery; no
    /// need to verify its signature again).
    pub(crate) fn contains(&self, vote: &SignedVote) -> bool {
        self.rounds.get(&vote.vote.round).is_some_and(|r| {
            r.of(vote.vote.kind)
                .get(vote.validator_index as usize)
                .is_some_and(|slot| slot.contains(vote))
        })
    }

    /// Adds a verified vote whose validator index is in range.
    pub(crate) fn add_vote(&mut self, vote: SignedVote) -> Added {
        let index = vote.validator_index as usize;
        let kind = vote.vote.kind;
        let round = vote.vote.round;
        let validators = self.validators;
        let Some(slot) = self
            .rounds
            .entry(round)
            .or_insert_with(|| RoundVotes::new(validators))
            .of_mut(kind)
            .get_mut(index)
        else {
            return Added::Duplicate;
        };
        let Some(first) = slot.first() else {
            slot.push(vote);
            return Added::New;
        };
        if slot.iter().any(|v| v.vote == vote.vote) {
            return Added::Duplicate;
        }
        let evidence = Evidence::DuplicateVote {
            first: first.clone(),
            second: vote.clone(),
        };
        if slot.len() < MAX_VOTES_PER_SLOT {
            slot.push(vote);
        }
        let key = (round, kind as u8, index as u32);
        if self.reported.insert(key, ()).is_some() {
            // Reported already; the new vote still counted (if there was room).
            return Added::Counted;
        }
        Added::Conflict(Box::new(evidence))
    }

    /// Adds a verified proposal from the round's proposer.
    pub(crate) fn add_proposal(&mut self, proposal: SignedProposal, valid: bool) -> Added {
        let round = proposal.proposal.round;
        match self.proposals.get(&round) {
            None => {
                self.proposals.insert(
                    round,
                    ReceivedProposal {
                        signed: proposal,
                        valid,
                    },
                );
                Added::New
            }
            Some(first) if first.signed.proposal == proposal.proposal => Added::Duplicate,
            Some(first) => {
                let key = (round, u8::MAX, proposal.validator_index);
                if self.reported.insert(key, ()).is_some() {
                    return Added::Duplicate;
                }
                Added::Conflict(Box::new(Evidence::DuplicateProposal {
                    first: first.signed.clone(),
                    second: proposal,
                }))
            }
        }
    }

    /// The proposal of `round`, if received.
    pub(crate) fn proposal(&self, round: Round) -> Option<&ReceivedProposal> {
        self.proposals.get(&round)
    }

    /// Number of votes of `kind` in `round` for `value` (`None` = nil).
    pub(crate) fn count(&self, round: Round, kind: VoteKind, value: Option<&Hash32>) -> usize {
        self.rounds.get(&round).map_or(0, |r| {
            r.of(kind)
                .iter()
                .filter(|slot| slot.iter().any(|v| v.vote.block_hash.as_ref() == value))
                .count()
        })
    }

    /// Number of votes of `kind` in `round`, for any value.
    pub(crate) fn count_any(&self, round: Round, kind: VoteKind) -> usize {
        self.rounds.get(&round).map_or(0, |r| {
            r.of(kind).iter().filter(|slot| !slot.is_empty()).count()
        })
    }

    /// The value (not nil) with at least `quorum` votes of `kind` in `round`, if any.
    pub(crate) fn quorum_value(
        &self,
        round: Round,
        kind: VoteKind,
        quorum: usize,
    ) -> Option<Hash32> {
        let votes = self.rounds.get(&round)?.of(kind);
        let mut counts: BTreeMap<Hash32, usize> = BTreeMap::new();
        // Each validator's slot holds distinct values, so each counts once per value.
        for vote in votes.iter().flatten() {
            if let Some(hash) = vote.vote.block_hash {
                let c = counts.entry(hash).or_insert(0);
                *c += 1;
                if *c >= quorum {
                    return Some(hash);
                }
            }
        }
        None
    }

    /// The lowest round with at least `quorum` precommits for one value, and that value.
    pub(crate) fn decided_round(&self, quorum: usize) -> Option<(Round, Hash32)> {
        self.rounds.keys().find_map(|&r| {
            self.quorum_value(r, VoteKind::Precommit, quorum)
                .map(|v| (r, v))
        })
    }

    /// The votes of `kind` in `round` by validator `index`.
    pub(crate) fn votes_by(&self, round: Round, kind: VoteKind, index: u32) -> Vec<SignedVote> {
        self.rounds
            .get(&round)
            .and_then(|r| r.of(kind).get(index as usize))
            .cloned()
            .unwrap_or_default()
    }

    /// The votes of `kind` in `round` for `value`, ascending by validator index.
    pub(crate) fn votes_for(
        &self,
        round: Round,
        kind: VoteKind,
        value: Option<&Hash32>,
    ) -> Vec<SignedVote> {
        self.rounds.get(&round).map_or_else(Vec::new, |r| {
            r.of(kind)
                .iter()
                .filter_map(|slot| slot.iter().find(|v| v.vote.block_hash.as_ref() == value))
                .cloned()
                .collect()
        })
    }
}
