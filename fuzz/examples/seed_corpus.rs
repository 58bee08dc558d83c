//! Writes a seed corpus for every fuzz target from the golden-test fixtures
//! (`ledger/tests/common/fixtures.rs`): valid encodings of every record variant, a
//! block, votes, a proposal and a commit, valid identifiers, JSON records and an
//! inclusion proof. Starting from valid input lets the fuzzer reach the nested
//! structures at once instead of rediscovering length prefixes and tags.
//!
//! `cargo run --example seed_corpus` (from `fuzz/`) writes `corpus/<target>/seed-*`.

use std::fs;
use std::path::Path;

use tongban_ledger::codec::encode;
use tongban_ledger::merkle::records_inclusion_proof;
use tongban_ledger::types::SignedRecord;

#[path = "../../ledger/tests/common/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use fixtures::*;

fn write(target: &str, seeds: Vec<Vec<u8>>) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir)?;
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:03}")), seed)?;
    }
    println!("{target}: {} seeds in {}", seeds.len(), dir.display());
    Ok(())
}

fn main() -> std::io::Result<()> {
    let records: Vec<SignedRecord> = records().into_iter().map(|(_, r)| r).collect();
    let block = block();

    write(
        "decode_signed_record",
        records.iter().map(|r| encode(r)).collect(),
    )?;
    write("decode_block", vec![encode(&block)])?;
    write(
        "decode_consensus_message",
        vec![
            encode(&signed_vote(vote(), 0, 1)),
            encode(&signed_vote(nil_vote(), 1, 3)),
            encode(&signed_proposal()),
            encode(&commit()),
        ],
    )?;
    write(
        "parse_ids",
        [
            member_fuzhou().to_string(),
            region().to_string(),
            type_code().to_string(),
            licence_id().to_string(),
            licence_id_2().to_string(),
            case_id().to_string(),
            item_code().to_string(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect(),
    )?;
    write(
        "decode_json_record",
        records
            .iter()
            .map(|r| serde_json::to_vec(r).expect("fixture JSON"))
            .collect(),
    )?;
    let hashes: Vec<_> = block.records.iter().map(SignedRecord::hash).collect();
    let mut proof_seed = Vec::new();
    proof_seed.extend_from_slice(&hashes[2].0);
    proof_seed.extend_from_slice(&block.header.records_root.0);
    let proof = records_inclusion_proof(&hashes, 2).expect("fixture proof");
    proof_seed.extend(serde_json::to_vec(&proof).expect("proof JSON"));
    write("verify_inclusion_proof", vec![proof_seed])?;
    Ok(())
}
