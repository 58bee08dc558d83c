//! `POST /v1/records` takes a pre-signed record as JSON. Parsing any bytes must not
//! panic, and a parsed record survives a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::types::SignedRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = serde_json::from_slice::<SignedRecord>(data) {
        let text = serde_json::to_string(&record).expect("a parsed record serialises");
        let back: SignedRecord = serde_json::from_str(&text).expect("and parses back");
        assert_eq!(back, record);
        let _ = record.verify_signature();
    }
});
