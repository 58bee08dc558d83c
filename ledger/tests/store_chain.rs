//! The chain facade over both stores: genesis as version 0, propose/validate/commit,
//! quorum checks, validator-set changes, reads with proofs, recovery and write failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "execute_support/mod.rs"]
mod execute_support;
mod store_support;

use std::sync::Arc;

use execute_support::{key, licence_id, member, member_id, type_code, CHAIN};
use store_support::*;
use tongban_ledger::chain::{Chain, ChainError};
use tongban_ledger::crypto::public_key;
use tongban_ledger::execute::ExecError;
use tongban_ledger::keys;
use tongban_ledger::merkle::verify_record_inclusion;
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::types::{
    LicenceRecord, MemberChange, RecordBody, RecordPayload, Role, ValidatorSet,
};
use tongban_ledger::wire::SyncedBlock;
use tongban_ledger::{codec, Hash32};

fn memory_chain() -> (Arc<MemoryStore>, Chain<Arc<MemoryStore>>) {
    let store = Arc::new(MemoryStore::new());
    let chain = Chain::open(store.clone(), &test_genesis()).expect("open");
    (store, chain)
}

#[test]
fn fresh_chain_holds_genesis_as_version_0() {
    let (_, chain) = memory_chain();
    let genesis = test_genesis();
    let head = chain.head().clone();
    assert_eq!(head.height, 0);
    assert_eq!(head.block_hash, genesis.hash());
    assert_eq!(chain.state_root(0).expect("root"), Some(head.state_root));
    let set = chain.validator_set(1).expect("read").expect("set");
    assert_eq!(set, ValidatorSet::from_members(&genesis.members));
    assert_eq!(chain.validator_set(1_000).expect("read"), Some(set));
    assert_eq!(chain.validator_set(0).expect("read"), None);
    assert_eq!(chain.validator_set_changes().expect("changes"), vec![1]);
    assert_eq!(chain.members().expect("members").len(), VALIDATORS);
}

#[test]
fn committed_blocks_are_readable_with_proofs() {
    let (_, mut chain) = memory_chain();
    commit_block(&mut chain, &[publish_type_record(1)]);
    let records = issue_records(2, 20);
    let executed = commit_block(&mut chain, &records);
    assert_eq!(executed.block.records.len(), 20);
    assert_eq!(chain.head().height, 2);
    assert_eq!(chain.head().block_hash, executed.block_hash);

    let header = chain.header(2).expect("read").expect("header");
    assert_eq!(
        chain.block(2).expect("read").expect("block").records,
        records
    );
    assert_eq!(
        chain
            .commit_at(2)
            .expect("read")
            .expect("commit")
            .block_hash,
        executed.block_hash
    );
    assert_eq!(chain.state_root(2).expect("root"), Some(header.state_root));
    // The block-sync form read from the store is the block and commit re-encoded.
    let synced = SyncedBlock {
        block: chain.block(2).expect("read").expect("block"),
        commit: chain.commit_at(2).expect("read").expect("commit"),
    };
    assert_eq!(
        chain.synced_block_bytes(2).expect("read"),
        Some(synced.to_bytes())
    );
    assert_eq!(chain.synced_block_bytes(3).expect("read"), None);

    // A record: where it is and its RFC 9162 path to the header's records_root.
    let committed = chain
        .record(&records[7].hash())
        .expect("read")
        .expect("record");
    assert_eq!(committed.record, records[7]);
    assert_eq!(
        (committed.location.height, committed.location.index),
        (2, 7)
    );
    verify_record_inclusion(
        &committed.inclusion,
        &records[7].hash(),
        &header.records_root,
    )
    .expect("inclusion verifies");
    assert!(chain.record(&Hash32([9; 32])).expect("read").is_none());

    // A licence: current value, and a state proof at height 2 (present) and height 1
    // (absent), each against that height's header.
    let id = licence_id(&type_code(1), &member_id(3), "H2N7");
    let licence: LicenceRecord = chain.licence(&id).expect("read").expect("licence");
    assert_eq!(licence.issued_height, 2);
    let key_hash = keys::licence(&id);
    let (value, proof) = chain.state_proof(&key_hash, 2).expect("proof");
    assert_eq!(value.as_deref(), Some(codec::encode(&licence).as_slice()));
    proof
        .verify(&header.state_root, &key_hash, value.as_deref())
        .expect("inclusion proof verifies");
    let header1 = chain.header(1).expect("read").expect("header");
    let (absent, proof1) = chain.state_proof(&key_hash, 1).expect("proof");
    assert_eq!(absent, None);
    proof1
        .verify(&header1.state_root, &key_hash, None)
        .expect("non-inclusion proof verifies");
    assert!(proof1
        .verify(&header1.state_root, &key_hash, value.as_deref())
        .is_err());
    assert!(chain.state_proof(&key_hash, 3).is_err());
}

/// A change to a proposed block that a validator must notice.
type Mutation = Box<dyn Fn(&mut tongban_ledger::types::Block)>;

#[test]
fn a_validator_reexecutes_and_checks_every_header_field() {
    let (_, mut proposer) = memory_chain();
    let (_, mut validator) = memory_chain();
    commit_block(&mut proposer, &[publish_type_record(1)]);
    let first = proposer.block(1).expect("read").expect("block");
    let commit = proposer.commit_at(1).expect("read").expect("commit");
    let executed = validator.validate(first, &|_| false).expect("valid");
    validator.commit(executed, &commit).expect("commit");
    assert_eq!(validator.head(), proposer.head());

    let executed = proposer
        .propose(
            &issue_records(2, 8),
            block_time(2),
            public_key(&key(2)),
            &|_| false,
        )
        .expect("propose");
    let good = executed.block.clone();
    let mutations: Vec<(&str, Mutation)> = vec![
        ("state_root", Box::new(|b| b.header.state_root.0[0] ^= 1)),
        (
            "records",
            Box::new(|b| {
                b.records.pop();
            }),
        ),
        (
            "prev_hash",
            Box::new(|b| b.header.prev_hash = Hash32([1; 32])),
        ),
        ("height", Box::new(|b| b.header.height = 3)),
        ("time", Box::new(|b| b.header.time_ms = block_time(0))),
        (
            "validators_hash",
            Box::new(|b| b.header.validators_hash = Hash32([2; 32])),
        ),
        (
            "next_validators_hash",
            Box::new(|b| b.header.next_validators_hash = Hash32([3; 32])),
        ),
        (
            "proposer",
            Box::new(|b| b.header.proposer = public_key(&key(99))),
        ),
        ("chain_id", Box::new(|b| b.header.chain_id = "other".into())),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        match validator.validate(bad, &|_| false) {
            Err(ChainError::InvalidBlock { .. }) => {}
            other => panic!("{what}: expected InvalidBlock, got {other:?}"),
        }
    }
    // A record with a broken signature, with the header recomputed around it, is
    // refused by re-execution.
    let mut bad = good.clone();
    bad.records[0].signature.0[3] ^= 1;
    let hashes: Vec<Hash32> = bad.records.iter().map(|r| r.hash()).collect();
    bad.header.records_root = tongban_ledger::merkle::records_root(&hashes);
    assert!(matches!(
        validator.validate(bad, &|_| false),
        Err(ChainError::Execution(ExecError::InvalidRecord {
            index: 0,
            ..
        }))
    ));

    let executed_by_validator = validator.validate(good, &|_| false).expect("valid");
    assert_eq!(executed_by_validator.block_hash, executed.block_hash);
    assert_eq!(validator.head().height, 1, "validating writes nothing");
}

#[test]
fn commit_needs_a_quorum_of_valid_signatures() {
    let (_, mut chain) = memory_chain();
    let executed = chain
        .propose(
            &[publish_type_record(1)],
            block_time(1),
            public_key(&key(1)),
            &|_| false,
        )
        .expect("propose");
    let keys = validator_keys();
    let too_few = sign_commit(&chain, &executed, &keys[..2]);
    let mut bad_signature = sign_commit(&chain, &executed, &keys);
    bad_signature.signatures[1].1 .0[0] ^= 1;
    let mut duplicate = sign_commit(&chain, &executed, &keys[..3]);
    duplicate.signatures[2] = duplicate.signatures[1];
    let mut other_block = sign_commit(&chain, &executed, &keys);
    other_block.block_hash = Hash32([5; 32]);
    let mut unknown_index = sign_commit(&chain, &executed, &keys);
    unknown_index.signatures[3].0 = 9;
    for (what, commit) in [
        ("too few", too_few),
        ("bad signature", bad_signature),
        ("duplicate", duplicate),
        ("other block", other_block),
        ("unknown index", unknown_index),
    ] {
        match chain.commit(executed.clone(), &commit) {
            Err(ChainError::InvalidCommit { .. }) => {}
            other => panic!("{what}: expected InvalidCommit, got {other:?}"),
        }
        assert_eq!(chain.head().height, 0, "{what}: nothing committed");
    }
    // Three of four is a quorum.
    let three = sign_commit(&chain, &executed, &keys[1..]);
    chain.commit(executed, &three).expect("commit");
    assert_eq!(chain.head().height, 1);
}

#[test]
fn a_block_executed_on_an_old_head_is_refused() {
    let (_, mut chain) = memory_chain();
    let a = chain
        .propose(
            &[publish_type_record(1)],
            block_time(1),
            public_key(&key(1)),
            &|_| false,
        )
        .expect("propose");
    let b = chain
        .propose(&[], block_time(1) + 1, public_key(&key(2)), &|_| false)
        .expect("propose");
    let commit_a = sign_commit(&chain, &a, &validator_keys());
    let commit_b = sign_commit(&chain, &b, &validator_keys());
    chain.commit(a, &commit_a).expect("commit");
    assert!(matches!(
        chain.commit(b, &commit_b),
        Err(ChainError::StaleExecution { .. })
    ));
}

#[test]
fn membership_change_moves_the_validator_set_at_the_next_height() {
    let (store, mut chain) = memory_chain();
    let admin = key(200);
    let newcomer_key = key(5);
    let newcomer = member(4, &newcomer_key, vec![Role::Validator]);
    let propose = RecordPayload {
        chain_id: CHAIN.into(),
        author: public_key(&admin),
        nonce: 1,
        body: RecordBody::ProposeMemberChange {
            proposal_id: 1,
            change: MemberChange::Add(newcomer),
        },
    }
    .sign(&admin);
    let executed = commit_block(&mut chain, &[propose]);
    let old = chain.validator_set(1).expect("read").expect("set");
    let new = chain.validator_set(2).expect("read").expect("set");
    assert_eq!(old.len(), 4);
    assert_eq!(new.len(), 5);
    assert_eq!(executed.block.header.validators_hash, old.hash());
    assert_eq!(executed.block.header.next_validators_hash, new.hash());
    assert_eq!(chain.validator_set_changes().expect("changes"), vec![1, 2]);

    // Height 2 needs 4 of the 5: the old four alone still make it, three do not.
    let executed = chain
        .propose(&[], block_time(2), public_key(&key(1)), &|_| false)
        .expect("propose");
    let mut five = validator_keys();
    five.push(newcomer_key);
    let three = sign_commit(&chain, &executed, &five[..3]);
    assert!(matches!(
        chain.commit(executed.clone(), &three),
        Err(ChainError::InvalidCommit { .. })
    ));
    let four = sign_commit(&chain, &executed, &five[1..]);
    chain.commit(executed, &four).expect("commit");
    assert_eq!(chain.validator_set(3).expect("read"), Some(new.clone()));

    // The chain keeps its sets in memory; reopened, it reads the same ones back.
    let reopened = Chain::open(store, &test_genesis()).expect("reopen");
    for height in 0..5 {
        assert_eq!(
            reopened.validator_set(height).expect("read"),
            chain.validator_set(height).expect("read"),
            "height {height}"
        );
    }
    assert_eq!(reopened.validator_set(0).expect("read"), None);
    assert_eq!(reopened.validator_set(1).expect("read"), Some(old));
    assert_eq!(reopened.validator_set(4).expect("read"), Some(new));
    assert_eq!(
        reopened.validator_set_changes().expect("changes"),
        vec![1, 2]
    );
}

#[test]
fn a_failed_write_stops_the_chain_and_the_disk_keeps_the_last_block() {
    let (store, mut chain) = memory_chain();
    commit_block(&mut chain, &[publish_type_record(1)]);
    let head = chain.head().clone();
    let executed = chain
        .propose(
            &issue_records(2, 4),
            block_time(2),
            public_key(&key(1)),
            &|_| false,
        )
        .expect("propose");
    let commit = sign_commit(&chain, &executed, &validator_keys());
    store.fail_writes(true);
    // The write lands behind the commit: its failure comes out of the wait for it, and
    // from then on the chain refuses everything.
    chain
        .commit(executed.clone(), &commit)
        .expect("the write starts");
    assert!(matches!(chain.settle(), Err(ChainError::Store(_))));
    store.fail_writes(false);
    assert!(matches!(
        chain.commit(executed, &commit),
        Err(ChainError::Failed)
    ));
    assert!(matches!(
        chain.propose(&[], block_time(3), public_key(&key(1)), &|_| false),
        Err(ChainError::Failed)
    ));
    drop(chain);
    let reopened = Chain::open(store, &test_genesis()).expect("reopen");
    assert_eq!(reopened.head(), &head);
}

#[cfg(feature = "rocksdb")]
mod rocks {
    use super::*;
    use tongban_ledger::store::rocks::RocksStore;
    use tongban_ledger::store::Store;

    #[test]
    fn reopen_recovers_the_head_and_refuses_another_genesis() {
        let dir = tempfile::tempdir().expect("tempdir");
        let head = {
            let store = RocksStore::open(dir.path()).expect("open");
            let mut chain = Chain::open(store, &test_genesis()).expect("chain");
            commit_block(&mut chain, &[publish_type_record(1)]);
            commit_block(&mut chain, &issue_records(2, 10));
            commit_block(&mut chain, &issue_records(3, 10));
            chain
                .store()
                .put_meta(b"consensus/safety", b"state")
                .expect("meta");
            chain.head().clone()
        };
        let store = RocksStore::open(dir.path()).expect("reopen");
        let chain = Chain::open(store, &test_genesis()).expect("chain");
        assert_eq!(chain.head(), &head);
        assert_eq!(
            chain.store().meta(b"consensus/safety").expect("meta"),
            Some(b"state".to_vec())
        );
        let id = licence_id(&type_code(1), &member_id(1), "H3N5");
        assert_eq!(
            chain
                .licence(&id)
                .expect("read")
                .expect("licence")
                .issued_height,
            3
        );
        let header = chain.header(3).expect("read").expect("header");
        let (value, proof) = chain.state_proof(&keys::licence(&id), 3).expect("proof");
        proof
            .verify(&header.state_root, &keys::licence(&id), value.as_deref())
            .expect("verifies");
        drop(chain);

        let mut other = test_genesis();
        other.chain_id = "another-chain".into();
        let store = RocksStore::open(dir.path()).expect("reopen");
        assert!(matches!(
            Chain::open(store, &other),
            Err(ChainError::GenesisMismatch { .. })
        ));
    }

    #[test]
    fn memory_and_rocks_give_the_same_roots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut on_disk = Chain::open(RocksStore::open(dir.path()).expect("open"), &test_genesis())
            .expect("chain");
        let (_, mut in_memory) = memory_chain();
        assert_eq!(on_disk.head(), in_memory.head());
        for (height, records) in [(1, vec![publish_type_record(1)]), (2, issue_records(2, 30))] {
            let a = commit_block(&mut on_disk, &records);
            let b = commit_block(&mut in_memory, &records);
            assert_eq!(a.block_hash, b.block_hash, "height {height}");
        }
        assert_eq!(on_disk.head(), in_memory.head());
    }
}

#[test]
fn head_reads_follow_every_commit_even_when_cached() {
    // The chain caches head values it has read; a commit must update every cached key
    // it wrote. Read the same keys (a nonce, a licence, an absent licence) before and
    // after each of several commits and compare with the tree at that height.
    let (_, mut chain) = memory_chain();
    commit_block(&mut chain, &[publish_type_record(1)]);
    let author = public_key(&key(1));
    let nonce_key = keys::nonce(&author);
    let mut watched: Vec<Hash32> = vec![nonce_key];
    for height in 2..=5u64 {
        let records = issue_records(height, 8);
        // The licences of the next block are read (absent) before it commits.
        for record in &records {
            if let RecordBody::IssueLicence { licence_id, .. } = &record.payload.body {
                watched.push(keys::licence(licence_id));
                assert_eq!(chain.get(&keys::licence(licence_id)).expect("read"), None);
            }
        }
        let before: Vec<_> = watched
            .iter()
            .map(|k| chain.get(k).expect("read"))
            .collect();
        commit_block(&mut chain, &records);
        assert_eq!(chain.head().height, height);
        for (k, old) in watched.iter().zip(&before) {
            let cached = chain.get(k).expect("read");
            let (proved, _) = chain.state_proof(k, height).expect("proof");
            assert_eq!(cached, proved, "key {k} at height {height}");
            if *k == nonce_key {
                assert_ne!(&cached, old, "the author's nonce moved");
            }
        }
        // Every licence of this block is now present through the cache.
        for record in &records {
            if let RecordBody::IssueLicence { licence_id, .. } = &record.payload.body {
                assert!(chain
                    .get(&keys::licence(licence_id))
                    .expect("read")
                    .is_some());
            }
        }
    }
}

#[test]
fn tree_reads_through_the_node_cache_match_the_store() {
    // The chain keeps state tree nodes it wrote or read; roots and proofs through it
    // must equal those read straight from the store, at every height.
    use tongban_ledger::state_tree::StateTree;
    let (store, mut chain) = memory_chain();
    commit_block(&mut chain, &[publish_type_record(1)]);
    let mut keys_seen = vec![keys::nonce(&public_key(&key(1)))];
    for height in 2..=6u64 {
        let records = issue_records(height, 12);
        for record in &records {
            if let RecordBody::IssueLicence { licence_id, .. } = &record.payload.body {
                keys_seen.push(keys::licence(licence_id));
            }
        }
        commit_block(&mut chain, &records);
    }
    let direct = StateTree::new(&store);
    for height in 0..=6u64 {
        assert_eq!(
            chain.state_root(height).expect("root"),
            direct.root(height).expect("root"),
            "height {height}"
        );
        for k in &keys_seen {
            let through_cache = chain.state_proof(k, height).expect("proof");
            let straight = direct.get_with_proof(k, height).expect("proof");
            assert_eq!(through_cache, straight, "key {k} at height {height}");
        }
    }
}

#[test]
fn tree_updates_through_recent_batches_match_a_chain_without_them() {
    // A chain keeps the nodes its last commits wrote and reads the next updates through
    // them; a chain reopened before every block starts with none. From the same records
    // both must build the same blocks, and each must accept the other's.
    let (_, mut kept) = memory_chain();
    let reopened_store = Arc::new(MemoryStore::new());
    let mut reopened = Chain::open(reopened_store.clone(), &test_genesis()).expect("open");
    let mut blocks = vec![vec![publish_type_record(1)]];
    blocks.extend((2..=9u64).map(|height| issue_records(height, 40)));
    for records in &blocks {
        let built = commit_block(&mut kept, records);
        let validated = reopened
            .validate(built.block.clone(), &|_| false)
            .expect("a fresh chain accepts the kept chain's block");
        assert_eq!(validated.block_hash, built.block_hash);
        let rebuilt = commit_block(&mut reopened, records);
        assert_eq!(
            rebuilt.block.header.state_root,
            built.block.header.state_root
        );
        reopened = Chain::open(reopened_store.clone(), &test_genesis()).expect("reopen");
    }
}

#[test]
fn headers_are_read_apart_from_blocks_and_from_blocks_in_older_stores() {
    use tongban_ledger::store::{height_key, Column, Store, StoreBatch};
    let (store, mut chain) = memory_chain();
    commit_block(&mut chain, &[publish_type_record(1)]);
    let built = commit_block(&mut chain, &issue_records(2, 20));
    assert_eq!(
        store.header(2).expect("read"),
        Some(built.block.header.clone())
    );
    assert_eq!(
        chain.header(2).expect("read"),
        Some(built.block.header.clone())
    );
    // A store written before headers were kept apart has only the blocks.
    let mut batch = StoreBatch::new();
    batch.delete(Column::Headers, height_key(1));
    batch.delete(Column::Headers, height_key(2));
    store.write(&batch).expect("write");
    assert_eq!(
        store.get(Column::Headers, &height_key(2)).expect("read"),
        None
    );
    assert_eq!(chain.header(2).expect("read"), Some(built.block.header));
    assert_eq!(chain.header(3).expect("read"), None);
}

#[test]
fn a_block_still_being_written_reads_as_committed_and_the_next_builds_on_it() {
    // The chain writes a committed block behind (ADR 0024): until it lands, the chain
    // answers from the block's batch, and the next block executes on top of it.
    use tongban_ledger::store::Store;
    let (store, mut chain) = memory_chain();
    let (_, mut other) = memory_chain();
    for records in [vec![publish_type_record(1)], issue_records(2, 16)] {
        let built = commit_block(&mut chain, &records);
        let commit = chain.commit_at(built.block.header.height).expect("read");
        let validated = other.validate(built.block, &|_| false).expect("valid");
        other
            .commit(validated, &commit.expect("commit"))
            .expect("commit");
    }

    let records = issue_records(3, 16);
    let executed = chain
        .propose(&records, block_time(3), public_key(&key(1)), &|_| false)
        .expect("propose");
    let commit = sign_commit(&chain, &executed, &validator_keys());
    store.hold_writes(true);
    chain.commit(executed.clone(), &commit).expect("commit");
    // Not in the store yet, but the chain reads it all.
    assert_eq!(store.block(3).expect("read"), None);
    assert_eq!(chain.head().height, 3);
    assert_eq!(
        chain.block(3).expect("read").map(|b| b.header),
        Some(executed.block.header.clone())
    );
    assert_eq!(chain.commit_at(3).expect("read"), Some(commit.clone()));
    let record = chain
        .record(&records[5].hash())
        .expect("read")
        .expect("record");
    assert_eq!(record.location.height, 3);
    let RecordBody::IssueLicence { licence_id, .. } = &records[5].payload.body else {
        panic!("an issue record");
    };
    assert!(chain.licence(licence_id).expect("read").is_some());
    let (value, proof) = chain
        .state_proof(&keys::licence(licence_id), 3)
        .expect("proof");
    proof
        .verify(
            &executed.block.header.state_root,
            &keys::licence(licence_id),
            value.as_deref(),
        )
        .expect("the proof holds against the block's root");
    // The next block executes on the one in flight (its authors' nonces follow on)
    // and is the block a chain that had it on disk accepts.
    let next = chain
        .propose(
            &issue_records(4, 16),
            block_time(4),
            public_key(&key(1)),
            &|_| false,
        )
        .expect("propose on the block in flight");
    assert_eq!(next.block.records.len(), 16);
    let validated = other.validate(executed.block, &|_| false).expect("valid");
    other.commit(validated, &commit).expect("commit");
    other
        .validate(next.block.clone(), &|_| false)
        .expect("the same block as on a landed chain");

    // Released, it lands; reopened, the store has it.
    store.hold_writes(false);
    chain.settle().expect("lands");
    assert_eq!(
        store.header(3).expect("read"),
        Some(chain.header(3).expect("read").expect("header"))
    );
    drop(chain);
    let reopened = Chain::open(store, &test_genesis()).expect("reopen");
    assert_eq!(reopened.head().height, 3);
}
