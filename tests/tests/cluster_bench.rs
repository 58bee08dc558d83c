//! Throughput and commit latency of four validators on this machine: a measurement,
//! not a test (it asserts nothing about speed). Run it explicitly:
//!
//! ```text
//! cargo build --release --bins
//! cargo test --release -p tongban-tests --test cluster_bench -- --ignored --nocapture
//! ```
//!
//! `BENCH_RECORDS` (default 20000) pre-signed `IssueLicence` records, from the four
//! members, are posted without waiting by 4 client threads, one per member, each to its own node. Records
//! per second = records / (first post → last commit seen on node 1). Latency is the
//! nodes' own `tongban_commit_latency_seconds` histogram (admission at the receiving
//! node → commit), summed over the four nodes; p50/p99 are read from its buckets (upper
//! bucket bounds, so they are rounded up).

use std::time::{Duration, Instant};

use tongban_ledger::crypto::sha256;
use tongban_ledger::ids::LicenceId;
use tongban_ledger::types::{RecordBody, RecordPayload, SignedRecord};
use tongban_tests::cluster::{member_id, test_key, type_code, Cluster, CHAIN_ID};

fn committed_records(cluster: &Cluster, node: usize) -> u64 {
    cluster.nodes[node].metric("tongban_committed_records_total")
}

/// Cumulative (upper bound seconds, count) buckets of the latency histogram.
fn latency_buckets(text: &str) -> Vec<(f64, u64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("tongban_commit_latency_seconds_bucket{le=\""))
        .filter_map(|rest| {
            let (bound, count) = rest.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

fn percentile(buckets: &[(f64, u64)], p: f64) -> f64 {
    let total = buckets.last().map_or(0, |b| b.1);
    let target = (total as f64 * p).ceil() as u64;
    buckets
        .iter()
        .find(|(_, count)| *count >= target)
        .map_or(f64::NAN, |(bound, _)| *bound)
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture"]
fn four_validators_throughput_and_latency() {
    let records: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut cluster = Cluster::new(4, 1, 1_000);
    cluster.start_all();
    cluster.wait_height(&[0, 1, 2, 3], 1);
    let publish = cluster.admin_record(
        0,
        RecordBody::PublishLicenceType {
            type_code: type_code(),
            name: "营业执照".to_string(),
            issuers: (1..=4).map(member_id).collect(),
        },
    );
    let (code, body) = cluster.nodes[0].submit(&publish, true);
    assert_eq!(code, 200, "{body}");
    let base = committed_records(&cluster, 0);

    // Pre-sign everything before the clock starts.
    let threads = 4;
    let mut batches: Vec<Vec<SignedRecord>> = vec![Vec::new(); threads];
    for i in 0..records {
        let member = (i % 4) as u32 + 1;
        let key = test_key(member as u8);
        let licence_id = LicenceId::compose(
            &type_code(),
            member_id(member).as_str(),
            &format!("B{i:09}"),
            1,
        )
        .expect("licence id");
        let record = RecordPayload {
            chain_id: CHAIN_ID.to_string(),
            author: tongban_ledger::crypto::public_key(&key),
            nonce: 1 + (i / 4) as u64,
            body: RecordBody::IssueLicence {
                licence_id,
                type_code: type_code(),
                holder_commitment: sha256(&[b"holder".as_slice(), &i.to_le_bytes()]),
                document_hash: sha256(&[b"doc".as_slice(), &i.to_le_bytes()]),
                valid_from: 0,
                valid_until: None,
                supersedes: None,
            },
        }
        .sign(&key);
        // One member's records stay on one thread, in nonce order (a later nonce
        // committing first would make the earlier one stale).
        batches[i % 4].push(record);
    }
    let apis: Vec<String> = cluster.nodes.iter().map(|n| n.api.clone()).collect();
    let started = Instant::now();
    let mut handles = Vec::new();
    for (t, batch) in batches.into_iter().enumerate() {
        let api = apis[t].clone();
        handles.push(std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut refused = 0u64;
            for record in batch {
                loop {
                    let response = client
                        .post(format!("{api}/v1/records"))
                        .json(&record)
                        .send();
                    match response.map(|r| r.status().as_u16()) {
                        Ok(202) | Ok(200) => break,
                        // Back-pressure: the mempool is full; wait and retry.
                        Ok(503) => std::thread::sleep(Duration::from_millis(20)),
                        _ => {
                            refused += 1;
                            break;
                        }
                    }
                }
            }
            refused
        }));
    }
    let refused: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    let posted = started.elapsed();
    let expected = base + records as u64 - refused;
    cluster.wait_for("every record committed", Duration::from_secs(600), |c| {
        committed_records(c, 0) >= expected
    });
    let elapsed = started.elapsed();
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for node in &cluster.nodes {
        let (_, metrics) = node.get("/metrics");
        for (i, (bound, count)) in latency_buckets(metrics.as_str().unwrap_or_default())
            .into_iter()
            .enumerate()
        {
            match buckets.get_mut(i) {
                Some(slot) => slot.1 += count,
                None => buckets.push((bound, count)),
            }
        }
    }
    let height = cluster.nodes[0].height();
    eprintln!(
        "records={records} refused={refused} posted_in={:.2}s committed_in={:.2}s \
         throughput={:.0} records/s height={height} latency_p50<={}s latency_p99<={}s",
        posted.as_secs_f64(),
        elapsed.as_secs_f64(),
        (records as u64 - refused) as f64 / elapsed.as_secs_f64(),
        percentile(&buckets, 0.50),
        percentile(&buckets, 0.99),
    );
}
