//! Four validators as real processes: they commit and agree on head and state root; a
//! licence issued through node 1 is proved through node 3 and the proof verifies with
//! only the genesis; bad API input gets a 4xx with its code and changes nothing.
//!
//! Needs the binaries: `cargo build --release --bins` before `cargo test --release`.

use serde_json::{json, Value};
use tongban_ledger::crypto::sha256;
use tongban_ledger::ids::{ItemCode, LicenceId};
use tongban_ledger::proof::{verify, ProofBundle, Verdict, VerifyOptions};
use tongban_ledger::types::{CaseMode, RecordBody, RecordPayload};
use tongban_ledger::wire::{RecordBatch, SyncedBlock};
use tongban_tests::cluster::{member_id, now_ms, type_code, Cluster, CHAIN_ID};

fn block_hash_at(cluster: &Cluster, node: usize, height: u64) -> (String, String) {
    let (code, body) = cluster.nodes[node].get(&format!("/v1/blocks/{height}"));
    assert_eq!(code, 200, "node {node} block {height}: {body}");
    (
        body["block_hash"].as_str().unwrap_or_default().to_string(),
        body["block"]["header"]["state_root"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn expect_error(response: (u16, Value), status: u16, code: &str) {
    let (got_status, body) = response;
    assert_eq!(got_status, status, "expected {status} {code}, got {body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[test]
fn four_validators_agree_prove_and_refuse_bad_input() {
    let mut cluster = Cluster::new(4, 1, 1_000);
    cluster.start_all();
    cluster.wait_height(&[0, 1, 2, 3], 2);

    // The catalogue: member 1 issues the test licence type; an item for cases.
    let publish = cluster.admin_record(
        0,
        RecordBody::PublishLicenceType {
            type_code: type_code(),
            name: "营业执照".to_string(),
            issuers: vec![member_id(1)],
        },
    );
    let (code, body) = cluster.nodes[1].submit(&publish, true);
    assert_eq!(code, 200, "{body}");
    // The next records depend on this one and go to other nodes, which check them
    // against their own head: wait until every node has committed it.
    cluster.wait_height(&[0, 1, 2, 3], body["height"].as_u64().expect("height"));
    let item = ItemCode::parse("ITEM-001").expect("item code");
    let publish_item = cluster.admin_record(
        0,
        RecordBody::PublishItem {
            item_code: item.clone(),
            name: "企业开办".to_string(),
            time_limit_days: 5,
            modes: vec![CaseMode::Online, CaseMode::RemoteAcceptance],
            uses_types: vec![],
            issues_types: vec![type_code()],
        },
    );
    let (code, body) = cluster.nodes[2].submit(&publish_item, true);
    assert_eq!(code, 200, "{body}");
    cluster.wait_height(&[0, 1, 2, 3], body["height"].as_u64().expect("height"));

    // Issue a licence through node 1 (index 0), member 1's node.
    let licence_id = LicenceId::compose(&type_code(), member_id(1).as_str(), "2024000001", 1)
        .expect("licence id");
    let document = b"business licence document".to_vec();
    let (code, body) = cluster.nodes[0].post(
        "/v1/licences?wait=commit",
        &json!({
            "licence_id": licence_id,
            "type_code": type_code(),
            "holder_commitment": sha256(&[b"salt".as_slice(), b"holder".as_slice()]),
            "document_hash": sha256(&[document.as_slice()]),
            "valid_from": now_ms() - 1_000,
            "valid_until": null,
        }),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "committed", "{body}");
    let issued_height = body["height"].as_u64().expect("height");

    // Every node commits that height and agrees on its block (hence on its state root).
    cluster.wait_height(&[0, 1, 2, 3], issued_height + 1);
    for height in 1..=issued_height + 1 {
        let first = block_hash_at(&cluster, 0, height);
        for node in 1..4 {
            assert_eq!(
                block_hash_at(&cluster, node, height),
                first,
                "height {height}"
            );
        }
    }

    // The record is found with its inclusion proof on another node.
    let record_hash = body["record_hash"].as_str().expect("hash").to_string();
    let (code, found) = cluster.nodes[3].get(&format!("/v1/records/{record_hash}"));
    assert_eq!(code, 200, "{found}");
    assert_eq!(found["status"], "committed");
    assert_eq!(found["height"].as_u64(), Some(issued_height));

    // Proved through node 3 (index 2), verified with nothing but the genesis.
    let (code, proof) = cluster.nodes[2].get(&format!("/v1/licences/{licence_id}/proof"));
    assert_eq!(code, 200, "{proof}");
    let bundle = ProofBundle::from_json(proof.to_string().as_bytes()).expect("bundle parses");
    let options = VerifyOptions {
        now_ms: now_ms(),
        max_age_ms: None,
        document: Some(document.as_slice()),
    };
    assert_eq!(verify(&bundle, &cluster.genesis, &options), Verdict::Valid);
    let wrong_document = VerifyOptions {
        document: Some(b"forged".as_slice()),
        ..options
    };
    assert_ne!(
        verify(&bundle, &cluster.genesis, &wrong_document),
        Verdict::Valid
    );

    // A case, opened through node 1 (accepting member 1), handled by member 2.
    let case_id = format!("{}-C0001", member_id(1));
    let (code, body) = cluster.nodes[0].post(
        "/v1/cases?wait=commit",
        &json!({
            "case_id": case_id,
            "item_code": item,
            "mode": "online",
            "handling": [member_id(2)],
            "applicant_commitment": sha256(&[b"salt".as_slice(), b"applicant".as_slice()]),
            "deadline": now_ms() + 86_400_000,
        }),
    );
    assert_eq!(code, 200, "{body}");
    let (code, case) = cluster.nodes[3].get(&format!("/v1/cases/{case_id}"));
    assert_eq!(code, 200, "{case}");
    assert_eq!(case["case"]["state"], "submitted");
    assert_eq!(case["overdue"], false);

    // ---- Bad input: each answer is a 4xx with its code, and nothing changes. ----
    let mut forged = cluster.admin_record(0, RecordBody::Approve { proposal_id: 1 });
    forged.signature.0[3] ^= 0x40;
    let node = &cluster.nodes[0];
    let before = node.status().expect("status");
    let root_before = before["state_root"].as_str().expect("root").to_string();

    // Malformed JSON.
    expect_error(
        node.post_raw("/v1/records", b"{not json".to_vec(), None),
        400,
        "malformed_json",
    );
    // A record with a bad signature.
    expect_error(node.submit(&forged, false), 422, "bad_signature");
    // A replayed nonce: a new record with the nonce of a committed one.
    let replay = RecordPayload {
        chain_id: CHAIN_ID.to_string(),
        author: publish.payload.author,
        nonce: publish.payload.nonce,
        body: RecordBody::Approve { proposal_id: 7 },
    }
    .sign(&cluster.admins[0]);
    expect_error(node.submit(&replay, false), 422, "stale_nonce");
    // The wrong author for a licence: member 2's node tries to revoke member 1's licence.
    expect_error(
        cluster.nodes[1].post(
            &format!("/v1/licences/{licence_id}/status?wait=commit"),
            &json!({ "action": "revoke", "reason": "not mine to revoke" }),
        ),
        422,
        "not_licence_issuer",
    );
    // An invalid case transition: Submitted → Approved.
    expect_error(
        cluster.nodes[1].post(
            &format!("/v1/cases/{case_id}/advance?wait=commit"),
            &json!({ "to": "approved" }),
        ),
        422,
        "invalid_case_transition",
    );
    // Invalid identifiers, in the path and in a body.
    expect_error(
        node.get("/v1/licences/1.2.156.3005.2.NOPE"),
        400,
        "invalid_id",
    );
    expect_error(
        node.post(
            "/v1/licences",
            &json!({
                "licence_id": "not-a-licence-id",
                "type_code": type_code(),
                "holder_commitment": sha256(&[b"h".as_slice()]),
                "document_hash": sha256(&[b"d".as_slice()]),
                "valid_from": 0,
            }),
        ),
        400,
        "invalid_id",
    );
    // An oversized body.
    let huge = vec![b' '; 2 * 1024 * 1024];
    expect_error(
        node.post_raw("/v1/records", huge, None),
        413,
        "body_too_large",
    );
    // No bearer token on an operator route.
    expect_error(
        node.post_raw(
            "/v1/licences",
            b"{}".to_vec(),
            Some("wrong-token-wrong-token"),
        ),
        401,
        "unauthorized",
    );

    // Batches: an empty one and one over the limit are refused whole; in a batch of bad
    // records each gets its own refusal with the same code as alone.
    expect_error(
        node.post_raw("/v1/records/batch", b"[]".to_vec(), None),
        400,
        "bad_batch_size",
    );
    let too_many = vec![serde_json::to_value(&forged).expect("JSON"); 1_001];
    expect_error(
        node.post("/v1/records/batch", &Value::Array(too_many)),
        400,
        "bad_batch_size",
    );
    let (code, answer) = node.post("/v1/records/batch", &json!([forged, replay]));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["accepted"], 0, "{answer}");
    assert_eq!(answer["refused"], 2, "{answer}");
    assert_eq!(answer["results"][0]["code"], "bad_signature", "{answer}");
    assert_eq!(answer["results"][1]["code"], "stale_nonce", "{answer}");
    assert_eq!(answer["results"][0]["record_hash"], json!(forged.hash()));
    // The same batch in the codec's form (what nodes gossip) gets the same verdicts;
    // bytes that do not decode are refused whole.
    let bytes = RecordBatch(vec![forged.clone(), replay.clone()]).to_bytes();
    let (code, answer) = node.post_bytes("/v1/records/batch", bytes.clone());
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["refused"], 2, "{answer}");
    assert_eq!(answer["results"][0]["code"], "bad_signature", "{answer}");
    assert_eq!(answer["results"][1]["code"], "stale_nonce", "{answer}");
    expect_error(
        node.post_bytes("/v1/records/batch", bytes[..bytes.len() - 1].to_vec()),
        400,
        "malformed_batch",
    );
    expect_error(
        node.post_bytes("/v1/records/batch", RecordBatch(vec![]).to_bytes()),
        400,
        "bad_batch_size",
    );
    // A block in the codec's form is the one the JSON shows, with its commit.
    let (code, json_block) = node.get("/v1/blocks/1");
    assert_eq!(code, 200, "{json_block}");
    let (code, content_type, bytes) = node.get_bytes("/v1/blocks/1");
    assert_eq!(
        (code, content_type.as_str()),
        (200, "application/octet-stream")
    );
    let synced = SyncedBlock::from_bytes(&bytes).expect("a block and its commit");
    assert_eq!(json!(synced.block.header.hash()), json_block["block_hash"]);
    assert_eq!(json!(synced.commit.block_hash), json_block["block_hash"]);
    assert_eq!(node.get_bytes("/v1/blocks/1000000").0, 404);

    // Nothing changed: after another block the state root is the same and the licence
    // is still active.
    let height = before["height"].as_u64().expect("height");
    cluster.wait_height(&[0], height + 2);
    let after = node.status().expect("status");
    assert_eq!(after["state_root"].as_str(), Some(root_before.as_str()));
    let (code, licence) = node.get(&format!("/v1/licences/{licence_id}"));
    assert_eq!(code, 200);
    assert_eq!(licence["licence"]["status"], "active");

    // Metrics show the rejections by reason: the forged record alone, in a JSON batch
    // and in a batch of bytes.
    let (code, metrics) = node.get("/metrics");
    assert_eq!(code, 200);
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.contains("tongban_rejected_records_total{reason=\"bad_signature\"} 3"),
        "{text}"
    );
    assert!(text.contains("tongban_height"), "{text}");
    let (code, health) = node.get("/healthz");
    assert_eq!(code, 200, "{health}");

    // A good batch: two catalogue items from one admin, in nonce order, plus a third
    // record that is refused; the good ones commit, the refused one changes nothing.
    let items: Vec<_> = ["ITEM-101", "ITEM-102"]
        .iter()
        .map(|code| {
            cluster.admin_record(
                0,
                RecordBody::PublishItem {
                    item_code: ItemCode::parse(code).expect("item code"),
                    name: format!("batch item {code}"),
                    time_limit_days: 3,
                    modes: vec![CaseMode::Online],
                    uses_types: vec![],
                    issues_types: vec![],
                },
            )
        })
        .collect();
    let node = &cluster.nodes[2];
    let (code, answer) = node.post("/v1/records/batch", &json!([items[0], items[1], forged]));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["results"][0]["status"], "pending", "{answer}");
    assert_eq!(answer["results"][1]["status"], "pending", "{answer}");
    assert_eq!(answer["results"][2]["status"], "refused", "{answer}");
    assert_eq!(answer["results"][2]["code"], "bad_signature", "{answer}");
    // Both commit (a re-submission answers "committed" once they have).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (code, answer) = cluster.nodes[0].post("/v1/records/batch", &json!(items));
        assert_eq!(code, 200, "{answer}");
        let statuses: Vec<&str> = answer["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["status"].as_str().unwrap_or_default())
            .collect();
        if statuses == ["committed", "committed"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "batch records not committed: {answer}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (code, catalog) = cluster.nodes[3].get("/v1/catalog");
    assert_eq!(code, 200);
    let text = catalog.to_string();
    assert!(
        text.contains("ITEM-101") && text.contains("ITEM-102"),
        "{catalog}"
    );
}
