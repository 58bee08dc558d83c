//! Signature verification speed: `crypto::verify_many` (batches of
//! `signature_batch_len` over every core) and `verify_many_on_this_thread` (batches of
//! `SIGNATURE_BATCH_MAX`, one core) over 10,240 record-sized messages, signed by 4 keys
//! (a few issuing departments, whose key terms a ZIP 215 batch merges) and by a key per
//! message (the worst case); and one signature alone, for comparison.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use tongban_ledger::crypto::{
    public_key, sign, verify, verify_many, verify_many_on_this_thread, SignatureCheck,
    RECORD_DOMAIN,
};
use tongban_ledger::{PublicKey, Signature};

const MESSAGES: usize = 10_240;
/// About the encoded size of an `IssueLicence` payload.
const MESSAGE_BYTES: usize = 250;

fn signed(authors: usize) -> Vec<(PublicKey, Vec<u8>, Signature)> {
    let keys: Vec<SigningKey> = (0..authors)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    (0..MESSAGES)
        .map(|i| {
            let key = &keys[i % authors];
            let mut message = vec![7u8; MESSAGE_BYTES];
            message[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let signature = sign(key, RECORD_DOMAIN, &message);
            (
                public_key(key),
                [RECORD_DOMAIN, &message].concat(),
                signature,
            )
        })
        .collect()
}

fn bench_signatures(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_10240");
    group.sample_size(10);
    group.throughput(Throughput::Elements(MESSAGES as u64));
    for authors in [4, MESSAGES] {
        let items = signed(authors);
        let checks: Vec<SignatureCheck<'_>> =
            items.iter().map(|(k, m, s)| (k, m.as_slice(), s)).collect();
        group.bench_with_input(
            BenchmarkId::new("verify_many_all_cores", authors),
            &checks,
            |b, checks| b.iter(|| assert!(verify_many(checks).iter().all(Result::is_ok))),
        );
        group.bench_with_input(
            BenchmarkId::new("verify_many_one_thread", authors),
            &checks,
            |b, checks| {
                b.iter(|| assert!(verify_many_on_this_thread(checks).iter().all(Result::is_ok)))
            },
        );
    }
    group.finish();

    let items = signed(1);
    let (key, message, signature) = &items[0];
    c.bench_function("verify_one", |b| {
        b.iter(|| verify(key, message, signature).unwrap())
    });
}

criterion_group!(benches, bench_signatures);
criterion_main!(benches);
