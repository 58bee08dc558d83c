//! Stored state tree node speed: decoding (every node the tree update or the read-ahead
//! reads from RocksDB goes through `decode_state_node_view`, every node jmt reads for a
//! proof through `decode_state_node`) and encoding (what the tree update does for every
//! node it writes), over the nodes one block of 10,000 new keys writes into a tree of
//! 100,000: full internal nodes at the top, sparse ones below, and the leaves.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jmt::storage::Node;
use tongban_ledger::crypto::sha256;
use tongban_ledger::state::StateChanges;
use tongban_ledger::state_tree::NodeView;
use tongban_ledger::state_tree::StateTree;
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::store::{
    decode_state_node, decode_state_node_view, encode_internal_node, encode_state_node, Store,
    StoreBatch,
};

const EXISTING: u64 = 100_000;
const BLOCK: u64 = 10_000;

fn changes(from: u64, count: u64) -> StateChanges {
    (from..from + count)
        .map(|i| (sha256(&[&i.to_le_bytes()]), Some(vec![1u8; 32])))
        .collect()
}

/// The nodes one block writes, each with its stored bytes.
fn block_nodes() -> Vec<(Node, Vec<u8>)> {
    let store = MemoryStore::new();
    let (_, nodes) = StateTree::new(&store)
        .apply(&changes(0, EXISTING), 0)
        .expect("apply");
    let mut batch = StoreBatch::new();
    batch.put_state_nodes(&nodes);
    store.write(&batch).expect("write");
    let (_, nodes) = StateTree::new(&store)
        .apply(&changes(EXISTING, BLOCK), 1)
        .expect("apply");
    nodes
        .nodes()
        .iter()
        .map(|(_, bytes)| (decode_state_node(bytes).expect("decodes"), bytes.clone()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let nodes = block_nodes();
    let internal: Vec<&[u8]> = nodes
        .iter()
        .filter(|(node, _)| matches!(node, Node::Internal(_)))
        .map(|(_, bytes)| bytes.as_slice())
        .collect();
    let leaves: Vec<&[u8]> = nodes
        .iter()
        .filter(|(node, _)| matches!(node, Node::Leaf(_)))
        .map(|(_, bytes)| bytes.as_slice())
        .collect();
    let mut group = c.benchmark_group("state_nodes");
    group.throughput(Throughput::Elements(internal.len() as u64));
    group.bench_function(format!("decode/{}_internal", internal.len()), |b| {
        b.iter(|| {
            for bytes in &internal {
                decode_state_node(bytes).unwrap();
            }
        })
    });
    group.bench_function(format!("decode_view/{}_internal", internal.len()), |b| {
        b.iter(|| {
            for bytes in &internal {
                decode_state_node_view(bytes).unwrap();
            }
        })
    });
    group.throughput(Throughput::Elements(leaves.len() as u64));
    group.bench_function(format!("decode/{}_leaves", leaves.len()), |b| {
        b.iter(|| {
            for bytes in &leaves {
                decode_state_node(bytes).unwrap();
            }
        })
    });
    group.throughput(Throughput::Elements(nodes.len() as u64));
    group.bench_function(format!("encode/{}_nodes", nodes.len()), |b| {
        b.iter(|| {
            for (node, _) in &nodes {
                encode_state_node(node);
            }
        })
    });
    let slots: Vec<_> = nodes
        .iter()
        .filter_map(|(node, _)| match NodeView::of(node) {
            NodeView::Internal(slots) => Some(slots),
            _ => None,
        })
        .collect();
    group.throughput(Throughput::Elements(slots.len() as u64));
    group.bench_function(format!("encode_from_slots/{}_internal", slots.len()), |b| {
        b.iter(|| {
            for children in &slots {
                encode_internal_node(children);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
