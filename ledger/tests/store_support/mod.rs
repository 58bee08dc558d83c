//! Helpers for chain and store tests: a 4-validator genesis (from `execute_support`),
//! blocks of signed `IssueLicence` records, and commits signed by real validator keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use tongban_ledger::chain::{Chain, ExecutedBlock};
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{public_key, sign, VOTE_DOMAIN};
use tongban_ledger::ids::TypeCode;
use tongban_ledger::store::Store;
use tongban_ledger::types::{
    Commit, Genesis, RecordBody, RecordPayload, SignedRecord, Vote, VoteKind,
};

use crate::execute_support::{
    genesis, issue_body, key, licence_id, member_id, type_code, CHAIN, T0,
};

/// Validators in the test genesis.
pub const VALIDATORS: usize = 4;

/// The test genesis: 4 validators (keys 1..=4), one admin (key 200).
pub fn test_genesis() -> Genesis {
    genesis(VALIDATORS, 1)
}

/// The validators' signing keys.
pub fn validator_keys() -> Vec<SigningKey> {
    (0..VALIDATORS).map(|i| key(i as u8 + 1)).collect()
}

/// A commit of `executed` signed by `signers` (all validators by default).
pub fn sign_commit<S: Store + 'static>(
    chain: &Chain<S>,
    executed: &ExecutedBlock,
    signers: &[SigningKey],
) -> Commit {
    let height = executed.block.header.height;
    let validators = chain
        .validator_set(height)
        .expect("read")
        .expect("validator set");
    let vote = Vote {
        chain_id: CHAIN.into(),
        height,
        round: 0,
        kind: VoteKind::Precommit,
        block_hash: Some(executed.block_hash),
    };
    let mut signatures: Vec<(u32, tongban_ledger::Signature)> = signers
        .iter()
        .map(|k| {
            let index = validators.index_of(&public_key(k)).expect("a validator") as u32;
            (index, sign(k, VOTE_DOMAIN, &encode(&vote)))
        })
        .collect();
    signatures.sort_by_key(|(i, _)| *i);
    Commit {
        height,
        round: 0,
        block_hash: executed.block_hash,
        signatures,
    }
}

/// The record that publishes licence type 1 with all four validators as issuers,
/// signed by the admin with `nonce`.
pub fn publish_type_record(nonce: u64) -> SignedRecord {
    let admin = key(200);
    RecordPayload {
        chain_id: CHAIN.into(),
        author: public_key(&admin),
        nonce,
        body: RecordBody::PublishLicenceType {
            type_code: type_code(1),
            name: "Type 1".into(),
            issuers: (0..VALIDATORS as u32).map(member_id).collect(),
        },
    }
    .sign(&admin)
}

/// `count` `IssueLicence` records of type 1 for block `height`: serials and nonces are
/// derived from the height, so a writer that restarts produces the same records.
pub fn issue_records(height: u64, count: usize) -> Vec<SignedRecord> {
    let code: TypeCode = type_code(1);
    (0..count)
        .map(|i| {
            let m = i % VALIDATORS;
            let signer = key(m as u8 + 1);
            let id = licence_id(&code, &member_id(m as u32), &format!("H{height}N{i}"));
            RecordPayload {
                chain_id: CHAIN.into(),
                author: public_key(&signer),
                nonce: height * 1_000_000 + i as u64 + 1,
                body: issue_body(&code, &id),
            }
            .sign(&signer)
        })
        .collect()
}

/// Time of block `height`.
pub fn block_time(height: u64) -> u64 {
    T0 + height * 1_000
}

/// Proposes, signs and commits one block of `records` and waits until it is on disk
/// (so that tests may read the store beneath the chain); returns the committed block.
pub fn commit_block<S: Store + 'static>(
    chain: &mut Chain<S>,
    records: &[SignedRecord],
) -> ExecutedBlock {
    let height = chain.head().height + 1;
    let proposer = public_key(&key(1));
    let executed = chain
        .propose(records, block_time(height), proposer, &|_| false)
        .expect("propose");
    let commit = sign_commit(chain, &executed, &validator_keys());
    chain.commit(executed.clone(), &commit).expect("commit");
    chain.settle().expect("the block lands");
    executed
}
