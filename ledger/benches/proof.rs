//! Proof bundles: building one from the store's parts, writing it as JSON, verifying it.
//!
//! Goals (task H4): build ≥ 20,000 bundles/s; verify one with 4 validators ≤ 150 µs.
//! Run: `cargo bench -p tongban-ledger --bench proof`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "../tests/proof_support/mod.rs"]
mod proof_support;

use proof_support::*;
use tongban_ledger::crypto::{self, SignatureCheck};
use tongban_ledger::proof::{
    build_bundle, commit_vote, verify, ProofBundle, Verdict, VerifyOptions,
};

fn options() -> VerifyOptions<'static> {
    VerifyOptions {
        now_ms: NOW_MS,
        max_age_ms: Some(3_600_000),
        document: Some(DOCUMENT),
    }
}

fn bench_build(c: &mut Criterion) {
    let chain = TestChain::build();
    let parts = chain.parts(&active_id(), 1);
    let mut group = c.benchmark_group("proof_build");
    group.throughput(Throughput::Elements(1));
    // The clone of the parts (what the store would hand over) happens outside the timing.
    group.bench_function("build_bundle/4_validators", |b| {
        b.iter_batched(
            || parts.clone(),
            |parts| build_bundle(parts).expect("build"),
            BatchSize::SmallInput,
        )
    });
    let bundle = chain.bundle(&active_id(), 1);
    group.bench_function("to_json/4_validators", |b| {
        b.iter(|| bundle.to_json_pretty().expect("json"))
    });
    let json = bundle.to_json_pretty().expect("json");
    group.bench_function("from_json/4_validators", |b| {
        b.iter(|| ProofBundle::from_json(json.as_bytes()).expect("parse"))
    });
    group.finish();
}

fn bench_verify(c: &mut Criterion) {
    let chain = TestChain::build();
    let genesis = genesis();
    let mut group = c.benchmark_group("proof_verify");
    group.throughput(Throughput::Elements(1));
    // Height 1: 4 validators, no set change, 4 signatures.
    let bundle = chain.bundle(&active_id(), 1);
    assert_eq!(verify(&bundle, &genesis, &options()), Verdict::Valid);
    group.bench_function("4_validators/no_changes", |b| {
        b.iter(|| verify(&bundle, &genesis, &options()))
    });
    // Tip: two set changes (4 + 5 signatures) and the final 4.
    let bundle = chain.bundle(&active_id(), TIP);
    assert_eq!(verify(&bundle, &genesis, &options()), Verdict::Valid);
    group.bench_function("4_validators/2_changes", |b| {
        b.iter(|| verify(&bundle, &genesis, &options()))
    });
    group.finish();

    // What the verify figures are made of: the four precommit signatures of one commit,
    // checked one by one (ZIP 215, `crypto::verify`) and through `verify_many` (batch on
    // the rayon pool).
    let bundle = chain.bundle(&active_id(), 1);
    let message = commit_vote(CHAIN_ID, &bundle.commit).signing_bytes();
    let items: Vec<SignatureCheck<'_>> = bundle
        .commit
        .signatures
        .iter()
        .map(|(i, s)| {
            (
                &bundle.validators.validators[*i as usize].key,
                message.as_slice(),
                s,
            )
        })
        .collect();
    let mut group = c.benchmark_group("commit_signatures");
    group.bench_function("4/one_by_one", |b| {
        b.iter(|| {
            for (key, message, signature) in &items {
                crypto::verify(key, message, signature).expect("valid");
            }
        })
    });
    group.bench_function("4/verify_many", |b| b.iter(|| crypto::verify_many(&items)));
    group.finish();
}

criterion_group!(benches, bench_build, bench_verify);
criterion_main!(benches);
