//! Speed of the records log: `records_root` and an inclusion proof over a full block
//! (`ChainParams::default().max_block_records` = 10,000 record hashes).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tongban_ledger::crypto::sha256;
use tongban_ledger::merkle::{records_inclusion_proof, records_root, verify_record_inclusion};
use tongban_ledger::Hash32;

const RECORDS: u64 = 10_000;

fn record_hashes() -> Vec<Hash32> {
    (0..RECORDS).map(|i| sha256(&[&i.to_le_bytes()])).collect()
}

fn bench_records_root(c: &mut Criterion) {
    let hashes = record_hashes();
    let mut group = c.benchmark_group("merkle");
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("records_root/10000", |b| b.iter(|| records_root(&hashes)));
    group.bench_function("inclusion_proof/10000", |b| {
        b.iter(|| records_inclusion_proof(&hashes, RECORDS / 3))
    });
    group.finish();

    let root = records_root(&hashes);
    let leaf = hashes[(RECORDS / 3) as usize];
    c.bench_function("merkle/verify_inclusion/10000", |b| {
        b.iter_batched(
            || records_inclusion_proof(&hashes, RECORDS / 3),
            |proof| proof.map(|p| verify_record_inclusion(&p, &leaf, &root)),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_records_root);
criterion_main!(benches);
