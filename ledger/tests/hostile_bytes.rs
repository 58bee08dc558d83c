//! The decoders of outside bytes on random and mutated input, with proptest: the same
//! decoders and properties as the `fuzz/` targets, so that CI, which runs no fuzzer,
//! still covers them on every change.
//!
//! Properties: nothing panics; whatever decodes re-encodes to exactly the input (one
//! encoding per value, so a hash or signature cannot be made to cover two byte
//! strings); an accepted identifier keeps its text. Stored state tree nodes have two
//! readable forms (ADR 0010): a node that decodes re-encodes to a form that decodes to
//! it, and compact bytes that decode are exactly its encoding.

mod common;

use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;

use serde::{de::DeserializeOwned, Serialize};
use tongban_ledger::codec::{decode, encode, CodecError};
use tongban_ledger::ids::{CaseId, IdError, ItemCode, LicenceId, MemberId, RegionCode, TypeCode};
use tongban_ledger::merkle::{verify_record_inclusion, InclusionProof};
use tongban_ledger::state::StateChanges;
use tongban_ledger::state_tree::{NodeView, StateTree};
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::store::{
    decode_state_node, decode_state_node_view, decode_state_value, encode_state_node, Store,
    StoreBatch, COMPACT_INTERNAL_NODE,
};
use tongban_ledger::types::{Block, Commit, SignedProposal, SignedRecord, SignedVote};
use tongban_ledger::Hash32;

/// Decodes `bytes` as `T`; if that works, the value must encode back to `bytes`.
fn check_canonical<T: Serialize + DeserializeOwned + std::fmt::Debug>(
    bytes: &[u8],
) -> Result<bool, TestCaseError> {
    match decode::<T>(bytes) {
        Ok(value) => {
            prop_assert_eq!(
                encode(&value),
                bytes,
                "{} decoded from bytes it does not encode to: {:?}",
                std::any::type_name::<T>(),
                value
            );
            Ok(true)
        }
        Err(CodecError::Malformed(_) | CodecError::TrailingBytes { .. }) => Ok(false),
    }
}

/// Every binary decoder of outside bytes, as the fuzz targets run them.
fn all_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    if check_canonical::<SignedRecord>(bytes)? {
        if let Ok(record) = decode::<SignedRecord>(bytes) {
            let _ = record.verify_signature();
            let _ = record.hash();
        }
    }
    check_canonical::<Block>(bytes)?;
    check_canonical::<SignedVote>(bytes)?;
    check_canonical::<SignedProposal>(bytes)?;
    check_canonical::<Commit>(bytes)?;
    Ok(())
}

/// The six identifier parsers, as the `parse_ids` fuzz target runs them.
fn all_id_parsers(s: &str) -> Result<(), TestCaseError> {
    if let Ok(id) = MemberId::parse(s) {
        prop_assert_eq!(id.as_str(), s);
        let _ = id.region_code();
    }
    if let Ok(id) = RegionCode::parse(s) {
        prop_assert_eq!(id.as_str(), s);
    }
    if let Ok(id) = TypeCode::parse(s) {
        prop_assert_eq!(id.as_str(), s);
        let _ = id.defining_department();
    }
    if let Ok(id) = LicenceId::parse(s) {
        prop_assert_eq!(id.as_str(), s);
        let _ = (id.type_code(), id.issuer_code());
    }
    if let Ok(id) = CaseId::parse(s) {
        prop_assert_eq!(id.as_str(), s);
        let _ = id.accepting_member();
    }
    if let Ok(id) = ItemCode::parse(s) {
        prop_assert_eq!(id.as_str(), s);
    }
    Ok(())
}

/// Valid encodings of every message kind: the seeds that mutations start from, so that
/// mutated input gets past the first bytes and into the nested structures. Built once:
/// the fixtures sign records, which is slow in a debug build.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut out: Vec<Vec<u8>> = fixture_records().iter().map(encode).collect();
        out.push(encode(&block()));
        out.push(encode(&signed_vote(vote(), 0, 1)));
        out.push(encode(&signed_vote(nil_vote(), 1, 3)));
        out.push(encode(&signed_proposal()));
        out.push(encode(&commit()));
        out
    })
}

/// The fixture records, built once.
fn fixture_records() -> &'static [SignedRecord] {
    static RECORDS: OnceLock<Vec<SignedRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| records().into_iter().map(|(_, r)| r).collect())
}

/// Stored state tree nodes of a small tree of two versions, in the form written now
/// and in the codec's form (stores written before ADR 0010).
fn stored_node_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let store = MemoryStore::new();
        let mut seeds = Vec::new();
        for version in 0..2u64 {
            let changes: StateChanges = (0..60u32)
                .map(|i| {
                    let key = tongban_ledger::crypto::sha256(&[&i.to_le_bytes(), &[version as u8]]);
                    (key, Some(vec![version as u8; 4]))
                })
                .collect();
            let (_, nodes) = StateTree::new(&store)
                .apply(&changes, version)
                .expect("apply");
            for (_, stored) in nodes.nodes() {
                seeds.push(stored.clone());
                seeds.push(encode(&decode_state_node(stored).expect("decodes")));
            }
            let mut batch = StoreBatch::new();
            batch.put_state_nodes(&nodes);
            store.write(&batch).expect("write");
        }
        seeds
    })
}

/// A stored node that decodes re-encodes to a form that decodes to the same node; the
/// compact form is canonical: compact bytes that decode are exactly the bytes the node
/// encodes to; and the tree update's decoder accepts exactly the same bytes, as the
/// same node.
fn check_stored_node(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = decode_state_value(bytes);
    let node = decode_state_node(bytes);
    prop_assert_eq!(
        decode_state_node_view(bytes).ok(),
        node.as_ref().ok().map(NodeView::of)
    );
    if let Ok(node) = node {
        let stored = encode_state_node(&node);
        prop_assert_eq!(decode_state_node(&stored).ok(), Some(node));
        if bytes.first() == Some(&COMPACT_INTERNAL_NODE) {
            prop_assert_eq!(stored.as_slice(), bytes);
        }
    }
    Ok(())
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte.
    Flip(usize, u8),
    /// Overwrite eight bytes with a little-endian u64 (hits length prefixes and tags).
    Word(usize, u64),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Remove a range.
    Remove(usize, usize),
    /// Keep a prefix.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        2 => (any::<usize>(), prop_oneof![
            Just(0u64), Just(1), Just(2), Just(255), Just(u64::from(u32::MAX)),
            Just(u64::MAX), Just(1 << 40), any::<u64>()
        ]).prop_map(|(i, w)| Mutation::Word(i, w)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match m {
        Mutation::Flip(i, x) => {
            if let Some(b) = bytes.get_mut(i % len) {
                *b ^= x;
            }
        }
        Mutation::Word(i, w) => {
            let at = i % len;
            for (k, b) in w.to_le_bytes().iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + k) {
                    *slot = *b;
                }
            }
        }
        Mutation::Insert(i, extra) => {
            let at = i % (bytes.len() + 1);
            bytes.splice(at..at, extra.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let at = i % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        all_decoders(&bytes)?;
    }

    #[test]
    fn mutated_encodings(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(mutation(), 1..4)) {
        let mut bytes = seed.get(seeds()).clone();
        for m in &edits {
            apply(&mut bytes, m);
        }
        all_decoders(&bytes)?;
    }

    #[test]
    fn mutated_stored_nodes(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = seed.get(stored_node_seeds()).clone();
        for m in &edits {
            apply(&mut bytes, m);
        }
        check_stored_node(&bytes)?;
    }

    #[test]
    fn random_stored_nodes(tail in prop::collection::vec(any::<u8>(), 0..300), compact in any::<bool>()) {
        let bytes = if compact { [&[COMPACT_INTERNAL_NODE][..], &tail].concat() } else { tail };
        check_stored_node(&bytes)?;
    }

    #[test]
    fn random_text_as_ids(s in "\\PC{0,80}") {
        all_id_parsers(&s)?;
    }

    /// Mostly-valid ids with one character replaced by anything, including multi-byte
    /// characters that move the byte offsets the parsers slice at.
    #[test]
    fn mutated_ids(
        base in prop::sample::select(vec![
            "91350100M000100Y43",
            "350100",
            "11100000000013338W011",
            "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
            "1.2.156.3005.2.11100000000013338W011.350100.A1.001.5",
            "91350100M000100Y43-2026-0001",
            "11350100-000-XK-001",
        ]),
        at in any::<prop::sample::Index>(),
        replacement in any::<char>(),
        insert in any::<bool>(),
    ) {
        let mut chars: Vec<char> = base.chars().collect();
        let i = at.index(chars.len());
        if insert {
            chars.insert(i, replacement);
        } else {
            chars[i] = replacement;
        }
        let s: String = chars.into_iter().collect();
        all_id_parsers(&s)?;
    }

    #[test]
    fn random_json_records(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<SignedRecord>(&bytes);
    }

    #[test]
    fn mutated_json_records(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(mutation(), 1..3),
    ) {
        let record = pick.get(fixture_records());
        let mut bytes = serde_json::to_vec(record).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for m in &edits {
            apply(&mut bytes, m);
        }
        if let Ok(parsed) = serde_json::from_slice::<SignedRecord>(&bytes) {
            let text = serde_json::to_string(&parsed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back: SignedRecord = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, parsed);
        }
    }

    #[test]
    fn arbitrary_inclusion_proofs(
        leaf_index in any::<u64>(),
        tree_size in prop_oneof![any::<u64>(), 0u64..20, Just(u64::MAX)],
        path in prop::collection::vec(any::<[u8; 32]>(), 0..80),
        leaf in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
    ) {
        let proof = InclusionProof {
            leaf_index,
            tree_size,
            path: path.into_iter().map(Hash32).collect(),
        };
        prop_assert!(verify_record_inclusion(&proof, &Hash32(leaf), &Hash32(root)).is_err());
    }
}

/// Found by the `parse_ids` fuzz target: a type code of 21 characters whose 18th byte
/// falls inside a multi-byte character made the parser slice off a character boundary
/// and panic. It must be a clear error instead.
#[test]
fn multibyte_type_code_is_an_error_not_a_panic() {
    // 17 one-byte characters, then 'é' (2 bytes) spanning bytes 17..19, then 3 more.
    let s = "11100000000013338é011";
    assert_eq!(s.chars().count(), 21);
    assert!(matches!(
        TypeCode::parse(s),
        Err(IdError::Character { position: 18, .. })
    ));
    let licence = format!("1.2.156.3005.2.{s}.11430000006122244L.1.001.0");
    assert!(LicenceId::parse(&licence).is_err());
}

/// A record that decodes must be the record that was encoded, field for field, and a
/// single changed byte anywhere in a valid record either fails to decode or yields a
/// different record (never the same record from different bytes).
#[test]
fn every_single_byte_change_of_a_record_is_seen() {
    for (name, record) in records() {
        let bytes = encode(&record);
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            if let Ok(other) = decode::<SignedRecord>(&changed) {
                assert_ne!(other, record, "{name}: byte {i} changed but decoded equal");
            }
        }
    }
}
