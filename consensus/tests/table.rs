//! Table tests of the round logic: rows of (input, expected outputs, expected state)
//! through one `check` helper. Setup: 4 validators (quorum 3, f = 1), height 1, so the
//! proposer of round r is validator (1 + r) mod 4.

mod common;

use common::*;
use tongban_consensus::{Consensus, Input, InputError, Step};
use tongban_ledger::types::{Commit, Round, VoteKind};
use tongban_ledger::{Hash32, Signature};

/// The state a row expects after its input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    round: Round,
    step: Step,
    locked: Option<(Round, Hash32)>,
    valid: Option<(Round, Hash32)>,
}

fn state(round: Round, step: Step) -> State {
    State {
        round,
        step,
        locked: None,
        valid: None,
    }
}

impl State {
    fn locked(mut self, round: Round, value: Hash32) -> Self {
        self.locked = Some((round, value));
        self
    }
    fn valid(mut self, round: Round, value: Hash32) -> Self {
        self.valid = Some((round, value));
        self
    }
    fn locked_valid(self, round: Round, value: Hash32) -> Self {
        self.locked(round, value).valid(round, value)
    }
}

struct Row {
    input: Input,
    outputs: Vec<Out>,
    state: State,
}

fn row(input: Input, outputs: Vec<Out>, state: State) -> Row {
    Row {
        input,
        outputs,
        state,
    }
}

fn current(c: &Consensus) -> State {
    State {
        round: c.round(),
        step: c.step(),
        locked: c.locked().map(|l| (l.round, l.block_hash)),
        valid: c.valid().map(|v| (v.round, v.block_hash)),
    }
}

/// Runs the rows in order, checking each row's outputs (in order) and state, and that
/// every batch persists before it sends.
fn check(c: &mut Consensus, rows: Vec<Row>) {
    for (i, row) in rows.into_iter().enumerate() {
        let described = format!("{:?}", row.input);
        let outputs = c.process(row.input);
        assert_persist_first(&outputs);
        let got: Vec<Out> = outputs.iter().map(summarize).collect();
        assert_eq!(got, row.outputs, "row {i} outputs, input {described}");
        assert_eq!(current(c), row.state, "row {i} state, input {described}");
    }
}

fn timeout(round: Round, step: Step) -> Out {
    let ms = tongban_consensus::TimeoutConfig::default().duration_ms(step, round);
    Out::Timeout { round, step, ms }
}

fn prevote_out(round: Round, value: Option<Hash32>) -> Out {
    Out::Prevote { round, value }
}

fn precommit_out(round: Round, value: Option<Hash32>) -> Out {
    Out::Precommit { round, value }
}

fn fire(round: Round, step: Step) -> Input {
    Input::Timeout {
        height: 1,
        round,
        step,
    }
}

/// Validator 0 at height 1, round 0 started.
fn node0() -> Consensus {
    let (c, out) = started(0, 4, 1);
    let got: Vec<Out> = out.iter().map(summarize).collect();
    assert_eq!(got, vec![Out::Persist, timeout(0, Step::Propose)]);
    c
}

/// Rows that lock validator 0 on B1 in round 0 (polka of 1, 2 and itself).
fn lock_b1_round0() -> Vec<Row> {
    vec![
        row(
            proposal(1, 1, 0, B1, None, true),
            vec![Out::Persist, prevote_out(0, Some(B1))],
            state(0, Step::Prevote),
        ),
        row(prevote(1, 1, 0, Some(B1)), vec![], state(0, Step::Prevote)),
        row(
            prevote(2, 1, 0, Some(B1)),
            vec![
                Out::Persist,
                timeout(0, Step::Prevote),
                precommit_out(0, Some(B1)),
            ],
            state(0, Step::Precommit).locked_valid(0, B1),
        ),
    ]
}

/// Rows that take validator 0 from round `r` (precommit step) to round `r + 1`.
fn nil_precommits_to_next_round(r: Round, s: State) -> Vec<Row> {
    let next = State {
        round: r + 1,
        step: Step::Propose,
        ..s.clone()
    };
    vec![
        row(precommit(2, 1, r, None), vec![], s.clone()),
        row(
            precommit(3, 1, r, None),
            vec![timeout(r, Step::Precommit)],
            s.clone(),
        ),
        row(
            fire(r, Step::Precommit),
            vec![Out::Persist, timeout(r + 1, Step::Propose)],
            next,
        ),
    ]
}

#[test]
fn happy_path_propose_prevote_precommit_decide() {
    let mut c = node0();
    let mut rows = lock_b1_round0();
    rows.extend([
        row(
            precommit(1, 1, 0, Some(B1)),
            vec![],
            state(0, Step::Precommit).locked_valid(0, B1),
        ),
        row(
            precommit(2, 1, 0, Some(B1)),
            vec![Out::Decide {
                round: 0,
                value: B1,
                signers: vec![0, 1, 2],
            }],
            state(0, Step::Precommit).locked_valid(0, B1),
        ),
        // Late votes for the decided height change nothing.
        row(
            precommit(3, 1, 0, Some(B1)),
            vec![],
            state(0, Step::Precommit).locked_valid(0, B1),
        ),
        // L53–L54: the next height starts at round 0 with lock and valid value reset.
        row(
            Input::NewHeight {
                height: 2,
                validators: validators(4),
            },
            vec![Out::Persist, timeout(0, Step::Propose)],
            state(0, Step::Propose),
        ),
    ]);
    check(&mut c, rows);
    assert_eq!(c.height(), 2);
}

#[test]
fn proposer_asks_for_a_value_then_proposes_and_prevotes_it() {
    // Validator 1 proposes round 0 of height 1.
    let (mut c, out) = started(1, 4, 1);
    let got: Vec<Out> = out.iter().map(summarize).collect();
    assert_eq!(
        got,
        vec![
            Out::Persist,
            timeout(0, Step::Propose),
            Out::RequestValue { round: 0 }
        ]
    );
    check(
        &mut c,
        vec![
            // A stale answer (wrong round) is dropped.
            row(
                Input::ProposeValue {
                    height: 1,
                    round: 3,
                    block_hash: B2,
                },
                vec![],
                state(0, Step::Propose),
            ),
            row(
                Input::ProposeValue {
                    height: 1,
                    round: 0,
                    block_hash: B1,
                },
                vec![
                    Out::Persist,
                    Out::Propose {
                        round: 0,
                        value: B1,
                        valid_round: None,
                    },
                    prevote_out(0, Some(B1)),
                ],
                state(0, Step::Prevote),
            ),
            // Its own proposal is in its log: a polka completes the round.
            row(prevote(2, 1, 0, Some(B1)), vec![], state(0, Step::Prevote)),
            row(
                prevote(3, 1, 0, Some(B1)),
                vec![
                    Out::Persist,
                    timeout(0, Step::Prevote),
                    precommit_out(0, Some(B1)),
                ],
                state(0, Step::Precommit).locked_valid(0, B1),
            ),
        ],
    );
}

#[test]
fn timeout_propose_prevotes_nil() {
    let mut c = node0();
    check(
        &mut c,
        vec![
            // A timeout for another round does nothing.
            row(fire(1, Step::Propose), vec![], state(0, Step::Propose)),
            row(
                fire(0, Step::Propose),
                vec![Out::Persist, prevote_out(0, None)],
                state(0, Step::Prevote),
            ),
            // A proposal after the timeout no longer triggers a prevote (L22 needs step propose).
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![],
                state(0, Step::Prevote),
            ),
        ],
    );
}

#[test]
fn invalid_value_gets_a_nil_prevote() {
    let mut c = node0();
    check(
        &mut c,
        vec![row(
            proposal(1, 1, 0, B1, None, false),
            vec![Out::Persist, prevote_out(0, None)],
            state(0, Step::Prevote),
        )],
    );
}

#[test]
fn nil_polka_precommits_nil_and_precommit_timeout_moves_round() {
    let mut c = node0();
    let mut rows = vec![
        row(
            fire(0, Step::Propose),
            vec![Out::Persist, prevote_out(0, None)],
            state(0, Step::Prevote),
        ),
        row(prevote(1, 1, 0, None), vec![], state(0, Step::Prevote)),
        row(
            prevote(2, 1, 0, None),
            vec![
                Out::Persist,
                timeout(0, Step::Prevote),
                precommit_out(0, None),
            ],
            state(0, Step::Precommit),
        ),
    ];
    rows.extend(nil_precommits_to_next_round(0, state(0, Step::Precommit)));
    check(&mut c, rows);
}

#[test]
fn mixed_prevotes_arm_the_prevote_timeout_which_precommits_nil() {
    let mut c = node0();
    check(
        &mut c,
        vec![
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![Out::Persist, prevote_out(0, Some(B1))],
                state(0, Step::Prevote),
            ),
            row(prevote(1, 1, 0, None), vec![], state(0, Step::Prevote)),
            row(
                prevote(2, 1, 0, Some(B2)),
                vec![timeout(0, Step::Prevote)],
                state(0, Step::Prevote),
            ),
            row(
                fire(0, Step::Prevote),
                vec![Out::Persist, precommit_out(0, None)],
                state(0, Step::Precommit),
            ),
            // A polka after the precommit only records the valid value (L42–L43).
            row(
                prevote(3, 1, 0, Some(B1)),
                vec![],
                state(0, Step::Precommit),
            ),
        ],
    );
}

#[test]
fn polka_seen_after_precommit_sets_valid_value_only() {
    // Precommitted nil by timeout, then the polka completes: only the valid value
    // changes (L42–L43), the lock does not (L37).
    let mut c = node0();
    check(
        &mut c,
        vec![
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![Out::Persist, prevote_out(0, Some(B1))],
                state(0, Step::Prevote),
            ),
            row(prevote(1, 1, 0, None), vec![], state(0, Step::Prevote)),
            row(
                prevote(2, 1, 0, Some(B1)),
                vec![timeout(0, Step::Prevote)],
                state(0, Step::Prevote),
            ),
            row(
                fire(0, Step::Prevote),
                vec![Out::Persist, precommit_out(0, None)],
                state(0, Step::Precommit),
            ),
            row(
                prevote(3, 1, 0, Some(B1)),
                vec![Out::Persist],
                state(0, Step::Precommit).valid(0, B1),
            ),
        ],
    );
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn locked_validator_prevotes_nil_for_another_fresh_value() {
    let mut c = node0();
    let mut rows = lock_b1_round0();
    rows.extend(nil_precommits_to_next_round(
        0,
        state(0, Step::Precommit).locked_valid(0, B1),
    ));
    rows.push(row(
        proposal(2, 1, 1, B2, None, true),
        vec![Out::Persist, prevote_out(1, None)],
        state(1, Step::Prevote).locked_valid(0, B1),
    ));
    check(&mut c, rows);
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn locked_validator_prevotes_its_locked_value_again() {
    let mut c = node0();
    let mut rows = lock_b1_round0();
    rows.extend(nil_precommits_to_next_round(
        0,
        state(0, Step::Precommit).locked_valid(0, B1),
    ));
    // Round 1's proposer re-proposes B1 with valid round 0 (L28: lockedValue = v).
    rows.push(row(
        proposal(2, 1, 1, B1, Some(0), true),
        vec![Out::Persist, prevote_out(1, Some(B1))],
        state(1, Step::Prevote).locked_valid(0, B1),
    ));
    check(&mut c, rows);
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn later_polka_unlocks_via_repropose() {
    let mut c = node0();
    let locked = state(0, Step::Precommit).locked_valid(0, B1);
    let mut rows = lock_b1_round0();
    rows.extend(nil_precommits_to_next_round(0, locked.clone()));
    let r1 = State {
        round: 1,
        ..locked.clone()
    };
    rows.extend([
        // Round 1: no proposal reaches us; we prevote nil and precommit nil.
        row(
            fire(1, Step::Propose),
            vec![Out::Persist, prevote_out(1, None)],
            State {
                step: Step::Prevote,
                ..r1.clone()
            },
        ),
        row(
            prevote(1, 1, 1, Some(B2)),
            vec![],
            State {
                step: Step::Prevote,
                ..r1.clone()
            },
        ),
        row(
            prevote(2, 1, 1, Some(B2)),
            vec![timeout(1, Step::Prevote)],
            State {
                step: Step::Prevote,
                ..r1.clone()
            },
        ),
        row(
            fire(1, Step::Prevote),
            vec![Out::Persist, precommit_out(1, None)],
            State {
                step: Step::Precommit,
                ..r1.clone()
            },
        ),
    ]);
    rows.extend(nil_precommits_to_next_round(
        1,
        State {
            step: Step::Precommit,
            ..r1.clone()
        },
    ));
    let r2 = State {
        round: 2,
        step: Step::Propose,
        ..locked.clone()
    };
    rows.extend([
        // Round 2: B2 re-proposed with valid round 1; we have seen only 2 of its 3
        // round-1 prevotes, so L28 cannot fire yet.
        row(proposal(3, 1, 2, B2, Some(1), true), vec![], r2.clone()),
        // The third round-1 prevote completes the polka: lockedRound 0 ≤ vr 1, so we
        // prevote B2 although locked on B1.
        row(
            prevote(3, 1, 1, Some(B2)),
            vec![Out::Persist, prevote_out(2, Some(B2))],
            State {
                step: Step::Prevote,
                ..r2.clone()
            },
        ),
    ]);
    check(&mut c, rows);
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn reproposal_backed_by_an_older_polka_than_the_lock_gets_nil() {
    let mut c = node0();
    // Round 0: validators 1, 2, 3 prevote B2 (no proposal reaches us; we prevote nil).
    // Round 1: we lock on B1. Round 2: B2 re-proposed with valid round 0 < lock round 1.
    let mut rows = vec![
        row(
            fire(0, Step::Propose),
            vec![Out::Persist, prevote_out(0, None)],
            state(0, Step::Prevote),
        ),
        row(prevote(1, 1, 0, Some(B2)), vec![], state(0, Step::Prevote)),
        row(
            prevote(2, 1, 0, Some(B2)),
            vec![timeout(0, Step::Prevote)],
            state(0, Step::Prevote),
        ),
        row(
            fire(0, Step::Prevote),
            vec![Out::Persist, precommit_out(0, None)],
            state(0, Step::Precommit),
        ),
        row(
            prevote(3, 1, 0, Some(B2)),
            vec![],
            state(0, Step::Precommit),
        ),
    ];
    rows.extend(nil_precommits_to_next_round(0, state(0, Step::Precommit)));
    rows.extend([
        row(
            proposal(2, 1, 1, B1, None, true),
            vec![Out::Persist, prevote_out(1, Some(B1))],
            state(1, Step::Prevote),
        ),
        row(prevote(1, 1, 1, Some(B1)), vec![], state(1, Step::Prevote)),
        row(
            prevote(3, 1, 1, Some(B1)),
            vec![
                Out::Persist,
                timeout(1, Step::Prevote),
                precommit_out(1, Some(B1)),
            ],
            state(1, Step::Precommit).locked_valid(1, B1),
        ),
    ]);
    rows.extend(nil_precommits_to_next_round(
        1,
        state(1, Step::Precommit).locked_valid(1, B1),
    ));
    rows.push(row(
        proposal(3, 1, 2, B2, Some(0), true),
        vec![Out::Persist, prevote_out(2, None)],
        state(2, Step::Prevote).locked_valid(1, B1),
    ));
    check(&mut c, rows);
}

#[test]
fn proposer_reproposes_its_valid_value() {
    // Validator 2 proposes round 1 of height 1. In round 0 it locks on B1.
    let (mut c, _) = started(2, 4, 1);
    let locked = state(0, Step::Precommit).locked_valid(0, B1);
    check(
        &mut c,
        vec![
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![Out::Persist, prevote_out(0, Some(B1))],
                state(0, Step::Prevote),
            ),
            row(prevote(0, 1, 0, Some(B1)), vec![], state(0, Step::Prevote)),
            row(
                prevote(1, 1, 0, Some(B1)),
                vec![
                    Out::Persist,
                    timeout(0, Step::Prevote),
                    precommit_out(0, Some(B1)),
                ],
                locked.clone(),
            ),
            row(precommit(0, 1, 0, None), vec![], locked.clone()),
            row(
                precommit(1, 1, 0, None),
                vec![timeout(0, Step::Precommit)],
                locked.clone(),
            ),
            // L15–L16: no RequestValue; B1 is re-proposed with valid round 0 and, by
            // L28 (lockedValue = v, polka in round 0 known), prevoted at once.
            row(
                fire(0, Step::Precommit),
                vec![
                    Out::Persist,
                    timeout(1, Step::Propose),
                    Out::Propose {
                        round: 1,
                        value: B1,
                        valid_round: Some(0),
                    },
                    prevote_out(1, Some(B1)),
                ],
                State {
                    round: 1,
                    step: Step::Prevote,
                    ..locked
                },
            ),
        ],
    );
}

#[test]
fn f_plus_one_messages_of_a_later_round_skip_to_it() {
    let mut c = node0();
    check(
        &mut c,
        vec![
            row(prevote(1, 1, 5, None), vec![], state(0, Step::Propose)),
            // A second message from the same validator is still only one validator.
            row(precommit(1, 1, 5, None), vec![], state(0, Step::Propose)),
            row(
                prevote(2, 1, 5, Some(B1)),
                vec![Out::Persist, timeout(5, Step::Propose)],
                state(5, Step::Propose),
            ),
        ],
    );
}

#[test]
fn skip_beyond_the_lookahead_window() {
    let mut c = node0();
    let far = tongban_consensus::MAX_ROUND_LOOKAHEAD + 100;
    check(
        &mut c,
        vec![
            row(prevote(1, 1, far, None), vec![], state(0, Step::Propose)),
            row(
                prevote(2, 1, far + 3, None),
                vec![Out::Persist, timeout(far, Step::Propose)],
                state(far, Step::Propose),
            ),
        ],
    );
}

#[test]
fn quorum_of_precommits_in_another_round_decides() {
    let mut c = node0();
    check(
        &mut c,
        vec![
            row(
                precommit(1, 1, 2, Some(B1)),
                vec![],
                state(0, Step::Propose),
            ),
            row(
                precommit(2, 1, 2, Some(B1)),
                vec![Out::Persist, timeout(2, Step::Propose)],
                state(2, Step::Propose),
            ),
            row(
                precommit(3, 1, 2, Some(B1)),
                vec![Out::Decide {
                    round: 2,
                    value: B1,
                    signers: vec![1, 2, 3],
                }],
                state(2, Step::Propose),
            ),
        ],
    );
    assert!(c.decision().is_some());
}

#[test]
fn double_votes_and_double_proposals_are_evidence_and_count_once_per_value() {
    let mut c = node0();
    check(
        &mut c,
        vec![
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![Out::Persist, prevote_out(0, Some(B1))],
                state(0, Step::Prevote),
            ),
            row(
                proposal(1, 1, 0, B2, None, true),
                vec![Out::Evidence { validator: 1 }],
                state(0, Step::Prevote),
            ),
            // Reported once.
            row(
                proposal(1, 1, 0, B2, None, false),
                vec![],
                state(0, Step::Prevote),
            ),
            row(prevote(2, 1, 0, Some(B1)), vec![], state(0, Step::Prevote)),
            row(
                prevote(2, 1, 0, Some(B2)),
                vec![Out::Evidence { validator: 2 }],
                state(0, Step::Prevote),
            ),
            // The same vote again is a duplicate, not evidence.
            row(prevote(2, 1, 0, Some(B1)), vec![], state(0, Step::Prevote)),
            // Validator 2's votes count once per value: two B1 prevotes so far, so the
            // third, from validator 3, makes the polka.
            row(
                prevote(3, 1, 0, Some(B1)),
                vec![
                    Out::Persist,
                    timeout(0, Step::Prevote),
                    precommit_out(0, Some(B1)),
                ],
                state(0, Step::Precommit).locked_valid(0, B1),
            ),
        ],
    );
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    let mut c = node0();
    let mut wrong_chain = signed_vote(1, 1, 0, VoteKind::Prevote, Some(B1));
    wrong_chain.vote.chain_id = "other".into();
    let mut bad_signature = signed_vote(1, 1, 0, VoteKind::Prevote, Some(B1));
    bad_signature.signature.0[0] ^= 1;
    let mut unknown = signed_vote(1, 1, 0, VoteKind::Prevote, Some(B1));
    unknown.validator_index = 9;
    let s = state(0, Step::Propose);
    check(
        &mut c,
        vec![
            row(
                Input::Vote(wrong_chain),
                vec![Out::Rejected(InputError::WrongChain {
                    expected: CHAIN.into(),
                    got: "other".into(),
                })],
                s.clone(),
            ),
            row(
                Input::Vote(bad_signature),
                vec![Out::Rejected(InputError::BadSignature { index: 1 })],
                s.clone(),
            ),
            row(
                Input::Vote(unknown),
                vec![Out::Rejected(InputError::UnknownValidator {
                    index: 9,
                    len: 4,
                })],
                s.clone(),
            ),
            // Validator 2 does not propose round 0.
            row(
                proposal(2, 1, 0, B1, None, true),
                vec![Out::Rejected(InputError::NotProposer {
                    round: 0,
                    index: 2,
                })],
                s.clone(),
            ),
            row(
                proposal(1, 1, 0, B1, Some(0), true),
                vec![Out::Rejected(InputError::BadValidRound {
                    round: 0,
                    valid_round: 0,
                })],
                s.clone(),
            ),
            row(
                prevote(1, 5, 0, Some(B1)),
                vec![Out::Rejected(InputError::FutureHeight {
                    current: 1,
                    got: 5,
                })],
                s.clone(),
            ),
            // Stale heights are normal under gossip: dropped quietly.
            row(prevote(1, 0, 0, Some(B1)), vec![], s.clone()),
            row(
                Input::NewHeight {
                    height: 1,
                    validators: validators(4),
                },
                vec![Out::Rejected(InputError::HeightNotIncreasing {
                    current: 1,
                    got: 1,
                })],
                s.clone(),
            ),
            row(
                Input::NewHeight {
                    height: 2,
                    validators: validators(0),
                },
                vec![Out::Rejected(InputError::BadValidatorSet {
                    len: 0,
                    max: 256,
                })],
                s.clone(),
            ),
        ],
    );
    // None of the refused votes counted: two good prevotes are not yet a quorum.
    check(
        &mut c,
        vec![
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![Out::Persist, prevote_out(0, Some(B1))],
                state(0, Step::Prevote),
            ),
            row(prevote(2, 1, 0, Some(B1)), vec![], state(0, Step::Prevote)),
        ],
    );
}

fn commit_of(signers: &[usize], round: Round, value: Hash32) -> Commit {
    Commit {
        height: 1,
        round,
        block_hash: value,
        signatures: signers
            .iter()
            .map(|&i| {
                (
                    i as u32,
                    signed_vote(i, 1, round, VoteKind::Precommit, Some(value)).signature,
                )
            })
            .collect(),
    }
}

#[test]
fn commit_certificate_decides_and_bad_ones_are_refused() {
    let mut c = node0();
    let s = state(0, Step::Propose);
    let mut forged = commit_of(&[1, 2, 3], 4, B1);
    forged.signatures[1].1 = Signature([7; 64]);
    let reason = |r: &str| {
        Out::Rejected(InputError::BadCommit {
            reason: r.to_owned(),
        })
    };
    check(
        &mut c,
        vec![
            row(
                Input::Commit(commit_of(&[1, 2], 4, B1)),
                vec![reason(
                    "2 signatures of 4 validators; more than two thirds (3) needed",
                )],
                s.clone(),
            ),
            row(
                Input::Commit(commit_of(&[2, 1, 3], 4, B1)),
                vec![reason(
                    "signature of validator 1 follows validator 2; indexes must ascend",
                )],
                s.clone(),
            ),
            row(
                Input::Commit(commit_of(&[1, 1, 3], 4, B1)),
                vec![reason("validator 1 signed twice")],
                s.clone(),
            ),
            row(
                Input::Commit(forged),
                vec![reason("signature of validator 2 does not verify")],
                s.clone(),
            ),
            row(
                Input::Commit(commit_of(&[1, 2, 3], 4, B1)),
                vec![Out::Decide {
                    round: 4,
                    value: B1,
                    signers: vec![1, 2, 3],
                }],
                s.clone(),
            ),
            // Decided: the commit is what retransmission re-sends.
            row(
                Input::Retransmit,
                vec![Out::CommitMessage { height: 1 }],
                s.clone(),
            ),
        ],
    );
}

#[test]
fn next_height_messages_wait_for_that_height() {
    let mut c = node0();
    // Height 2's proposer of round 0 is validator 2.
    check(
        &mut c,
        vec![
            row(
                proposal(2, 2, 0, B2, None, true),
                vec![],
                state(0, Step::Propose),
            ),
            row(
                Input::Commit(commit_of(&[1, 2, 3], 0, B1)),
                vec![Out::Decide {
                    round: 0,
                    value: B1,
                    signers: vec![1, 2, 3],
                }],
                state(0, Step::Propose),
            ),
            row(
                Input::NewHeight {
                    height: 2,
                    validators: validators(4),
                },
                vec![
                    Out::Persist,
                    timeout(0, Step::Propose),
                    prevote_out(0, Some(B2)),
                ],
                state(0, Step::Prevote),
            ),
        ],
    );
}

#[test]
fn observer_follows_but_never_signs() {
    // Key 9 is not in the set of 4.
    let mut c = Consensus::new(config(), key(9));
    let out = c.process(Input::NewHeight {
        height: 1,
        validators: validators(4),
    });
    assert_eq!(c.own_index(), None);
    let got: Vec<Out> = out.iter().map(summarize).collect();
    assert_eq!(got, vec![Out::Persist, timeout(0, Step::Propose)]);
    check(
        &mut c,
        vec![
            row(
                proposal(1, 1, 0, B1, None, true),
                vec![Out::Persist],
                state(0, Step::Prevote),
            ),
            row(
                precommit(1, 1, 0, Some(B1)),
                vec![],
                state(0, Step::Prevote),
            ),
            row(
                precommit(2, 1, 0, Some(B1)),
                vec![],
                state(0, Step::Prevote),
            ),
            row(
                precommit(3, 1, 0, Some(B1)),
                vec![Out::Decide {
                    round: 0,
                    value: B1,
                    signers: vec![1, 2, 3],
                }],
                state(0, Step::Prevote),
            ),
        ],
    );
}

#[test]
fn retransmit_resends_proposal_polka_and_own_recent_votes() {
    let mut c = node0();
    let locked = state(0, Step::Precommit).locked_valid(0, B1);
    let mut rows = lock_b1_round0();
    rows.push(row(
        Input::Retransmit,
        vec![
            Out::Propose {
                round: 0,
                value: B1,
                valid_round: None,
            },
            prevote_out(0, Some(B1)),
            precommit_out(0, Some(B1)),
        ],
        locked.clone(),
    ));
    rows.extend(nil_precommits_to_next_round(0, locked.clone()));
    // In round 1 there is no proposal yet; the polka behind the valid value (round 0:
    // validators 0, 1, 2) is relayed with its proposal, then our own recent votes.
    rows.push(row(
        Input::Retransmit,
        vec![
            Out::Propose {
                round: 0,
                value: B1,
                valid_round: None,
            },
            prevote_out(0, Some(B1)),
            prevote_out(0, Some(B1)),
            prevote_out(0, Some(B1)),
            prevote_out(0, Some(B1)),
            precommit_out(0, Some(B1)),
        ],
        State {
            round: 1,
            step: Step::Propose,
            ..locked
        },
    ));
    check(&mut c, rows);
}
