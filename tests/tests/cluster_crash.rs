//! kill -9 one of four validators under a steady stream of records: the other three go
//! on committing; restarted, it catches up to the same head, and every record any node
//! reported committed is still there, on every node.
//!
//! Needs the binaries: `cargo build --release --bins` before `cargo test --release`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tongban_ledger::crypto::sha256;
use tongban_ledger::ids::LicenceId;
use tongban_ledger::types::RecordBody;
use tongban_tests::cluster::{member_id, now_ms, type_code, Cluster, DEFAULT_WAIT};

/// Committed records reported to the load generators: (record hash, height).
type Reported = Arc<Mutex<Vec<(String, u64)>>>;

fn load(
    api: String,
    token: String,
    member: u32,
    stop: Arc<AtomicBool>,
    serial: Arc<AtomicU64>,
    reported: Reported,
) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    while !stop.load(Ordering::Relaxed) {
        let n = serial.fetch_add(1, Ordering::Relaxed);
        let licence_id = LicenceId::compose(
            &type_code(),
            member_id(member).as_str(),
            &format!("S{n:09}"),
            1,
        )
        .expect("licence id");
        let body = json!({
            "licence_id": licence_id,
            "type_code": type_code(),
            "holder_commitment": sha256(&[b"holder".as_slice(), &n.to_le_bytes()]),
            "document_hash": sha256(&[b"doc".as_slice(), &n.to_le_bytes()]),
            "valid_from": 0,
        });
        let response = client
            .post(format!("{api}/v1/licences?wait=commit"))
            .bearer_auth(&token)
            .json(&body)
            .send();
        if let Ok(response) = response {
            if response.status().as_u16() == 200 {
                if let Ok(value) = response.json::<serde_json::Value>() {
                    if let (Some(hash), Some(height)) =
                        (value["record_hash"].as_str(), value["height"].as_u64())
                    {
                        reported
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((hash.to_string(), height));
                    }
                }
            }
        }
    }
}

#[test]
fn killed_validator_catches_up_and_nothing_committed_is_lost() {
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

    // A steady stream through nodes 1..3 (indexes 0..2), two clients each.
    let stop = Arc::new(AtomicBool::new(false));
    let serial = Arc::new(AtomicU64::new(0));
    let reported: Reported = Arc::default();
    let mut loaders = Vec::new();
    for index in 0..3 {
        for _ in 0..2 {
            let node = &cluster.nodes[index];
            let (api, token) = (node.api.clone(), node.token.clone());
            let (stop, serial, reported) = (stop.clone(), serial.clone(), reported.clone());
            let member = index as u32 + 1;
            loaders.push(std::thread::spawn(move || {
                load(api, token, member, stop, serial, reported)
            }));
        }
    }

    cluster.wait_for("records committed under load", DEFAULT_WAIT, |_| {
        reported.lock().map(|r| r.len() >= 20).unwrap_or(false)
    });
    let killed_at = cluster.nodes[3].height();
    cluster.nodes[3].kill();

    // The other three go on committing.
    let target = cluster.nodes[0].height() + 4;
    cluster.wait_height(&[0, 1, 2], target);
    let committed_while_down = reported.lock().map(|r| r.len()).unwrap_or(0);

    // Restart: it catches up while the load goes on.
    cluster.nodes[3].start();
    let target = cluster.nodes[0].height() + 2;
    cluster.wait_height(&[3], target);
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        let _ = loader.join();
    }

    // Same head on every node.
    let head = cluster.nodes.iter().map(|n| n.height()).max().unwrap_or(0);
    cluster.wait_height(&[0, 1, 2, 3], head);
    cluster.assert_same_block(head);

    // Every record reported committed is on every node, at the reported height.
    let reported = reported.lock().map(|r| r.clone()).unwrap_or_default();
    assert!(reported.len() >= committed_while_down && committed_while_down >= 20);
    for (hash, height) in &reported {
        for node in &cluster.nodes {
            let (code, found) = node.get(&format!("/v1/records/{hash}"));
            assert_eq!(
                code, 200,
                "record {hash} missing on node {}: {found}",
                node.index
            );
            assert_eq!(found["height"].as_u64(), Some(*height));
        }
    }
    eprintln!(
        "killed at height {killed_at}; {} records reported committed; head {head}; at {} ms",
        reported.len(),
        now_ms()
    );
}
