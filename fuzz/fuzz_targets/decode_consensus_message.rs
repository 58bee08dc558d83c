//! Consensus messages arrive from any peer over gossip. Each of the three kinds is tried
//! on the same bytes: decoding must not panic, and whatever decodes re-encodes to
//! exactly the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::codec::{decode, encode};
use tongban_ledger::types::{Commit, SignedProposal, SignedVote};

fuzz_target!(|data: &[u8]| {
    if let Ok(vote) = decode::<SignedVote>(data) {
        assert_eq!(encode(&vote), data, "a vote has two encodings");
        let _ = vote.vote.signing_bytes();
    }
    if let Ok(proposal) = decode::<SignedProposal>(data) {
        assert_eq!(encode(&proposal), data, "a proposal has two encodings");
        let _ = proposal.proposal.signing_bytes();
    }
    if let Ok(commit) = decode::<Commit>(data) {
        assert_eq!(encode(&commit), data, "a commit has two encodings");
    }
});
