//! State proofs reach the offline verifier as JSON inside proof bundles from any node.
//! Decoding any bytes and checking any proof against any root, key and value must not
//! panic, and must never accept a proof that does not hash to the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::state_tree::StateProof;
use tongban_ledger::Hash32;

fuzz_target!(|data: &[u8]| {
    if data.len() < 65 {
        return;
    }
    let (head, rest) = data.split_at(65);
    let mut root = [0u8; 32];
    let mut key = [0u8; 32];
    root.copy_from_slice(&head[..32]);
    key.copy_from_slice(&head[32..64]);
    let claim_value = head[64] & 1 == 1;
    // The rest: a value length byte, the value, then the JSON proof.
    let (value, json) = match rest.split_first() {
        Some((len, tail)) if usize::from(*len) <= tail.len() => tail.split_at(usize::from(*len)),
        _ => return,
    };
    if let Ok(proof) = serde_json::from_slice::<StateProof>(json) {
        let value = claim_value.then_some(value);
        let (root, key) = (Hash32(root), Hash32(key));
        if proof.verify(&root, &key, value).is_ok() {
            assert_eq!(proof.root_for(&key), root);
        }
    }
});
