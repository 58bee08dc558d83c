//! Block-level execution: build vs validate, the in-block overlay, batch signature
//! checks, the "already verified" predicate, block size, determinism, bad state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execute_support;

use std::collections::BTreeSet;

use execute_support::*;
use tongban_ledger::execute::{
    check_record, execute_block, execute_block_then, verify_every_signature, BlockContext,
    CheckError, ExecError, Mode, RejectReason,
};
use tongban_ledger::keys;
use tongban_ledger::state::StateChanges;
use tongban_ledger::types::{ChainParams, LicenceStatus, MemberChange, RecordBody, SignedRecord};
use tongban_ledger::Hash32;

/// Members 0..3 all issue type 1.
fn world() -> (World, tongban_ledger::ids::TypeCode) {
    let mut w = World::new(4, 1);
    let t = w.publish_type(1, &[0, 1, 2, 3]);
    (w, t)
}

fn issues(w: &mut World, t: &tongban_ledger::ids::TypeCode, n: usize) -> Vec<SignedRecord> {
    issue_records(w, t, n, "B")
}

#[test]
fn later_records_see_earlier_ones() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let id = licence_id(&t, &w.id(0), "SEE");
    let records = vec![
        w.record(&k0, issue_body(&t, &id)),
        w.record(&k0, suspend_body(&id, "check")),
        w.record(
            &k0,
            RecordBody::RevokeLicence {
                licence_id: id.clone(),
                reason: "done".into(),
            },
        ),
    ];
    let outcome = w.block(&records, Mode::Validate).unwrap();
    assert_eq!(outcome.kept, vec![0, 1, 2]);
    let l = w.licence(&id).unwrap();
    assert_eq!(l.status, LicenceStatus::Revoked);
    assert_eq!(l.issued_height, 2);
}

#[test]
fn build_drops_failing_records_and_validate_refuses_the_block() {
    let (mut w, t) = world();
    let mut records = issues(&mut w, &t, 6);
    // Record 2 duplicates record 0's licence id (licence_exists in this block).
    let k = w.member_key(0);
    let dup_id = licence_id(&t, &w.id(0), "B0");
    records[2] = w.record(&k, issue_body(&t, &dup_id));
    // Record 4 is for another chain.
    records[4].payload.chain_id = "elsewhere".into();

    let ctx = w.ctx();
    match execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Validate,
        &verify_every_signature,
    ) {
        Err(ExecError::InvalidRecord {
            index,
            hash,
            reason,
        }) => {
            assert_eq!(index, 2);
            assert_eq!(hash, records[2].hash());
            assert_eq!(reason.code(), "licence_exists");
        }
        other => panic!("expected invalid record, got {other:?}"),
    }

    let built = execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Build,
        &verify_every_signature,
    )
    .unwrap();
    assert_eq!(built.kept, vec![0, 1, 3, 5]);
    assert_eq!(built.results.len(), 6);
    for (i, (hash, result)) in built.results.iter().enumerate() {
        assert_eq!(*hash, records[i].hash());
        assert_eq!(result.is_ok(), built.kept.contains(&i), "record {i}");
    }
    assert_eq!(
        built.results[4].1.as_ref().unwrap_err().code(),
        "wrong_chain_id"
    );

    // The kept records, validated as a block, give exactly the same changes.
    let kept: Vec<SignedRecord> = built.kept.iter().map(|&i| records[i].clone()).collect();
    let validated = execute_block(
        &w.state,
        &ctx,
        &kept,
        Mode::Validate,
        &verify_every_signature,
    )
    .unwrap();
    assert_eq!(validated.changes, built.changes);
}

/// `count` issues with the signatures at `bad` broken: validation names the first bad
/// one, and a built block leaves out exactly the bad ones, each for its signature.
fn bad_signatures_are_named(count: usize, bad: &[usize]) {
    let (mut w, t) = world();
    let mut records = issues(&mut w, &t, count);
    for &i in bad {
        records[i].signature.0[i % 64] ^= 0x40;
    }
    let ctx = w.ctx();
    match execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Validate,
        &verify_every_signature,
    ) {
        Err(ExecError::InvalidRecord { index, reason, .. }) => {
            assert_eq!(index, bad[0]);
            assert_eq!(
                reason,
                RejectReason::BadSignature {
                    record: records[bad[0]].hash()
                }
            );
        }
        other => panic!("expected a bad signature, got {other:?}"),
    }
    let built = execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Build,
        &verify_every_signature,
    )
    .unwrap();
    let dropped: Vec<usize> = (0..records.len())
        .filter(|i| !built.kept.contains(i))
        .collect();
    assert_eq!(dropped, bad);
    for &i in bad {
        assert_eq!(
            built.results[i].1.as_ref().unwrap_err().code(),
            "bad_signature"
        );
    }
}

#[test]
fn batch_signature_failure_names_the_record() {
    // One bad signature in the second half of a block of one batch.
    bad_signatures_are_named(150, &[97]);
}

/// The signature batches of a large block are shared by the thread that executes and
/// the one beside it, in whatever order they take them: the verdicts still land on the
/// right records, in the first batch and in the last.
#[test]
fn shared_signature_batches_name_the_right_records() {
    // Three batches of `SIGNATURE_BATCH_MAX` (512) or fewer.
    bad_signatures_are_named(1_300, &[5, 1_290]);
}

/// Execution runs alongside the signature checks, as if every signature were valid.
/// A bad signature must still give exactly the result of checking first: here the
/// licence it would have issued must not exist for the records after it.
#[test]
fn a_bad_signature_found_during_execution_gives_the_checked_result() {
    let (mut w, t) = world();
    let k0 = w.member_key(0);
    let k1 = w.member_key(1);
    let id = licence_id(&t, &w.id(0), "LATE");
    let other = licence_id(&t, &w.id(1), "OTHER");
    let mut records = vec![
        w.record(&k0, issue_body(&t, &id)),
        w.record(&k0, suspend_body(&id, "check")),
        w.record(&k1, issue_body(&t, &other)),
    ];
    let ctx = w.ctx();
    // Builds a block; `then` reports the records kept in the outcome it was given, and
    // `alongside` counts its runs.
    let alongside_runs = std::sync::atomic::AtomicUsize::new(0);
    let alongside = || {
        alongside_runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let build_checking = |records: &[SignedRecord], already_verified: &dyn Fn(&Hash32) -> bool| {
        execute_block_then(
            &w.state,
            &ctx,
            records,
            Mode::Build,
            already_verified,
            Some(&alongside),
            |outcome| outcome.kept.clone(),
        )
        .unwrap()
    };
    let build = |records: &[SignedRecord]| build_checking(records, &verify_every_signature);
    // All valid: both records about `id` are kept.
    let (all_valid, kept) = build(&records);
    assert_eq!(all_valid.kept, vec![0, 1, 2]);
    assert_eq!(kept, all_valid.kept);
    // `alongside` ran once, beside the signature checks; and once more with no
    // signatures to check.
    assert_eq!(alongside_runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (verified, _) = build_checking(&records, &|_| true);
    assert_eq!(verified.kept, all_valid.kept);
    assert_eq!(alongside_runs.load(std::sync::atomic::Ordering::SeqCst), 2);

    records[0].signature.0[5] ^= 0x10;
    let (outcome, kept) = build(&records);
    assert_eq!(outcome.kept, vec![2]);
    // `then` saw the final outcome, not the one computed before the verdicts came.
    assert_eq!(kept, vec![2]);
    assert_eq!(
        outcome.results[0].1.as_ref().unwrap_err().code(),
        "bad_signature"
    );
    assert_eq!(
        outcome.results[1].1.as_ref().unwrap_err().code(),
        "unknown_licence"
    );
    // The same changes as a block of the one good record alone.
    let alone = execute_block(
        &w.state,
        &ctx,
        &records[2..],
        Mode::Build,
        &verify_every_signature,
    )
    .unwrap();
    assert_eq!(outcome.changes, alone.changes);
    // Validating refuses the block at the bad signature, as checking first would.
    let err = execute_block_then(
        &w.state,
        &ctx,
        &records,
        Mode::Validate,
        &verify_every_signature,
        None,
        |_| (),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ExecError::InvalidRecord {
            index: 0,
            reason: RejectReason::BadSignature { .. },
            ..
        }
    ));
}

#[test]
fn already_verified_records_are_not_verified_again() {
    let (mut w, t) = world();
    let mut records = issues(&mut w, &t, 5);
    // A corrupted signature that the predicate claims was verified passes: proof that
    // execution does not verify it a second time. (The node only claims what it checked.)
    records[1].signature.0[0] ^= 1;
    let ctx = w.ctx();
    let seen: BTreeSet<Hash32> = [records[1].hash()].into_iter().collect();
    let outcome = execute_block(&w.state, &ctx, &records, Mode::Validate, &|h| {
        seen.contains(h)
    })
    .unwrap();
    assert_eq!(outcome.kept.len(), 5);
    // Records not claimed are still verified.
    records[3].signature.0[0] ^= 1;
    let err = execute_block(&w.state, &ctx, &records, Mode::Validate, &|h| {
        seen.contains(h)
    })
    .unwrap_err();
    assert!(matches!(err, ExecError::InvalidRecord { index: 3, .. }));
    // check_record honours the flag the same way.
    assert!(check_record(&w.state, &ctx, &records[3], true).is_ok());
    assert!(matches!(
        check_record(&w.state, &ctx, &records[3], false),
        Err(CheckError::Rejected(RejectReason::BadSignature { .. }))
    ));
}

#[test]
fn block_size_limit() {
    // max_block_records = 3.
    let mut g = genesis(4, 1);
    g.params.max_block_records = 3;
    let mut w = World::from_genesis(&g);
    let t = w.publish_type(1, &[0, 1, 2, 3]);
    let mut records = issues(&mut w, &t, 5);
    records[0].payload.chain_id = "x".into(); // dropped, does not count
    let ctx = w.ctx();
    match execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Validate,
        &verify_every_signature,
    ) {
        Err(ExecError::TooManyRecords { count: 5, max: 3 }) => {}
        other => panic!("expected too many records, got {other:?}"),
    }
    let built = execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Build,
        &verify_every_signature,
    )
    .unwrap();
    assert_eq!(built.kept, vec![1, 2, 3]);
    // Record 4 was not examined: it stays for the next block.
    assert_eq!(built.results.len(), 4);
}

#[test]
fn execution_is_deterministic() {
    let (mut w, t) = world();
    let mut records = issues(&mut w, &t, 40);
    let admin = w.admin(0);
    let (m, _) = {
        let k = key(150);
        (
            member(60, &k, vec![tongban_ledger::types::Role::Validator]),
            k,
        )
    };
    records.push(w.record(
        &admin,
        RecordBody::ProposeMemberChange {
            proposal_id: 9,
            change: MemberChange::Add(m),
        },
    ));
    let ctx = w.ctx();
    let a = execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Validate,
        &verify_every_signature,
    )
    .unwrap();
    let b = execute_block(
        &w.state,
        &ctx,
        &records,
        Mode::Build,
        &verify_every_signature,
    )
    .unwrap();
    assert_eq!(a, b);
    // Byte-identical changes, whatever the thread scheduling of the parallel parts.
    let digest =
        |c: &StateChanges| tongban_ledger::crypto::sha256(&[&tongban_ledger::codec::encode(c)]);
    for _ in 0..3 {
        let again = execute_block(
            &w.state,
            &ctx,
            &records,
            Mode::Validate,
            &verify_every_signature,
        )
        .unwrap();
        assert_eq!(digest(&again.changes), digest(&a.changes));
    }
    assert!(a.validator_set_changed);
    // Another block time gives other timestamps only where time is recorded (nowhere
    // for licences), so the changes are identical; another height changes them.
    let other_time = BlockContext {
        time_ms: ctx.time_ms + 5,
        ..ctx.clone()
    };
    let c = execute_block(
        &w.state,
        &other_time,
        &records,
        Mode::Validate,
        &verify_every_signature,
    )
    .unwrap();
    assert_eq!(c.changes, a.changes);
    let other_height = BlockContext {
        height: ctx.height + 1,
        ..ctx
    };
    let d = execute_block(
        &w.state,
        &other_height,
        &records,
        Mode::Validate,
        &verify_every_signature,
    )
    .unwrap();
    assert_ne!(d.changes, a.changes);
}

#[test]
fn empty_block_changes_nothing() {
    let (mut w, _) = world();
    let before = w.state.clone();
    let outcome = w.block(&[], Mode::Validate).unwrap();
    assert!(outcome.changes.is_empty());
    assert!(outcome.results.is_empty());
    assert!(!outcome.validator_set_changed);
    assert_eq!(w.state, before);
}

#[test]
fn missing_genesis_and_corrupt_state_are_exec_errors() {
    let empty = State::new();
    let ctx = BlockContext {
        chain_id: CHAIN.into(),
        height: 1,
        time_ms: T0,
    };
    assert!(matches!(
        execute_block(&empty, &ctx, &[], Mode::Build, &verify_every_signature),
        Err(ExecError::MissingState(_))
    ));

    let (mut w, t) = world();
    let records = issues(&mut w, &t, 1);
    // A member value that does not decode.
    w.state.insert(keys::member(&w.id(0)), vec![1, 2, 3]);
    let ctx = w.ctx();
    assert!(matches!(
        execute_block(
            &w.state,
            &ctx,
            &records,
            Mode::Build,
            &verify_every_signature
        ),
        Err(ExecError::CorruptState { what: "member", .. })
    ));
    assert!(matches!(
        check_record(&w.state, &ctx, &records[0], false),
        Err(CheckError::Exec(ExecError::CorruptState { .. }))
    ));
    // Params that do not decode.
    let mut w2 = World::new(1, 1);
    w2.state.insert(keys::params(), vec![0xff]);
    assert!(matches!(
        execute_block(
            &w2.state,
            &w2.ctx(),
            &[],
            Mode::Build,
            &verify_every_signature
        ),
        Err(ExecError::CorruptState { .. })
    ));
    let _ = ChainParams::default();
}

#[test]
fn check_record_uses_committed_state_only() {
    let (mut w, t) = world();
    let records = issues(&mut w, &t, 2);
    let ctx = w.ctx();
    for r in &records {
        assert!(check_record(&w.state, &ctx, r, false).is_ok());
    }
    // Admitting does not apply: the same record is admitted twice.
    assert!(check_record(&w.state, &ctx, &records[0], false).is_ok());
    w.block(&records[..1], Mode::Validate).unwrap();
    let ctx = w.ctx();
    assert!(matches!(
        check_record(&w.state, &ctx, &records[0], false),
        Err(CheckError::Rejected(RejectReason::StaleNonce { .. }))
    ));
}
