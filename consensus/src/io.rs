//! The whole surface of the state machine: what goes in ([`Input`]), what comes out
//! ([`Output`]), the messages it exchanges ([`Message`]), and its configuration.
//!
//! The caller (the node, or the simulator) feeds one input at a time to
//! [`crate::Consensus::process`] and carries out the returned outputs **in order**. The
//! one ordering rule that matters for safety: an [`Output::PersistSafetyState`] must be
//! durably written (fsync) before any output after it is carried out, because what
//! follows may be a freshly signed vote or proposal.

use serde::{Deserialize, Serialize};
use tongban_ledger::types::{
    Commit, Height, Round, SignedProposal, SignedVote, ValidatorSet, VoteKind,
};
use tongban_ledger::Hash32;

use crate::safety::SafetyState;

/// A step of a round (Algorithm 1, line 4). Also names which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Waiting for the round's proposal.
    Propose,
    /// Prevoted; waiting for a polka (more than 2/3 prevotes).
    Prevote,
    /// Precommitted; waiting for a decision or the next round.
    Precommit,
}

/// Timeouts grow linearly with the round, so that after the network stabilises there
/// is a round in which every timeout exceeds the real message delay (the paper's
/// partial-synchrony argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutConfig {
    /// `timeoutPropose(0)`.
    pub propose_base_ms: u64,
    /// Added to `timeoutPropose` per round.
    pub propose_delta_ms: u64,
    /// `timeoutPrevote(0)`.
    pub prevote_base_ms: u64,
    /// Added to `timeoutPrevote` per round.
    pub prevote_delta_ms: u64,
    /// `timeoutPrecommit(0)`.
    pub precommit_base_ms: u64,
    /// Added to `timeoutPrecommit` per round.
    pub precommit_delta_ms: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            propose_base_ms: 3_000,
            propose_delta_ms: 500,
            prevote_base_ms: 1_000,
            prevote_delta_ms: 500,
            precommit_base_ms: 1_000,
            precommit_delta_ms: 500,
        }
    }
}

impl TimeoutConfig {
    /// Duration of the timeout of `step` in `round`: `base + round * delta`, saturating.
    pub fn duration_ms(&self, step: Step, round: Round) -> u64 {
        let (base, delta) = match step {
            Step::Propose => (self.propose_base_ms, self.propose_delta_ms),
            Step::Prevote => (self.prevote_base_ms, self.prevote_delta_ms),
            Step::Precommit => (self.precommit_base_ms, self.precommit_delta_ms),
        };
        base.saturating_add(u64::from(round).saturating_mul(delta))
    }
}

/// Configuration of one consensus instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The chain; votes and proposals for another chain are refused.
    pub chain_id: String,
    /// Timeouts.
    pub timeouts: TimeoutConfig,
}

/// A consensus message on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// A signed proposal. The node sends the block with it.
    Proposal(SignedProposal),
    /// A signed prevote or precommit.
    Vote(SignedVote),
    /// A decided height's commit certificate, re-sent so that a node that missed the
    /// precommits (or was down) can decide that height too.
    Commit(Commit),
}

/// Something the state machine must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start `height` with its validator set (line 10, and line 54 for each later
    /// height). Sent once after construction or restore, and once after each
    /// [`Output::Decide`], when the node has stored the decided block.
    NewHeight {
        /// The height to start; must be above every height already decided.
        height: Height,
        /// The validators of that height.
        validators: ValidatorSet,
    },
    /// A proposal from the network, with the application's verdict on its block.
    ///
    /// Value validation (`valid(v)` in the paper) is the application's: the node
    /// re-executes the block named by `proposal.block_hash` and compares the state
    /// root *before* feeding the proposal here. If the block has not arrived yet, the
    /// node holds the proposal (a bounded queue) until it has.
    Proposal {
        /// The signed proposal.
        proposal: SignedProposal,
        /// Whether the block is valid (`valid(v)`).
        valid: bool,
    },
    /// A vote from the network.
    Vote(SignedVote),
    /// A commit certificate from the network (block sync or retransmission).
    Commit(Commit),
    /// The application's answer to [`Output::RequestValue`] (`getValue()`, line 18):
    /// the hash of a block the node built and executed.
    ProposeValue {
        /// Height asked for.
        height: Height,
        /// Round asked for.
        round: Round,
        /// The block's hash.
        block_hash: Hash32,
    },
    /// A timeout scheduled by [`Output::ScheduleTimeout`] has expired.
    Timeout {
        /// Its height.
        height: Height,
        /// Its round.
        round: Round,
        /// Which timeout.
        step: Step,
    },
    /// The caller's periodic gossip tick: re-send what peers may have missed (own
    /// messages of the current round, the proposal, the polka of the valid round, the
    /// last commit). The paper assumes reliable gossip; over lossy links this is what
    /// provides it.
    Retransmit,
}

/// Two signed messages by one validator that conflict: proof of misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evidence {
    /// Two different votes of one kind for one (height, round).
    DuplicateVote {
        /// The vote seen first.
        first: SignedVote,
        /// The conflicting vote.
        second: SignedVote,
    },
    /// Two different proposals for one (height, round).
    DuplicateProposal {
        /// The proposal seen first.
        first: SignedProposal,
        /// The conflicting proposal.
        second: SignedProposal,
    },
}

/// Why an input was refused. A refused input changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The message names another chain.
    #[error("message for chain {got:?}, this chain is {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The message's chain.
        got: String,
    },
    /// The message is for a height already decided.
    #[error("message for height {got}, already at height {current}")]
    StaleHeight {
        /// Our height.
        current: Height,
        /// The message's height.
        got: Height,
    },
    /// The message is for a height too far ahead to keep.
    #[error("message for height {got}, too far ahead of height {current}")]
    FutureHeight {
        /// Our height.
        current: Height,
        /// The message's height.
        got: Height,
    },
    /// The message is for a round too far ahead of ours to store.
    #[error("message for round {got}, too far ahead of round {current}")]
    FutureRound {
        /// Our round.
        current: Round,
        /// The message's round.
        got: Round,
    },
    /// The buffer of next-height messages is full.
    #[error("buffer of next-height messages is full ({limit})")]
    BufferFull {
        /// The limit.
        limit: usize,
    },
    /// The validator index is not in this height's set.
    #[error("validator index {index} is not in the set of {len} validators")]
    UnknownValidator {
        /// The index.
        index: u32,
        /// Size of the set.
        len: usize,
    },
    /// A proposal not signed by the round's proposer.
    #[error("proposal for round {round} by validator {index}, which is not its proposer")]
    NotProposer {
        /// The round.
        round: Round,
        /// The signer's index.
        index: u32,
    },
    /// A proposal whose valid round is not below its round.
    #[error("proposal for round {round} carries valid round {valid_round}")]
    BadValidRound {
        /// The round.
        round: Round,
        /// The claimed valid round.
        valid_round: Round,
    },
    /// The signature does not verify.
    #[error("bad signature by validator {index}")]
    BadSignature {
        /// The signer's index.
        index: u32,
    },
    /// A commit certificate that does not hold more than two thirds of valid,
    /// distinct, ascending precommit signatures.
    #[error("commit certificate invalid: {reason}")]
    BadCommit {
        /// What is wrong.
        reason: String,
    },
    /// The validator set is empty or larger than [`crate::MAX_VALIDATORS`].
    #[error("validator set of {len} validators is not usable (1..={max})")]
    BadValidatorSet {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An input that needs a running height arrived before [`Input::NewHeight`].
    #[error("no height started yet")]
    NotStarted,
    /// `NewHeight` for a height not above the current one. (A `NewHeight` above an
    /// undecided current height is allowed: the node may have synced those blocks.)
    #[error("new height {got} is not above current height {current}")]
    HeightNotIncreasing {
        /// Our height.
        current: Height,
        /// The requested height.
        got: Height,
    },
}

/// Something the caller must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write this state durably (fsync) before carrying out any later output.
    PersistSafetyState(Box<SafetyState>),
    /// Send to all peers.
    Broadcast(Message),
    /// Build and execute a block for (height, round) and answer with
    /// [`Input::ProposeValue`] (`getValue()`, line 18).
    RequestValue {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
    },
    /// Feed `Input::Timeout { height, round, step }` after `duration_ms`.
    ScheduleTimeout {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Which timeout.
        step: Step,
        /// How long, in milliseconds.
        duration_ms: u64,
    },
    /// `block_hash` is decided at `height` (line 51). The node stores the block with
    /// this commit, then sends [`Input::NewHeight`] for `height + 1`.
    Decide {
        /// Height.
        height: Height,
        /// Round of the deciding precommits.
        round: Round,
        /// The decided block.
        block_hash: Hash32,
        /// More than two thirds of precommit signatures for it.
        commit: Commit,
    },
    /// A validator misbehaved; the node may gossip and record this.
    Evidence(Evidence),
    /// The input was refused and changed nothing.
    Rejected(InputError),
}

/// A vote's kind as a step: the step in which a validator signs that vote.
pub(crate) fn step_of(kind: VoteKind) -> Step {
    match kind {
        VoteKind::Prevote => Step::Prevote,
        VoteKind::Precommit => Step::Precommit,
    }
}
