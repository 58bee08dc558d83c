//! Shared helpers for the consensus integration tests: keys, a validator set, signed
//! messages, and a readable summary of outputs.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use tongban_consensus::{
    Config, Consensus, Input, InputError, Message, Output, Step, TimeoutConfig,
};
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{self, PROPOSAL_DOMAIN, VOTE_DOMAIN};
use tongban_ledger::ids::{uscc_check_char, MemberId};
use tongban_ledger::types::{
    Height, ProposalMessage, Round, SignedProposal, SignedVote, Validator, ValidatorSet, Vote,
    VoteKind,
};
use tongban_ledger::Hash32;

pub const CHAIN: &str = "tongban-test";
pub const B1: Hash32 = Hash32([0xB1; 32]);
pub const B2: Hash32 = Hash32([0xB2; 32]);

pub fn key(index: usize) -> SigningKey {
    SigningKey::from_bytes(&[index as u8 + 1; 32])
}

/// A valid 统一社会信用代码 whose order follows `index`.
pub fn member_id(index: usize) -> MemberId {
    let first17 = format!("11350100{:09}", index);
    let check = uscc_check_char(first17.as_bytes()).expect("valid alphabet");
    MemberId::parse(&format!("{first17}{}", check as char)).expect("valid member id")
}

/// `n` validators; validator `i` signs with `key(i)`.
pub fn validators(n: usize) -> ValidatorSet {
    ValidatorSet {
        validators: (0..n)
            .map(|i| Validator {
                member_id: member_id(i),
                key: crypto::public_key(&key(i)),
            })
            .collect(),
    }
}

pub fn config() -> Config {
    Config {
        chain_id: CHAIN.into(),
        timeouts: TimeoutConfig::default(),
    }
}

/// Validator `me` of a set of `n`, started at `height`; returns it and the outputs.
pub fn started(me: usize, n: usize, height: Height) -> (Consensus, Vec<Output>) {
    let mut c = Consensus::new(config(), key(me));
    let out = c.process(Input::NewHeight {
        height,
        validators: validators(n),
    });
    (c, out)
}

pub fn signed_vote(
    from: usize,
    height: Height,
    round: Round,
    kind: VoteKind,
    value: Option<Hash32>,
) -> SignedVote {
    let vote = Vote {
        chain_id: CHAIN.into(),
        height,
        round,
        kind,
        block_hash: value,
    };
    let signature = crypto::sign(&key(from), VOTE_DOMAIN, &encode(&vote));
    SignedVote {
        vote,
        validator_index: from as u32,
        signature,
    }
}

pub fn prevote(from: usize, height: Height, round: Round, value: Option<Hash32>) -> Input {
    Input::Vote(signed_vote(from, height, round, VoteKind::Prevote, value))
}

pub fn precommit(from: usize, height: Height, round: Round, value: Option<Hash32>) -> Input {
    Input::Vote(signed_vote(from, height, round, VoteKind::Precommit, value))
}

pub fn signed_proposal(
    from: usize,
    height: Height,
    round: Round,
    value: Hash32,
    valid_round: Option<Round>,
) -> SignedProposal {
    let proposal = ProposalMessage {
        chain_id: CHAIN.into(),
        height,
        round,
        block_hash: value,
        valid_round,
    };
    let signature = crypto::sign(&key(from), PROPOSAL_DOMAIN, &encode(&proposal));
    SignedProposal {
        proposal,
        validator_index: from as u32,
        signature,
    }
}

pub fn proposal(
    from: usize,
    height: Height,
    round: Round,
    value: Hash32,
    valid_round: Option<Round>,
    valid: bool,
) -> Input {
    Input::Proposal {
        proposal: signed_proposal(from, height, round, value, valid_round),
        valid,
    }
}

/// An output, reduced to what a table row states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Persist,
    Propose {
        round: Round,
        value: Hash32,
        valid_round: Option<Round>,
    },
    Prevote {
        round: Round,
        value: Option<Hash32>,
    },
    Precommit {
        round: Round,
        value: Option<Hash32>,
    },
    CommitMessage {
        height: Height,
    },
    RequestValue {
        round: Round,
    },
    Timeout {
        round: Round,
        step: Step,
        ms: u64,
    },
    Decide {
        round: Round,
        value: Hash32,
        signers: Vec<u32>,
    },
    Evidence {
        validator: u32,
    },
    Rejected(InputError),
}

pub fn summarize(output: &Output) -> Out {
    match output {
        Output::PersistSafetyState(_) => Out::Persist,
        Output::Broadcast(Message::Proposal(p)) => Out::Propose {
            round: p.proposal.round,
            value: p.proposal.block_hash,
            valid_round: p.proposal.valid_round,
        },
        Output::Broadcast(Message::Vote(v)) => match v.vote.kind {
            VoteKind::Prevote => Out::Prevote {
                round: v.vote.round,
                value: v.vote.block_hash,
            },
            VoteKind::Precommit => Out::Precommit {
                round: v.vote.round,
                value: v.vote.block_hash,
            },
        },
        Output::Broadcast(Message::Commit(c)) => Out::CommitMessage { height: c.height },
        Output::RequestValue { round, .. } => Out::RequestValue { round: *round },
        Output::ScheduleTimeout {
            round,
            step,
            duration_ms,
            ..
        } => Out::Timeout {
            round: *round,
            step: *step,
            ms: *duration_ms,
        },
        Output::Decide {
            round,
            block_hash,
            commit,
            ..
        } => Out::Decide {
            round: *round,
            value: *block_hash,
            signers: commit.signatures.iter().map(|(i, _)| *i).collect(),
        },
        Output::Evidence(e) => Out::Evidence {
            validator: e.validator_index(),
        },
        Output::Rejected(e) => Out::Rejected(e.clone()),
    }
}

/// Persist before send: if a batch broadcasts anything, its first output persists.
pub fn assert_persist_first(outputs: &[Output]) {
    let broadcasts = outputs.iter().any(|o| {
        matches!(
            o,
            Output::Broadcast(Message::Proposal(_) | Message::Vote(_))
        )
    });
    let signed_new = outputs
        .iter()
        .any(|o| matches!(o, Output::PersistSafetyState(_)));
    if signed_new {
        assert!(
            matches!(outputs.first(), Some(Output::PersistSafetyState(_))),
            "PersistSafetyState must come first: {outputs:?}"
        );
    }
    let _ = broadcasts;
}
