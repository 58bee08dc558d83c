//! What the node sends over gossip and block sync, encoded with `ledger::codec`.
//!
//! Record gossip carries one `encode(SignedRecord)`. Consensus gossip carries a
//! [`ConsensusWire`]: a proposal travels with its block, so that a validator can execute
//! the block before it prevotes. A block-sync response carries `encode(SyncedBlock)` per
//! block. Every decoder here reads bytes from other nodes: it is bounded by the codec's
//! limit and by the network's message size limits, and has a fuzz target
//! (`fuzz/fuzz_targets/node_wire.rs`).

use serde::{Deserialize, Serialize};
use tongban_ledger::codec::{decode, encode, CodecError};
use tongban_ledger::types::{Block, Commit, SignedProposal, SignedVote};

/// A consensus message on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusWire {
    /// A signed proposal and the block it names.
    Proposal {
        /// The proposal.
        proposal: SignedProposal,
        /// The block whose hash the proposal carries.
        block: Block,
    },
    /// A prevote or precommit.
    Vote(SignedVote),
    /// A commit certificate, re-sent for nodes that missed the precommits.
    Commit(Commit),
}

impl ConsensusWire {
    /// The bytes sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes bytes from a peer.
    pub fn from_bytes(bytes: &[u8]) -> Result<ConsensusWire, CodecError> {
        decode(bytes)
    }

    /// The height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            ConsensusWire::Proposal { proposal, .. } => proposal.proposal.height,
            ConsensusWire::Vote(vote) => vote.vote.height,
            ConsensusWire::Commit(commit) => commit.height,
        }
    }
}

/// One block of a block-sync response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedBlock {
    /// The block.
    pub block: Block,
    /// Its commit.
    pub commit: Commit,
}

impl SyncedBlock {
    /// The bytes sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes bytes from a peer.
    pub fn from_bytes(bytes: &[u8]) -> Result<SyncedBlock, CodecError> {
        decode(bytes)
    }
}
