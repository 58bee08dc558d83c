//! A small world for execution tests: a genesis with members and admins over an
//! in-memory state map, records signed with real ed25519 keys, and helpers that execute
//! one block and check that a refused record changes nothing.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use tongban_ledger::crypto::public_key;
use tongban_ledger::execute::{
    check_record, execute_block, genesis_changes, read_case, read_licence, read_member,
    verify_every_signature, BlockContext, BlockOutcome, CheckError, ExecError, Mode, RejectReason,
};
use tongban_ledger::ids::{
    uscc_check_char, CaseId, ItemCode, LicenceId, MemberId, RegionCode, TypeCode,
};
use tongban_ledger::state::StateChanges;
use tongban_ledger::types::{
    CaseMode, CaseRecord, CaseState, ChainParams, Genesis, LicenceRecord, Member, MemberStatus,
    RecordBody, RecordPayload, Role, SignedRecord,
};
use tongban_ledger::{Hash32, PublicKey};

pub const CHAIN: &str = "tongban-test";
pub const T0: u64 = 1_700_000_000_000;
pub const BLOCK_MS: u64 = 1_000;

pub type State = BTreeMap<Hash32, Vec<u8>>;

/// A valid 统一社会信用代码 in Fuzhou (350100) numbered `n`.
pub fn member_id(n: u32) -> MemberId {
    let first17 = format!("91350100{n:09}");
    let check = uscc_check_char(first17.as_bytes()).expect("alphabet");
    MemberId::parse(&format!("{first17}{}", char::from(check))).expect("valid id")
}

pub fn region() -> RegionCode {
    RegionCode::parse("350100").expect("region")
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Licence type `n`, defined by member 0.
pub fn type_code(n: u32) -> TypeCode {
    TypeCode::parse(&format!("{}{n:03}", member_id(0))).expect("type code")
}

pub fn licence_id(type_code: &TypeCode, issuer: &MemberId, serial: &str) -> LicenceId {
    LicenceId::compose(type_code, issuer.as_str(), serial, 1).expect("licence id")
}

pub fn case_id(accepting: &MemberId, serial: &str) -> CaseId {
    CaseId::parse(&format!("{accepting}-{serial}")).expect("case id")
}

pub fn item_code(s: &str) -> ItemCode {
    ItemCode::parse(s).expect("item code")
}

pub fn apply(state: &mut State, changes: &StateChanges) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                state.insert(*k, v.clone());
            }
            None => {
                state.remove(k);
            }
        }
    }
}

/// Genesis, members, admins, and the chain's state and height.
pub struct World {
    pub state: State,
    pub height: u64,
    pub admins: Vec<SigningKey>,
    pub members: Vec<(MemberId, SigningKey)>,
    /// Skip signature checks in [`World::block`] and [`World::ok`] (records the test
    /// signed itself), to keep debug-build tests fast; refusals are always fully checked.
    pub trust_signatures: bool,
    nonces: BTreeMap<PublicKey, u64>,
}

pub fn member(n: u32, key: &SigningKey, roles: Vec<Role>) -> Member {
    Member {
        id: member_id(n),
        name: format!("Department {n}"),
        region: region(),
        key: public_key(key),
        roles,
        status: MemberStatus::Active,
    }
}

pub fn genesis(members: usize, admins: usize) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: T0,
        members: (0..members)
            .map(|i| member(i as u32, &key(i as u8 + 1), vec![Role::Validator]))
            .collect(),
        admins: (0..admins)
            .map(|i| public_key(&key(200 + i as u8)))
            .collect(),
        params: ChainParams::default(),
    }
}

impl World {
    /// `members` validators (keys 1..), `admins` admins (keys 200..).
    pub fn new(members: usize, admins: usize) -> World {
        Self::from_genesis(&genesis(members, admins))
    }

    pub fn from_genesis(genesis: &Genesis) -> World {
        let mut state = State::new();
        apply(
            &mut state,
            &genesis_changes(genesis).expect("valid genesis"),
        );
        World {
            state,
            height: 0,
            admins: (0..genesis.admins.len())
                .map(|i| key(200 + i as u8))
                .collect(),
            members: (0..genesis.members.len())
                .map(|i| (member_id(i as u32), key(i as u8 + 1)))
                .collect(),
            trust_signatures: false,
            nonces: BTreeMap::new(),
        }
    }

    pub fn ctx(&self) -> BlockContext {
        BlockContext {
            chain_id: CHAIN.into(),
            height: self.height + 1,
            time_ms: self.time_ms(),
        }
    }

    /// Time of the next block.
    pub fn time_ms(&self) -> u64 {
        T0 + (self.height + 1) * BLOCK_MS
    }

    pub fn admin(&self, i: usize) -> SigningKey {
        self.admins[i].clone()
    }

    pub fn member_key(&self, i: usize) -> SigningKey {
        self.members[i].1.clone()
    }

    pub fn id(&self, i: usize) -> MemberId {
        self.members[i].0.clone()
    }

    /// A record by `signer` with the signer's next nonce.
    pub fn record(&mut self, signer: &SigningKey, body: RecordBody) -> SignedRecord {
        let author = public_key(signer);
        let nonce = self.nonces.entry(author).or_insert(0);
        *nonce += 1;
        RecordPayload {
            chain_id: CHAIN.into(),
            author,
            nonce: *nonce,
            body,
        }
        .sign(signer)
    }

    /// Executes a block in `mode`; on success applies its changes and moves on a height.
    pub fn block(
        &mut self,
        records: &[SignedRecord],
        mode: Mode,
    ) -> Result<BlockOutcome, ExecError> {
        let trust = self.trust_signatures;
        let outcome = execute_block(&self.state, &self.ctx(), records, mode, &|_| trust)?;
        apply(&mut self.state, &outcome.changes);
        self.height += 1;
        Ok(outcome)
    }

    /// Executes one record alone in a validated block and expects it applied.
    pub fn ok(&mut self, signer: &SigningKey, body: RecordBody) -> BlockOutcome {
        let record = self.record(signer, body);
        match self.block(&[record], Mode::Validate) {
            Ok(outcome) => outcome,
            Err(e) => panic!("expected the record to apply, got {e}"),
        }
    }

    /// Expects `body` by `signer` to be refused with `code`, identically by mempool
    /// admission, by a proposer and by a validator, and the state to be unchanged.
    pub fn reject(&mut self, signer: &SigningKey, body: RecordBody, code: &str) -> RejectReason {
        let record = self.record(signer, body);
        self.reject_record(&record, code)
    }

    pub fn reject_record(&mut self, record: &SignedRecord, code: &str) -> RejectReason {
        let before = self.state.clone();
        let ctx = self.ctx();
        let reason = match check_record(&self.state, &ctx, record, false) {
            Err(CheckError::Rejected(reason)) => reason,
            other => panic!("check_record: expected {code}, got {other:?}"),
        };
        assert_eq!(reason.code(), code, "check_record: {reason}");

        let built = execute_block(
            &self.state,
            &ctx,
            std::slice::from_ref(record),
            Mode::Build,
            &verify_every_signature,
        )
        .expect("build");
        assert!(built.kept.is_empty(), "build kept a refused record");
        assert_eq!(built.results.len(), 1);
        assert_eq!(built.results[0].0, record.hash());
        assert_eq!(built.results[0].1.as_ref().err(), Some(&reason));
        let mut after = self.state.clone();
        apply(&mut after, &built.changes);
        if built.ended_proposals.is_empty() {
            assert!(built.changes.is_empty(), "a refused record changed state");
            assert_eq!(after, before);
        }

        match execute_block(
            &self.state,
            &ctx,
            std::slice::from_ref(record),
            Mode::Validate,
            &verify_every_signature,
        ) {
            Err(ExecError::InvalidRecord {
                index: 0,
                hash,
                reason: r,
            }) => {
                assert_eq!(hash, record.hash());
                assert_eq!(r, reason);
            }
            other => panic!("validate: expected invalid record, got {other:?}"),
        }
        assert_eq!(self.state, before);
        reason
    }

    pub fn licence(&self, id: &LicenceId) -> Option<LicenceRecord> {
        read_licence(&self.state, id).expect("read")
    }

    pub fn case(&self, id: &CaseId) -> Option<CaseRecord> {
        read_case(&self.state, id).expect("read")
    }

    pub fn member(&self, id: &MemberId) -> Option<Member> {
        read_member(&self.state, id).expect("read")
    }

    /// Publishes licence type `n` with `issuers` (by member index), signed by admin 0.
    pub fn publish_type(&mut self, n: u32, issuers: &[usize]) -> TypeCode {
        let code = type_code(n);
        let issuers = issuers.iter().map(|&i| self.id(i)).collect();
        let admin = self.admin(0);
        self.ok(
            &admin,
            RecordBody::PublishLicenceType {
                type_code: code.clone(),
                name: format!("Type {n}"),
                issuers,
            },
        );
        code
    }

    /// Publishes an item allowing all modes, time limit `days`, signed by admin 0.
    pub fn publish_item(&mut self, code: &str, days: u32) -> ItemCode {
        let item = item_code(code);
        let admin = self.admin(0);
        self.ok(
            &admin,
            RecordBody::PublishItem {
                item_code: item.clone(),
                name: format!("Item {code}"),
                time_limit_days: days,
                modes: vec![
                    CaseMode::Online,
                    CaseMode::RemoteAcceptance,
                    CaseMode::MultiSite,
                ],
                uses_types: vec![],
                issues_types: vec![],
            },
        );
        item
    }
}

/// `n` `IssueLicence` records of `type_code`, from members 0..4 in turn, serials
/// `{tag}{i}`.
pub fn issue_records(
    w: &mut World,
    type_code: &TypeCode,
    n: usize,
    tag: &str,
) -> Vec<SignedRecord> {
    (0..n)
        .map(|i| {
            let m = i % 4;
            let id = licence_id(type_code, &w.id(m), &format!("{tag}{i}"));
            let k = w.member_key(m);
            w.record(&k, issue_body(type_code, &id))
        })
        .collect()
}

pub fn issue_body(type_code: &TypeCode, id: &LicenceId) -> RecordBody {
    RecordBody::IssueLicence {
        licence_id: id.clone(),
        type_code: type_code.clone(),
        holder_commitment: Hash32([7; 32]),
        document_hash: Hash32([8; 32]),
        valid_from: T0,
        valid_until: Some(T0 + 365 * 86_400_000),
        supersedes: None,
    }
}

pub fn suspend_body(id: &LicenceId, reason: &str) -> RecordBody {
    RecordBody::SuspendLicence {
        licence_id: id.clone(),
        reason: reason.into(),
    }
}

pub fn advance(case_id: &CaseId, to: CaseState) -> RecordBody {
    RecordBody::AdvanceCase {
        case_id: case_id.clone(),
        to,
        evidence_hash: None,
        licence_id: None,
    }
}
