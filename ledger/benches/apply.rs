//! Apply-and-commit speed over RocksDB, as a validator does it: a block of 10,000
//! signed `IssueLicence` records is re-executed with every signature checked
//! (`crypto::verify_many`, via `execute_block`), applied to the jmt state tree and
//! committed (block, commit with 4 signatures checked, record index, state nodes, head)
//! in one synced RocksDB write batch, on top of a store that already holds N licences.
//!
//! The blocks are proposed (not measured) by another `Chain` on its own copy of the
//! store (a RocksDB checkpoint of the pre-filled one), as another node would: the
//! validator's caches hold only what its own earlier blocks read. Each sample's blocks
//! are all proposed first; then the validator validates and commits them one after
//! the other, and the time runs until the last one is on disk (`Chain::settle`): a
//! block's write lands behind its commit, while the next block executes (ADR 0024),
//! and every write is inside the measured time.
//!
//! Pre-fill (not measured): N licences committed as real blocks of 50,000 records
//! (signed in parallel, signatures marked as already verified) in a temp directory,
//! once per N; the measured blocks then go on top of it, so N grows by 10,000 per
//! measured block (reported). Also measured: building a state proof for a licence, and a
//! whole licence proof bundle from the store.
//!
//! Sizes: `TONGBAN_BENCH_SIZES=100000,1000000` (the default).
//!
//! Allocator: jemalloc, as in the node binary (ADR 0006), so that the figure is a
//! validator's. The state tree update allocates and frees a node per touched path step.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "../tests/execute_support/mod.rs"]
mod execute_support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use execute_support::{genesis, issue_body, key, licence_id, member_id, type_code, CHAIN, T0};
use rayon::prelude::*;
use tongban_ledger::chain::{Chain, ExecutedBlock};
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{public_key, sign, VOTE_DOMAIN};
use tongban_ledger::keys;
use tongban_ledger::proof::licence_bundle;
use tongban_ledger::store::rocks::RocksStore;
use tongban_ledger::types::{
    Block, Commit, Genesis, RecordBody, RecordPayload, SignedRecord, Vote, VoteKind,
};

const BLOCK_RECORDS: usize = 10_000;
const PREFILL_BLOCK_RECORDS: usize = 50_000;
const VALIDATORS: usize = 4;

fn bench_genesis() -> Genesis {
    let mut g = genesis(VALIDATORS, 1);
    g.params.max_block_records = PREFILL_BLOCK_RECORDS as u32;
    g
}

fn signers() -> Vec<SigningKey> {
    (0..VALIDATORS).map(|i| key(i as u8 + 1)).collect()
}

/// `count` signed IssueLicence records for block `height`, signed in parallel.
fn records(height: u64, count: usize) -> Vec<SignedRecord> {
    let code = type_code(1);
    (0..count)
        .into_par_iter()
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

fn sign_commit(chain: &Chain<RocksStore>, executed: &ExecutedBlock) -> Commit {
    let height = executed.block.header.height;
    let set = chain.validator_set(height).unwrap().unwrap();
    let vote = Vote {
        chain_id: CHAIN.into(),
        height,
        round: 0,
        kind: VoteKind::Precommit,
        block_hash: Some(executed.block_hash),
    };
    let mut signatures: Vec<_> = signers()
        .iter()
        .map(|k| {
            (
                set.index_of(&public_key(k)).unwrap() as u32,
                sign(k, VOTE_DOMAIN, &encode(&vote)),
            )
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

fn time_of(height: u64) -> u64 {
    T0 + height * 1_000
}

/// Proposes the next block from `records` (signatures taken as verified) and commits it.
fn propose_and_commit(chain: &mut Chain<RocksStore>, records: &[SignedRecord]) -> Block {
    let height = chain.head().height + 1;
    let executed = chain
        .propose(records, time_of(height), public_key(&key(1)), &|_| true)
        .unwrap();
    assert_eq!(executed.block.records.len(), records.len());
    let commit = sign_commit(chain, &executed);
    let block = executed.block.clone();
    chain.commit(executed, &commit).unwrap();
    block
}

/// A chain in `dir` holding `n` licences.
fn prefill(dir: &std::path::Path, n: usize) -> Chain<RocksStore> {
    let started = Instant::now();
    let store = RocksStore::open(dir).unwrap();
    let mut chain = Chain::open(store, &bench_genesis()).unwrap();
    let admin = key(200);
    let publish = RecordPayload {
        chain_id: CHAIN.into(),
        author: public_key(&admin),
        nonce: 1,
        body: RecordBody::PublishLicenceType {
            type_code: type_code(1),
            name: "Type 1".into(),
            issuers: (0..VALIDATORS as u32).map(member_id).collect(),
        },
    }
    .sign(&admin);
    propose_and_commit(&mut chain, &[publish]);
    let mut filled = 0;
    while filled < n {
        let count = PREFILL_BLOCK_RECORDS.min(n - filled);
        let height = chain.head().height + 1;
        let block = records(height, count);
        propose_and_commit(&mut chain, &block);
        filled += count;
    }
    chain.settle().unwrap();
    chain.store().inner().flush().unwrap();
    eprintln!(
        "pre-filled {n} licences in {:.1} s (head {})",
        started.elapsed().as_secs_f64(),
        chain.head().height
    );
    chain
}

fn sizes() -> Vec<usize> {
    std::env::var("TONGBAN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn bench_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_commit_10k_issue_rocksdb");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(BLOCK_RECORDS as u64));
    let mut proof_group_inputs = Vec::new();
    for n in sizes() {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = prefill(dir.path(), n);
        // The proposer: another node, on a copy of the same chain.
        let proposer_dir = dir.path().join("proposer");
        chain.store().inner().checkpoint(&proposer_dir).unwrap();
        let mut proposer =
            Chain::open(RocksStore::open(&proposer_dir).unwrap(), &bench_genesis()).unwrap();
        let mut measured_blocks = 0u64;
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                // Not measured: signing the blocks' records, and proposing them.
                let proposed: Vec<Block> = (0..iters)
                    .map(|_| {
                        let height = proposer.head().height + 1;
                        propose_and_commit(&mut proposer, &records(height, BLOCK_RECORDS))
                    })
                    .collect();
                proposer.settle().unwrap();
                // Measured: what a validator does with proposed blocks, until the last
                // is on disk.
                let started = Instant::now();
                for block in proposed {
                    let executed = chain.validate(block, &|_| false).unwrap();
                    let commit = sign_commit(&chain, &executed);
                    chain.commit(executed, &commit).unwrap();
                    measured_blocks += 1;
                }
                chain.settle().unwrap();
                started.elapsed()
            })
        });
        drop(proposer);
        eprintln!(
            "N = {n}: {measured_blocks} measured blocks; licences at the end: {}",
            n + measured_blocks as usize * BLOCK_RECORDS
        );
        proof_group_inputs.push((n, dir, chain));
    }
    group.finish();

    let mut group = c.benchmark_group("state_proof_licence");
    for (n, _dir, chain) in &proof_group_inputs {
        let head = chain.head().height;
        // Licences of the first pre-fill block: present at the head.
        let ids: Vec<_> = (0..1_000)
            .map(|i| {
                keys::licence(&licence_id(
                    &type_code(1),
                    &member_id((i % VALIDATORS) as u32),
                    &format!("H2N{i}"),
                ))
            })
            .collect();
        let mut next = 0usize;
        let mut siblings = 0usize;
        group.bench_with_input(BenchmarkId::from_parameter(n), n, |b, _| {
            b.iter(|| {
                let key = &ids[next % ids.len()];
                next += 1;
                let (value, proof) = chain.state_proof(key, head).unwrap();
                assert!(value.is_some());
                siblings = proof.siblings.len();
                proof
            })
        });
        eprintln!("N = {n}: last proof had {siblings} siblings");
    }
    group.finish();

    // What `GET /v1/licences/{id}/proof` does: the whole bundle from the store at the
    // head (state proof, header, commit, validator set), as a node serves it.
    let mut group = c.benchmark_group("proof_bundle_from_store");
    group.throughput(Throughput::Elements(1));
    for (n, _dir, chain) in &proof_group_inputs {
        let ids: Vec<_> = (0..1_000)
            .map(|i| {
                licence_id(
                    &type_code(1),
                    &member_id((i % VALIDATORS) as u32),
                    &format!("H2N{i}"),
                )
            })
            .collect();
        let mut next = 0usize;
        let now_ms = time_of(chain.head().height) + 1_000;
        group.bench_with_input(BenchmarkId::from_parameter(n), n, |b, _| {
            b.iter(|| {
                let id = &ids[next % ids.len()];
                next += 1;
                let bundle = licence_bundle(chain, id, now_ms).unwrap();
                assert!(bundle.licence.is_some());
                bundle
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_apply);
criterion_main!(benches);
