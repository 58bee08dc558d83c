//! The properties checked at every step of a run. Each check runs at the one place
//! where its state can change (a decision, a broadcast, an evidence report), which is
//! the same as checking after every step.

use std::collections::{BTreeMap, BTreeSet};

use tongban_consensus::{Message, Step};
use tongban_ledger::types::{Height, Round, VoteKind};
use tongban_ledger::Hash32;

/// A broken property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Two honest instances decided different blocks at one height.
    Agreement {
        /// The height.
        height: Height,
        /// The first decision.
        first: Hash32,
        /// The conflicting one.
        second: Hash32,
    },
    /// An honest instance decided a block that was never proposed or is invalid.
    Validity {
        /// The height.
        height: Height,
        /// The block.
        block: Hash32,
        /// Why.
        reason: &'static str,
    },
    /// An honest validator signed two different messages for one (height, round, step).
    DoubleSign {
        /// The validator.
        validator: usize,
        /// The slot.
        slot: (Height, Round, Step),
    },
    /// Evidence named an honest validator.
    FalseEvidence {
        /// The validator named.
        validator: usize,
    },
    /// After the network healed, an honest instance did not decide new heights in time.
    Liveness {
        /// The instance.
        instance: usize,
        /// Its decided height when time ran out.
        decided: Height,
        /// The height it had to reach.
        target: Height,
        /// Every instance's (decided height, height, round, step, lock, valid round).
        detail: String,
    },
}

/// Running state of the invariants.
#[derive(Debug, Default)]
pub struct Invariants {
    /// Decision per height, over honest instances.
    decisions: BTreeMap<Height, Hash32>,
    /// Every block hash that appeared in a proposal.
    proposed: BTreeSet<Hash32>,
    /// What each honest validator signed per slot.
    signed: BTreeMap<(usize, Height, Round, Step), Message>,
}

impl Invariants {
    /// A proposal for `block` was sent by someone.
    pub fn on_proposed(&mut self, block: Hash32) {
        self.proposed.insert(block);
    }

    /// An honest instance decided `block` at `height`.
    pub fn on_decide(
        &mut self,
        height: Height,
        block: Hash32,
        valid: bool,
    ) -> Result<(), Violation> {
        if !self.proposed.contains(&block) {
            return Err(Violation::Validity {
                height,
                block,
                reason: "never proposed",
            });
        }
        if !valid {
            return Err(Violation::Validity {
                height,
                block,
                reason: "invalid block",
            });
        }
        match self.decisions.get(&height) {
            Some(first) if *first != block => Err(Violation::Agreement {
                height,
                first: *first,
                second: block,
            }),
            Some(_) => Ok(()),
            None => {
                self.decisions.insert(height, block);
                Ok(())
            }
        }
    }

    /// Honest validator `validator` sent `message`, signed by itself.
    pub fn on_signed(&mut self, validator: usize, message: &Message) -> Result<(), Violation> {
        let (height, round, step) = match message {
            Message::Proposal(p) => (p.proposal.height, p.proposal.round, Step::Propose),
            Message::Vote(v) => (
                v.vote.height,
                v.vote.round,
                match v.vote.kind {
                    VoteKind::Prevote => Step::Prevote,
                    VoteKind::Precommit => Step::Precommit,
                },
            ),
            Message::Commit(_) => return Ok(()),
        };
        let key = (validator, height, round, step);
        match self.signed.get(&key) {
            Some(first) if first != message => Err(Violation::DoubleSign {
                validator,
                slot: (height, round, step),
            }),
            Some(_) => Ok(()),
            None => {
                self.signed.insert(key, message.clone());
                Ok(())
            }
        }
    }

    /// Highest height with a decision.
    pub fn highest_decided(&self) -> Height {
        self.decisions.keys().next_back().copied().unwrap_or(0)
    }

    /// Number of heights decided.
    pub fn heights_decided(&self) -> usize {
        self.decisions.len()
    }
}
