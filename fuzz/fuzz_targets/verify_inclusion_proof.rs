//! Inclusion proofs reach the offline verifier as JSON from any node. Checking any
//! proof against any leaf and root must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::merkle::{verify_record_inclusion, InclusionProof};
use tongban_ledger::Hash32;

fuzz_target!(|data: &[u8]| {
    if data.len() < 64 {
        return;
    }
    let (keys, rest) = data.split_at(64);
    let mut leaf = [0u8; 32];
    let mut root = [0u8; 32];
    leaf.copy_from_slice(&keys[..32]);
    root.copy_from_slice(&keys[32..]);
    if let Ok(proof) = serde_json::from_slice::<InclusionProof>(rest) {
        let _ = verify_record_inclusion(&proof, &Hash32(leaf), &Hash32(root));
    }
});
