//! One commit rule: `Chain::commit` and the proof verifier judge every commit with the
//! same function, so they reach the same verdict, and signers must be in strictly
//! ascending index order for both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "execute_support/mod.rs"]
mod execute_support;
mod store_support;

use std::sync::Arc;

use execute_support::{key, CHAIN};
use store_support::*;
use tongban_ledger::chain::{Chain, ChainError, ExecutedBlock};
use tongban_ledger::crypto::public_key;
use tongban_ledger::proof::{verify_commit, CommitError};
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::types::Commit;
use tongban_ledger::Signature;

fn proposed() -> (Chain<Arc<MemoryStore>>, ExecutedBlock) {
    let store = Arc::new(MemoryStore::new());
    let chain = Chain::open(store, &test_genesis()).expect("open");
    let executed = chain
        .propose(
            &[publish_type_record(1)],
            block_time(1),
            public_key(&key(1)),
            &|_| false,
        )
        .expect("propose");
    (chain, executed)
}

/// The proof verifier's verdict on `commit` for the executed block.
fn proof_verdict(
    chain: &Chain<Arc<MemoryStore>>,
    executed: &ExecutedBlock,
    commit: &Commit,
) -> Result<(), CommitError> {
    let validators = chain
        .validator_set(executed.block.header.height)
        .expect("read")
        .expect("set");
    verify_commit(CHAIN, &validators, &executed.block.header, commit)
}

/// The chain's verdict on `commit`, as a `CommitError` (anything else fails the test).
fn chain_verdict(
    chain: &mut Chain<Arc<MemoryStore>>,
    executed: &ExecutedBlock,
    commit: &Commit,
) -> Result<(), CommitError> {
    let before = chain.head().clone();
    match chain.commit(executed.clone(), commit) {
        Ok(()) => Ok(()),
        Err(ChainError::InvalidCommit { height, error }) => {
            assert_eq!(height, executed.block.header.height);
            assert_eq!(chain.head(), &before, "a refused commit changes nothing");
            Err(error)
        }
        Err(other) => panic!("expected InvalidCommit, got {other:?}"),
    }
}

#[test]
fn signers_out_of_order_are_refused_alike_by_chain_and_proof() {
    let (mut chain, executed) = proposed();
    let ascending = sign_commit(&chain, &executed, &validator_keys());
    assert_eq!(
        ascending
            .signatures
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    let mut reversed = ascending.clone();
    reversed.signatures.reverse();
    let expected = Err(CommitError::SignersNotAscending {
        index: 2,
        previous: 3,
    });
    assert_eq!(proof_verdict(&chain, &executed, &reversed), expected);
    assert_eq!(chain_verdict(&mut chain, &executed, &reversed), expected);

    // The same signatures in ascending order are a valid commit for both.
    assert_eq!(proof_verdict(&chain, &executed, &ascending), Ok(()));
    assert_eq!(chain_verdict(&mut chain, &executed, &ascending), Ok(()));
    assert_eq!(chain.head().height, 1);
}

#[test]
fn chain_and_proof_agree_on_every_malformed_commit() {
    let (mut chain, executed) = proposed();
    let keys = validator_keys();
    let good = sign_commit(&chain, &executed, &keys);
    let three = sign_commit(&chain, &executed, &keys[1..]);

    let mut swapped = good.clone();
    swapped.signatures.swap(1, 2);
    let mut duplicate = three.clone();
    duplicate.signatures[1] = duplicate.signatures[0];
    let mut duplicate_late = good.clone();
    duplicate_late.signatures[3] = duplicate_late.signatures[0];
    let mut out_of_range = good.clone();
    out_of_range.signatures.push((4, Signature([0; 64])));
    let mut bad_signature = good.clone();
    bad_signature.signatures[2].1 .0[7] ^= 1;
    let mut other_height = good.clone();
    other_height.height += 1;
    let too_few = sign_commit(&chain, &executed, &keys[..2]);

    let cases: Vec<(&str, Commit, CommitError)> = vec![
        (
            "swapped",
            swapped,
            CommitError::SignersNotAscending {
                index: 1,
                previous: 2,
            },
        ),
        (
            "duplicate",
            duplicate,
            CommitError::DuplicateSigner { index: 1 },
        ),
        (
            "duplicate after others",
            duplicate_late,
            CommitError::SignersNotAscending {
                index: 0,
                previous: 2,
            },
        ),
        (
            "out of range",
            out_of_range,
            CommitError::SignerOutOfRange {
                index: 4,
                validators: 4,
            },
        ),
        (
            "bad signature",
            bad_signature,
            CommitError::BadSignature { index: 2 },
        ),
        (
            "other height",
            other_height,
            CommitError::HeightMismatch {
                expected: 1,
                found: 2,
            },
        ),
        (
            "too few",
            too_few,
            CommitError::TooFewSignatures {
                signatures: 2,
                validators: 4,
                quorum: 3,
            },
        ),
    ];
    for (what, commit, error) in cases {
        assert_eq!(
            proof_verdict(&chain, &executed, &commit),
            Err(error.clone()),
            "proof: {what}"
        );
        assert_eq!(
            chain_verdict(&mut chain, &executed, &commit),
            Err(error),
            "chain: {what}"
        );
    }
    assert_eq!(chain.head().height, 0);
    assert_eq!(chain_verdict(&mut chain, &executed, &three), Ok(()));
    assert_eq!(chain.head().height, 1);
}
