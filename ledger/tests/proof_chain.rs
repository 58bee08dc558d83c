//! End to end: records executed and committed through the node's `Chain` (in-memory
//! store), a bundle built from it by `proof::licence_bundle`, verified offline against
//! the genesis alone, across a validator-set change made by governance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "execute_support/mod.rs"]
mod execute_support;
mod store_support;

use execute_support::{key, licence_id, member, member_id, type_code, CHAIN, T0};
use store_support::*;
use tongban_ledger::chain::Chain;
use tongban_ledger::crypto::public_key;
use tongban_ledger::proof::{licence_bundle, verify, ChainBundleError, Verdict, VerifyOptions};
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::types::{MemberChange, RecordBody, RecordPayload, Role};

fn options(now_ms: u64) -> VerifyOptions<'static> {
    VerifyOptions {
        now_ms,
        max_age_ms: Some(60_000),
        document: None,
    }
}

#[test]
fn bundle_from_the_chain_verifies_across_a_validator_change() {
    let genesis = test_genesis();
    let mut chain = Chain::open(MemoryStore::new(), &genesis).expect("open");
    let id = licence_id(&type_code(1), &member_id(0), "H1N0");
    assert!(matches!(
        licence_bundle(&chain, &id, T0),
        Err(ChainBundleError::NoBlocks)
    ));

    // Height 1: publish the type and issue four licences (the first is `id`).
    let mut records = vec![publish_type_record(1)];
    records.extend(issue_records(1, 4));
    commit_block(&mut chain, &records);
    let bundle = licence_bundle(&chain, &id, block_time(1)).expect("bundle");
    assert!(bundle.validator_changes.is_empty());
    assert_eq!(
        verify(&bundle, &genesis, &options(block_time(1))),
        Verdict::Valid
    );

    // Height 2: the single admin adds a fifth validator; the set changes from height 3.
    let admin = key(200);
    let add = RecordPayload {
        chain_id: CHAIN.into(),
        author: public_key(&admin),
        nonce: 2,
        body: RecordBody::ProposeMemberChange {
            proposal_id: 1,
            change: MemberChange::Add(member(4, &key(5), vec![Role::Validator])),
        },
    }
    .sign(&admin);
    commit_block(&mut chain, &[add]);
    assert_eq!(chain.validator_set_changes().expect("changes"), vec![1, 3]);

    // Height 3, signed by four of the five (the quorum of five is four).
    let executed = chain
        .propose(&[], block_time(3), public_key(&key(1)), &|_| false)
        .expect("propose");
    let commit = sign_commit(&chain, &executed, &validator_keys());
    chain.commit(executed, &commit).expect("commit");

    let now = block_time(3) + 1_000;
    let bundle = licence_bundle(&chain, &id, now).expect("bundle");
    assert_eq!(bundle.header.height, 3);
    assert_eq!(bundle.validators.len(), 5);
    assert_eq!(bundle.validator_changes.len(), 1);
    assert_eq!(bundle.validator_changes[0].header.height, 2);
    assert_eq!(verify(&bundle, &genesis, &options(now)), Verdict::Valid);

    // The JSON the API serves verifies the same.
    let json = bundle.to_json_pretty().expect("json");
    let parsed = tongban_ledger::proof::ProofBundle::from_json(json.as_bytes()).expect("parse");
    assert_eq!(verify(&parsed, &genesis, &options(now)), Verdict::Valid);

    // A licence never issued: UNKNOWN, with a valid non-existence proof.
    let missing = licence_id(&type_code(1), &member_id(0), "NEVER");
    let bundle = licence_bundle(&chain, &missing, now).expect("bundle");
    assert!(bundle.licence.is_none());
    assert_eq!(verify(&bundle, &genesis, &options(now)), Verdict::Unknown);

    // An hour later the same bundle is stale.
    let bundle = licence_bundle(&chain, &id, now).expect("bundle");
    let later = now + 3_600_000;
    assert_eq!(verify(&bundle, &genesis, &options(later)).code(), "stale");
}
