//! tongban-consensus: Tendermint ("The latest gossip on BFT consensus", Buchman, Kwon,
//! Milosevic 2018, Algorithm 1) as a pure, deterministic state machine.
//!
//! The whole surface is [`Input`], [`Output`] and [`Consensus::process`]: no async
//! runtime, clock, randomness, network or disk inside. Time arrives as
//! [`Input::Timeout`], requested by [`Output::ScheduleTimeout`]; the node (or the
//! simulator in `tongban-tests`) carries out the outputs in order, and writes every
//! [`Output::PersistSafetyState`] durably before carrying out anything after it.
//!
//! - [`machine`]: the state machine, with the paper's line numbers in comments
//!   (`docs/spec/consensus.md` has the numbered pseudo-code);
//! - [`safety`]: the safety rules, one function each, and the persisted [`SafetyState`];
//! - [`io`]: inputs, outputs, messages, timeouts, errors;
//! - `votes`: the per-height message log and vote counting.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod io;
pub mod machine;
pub mod safety;
mod votes;

pub use io::{Config, Evidence, Input, InputError, Message, Output, Step, TimeoutConfig};
pub use machine::{verify_commit, Consensus};
pub use safety::{RoundValue, SafetyState};

/// Largest validator set a height may have; bounds every per-round vote table.
pub const MAX_VALIDATORS: usize = 256;

/// Votes and proposals are stored for rounds up to this many above the current round.
/// A message further ahead only counts towards a round skip (line 55), so a Byzantine
/// validator cannot make us store votes for arbitrarily many rounds.
pub const MAX_ROUND_LOOKAHEAD: tongban_ledger::types::Round = 16;

/// Messages for the next height kept until that height starts.
pub const MAX_BUFFERED_MESSAGES: usize = 4 * MAX_VALIDATORS;

/// On `Input::Retransmit`, own votes of the current round and of this many rounds
/// before it are re-sent.
pub const RETRANSMIT_ROUNDS: tongban_ledger::types::Round = 2;
