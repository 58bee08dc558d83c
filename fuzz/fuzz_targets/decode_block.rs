//! Blocks arrive from peers in block sync and from the store. Decoding any bytes must
//! not panic; a decoded block re-encodes to exactly the input, and computing its hash
//! and records root must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::codec::{decode, encode};
use tongban_ledger::merkle::records_root;
use tongban_ledger::types::{Block, SignedRecord};

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = decode::<Block>(data) {
        assert_eq!(encode(&block), data, "a block has two encodings");
        let _ = block.header.hash();
        let hashes: Vec<_> = block.records.iter().map(SignedRecord::hash).collect();
        let _ = records_root(&hashes);
    }
});
