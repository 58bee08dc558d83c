//! What the node sends over gossip and block sync, encoded with `ledger::codec`.
//!
//! Record gossip carries one `encode(SignedRecord)`. Consensus gossip carries a
//! [`ConsensusWire`]: a proposal travels with its block, so that a validator can execute
//! the block before it prevotes. A block-sync response carries `encode(SyncedBlock)` per
//! block. Every decoder here reads bytes from other nodes: it is bounded by the codec's
//! limit and by the network's message size limits. Not yet fuzzed: the fuzz crate builds
//! `ledger` without RocksDB and cannot depend on this crate; these two types belong in
//! `ledger` so that `fuzz/` can cover them (its ledger-type targets cover the parts).

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
        /// The block whose hash the proposal carries (boxed: it dwarfs a vote).
        block: Box<Block>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tongban_ledger::types::{Vote, VoteKind};
    use tongban_ledger::{Hash32, Signature};

    fn vote() -> ConsensusWire {
        ConsensusWire::Vote(SignedVote {
            vote: Vote {
                chain_id: "c".to_string(),
                height: 2,
                round: 1,
                kind: VoteKind::Precommit,
                block_hash: Some(Hash32([7; 32])),
            },
            validator_index: 3,
            signature: Signature([9; 64]),
        })
    }

    #[test]
    fn golden_bytes_of_a_vote_message() {
        let bytes = vote().to_bytes();
        let mut expected = vec![1, 0, 0, 0]; // variant Vote
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, b'c']); // chain id
        expected.extend_from_slice(&2u64.to_le_bytes()); // height
        expected.extend_from_slice(&1u32.to_le_bytes()); // round
        expected.extend_from_slice(&[1, 0, 0, 0]); // Precommit
        expected.push(1); // Some
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(&3u32.to_le_bytes()); // validator index
        expected.extend_from_slice(&[9; 64]);
        assert_eq!(bytes, expected);
        assert_eq!(ConsensusWire::from_bytes(&bytes).expect("decodes"), vote());
    }

    #[test]
    fn garbage_and_trailing_bytes_are_refused() {
        assert!(ConsensusWire::from_bytes(&[9, 0, 0, 0]).is_err());
        let mut bytes = vote().to_bytes();
        bytes.push(0);
        assert!(ConsensusWire::from_bytes(&bytes).is_err());
        assert!(SyncedBlock::from_bytes(&[0xff; 16]).is_err());
    }
}
