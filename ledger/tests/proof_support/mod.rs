//! A small real chain for proof-bundle tests and benches: a genesis with four validators
//! (fixed keys), five blocks whose headers and commits are signed for real, two
//! validator-set changes, and the ledger's Jellyfish Merkle state tree (over the
//! in-memory store) holding licences.
//!
//! Shared by `tests/proof_*.rs` and `benches/proof.rs` (through `#[path]`).
#![allow(dead_code)]

use ed25519_dalek::SigningKey;

use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{public_key, sha256, sign, VOTE_DOMAIN};
use tongban_ledger::ids::{uscc_check_char, LicenceId, MemberId, RegionCode, TypeCode};
use tongban_ledger::keys;
use tongban_ledger::proof::{
    build_bundle, commit_vote, BundleParts, ProofBundle, ValidatorSetChange,
};
use tongban_ledger::state::StateChanges;
use tongban_ledger::state_tree::{StateProof, StateTree};
use tongban_ledger::store::memory::MemoryStore;
use tongban_ledger::store::{Store as _, StoreBatch};
use tongban_ledger::types::{
    BlockHeader, ChainParams, Commit, Genesis, LicenceRecord, LicenceStatus, Member, MemberStatus,
    Role, ValidatorSet,
};
use tongban_ledger::{Hash32, PublicKey};

/// The test chain's id.
pub const CHAIN_ID: &str = "tongban-proof-test";
/// Genesis time: 2023-11-14T22:13:20Z.
pub const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
/// Blocks are this far apart.
pub const BLOCK_INTERVAL_MS: u64 = 5_000;
/// The last block's height.
pub const TIP: u64 = 5;
/// "Now" for verification: one minute after the tip.
pub const NOW_MS: u64 = GENESIS_TIME_MS + TIP * BLOCK_INTERVAL_MS + 60_000;
/// Most licences are valid from genesis until this (2030-01-01).
pub const VALID_UNTIL_MS: u64 = 1_893_456_000_000;
/// The document whose hash the licences record.
pub const DOCUMENT: &[u8] = b"%PDF-1.7 business licence of Example Co., Ltd.";
/// How many filler licences share the tree, so that proofs have real siblings.
pub const FILLER_LICENCES: u32 = 40;

/// The member id with serial `n` (region 350100, 福州市).
pub fn member_id(n: u32) -> MemberId {
    let first17 = format!("9135010000000{n:04}");
    let check = uscc_check_char(first17.as_bytes()).expect("first 17 are valid characters");
    MemberId::parse(&format!("{first17}{}", check as char)).expect("valid member id")
}

/// The fixed key of member `n`.
pub fn signing_key(n: u32) -> SigningKey {
    SigningKey::from_bytes(&[n as u8; 32])
}

/// The licence type all test licences have, defined by member 1.
pub fn type_code() -> TypeCode {
    TypeCode::parse(&format!("{}001", member_id(1))).expect("valid type code")
}

/// A licence id issued by member 1 with this serial.
pub fn licence_id(serial: &str) -> LicenceId {
    LicenceId::compose(&type_code(), member_id(1).as_str(), serial, 1).expect("valid licence id")
}

/// Active, valid until 2030, document [`DOCUMENT`].
pub fn active_id() -> LicenceId {
    licence_id("2023000001")
}
/// Revoked at height 5 (active before).
pub fn revoked_id() -> LicenceId {
    licence_id("2023000002")
}
/// Suspended.
pub fn suspended_id() -> LicenceId {
    licence_id("2023000003")
}
/// Validity ended at genesis + 1 s.
pub fn expired_id() -> LicenceId {
    licence_id("2023000004")
}
/// Valid only from 2030.
pub fn future_id() -> LicenceId {
    licence_id("2023000005")
}
/// Never issued.
pub fn missing_id() -> LicenceId {
    licence_id("2023999999")
}

fn member(n: u32, validator: bool) -> Member {
    Member {
        id: member_id(n),
        name: format!("测试部门 {n}"),
        region: RegionCode::parse("350100").expect("valid region"),
        key: public_key(&signing_key(n)),
        roles: vec![if validator {
            Role::Validator
        } else {
            Role::Observer
        }],
        status: MemberStatus::Active,
    }
}

/// Four validators (members 1..4) and an observer (member 5).
pub fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.to_owned(),
        genesis_time_ms: GENESIS_TIME_MS,
        members: vec![
            member(1, true),
            member(2, true),
            member(3, true),
            member(4, true),
            member(5, false),
        ],
        admins: vec![public_key(&signing_key(100))],
        params: ChainParams::default(),
    }
}

/// A licence record as execution would store it.
pub fn licence_record(id: LicenceId, status: LicenceStatus, height: u64) -> LicenceRecord {
    LicenceRecord {
        licence_id: id,
        type_code: type_code(),
        issuer: member_id(1),
        holder_commitment: sha256(&[b"salt", b"91350100M000100Y43"]),
        document_hash: sha256(&[DOCUMENT]),
        valid_from: GENESIS_TIME_MS,
        valid_until: Some(VALID_UNTIL_MS),
        supersedes: None,
        superseded_by: None,
        status,
        status_reason: None,
        issued_height: 1,
        updated_height: height,
    }
}

/// The ledger's state tree over its in-memory store (the node uses the same tree over
/// RocksDB).
#[derive(Debug, Default)]
pub struct MemoryTree {
    store: MemoryStore,
}

impl MemoryTree {
    /// Applies `changes` as `version` and writes the nodes; returns the new root.
    pub fn apply(&mut self, changes: &StateChanges, version: u64) -> Hash32 {
        let (root, nodes) = StateTree::new(&self.store)
            .apply(changes, version)
            .expect("apply");
        let mut batch = StoreBatch::default();
        batch.put_state_nodes(&nodes);
        self.store.write(&batch).expect("write");
        root
    }

    /// The value of `key` at `version` and its proof.
    pub fn get_with_proof(&self, key: &Hash32, version: u64) -> (Option<Vec<u8>>, StateProof) {
        StateTree::new(&self.store)
            .get_with_proof(key, version)
            .expect("proof")
    }
}

/// The chain: headers, commits and validator sets by height (index `h - 1`).
#[derive(Debug)]
pub struct TestChain {
    pub genesis: Genesis,
    pub tree: MemoryTree,
    pub headers: Vec<BlockHeader>,
    pub commits: Vec<Commit>,
    /// `sets[h - 1]` commits height `h`.
    pub sets: Vec<ValidatorSet>,
    /// Heights whose block changed the set (the set of `h + 1` differs).
    pub change_heights: Vec<u64>,
}

fn put(changes: &mut StateChanges, record: &LicenceRecord) {
    changes.insert(keys::licence(&record.licence_id), Some(encode(record)));
}

/// Signs the precommit of `header` (round 0) by the validators of `set` at `signers`.
pub fn sign_commit(header: &BlockHeader, set: &ValidatorSet, signers: &[u32]) -> Commit {
    let mut commit = Commit {
        height: header.height,
        round: 0,
        block_hash: header.hash(),
        signatures: Vec::new(),
    };
    let message = encode(&commit_vote(&header.chain_id, &commit));
    for &index in signers {
        let validator = &set.validators[index as usize];
        let key = key_for(&validator.key);
        commit
            .signatures
            .push((index, sign(&key, VOTE_DOMAIN, &message)));
    }
    commit
}

/// The fixed signing key behind a public key of the test chain.
pub fn key_for(public: &PublicKey) -> SigningKey {
    (1..=10)
        .map(signing_key)
        .find(|k| &public_key(k) == public)
        .expect("a test key")
}

/// All indexes of a set.
pub fn everyone(set: &ValidatorSet) -> Vec<u32> {
    (0..set.len() as u32).collect()
}

impl TestChain {
    /// Builds the chain:
    /// - version 0 (genesis): filler licences;
    /// - height 1: the active, revoked (still active), suspended, expired and future licences;
    /// - height 2: member 5 becomes a validator (set of height 3 = members 1..5);
    /// - height 3: nothing;
    /// - height 4: member 1 stops validating (set of height 5 = members 2..5);
    /// - height 5: the revoked licence is revoked.
    pub fn build() -> Self {
        let genesis = genesis();
        let mut members = genesis.members.clone();
        let mut tree = MemoryTree::default();

        let mut changes = StateChanges::new();
        for i in 0..FILLER_LICENCES {
            let record =
                licence_record(licence_id(&format!("2022{i:06}")), LicenceStatus::Active, 0);
            put(&mut changes, &record);
        }
        tree.apply(&changes, 0);

        let mut set = ValidatorSet::from_members(&members);
        let mut prev_hash = genesis.hash();
        let mut chain = TestChain {
            genesis,
            tree,
            headers: Vec::new(),
            commits: Vec::new(),
            sets: Vec::new(),
            change_heights: Vec::new(),
        };
        for height in 1..=TIP {
            let mut changes = StateChanges::new();
            match height {
                1 => {
                    put(
                        &mut changes,
                        &licence_record(active_id(), LicenceStatus::Active, 1),
                    );
                    put(
                        &mut changes,
                        &licence_record(revoked_id(), LicenceStatus::Active, 1),
                    );
                    let mut suspended = licence_record(suspended_id(), LicenceStatus::Suspended, 1);
                    suspended.status_reason = Some("营业场所核查中".to_owned());
                    put(&mut changes, &suspended);
                    let mut expired = licence_record(expired_id(), LicenceStatus::Active, 1);
                    expired.valid_until = Some(GENESIS_TIME_MS + 1_000);
                    put(&mut changes, &expired);
                    let mut future = licence_record(future_id(), LicenceStatus::Active, 1);
                    future.valid_from = VALID_UNTIL_MS;
                    future.valid_until = None;
                    put(&mut changes, &future);
                }
                2 => members[4].roles = vec![Role::Validator],
                4 => members[0].roles = vec![Role::Observer],
                5 => {
                    let mut revoked = licence_record(revoked_id(), LicenceStatus::Revoked, 5);
                    revoked.status_reason = Some("吊销：虚假登记".to_owned());
                    put(&mut changes, &revoked);
                }
                _ => {}
            }
            let state_root = chain.tree.apply(&changes, height);
            let next_set = ValidatorSet::from_members(&members);
            let header = BlockHeader {
                chain_id: CHAIN_ID.to_owned(),
                height,
                time_ms: GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS,
                prev_hash,
                // RFC 9162 hash of the empty tree: these blocks carry no records.
                records_root: sha256(&[]),
                state_root,
                validators_hash: set.hash(),
                next_validators_hash: next_set.hash(),
                proposer: set.proposer(height, 0).expect("a proposer").key,
            };
            let commit = sign_commit(&header, &set, &everyone(&set));
            prev_hash = header.hash();
            if next_set != set {
                chain.change_heights.push(height);
            }
            chain.headers.push(header);
            chain.commits.push(commit);
            chain.sets.push(set);
            set = next_set;
        }
        chain
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> &BlockHeader {
        &self.headers[height as usize - 1]
    }

    /// The set that commits `height`.
    pub fn set(&self, height: u64) -> &ValidatorSet {
        &self.sets[height as usize - 1]
    }

    /// The validator-set changes below `height`.
    pub fn changes_below(&self, height: u64) -> Vec<ValidatorSetChange> {
        self.change_heights
            .iter()
            .filter(|&&h| h < height)
            .map(|&h| ValidatorSetChange {
                header: self.header(h).clone(),
                commit: self.commits[h as usize - 1].clone(),
                next_validators: self.set(h + 1).clone(),
            })
            .collect()
    }

    /// The parts the node's store would hand over for `id` at `height`.
    pub fn parts(&self, id: &LicenceId, height: u64) -> BundleParts {
        let (value, state_proof) = self.tree.get_with_proof(&keys::licence(id), height);
        BundleParts {
            chain_id: CHAIN_ID.to_owned(),
            genesis_hash: self.genesis.hash(),
            licence_id: id.clone(),
            value,
            state_proof,
            header: self.header(height).clone(),
            commit: self.commits[height as usize - 1].clone(),
            validators: self.set(height).clone(),
            validator_changes: self.changes_below(height),
            generated_at_ms: self.header(height).time_ms + 1,
        }
    }

    /// A bundle for `id` at `height`.
    pub fn bundle(&self, id: &LicenceId, height: u64) -> ProofBundle {
        build_bundle(self.parts(id, height)).expect("parts fit together")
    }
}
