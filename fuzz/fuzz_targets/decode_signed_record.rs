//! Records arrive from the network (gossip, `POST /v1/records`) and from disk.
//! Decoding any bytes must not panic; a decoded record must re-encode to exactly the
//! input (one encoding per value), and hashing and signature checking must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::codec::{decode, encode};
use tongban_ledger::types::SignedRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = decode::<SignedRecord>(data) {
        assert_eq!(encode(&record), data, "a record has two encodings");
        let _ = record.hash();
        let _ = record.verify_signature();
        let _ = record.payload.body.kind();
    }
});
