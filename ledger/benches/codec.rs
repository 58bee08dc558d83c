//! The codec on the node's hot formats: a block of 10,000 signed `IssueLicence`
//! records encoded (a proposal, a stored block) and decoded (a received proposal), and
//! each record encoded and hashed (its hash, at admission and in every block).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/execute_support/mod.rs"]
mod execute_support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use execute_support::*;
use tongban_ledger::bytes::{Hash32, PublicKey};
use tongban_ledger::codec;
use tongban_ledger::types::{Block, BlockHeader};

const RECORDS: usize = 10_000;

fn bench_codec(c: &mut Criterion) {
    let mut w = World::new(4, 1);
    let t = w.publish_type(1, &[0, 1, 2, 3]);
    let records = issue_records(&mut w, &t, RECORDS, "CODEC");
    let block = Block {
        header: BlockHeader {
            chain_id: "bench".into(),
            height: 7,
            time_ms: 1,
            prev_hash: Hash32::ZERO,
            records_root: Hash32::ZERO,
            state_root: Hash32::ZERO,
            validators_hash: Hash32::ZERO,
            next_validators_hash: Hash32::ZERO,
            proposer: PublicKey([0; 32]),
        },
        records,
    };
    let bytes = codec::encode(&block);

    let mut group = c.benchmark_group("codec_10k_issue");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    group.bench_function("encode_block", |b| b.iter(|| codec::encode(&block).len()));
    group.bench_function("decode_block", |b| {
        b.iter(|| codec::decode::<Block>(&bytes).unwrap().records.len())
    });
    group.bench_function("hash_records", |b| {
        b.iter(|| {
            block
                .records
                .iter()
                .map(|r| r.hash().0[0])
                .fold(0u8, u8::wrapping_add)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
