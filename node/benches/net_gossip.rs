//! Gossip throughput between two members over real libp2p on 127.0.0.1: how long it
//! takes for a batch of record-sized messages published by one node to reach the other.
//!
//! `cargo bench -p tongban-node --bench net_gossip`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tongban_ledger::PublicKey;
use tongban_node::net::{
    keypair_from_secret, NetError, NetEvent, NetLimits, Network, NetworkConfig, NetworkHandle,
};

/// Messages per measured batch.
const BATCH: usize = 500;
/// A typical signed record is a few hundred bytes.
const RECORD_BYTES: usize = 400;

fn spawn(
    secret: [u8; 32],
    allowed: Vec<PublicKey>,
    bootstrap: Vec<libp2p::Multiaddr>,
) -> (NetworkHandle, mpsc::Receiver<NetEvent>) {
    let config = NetworkConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
        bootstrap,
        limits: NetLimits {
            // The receiving side drains as fast as it can; the queue must hold a batch so
            // the measurement is of the network, not of dropped messages.
            event_queue_capacity: 4 * BATCH,
            ..NetLimits::default()
        },
    };
    let keypair = keypair_from_secret(secret).expect("keypair");
    Network::spawn(config, keypair, allowed).expect("spawn")
}

fn gossip(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let keys: Vec<SigningKey> = (1u8..=2)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let allowed: Vec<PublicKey> = keys
        .iter()
        .map(|k| PublicKey(k.verifying_key().to_bytes()))
        .collect();
    let (sender, mut receiver_events, _receiver) = runtime.block_on(async {
        let (receiver, events) = spawn(keys[0].to_bytes(), allowed.clone(), Vec::new());
        let address = receiver.listen_addrs().await.expect("listening")[0].clone();
        let (sender, _sender_events) = spawn(keys[1].to_bytes(), allowed.clone(), vec![address]);
        // Wait until the receiver's subscription has reached the sender.
        let mut warm = 0u64;
        loop {
            match sender
                .publish_record(format!("warm {warm}").into_bytes())
                .await
            {
                Ok(()) => break,
                Err(NetError::NoPeers) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{e}"),
            }
            warm += 1;
        }
        (sender, events, receiver)
    });

    let mut group = c.benchmark_group("gossip");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    let mut counter = 0u64;
    group.bench_function("records_400B_x500_loopback", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    // Empty what the previous batch left (warm-up, late duplicates).
                    while receiver_events.try_recv().is_ok() {}
                    let start = Instant::now();
                    for _ in 0..BATCH {
                        counter += 1;
                        let mut record = counter.to_le_bytes().to_vec();
                        record.resize(RECORD_BYTES, 0xab);
                        sender.publish_record(record).await.expect("published");
                    }
                    let mut received = 0;
                    while received < BATCH {
                        match tokio::time::timeout(Duration::from_secs(30), receiver_events.recv())
                            .await
                        {
                            Ok(Some(NetEvent::Record { .. })) => received += 1,
                            Ok(Some(_)) => {}
                            Ok(None) | Err(_) => panic!("only {received} of {BATCH} arrived"),
                        }
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, gossip);
criterion_main!(benches);
