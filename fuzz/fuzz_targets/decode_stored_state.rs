//! Stored state tree nodes and values are read back from disk, where a bad sector or a
//! hand-edited database can put anything. Decoding must fail cleanly, never panic; a
//! node that decodes must re-encode to a form that decodes to it, and compact bytes
//! that decode must be exactly that node's encoding (ADR 0010); and the tree update's
//! decoder must accept exactly the same bytes, as the same node.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::state_tree::NodeView;
use tongban_ledger::store::{
    decode_state_node, decode_state_node_view, decode_state_value, encode_state_node,
    COMPACT_INTERNAL_NODE,
};

fuzz_target!(|data: &[u8]| {
    let node = decode_state_node(data);
    assert_eq!(
        decode_state_node_view(data).ok(),
        node.as_ref().ok().map(NodeView::of)
    );
    if let Ok(node) = node {
        let stored = encode_state_node(&node);
        assert_eq!(decode_state_node(&stored).ok(), Some(node));
        if data.first() == Some(&COMPACT_INTERNAL_NODE) {
            assert_eq!(stored, data);
        }
    }
    let _ = decode_state_value(data);
});
