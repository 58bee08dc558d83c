//! Hostile inputs: random, mostly malformed messages never panic the state machine,
//! and an input that is refused changes nothing.

mod common;

use common::*;
use tongban_consensus::{Input, Output, Step};
use tongban_ledger::types::{Commit, VoteKind};
use tongban_ledger::{Hash32, Signature};

/// SplitMix64, so the test is reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn random_input(rng: &mut Rng) -> Input {
    let heights = [0, 1, 1, 1, 2, 3, u64::MAX];
    let rounds = [0, 0, 1, 2, 17, 1000, u32::MAX];
    let indices = [0u32, 1, 2, 3, 4, 255, u32::MAX];
    let values = [None, Some(B1), Some(B2), Some(Hash32([0; 32]))];
    let height = rng.pick(&heights);
    let round = rng.pick(&rounds);
    let from = rng.pick(&[0usize, 1, 2, 3]);
    match rng.next() % 7 {
        0 => {
            // Correctly signed by a real validator, random fields.
            let kind = rng.pick(&[VoteKind::Prevote, VoteKind::Precommit]);
            Input::Vote(signed_vote(from, height, round, kind, rng.pick(&values)))
        }
        1 => {
            // Garbage signature or index.
            let mut v = signed_vote(from, height, round, VoteKind::Prevote, rng.pick(&values));
            v.signature = Signature([rng.next() as u8; 64]);
            v.validator_index = rng.pick(&indices);
            Input::Vote(v)
        }
        2 => {
            let valid_round = rng.pick(&[None, Some(0), Some(1), Some(u32::MAX)]);
            let value = rng.pick(&values).unwrap_or(B1);
            let mut p = signed_proposal(from, height, round, value, valid_round);
            if rng.next() % 2 == 0 {
                p.validator_index = rng.pick(&indices);
            }
            Input::Proposal {
                proposal: p,
                valid: rng.next() % 2 == 0,
            }
        }
        3 => {
            let signers = (rng.next() % 6) as usize;
            Input::Commit(Commit {
                height,
                round,
                block_hash: rng.pick(&values).unwrap_or(B2),
                signatures: (0..signers)
                    .map(|_| (rng.pick(&indices), Signature([rng.next() as u8; 64])))
                    .collect(),
            })
        }
        4 => Input::Timeout {
            height,
            round,
            step: rng.pick(&[Step::Propose, Step::Prevote, Step::Precommit]),
        },
        5 => Input::ProposeValue {
            height,
            round,
            block_hash: rng.pick(&values).unwrap_or(B1),
        },
        _ => Input::Retransmit,
    }
}

#[test]
fn random_inputs_never_panic_and_refusals_change_nothing() {
    let mut rng = Rng(7);
    for me in 0..4 {
        let (mut c, _) = started(me, 4, 1);
        for _ in 0..600 {
            let before = c.safety_state().clone();
            let decided_before = c.decision().cloned();
            let outputs = c.process(random_input(&mut rng));
            assert_persist_first(&outputs);
            if let [Output::Rejected(_)] = outputs.as_slice() {
                assert_eq!(c.safety_state(), &before);
                assert_eq!(c.decision().cloned(), decided_before);
            }
        }
    }
}
