//! Execution speed: one block of 10,000 signed `IssueLicence` records over in-memory
//! state, with signatures verified inside `execute_block` (a block from an unknown
//! source) and with every signature already verified (the node's normal path: records
//! were checked at mempool entry). State reads go to a `BTreeMap`, so this measures
//! execution itself; the RocksDB/jmt cost is in `benches/apply.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/execute_support/mod.rs"]
mod execute_support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use execute_support::*;
use tongban_ledger::execute::{execute_block, verify_every_signature, Mode};

const RECORDS: usize = 10_000;

fn bench_execute(c: &mut Criterion) {
    let mut w = World::new(4, 1);
    let t = w.publish_type(1, &[0, 1, 2, 3]);
    let records = issue_records(&mut w, &t, RECORDS, "BENCH");
    let ctx = w.ctx();

    let mut group = c.benchmark_group("execute_block");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.bench_function("10k_issue_verify_signatures", |b| {
        b.iter(|| {
            let outcome = execute_block(
                &w.state,
                &ctx,
                &records,
                Mode::Validate,
                &verify_every_signature,
            )
            .expect("valid block");
            assert_eq!(outcome.kept.len(), RECORDS);
            outcome
        })
    });
    group.bench_function("10k_issue_already_verified", |b| {
        b.iter(|| {
            let outcome = execute_block(&w.state, &ctx, &records, Mode::Validate, &|_| true)
                .expect("valid block");
            assert_eq!(outcome.kept.len(), RECORDS);
            outcome
        })
    });
    group.finish();
}

criterion_group!(benches, bench_execute);
criterion_main!(benches);
