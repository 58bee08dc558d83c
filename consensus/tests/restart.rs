//! Safety across crashes: a validator that crashes after persisting its safety state
//! and before sending what followed, then restarts from that state, never signs a
//! message that conflicts with one it signed before. Also the golden bytes of the
//! persisted `SafetyState`.

mod common;

use std::collections::BTreeMap;

use common::*;
use tongban_consensus::{Consensus, Input, Message, Output, SafetyState, Step};
use tongban_ledger::codec::{decode, encode};
use tongban_ledger::types::{Height, Round, SignedProposal, SignedVote};
use tongban_ledger::Hash32;

/// What a validator signed, keyed by (height, round, step).
#[derive(Default)]
struct Signed {
    by_slot: BTreeMap<(Height, Round, Step), Message>,
}

impl Signed {
    /// Records every broadcast of an own message; panics on a conflicting one.
    fn record(&mut self, me: u32, outputs: &[Output]) {
        for output in outputs {
            let Output::Broadcast(message) = output else {
                continue;
            };
            let slot = match message {
                Message::Vote(SignedVote {
                    vote,
                    validator_index,
                    ..
                }) if *validator_index == me => {
                    let step = match vote.kind {
                        tongban_ledger::types::VoteKind::Prevote => Step::Prevote,
                        tongban_ledger::types::VoteKind::Precommit => Step::Precommit,
                    };
                    (vote.height, vote.round, step)
                }
                Message::Proposal(SignedProposal {
                    proposal,
                    validator_index,
                    ..
                }) if *validator_index == me => (proposal.height, proposal.round, Step::Propose),
                _ => continue,
            };
            if let Some(previous) = self.by_slot.get(&slot) {
                assert_eq!(previous, message, "conflicting messages for {slot:?}");
            } else {
                self.by_slot.insert(slot, message.clone());
            }
        }
    }
}

fn last_persisted(outputs: &[Output], previous: &SafetyState) -> SafetyState {
    outputs
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::PersistSafetyState(s) => Some((**s).clone()),
            _ => None,
        })
        .unwrap_or_else(|| previous.clone())
}

/// Validator 2 of 4 at height 1. Before the crash, the (Byzantine) proposer of
/// round 0 sends B1 and a polka forms for B1, so validator 2 prevotes and precommits
/// B1 (and locks). After the crash the proposer sends B2 instead, and the other
/// validators' messages push toward B2. At every crash point, the restarted validator
/// re-sends what it had signed and never signs anything conflicting.
#[test]
fn crash_after_persist_before_send_never_signs_a_conflict() {
    let me = 2usize;
    let before: Vec<Input> = vec![
        proposal(1, 1, 0, B1, None, true),
        prevote(0, 1, 0, Some(B1)),
        prevote(1, 1, 0, Some(B1)),
        precommit(0, 1, 0, None),
        precommit(1, 1, 0, None),
        Input::Timeout {
            height: 1,
            round: 0,
            step: Step::Precommit,
        },
    ];
    let after: Vec<Input> = vec![
        // The equivocating proposer's other proposal, first in the fresh log.
        proposal(1, 1, 0, B2, None, true),
        prevote(0, 1, 0, Some(B2)),
        prevote(3, 1, 0, Some(B2)),
        Input::Timeout {
            height: 1,
            round: 0,
            step: Step::Propose,
        },
        Input::Timeout {
            height: 1,
            round: 0,
            step: Step::Prevote,
        },
        // Round 1: validator 2 proposes; the application offers a different block,
        // but the lock on B1 (valid value) decides what is proposed.
        Input::ProposeValue {
            height: 1,
            round: 1,
            block_hash: B2,
        },
        proposal(2, 1, 1, B2, None, true),
        Input::Timeout {
            height: 1,
            round: 1,
            step: Step::Propose,
        },
        prevote(0, 1, 1, None),
        prevote(1, 1, 1, None),
        Input::Timeout {
            height: 1,
            round: 1,
            step: Step::Prevote,
        },
    ];
    let mut crash_points_with_signatures = 0;
    for crash_at in 0..=before.len() {
        for cut in 0..4usize {
            let mut signed = Signed::default();
            let (mut c, out) = started(me, 4, 1);
            let mut persisted = last_persisted(&out, &SafetyState::initial(0));
            signed.record(me as u32, &out);
            for (i, input) in before.iter().take(crash_at).enumerate() {
                let out = c.process(input.clone());
                assert_persist_first(&out);
                persisted = last_persisted(&out, &persisted);
                // The last batch is cut short after `cut` outputs: the crash happens
                // after the state was persisted and before the rest was sent.
                let sent = if i + 1 == crash_at {
                    &out[..cut.min(out.len())]
                } else {
                    &out[..]
                };
                signed.record(me as u32, sent);
            }
            if persisted.last_prevote.is_some() {
                crash_points_with_signatures += 1;
            }
            // Restart from what was persisted.
            let mut c = Consensus::restore(config(), key(me), persisted.clone());
            let out = c.process(Input::NewHeight {
                height: 1,
                validators: validators(4),
            });
            assert_persist_first(&out);
            signed.record(me as u32, &out);
            for input in &after {
                let out = c.process(input.clone());
                assert_persist_first(&out);
                signed.record(me as u32, &out);
            }
            // Whatever was persisted as signed is what the node now stands by.
            if let Some(v) = &persisted.last_prevote {
                assert_eq!(
                    signed
                        .by_slot
                        .get(&(v.vote.height, v.vote.round, Step::Prevote)),
                    Some(&Message::Vote(v.clone()))
                );
            }
            if let Some(lock) = persisted.locked {
                assert_eq!(lock.block_hash, B1);
                // Locked on B1 in round 0: the round-1 proposal is B1 with valid round 0.
                if let Some(Message::Proposal(p)) = signed.by_slot.get(&(1, 1, Step::Propose)) {
                    assert_eq!(p.proposal.block_hash, B1);
                    assert_eq!(p.proposal.valid_round, Some(0));
                }
            }
        }
    }
    assert!(crash_points_with_signatures > 0);
}

#[test]
fn restart_resends_the_signed_vote_instead_of_signing_a_new_one() {
    let me = 0usize;
    let (mut c, _) = started(me, 4, 1);
    let out = c.process(proposal(1, 1, 0, B1, None, true));
    let Some(Output::PersistSafetyState(state)) = out.first().cloned() else {
        panic!("persist first: {out:?}");
    };
    let state = *state;
    let signed_prevote = state.last_prevote.clone().expect("prevote signed");
    assert_eq!(signed_prevote.vote.block_hash, Some(B1));
    // Crash before sending: restart, and the equivocating proposer now sends B2.
    let mut c = Consensus::restore(config(), key(me), state.clone());
    let out = c.process(Input::NewHeight {
        height: 1,
        validators: validators(4),
    });
    assert!(out.contains(&Output::Broadcast(Message::Vote(signed_prevote.clone()))));
    assert_eq!(c.step(), Step::Prevote);
    let out = c.process(proposal(1, 1, 0, B2, None, true));
    for o in &out {
        if let Output::Broadcast(Message::Vote(v)) = o {
            assert_eq!(v, &signed_prevote);
        }
    }
}

#[test]
fn restore_into_a_later_height_starts_it_fresh_but_keeps_the_guard() {
    let (mut c, _) = started(0, 4, 1);
    let out = c.process(proposal(1, 1, 0, B1, None, true));
    let state = last_persisted(&out, &SafetyState::initial(0));
    // The node had stored block 1 (synced) before restarting: start height 2.
    let mut c = Consensus::restore(config(), key(0), state.clone());
    let out = c.process(Input::NewHeight {
        height: 2,
        validators: validators(4),
    });
    assert_eq!(c.height(), 2);
    assert_eq!(c.round(), 0);
    let new_state = last_persisted(&out, &state);
    assert_eq!(new_state.last_prevote, state.last_prevote);
    assert_eq!(new_state.locked, None);
    // A height below the restored one is refused.
    let mut c = Consensus::restore(config(), key(0), state);
    let out = c.process(Input::NewHeight {
        height: 0,
        validators: validators(4),
    });
    assert!(matches!(out.as_slice(), [Output::Rejected(_)]));
}

#[test]
fn safety_state_golden_bytes() {
    let state = SafetyState {
        height: 7,
        round: 2,
        step: Step::Precommit,
        locked: Some(tongban_consensus::RoundValue {
            round: 1,
            block_hash: Hash32([0xAA; 32]),
        }),
        valid: None,
        valid_polka: vec![],
        last_proposal: None,
        last_prevote: Some(signed_vote(
            1,
            7,
            2,
            tongban_ledger::types::VoteKind::Prevote,
            None,
        )),
        last_precommit: None,
    };
    let bytes = encode(&state);
    let expected_prefix = concat!(
        "0700000000000000", // height
        "02000000",         // round
        "02000000",         // step = Precommit
        "01",               // locked: Some
        "01000000",         // locked.round
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "00",               // valid: None
        "0000000000000000", // valid_polka: empty
        "00",               // last_proposal: None
        "01",               // last_prevote: Some
        "0c00000000000000",
        "746f6e6762616e2d74657374", // "tongban-test"
        "0700000000000000",
        "02000000",
        "00000000", // Prevote
        "00",       // nil
        "01000000", // validator index
    );
    let hex_bytes = hex::encode(&bytes);
    assert!(
        hex_bytes.starts_with(expected_prefix),
        "SafetyState encoding changed: {hex_bytes}"
    );
    // 64-byte signature, then last_precommit: None.
    assert_eq!(bytes.len(), expected_prefix.len() / 2 + 64 + 1);
    assert_eq!(bytes.last(), Some(&0));
    let back: SafetyState = decode(&bytes).expect("decodes");
    assert_eq!(back, state);
}
