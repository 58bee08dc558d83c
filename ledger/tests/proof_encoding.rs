//! The binary encodings `docs/spec/proof-format.md` §3 tells a verifier to reproduce,
//! written out by hand from the spec's rules and compared with `codec::encode`: if the
//! spec or the types drift apart, this fails.

mod proof_support;

use proof_support::*;
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::sha256;
use tongban_ledger::keys;
use tongban_ledger::proof::commit_vote;
use tongban_ledger::types::{LicenceStatus, VoteKind};
use tongban_ledger::Hash32;

/// The spec's writer: fixed-width little-endian integers, u64 length prefixes, u32 enum
/// tags, one-byte option tags, raw fixed-size byte arrays.
#[derive(Default)]
struct Spec(Vec<u8>);

impl Spec {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    fn none(&mut self) -> &mut Self {
        self.0.push(0);
        self
    }
    fn some(&mut self) -> &mut Self {
        self.0.push(1);
        self
    }
}

#[test]
fn vote_layout() {
    let chain = TestChain::build();
    let commit = &chain.commits[2];
    let vote = commit_vote(CHAIN_ID, commit);
    assert_eq!(vote.kind, VoteKind::Precommit);
    let mut spec = Spec::default();
    spec.str(CHAIN_ID)
        .u64(3)
        .u32(0)
        .u32(1) // Precommit
        .some()
        .raw(&commit.block_hash.0);
    assert_eq!(encode(&vote), spec.0);
    assert_eq!(
        vote.signing_bytes(),
        [b"tongban/vote/v1\0".as_slice(), &spec.0].concat()
    );
}

#[test]
fn header_layout_and_hash() {
    let chain = TestChain::build();
    let h = chain.header(3);
    let mut spec = Spec::default();
    spec.str(&h.chain_id)
        .u64(h.height)
        .u64(h.time_ms)
        .raw(&h.prev_hash.0)
        .raw(&h.records_root.0)
        .raw(&h.state_root.0)
        .raw(&h.validators_hash.0)
        .raw(&h.next_validators_hash.0)
        .raw(&h.proposer.0);
    assert_eq!(encode(h), spec.0);
    assert_eq!(h.hash(), sha256(&[b"tongban/header/v1\0", &spec.0]));
    assert_eq!(chain.header(4).prev_hash, h.hash());
    assert_eq!(chain.header(1).prev_hash, genesis().hash());
}

#[test]
fn validator_set_layout_and_hash() {
    let chain = TestChain::build();
    let set = chain.set(3);
    let mut spec = Spec::default();
    spec.u64(set.len() as u64);
    for v in &set.validators {
        spec.str(v.member_id.as_str()).raw(&v.key.0);
    }
    assert_eq!(encode(set), spec.0);
    assert_eq!(set.hash(), sha256(&[b"tongban/validators/v1\0", &spec.0]));
    assert_eq!(chain.header(3).validators_hash, set.hash());
    // Ordered by member id (byte order of the 18-character code).
    let ids: Vec<&str> = set
        .validators
        .iter()
        .map(|v| v.member_id.as_str())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
}

#[test]
fn licence_record_layout_key_and_leaf() {
    let mut record = licence_record(revoked_id(), LicenceStatus::Revoked, 5);
    record.status_reason = Some("吊销".to_owned());
    let mut spec = Spec::default();
    spec.str(record.licence_id.as_str())
        .str(record.type_code.as_str())
        .str(record.issuer.as_str())
        .raw(&record.holder_commitment.0)
        .raw(&record.document_hash.0)
        .u64(record.valid_from)
        .some()
        .u64(VALID_UNTIL_MS)
        .none() // supersedes
        .none() // superseded_by
        .u32(2) // Revoked
        .some()
        .str("吊销")
        .u64(1)
        .u64(5);
    assert_eq!(encode(&record), spec.0);

    let key = keys::licence(&record.licence_id);
    assert_eq!(
        key,
        sha256(&[b"tongban/licence/", record.licence_id.as_str().as_bytes()])
    );
    // The leaf a state proof ends at for this value.
    let leaf = sha256(&[b"JMT::LeafNode", &key.0, &sha256(&[&spec.0]).0]);
    assert_ne!(leaf, Hash32::ZERO);
}

#[test]
fn genesis_hash_layout() {
    let g = genesis();
    let mut spec = Spec::default();
    spec.str(&g.chain_id)
        .u64(g.genesis_time_ms)
        .u64(g.members.len() as u64);
    for m in &g.members {
        spec.str(m.id.as_str())
            .str(&m.name)
            .str(m.region.as_str())
            .raw(&m.key.0)
            .u64(m.roles.len() as u64);
        for role in &m.roles {
            spec.u32(match role {
                tongban_ledger::types::Role::Validator => 0,
                tongban_ledger::types::Role::Observer => 1,
            });
        }
        spec.u32(0); // Active
    }
    spec.u64(g.admins.len() as u64);
    for a in &g.admins {
        spec.raw(&a.0);
    }
    let p = &g.params;
    spec.u32(p.governance_threshold.numerator)
        .u32(p.governance_threshold.denominator)
        .u64(p.proposal_expiry_blocks)
        .u32(p.max_block_records)
        .u32(p.max_record_bytes)
        .u64(p.max_block_interval_ms);
    assert_eq!(encode(&g), spec.0);
    assert_eq!(g.hash(), sha256(&[b"tongban/genesis/v1\0", &spec.0]));
}
