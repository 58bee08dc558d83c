//! Everything a node reads from another node over gossip and block sync
//! (`tongban_ledger::wire`): record batches, consensus messages and synced blocks. Each
//! kind is tried on the same bytes: decoding must not panic, whatever decodes re-encodes
//! to exactly the input, and a record batch holds 1..=MAX_RECORDS_PER_BATCH records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::wire::{ConsensusGossip, RecordBatch, SyncedBlock, MAX_RECORDS_PER_BATCH};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = RecordBatch::from_bytes(data) {
        assert_eq!(batch.to_bytes(), data, "a record batch has two encodings");
        assert!((1..=MAX_RECORDS_PER_BATCH).contains(&batch.0.len()));
        for record in &batch.0 {
            let _ = record.hash();
        }
    }
    if let Ok(gossip) = ConsensusGossip::from_bytes(data) {
        assert_eq!(gossip.to_bytes(), data, "a consensus message has two encodings");
        let _ = gossip.message.height();
    }
    if let Ok(synced) = SyncedBlock::from_bytes(data) {
        assert_eq!(synced.to_bytes(), data, "a synced block has two encodings");
        let _ = synced.block.header.hash();
    }
});
