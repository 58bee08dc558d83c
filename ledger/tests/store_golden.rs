//! Golden bytes of everything the store writes and of the state root hashing: an
//! accidental change of a key layout, a stored encoding, jmt's node serialization or
//! jmt's hashing fails here. Change a fixture only together with a migration note.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use tongban_ledger::chain::{ChainHead, INDEX_VALIDATOR_SET, META_GENESIS, META_HEAD};
use tongban_ledger::codec::encode;
use tongban_ledger::state::StateChanges;
use tongban_ledger::state_tree::{StateProof, StateTree};
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::store::{
    decode_state_node, encode_state_node, height_key, value_key, Column, RecordLocation, Store,
    StoreBatch,
};
use tongban_ledger::Hash32;

/// Two keys that split at the first nibble, at version 0, written to a memory store.
fn two_key_store() -> (MemoryStore, Hash32, StoreBatch) {
    let store = MemoryStore::new();
    let mut changes = StateChanges::new();
    changes.insert(Hash32([0x00; 32]), Some(b"a".to_vec()));
    changes.insert(Hash32([0xf0; 32]), Some(b"b".to_vec()));
    let (root, nodes) = StateTree::new(&store).apply(&changes, 0).expect("apply");
    let mut batch = StoreBatch::new();
    batch.put_state_nodes(&nodes);
    store.write(&batch).expect("write");
    (store, root, batch)
}

fn dump(batch: &StoreBatch) -> BTreeMap<(&'static str, String), String> {
    batch
        .ops()
        .iter()
        .map(|op| {
            (
                (op.column.name(), hex::encode(&op.key)),
                hex::encode(op.value.as_deref().unwrap_or_default()),
            )
        })
        .collect()
}

#[test]
fn state_tree_root_and_stored_nodes() {
    let (store, root, batch) = two_key_store();
    let got = dump(&batch);
    let expected: BTreeMap<(&str, String), String> = GOLDEN_NODES
        .iter()
        .map(|(c, k, v)| ((*c, k.to_string()), v.to_string()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(root.to_hex(), GOLDEN_ROOT);

    // The root is the binary SMT hash of DESIGN §5 / ADR 0002, recomputed by hand:
    // the two leaves split at bit 0, so root = H_internal(leaf(0x00..), leaf(0xf0..)).
    let leaf = |k: [u8; 32], v: &[u8]| {
        tongban_ledger::state_tree::StateProofLeaf {
            key_hash: Hash32(k),
            value_hash: tongban_ledger::crypto::sha256(&[v]),
        }
        .hash()
    };
    let by_hand =
        tongban_ledger::state_tree::internal_hash(&leaf([0x00; 32], b"a"), &leaf([0xf0; 32], b"b"));
    assert_eq!(root, by_hand);

    let (value, proof) = StateTree::new(&store)
        .get_with_proof(&Hash32([0xf0; 32]), 0)
        .expect("proof");
    assert_eq!(value.as_deref(), Some(&b"b"[..]));
    assert_eq!(
        serde_json::to_string(&proof).expect("json"),
        GOLDEN_PROOF_JSON
    );
    let back: StateProof = serde_json::from_str(GOLDEN_PROOF_JSON).expect("parse");
    back.verify(&root, &Hash32([0xf0; 32]), Some(b"b"))
        .expect("verifies");
}

#[test]
fn nodes_stored_before_the_compact_form_still_read() {
    // A store written before ADR 0010 holds internal nodes in the codec's form; they
    // decode to the same node as the compact form, which is what is written now.
    let old = hex::decode(GOLDEN_CODEC_ROOT_NODE).expect("hex");
    let new = hex::decode(GOLDEN_NODES[0].2).expect("hex");
    let from_old = decode_state_node(&old).expect("old form decodes");
    assert_eq!(from_old, decode_state_node(&new).expect("new form decodes"));
    assert_eq!(encode_state_node(&from_old), new);

    // And a tree whose root is stored in the old form still proves against its root.
    let (store, root, _) = two_key_store();
    let mut batch = StoreBatch::new();
    batch.put(
        Column::StateNodes,
        hex::decode(GOLDEN_NODES[0].1).expect("hex"),
        old,
    );
    store.write(&batch).expect("write");
    let (value, proof) = StateTree::new(&store)
        .get_with_proof(&Hash32([0x00; 32]), 0)
        .expect("proof");
    proof
        .verify(&root, &Hash32([0x00; 32]), value.as_deref())
        .expect("verifies");
}

#[test]
fn key_layouts_and_small_values() {
    assert_eq!(hex::encode(height_key(258)), "0000000000000102");
    assert_eq!(
        hex::encode(value_key(&Hash32([0xab; 32]), 258)),
        format!("{}0000000000000102", "ab".repeat(32))
    );
    assert_eq!(
        hex::encode(encode(&RecordLocation {
            height: 258,
            index: 3
        })),
        "020100000000000003000000"
    );
    let head = ChainHead {
        height: 1,
        block_hash: Hash32([1; 32]),
        state_root: Hash32([2; 32]),
        time_ms: 3,
    };
    assert_eq!(
        hex::encode(encode(&head)),
        format!(
            "0100000000000000{}{}0300000000000000",
            "01".repeat(32),
            "02".repeat(32)
        )
    );
    assert_eq!(META_HEAD, b"chain/head");
    assert_eq!(META_GENESIS, b"chain/genesis");
    assert_eq!(INDEX_VALIDATOR_SET, b"vset/");
    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "blocks",
            "commits",
            "records",
            "state_nodes",
            "state_values",
            "indexes",
            "meta",
            "headers"
        ]
    );
}

const GOLDEN_ROOT: &str = "fa550c7fce9cd8914d34efc9758fd7159ac0575e08a678db622423d453e5c4dd";
/// The proof of key 0xf0.. : its own leaf, and one sibling, the leaf of key 0x00.. .
const GOLDEN_PROOF_JSON: &str = concat!(
    r#"{"leaf":{"key_hash":"f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0","#,
    r#""value_hash":"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"},"#,
    r#""siblings":["d12f4c356dfd88cee9ce4c2c10fae1fbee63ddba7495143627c46541211a622a"]}"#
);
/// The root node of [`GOLDEN_NODES`] as stores before ADR 0010 hold it (the codec form:
/// `Node::Internal`, variant 1, then 16 slots, the child count and the leaf count).
const GOLDEN_CODEC_ROOT_NODE: &str = "0100000001d12f4c356dfd88cee9ce4c2c10fae1fbee63ddba7495143627c46541211a622a000000000000000000000000000000000000000000000000000001ba6d13ed901cf48698d7f4c655206d247f1c838d684485e08600d1f0e69992ed00000000000000000000000002000000000000000200000000000000";

/// (column, key, value) in hex. The root: a compact internal node (ADR 0010): `c1`, the
/// bitmap of children present and the bitmap of leaf children (both `0180`: nibbles 0
/// and f), then per child its hash and its version as LEB128 (`00`). The leaves:
/// `Node::Leaf` (variant 2) = key hash ‖ sha256(value).
const GOLDEN_NODES: &[(&str, &str, &str)] = &[
    (
        "state_nodes",
        "000000000000000000000000000000000000000000000000",
        "c101800180d12f4c356dfd88cee9ce4c2c10fae1fbee63ddba7495143627c46541211a622a00ba6d13ed901cf48698d7f4c655206d247f1c838d684485e08600d1f0e69992ed00",
    ),
    (
        "state_nodes",
        "00000000000000000100000000000000010000000000000000",
        "020000000000000000000000000000000000000000000000000000000000000000000000ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
    ),
    (
        "state_nodes",
        "000000000000000001000000000000000100000000000000f0",
        "02000000f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f03e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
    ),
    (
        "state_values",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "01010000000000000061",
    ),
    (
        "state_values",
        "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f00000000000000000",
        "01010000000000000062",
    ),
];
