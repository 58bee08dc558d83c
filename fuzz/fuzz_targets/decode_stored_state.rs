//! Stored state tree nodes and values are read back from disk, where a bad sector or a
//! hand-edited database can put anything. Decoding must fail cleanly, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::store::{decode_state_node, decode_state_value};

fuzz_target!(|data: &[u8]| {
    let _ = decode_state_node(data);
    let _ = decode_state_value(data);
});
