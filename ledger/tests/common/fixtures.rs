//! Fixed, deterministic values of every signed or stored type, shared by the golden-bytes
//! and hostile-bytes tests. Keys come from fixed seeds and ed25519 signing is
//! deterministic, so every value here is the same on every run and every machine.

use ed25519_dalek::SigningKey;
use tongban_ledger::bytes::{Hash32, PublicKey, Signature};
use tongban_ledger::crypto::{public_key, sha256, sign, VOTE_DOMAIN};
use tongban_ledger::ids::{CaseId, ItemCode, LicenceId, MemberId, RegionCode, TypeCode};
use tongban_ledger::merkle::records_root;
use tongban_ledger::types::*;

/// The chain id of every fixture.
pub const CHAIN_ID: &str = "tongban-golden";

/// A signing key from a fixed seed.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The public key of [`key`]`(seed)`.
pub fn public(seed: u8) -> PublicKey {
    public_key(&key(seed))
}

/// `sha256(label)`: a stand-in for a document, commitment or evidence hash.
pub fn h(label: &str) -> Hash32 {
    sha256(&[label.as_bytes()])
}

/// The value of a fixture identifier that is known to be valid.
pub fn parsed<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("fixture identifier is invalid: {e:?}"),
    }
}

/// The worked example of GB 32100 (Fuzhou).
pub fn member_fuzhou() -> MemberId {
    parsed(MemberId::parse("91350100M000100Y43"))
}
/// The defining department of the DESIGN licence-id example.
pub fn member_national() -> MemberId {
    parsed(MemberId::parse("11100000000013338W"))
}
/// The issuer of the DESIGN licence-id example (Hunan).
pub fn member_hunan() -> MemberId {
    parsed(MemberId::parse("11430000006122244L"))
}
/// A region code.
pub fn region() -> RegionCode {
    parsed(RegionCode::parse("350100"))
}
/// A licence type code.
pub fn type_code() -> TypeCode {
    parsed(TypeCode::parse("11100000000013338W011"))
}
/// The DESIGN licence-id example.
pub fn licence_id() -> LicenceId {
    parsed(LicenceId::parse(
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    ))
}
/// A second licence of the same type and issuer.
pub fn licence_id_2() -> LicenceId {
    parsed(LicenceId::compose(
        &type_code(),
        "11430000006122244L",
        "20230000404",
        1,
    ))
}
/// A case id.
pub fn case_id() -> CaseId {
    parsed(CaseId::parse("91350100M000100Y43-2026-0001"))
}
/// An item code.
pub fn item_code() -> ItemCode {
    parsed(ItemCode::parse("11350100-000-XK-001"))
}

/// A member (validator, active) with the key of seed 1.
pub fn member() -> Member {
    Member {
        id: member_fuzhou(),
        name: "福州市市场监督管理局".into(),
        region: region(),
        key: public(1),
        roles: vec![Role::Validator, Role::Observer],
        status: MemberStatus::Active,
    }
}

/// Non-default chain parameters, so that every field is visible in the bytes.
pub fn params() -> ChainParams {
    ChainParams {
        governance_threshold: Threshold {
            numerator: 2,
            denominator: 3,
        },
        proposal_expiry_blocks: 1_000,
        max_block_records: 10_000,
        max_record_bytes: 16_384,
        max_block_interval_ms: 5_000,
    }
}

/// One of each [`MemberChange`] variant, named.
pub fn member_changes() -> Vec<(&'static str, MemberChange)> {
    vec![
        ("add", MemberChange::Add(member())),
        ("remove", MemberChange::Remove(member_hunan())),
        (
            "rotate_key",
            MemberChange::RotateKey {
                member_id: member_fuzhou(),
                new_key: public(9),
            },
        ),
        (
            "set_roles",
            MemberChange::SetRoles {
                member_id: member_fuzhou(),
                roles: vec![Role::Observer],
            },
        ),
        ("add_admin", MemberChange::AddAdmin(public(11))),
        ("remove_admin", MemberChange::RemoveAdmin(public(12))),
        ("set_params", MemberChange::SetParams(params())),
        (
            "set_status",
            MemberChange::SetStatus {
                member_id: member_hunan(),
                status: MemberStatus::Suspended,
            },
        ),
    ]
}

/// One of each [`RecordBody`] variant (and one `ProposeMemberChange` per
/// [`MemberChange`] variant), named.
pub fn bodies() -> Vec<(String, RecordBody)> {
    let mut out: Vec<(String, RecordBody)> = member_changes()
        .into_iter()
        .enumerate()
        .map(|(i, (name, change))| {
            (
                format!("propose_member_change/{name}"),
                RecordBody::ProposeMemberChange {
                    proposal_id: 100 + i as u64,
                    change,
                },
            )
        })
        .collect();
    let rest = vec![
        RecordBody::Approve { proposal_id: 100 },
        RecordBody::PublishLicenceType {
            type_code: type_code(),
            name: "营业执照".into(),
            issuers: vec![member_hunan(), member_fuzhou()],
        },
        RecordBody::PublishItem {
            item_code: item_code(),
            name: "食品经营许可".into(),
            time_limit_days: 20,
            modes: vec![
                CaseMode::Online,
                CaseMode::RemoteAcceptance,
                CaseMode::MultiSite,
            ],
            uses_types: vec![type_code()],
            issues_types: vec![],
        },
        RecordBody::IssueLicence {
            licence_id: licence_id_2(),
            type_code: type_code(),
            holder_commitment: h("holder"),
            document_hash: h("document"),
            valid_from: 1_767_225_600_000,
            valid_until: Some(1_893_456_000_000),
            supersedes: Some(licence_id()),
        },
        RecordBody::SuspendLicence {
            licence_id: licence_id(),
            reason: "核查中".into(),
        },
        RecordBody::ReinstateLicence {
            licence_id: licence_id(),
        },
        RecordBody::RevokeLicence {
            licence_id: licence_id(),
            reason: "superseded".into(),
        },
        RecordBody::OpenCase {
            case_id: case_id(),
            item_code: item_code(),
            mode: CaseMode::RemoteAcceptance,
            accepting: member_fuzhou(),
            handling: vec![member_hunan()],
            applicant_commitment: h("applicant"),
            deadline: 1_769_817_600_000,
        },
        RecordBody::AdvanceCase {
            case_id: case_id(),
            to: CaseState::LicenceIssued,
            evidence_hash: Some(h("evidence")),
            licence_id: Some(licence_id_2()),
        },
    ];
    out.extend(rest.into_iter().map(|b| (b.kind().to_string(), b)));
    out
}

/// Every body signed by the key of seed 2 with nonces from 1, named.
pub fn records() -> Vec<(String, SignedRecord)> {
    bodies()
        .into_iter()
        .enumerate()
        .map(|(i, (name, body))| {
            let payload = RecordPayload {
                chain_id: CHAIN_ID.into(),
                author: public(2),
                nonce: 1 + i as u64,
                body,
            };
            (name, payload.sign(&key(2)))
        })
        .collect()
}

/// A licence as held in state.
pub fn licence_record() -> LicenceRecord {
    LicenceRecord {
        licence_id: licence_id(),
        type_code: type_code(),
        issuer: member_hunan(),
        holder_commitment: h("holder"),
        document_hash: h("document"),
        valid_from: 1_767_225_600_000,
        valid_until: None,
        supersedes: None,
        superseded_by: Some(licence_id_2()),
        status: LicenceStatus::Revoked,
        status_reason: Some("superseded".into()),
        issued_height: 7,
        updated_height: 42,
    }
}

/// A case as held in state, with a two-event timeline.
pub fn case_record() -> CaseRecord {
    CaseRecord {
        case_id: case_id(),
        item_code: item_code(),
        mode: CaseMode::MultiSite,
        accepting: member_fuzhou(),
        handling: vec![member_hunan(), member_national()],
        applicant_commitment: h("applicant"),
        deadline: 1_769_817_600_000,
        state: CaseState::Accepted,
        timeline: vec![
            CaseEvent {
                height: 10,
                time_ms: 1_767_225_600_000,
                from: None,
                to: CaseState::Submitted,
                by: member_fuzhou(),
                evidence_hash: None,
                licence_id: None,
            },
            CaseEvent {
                height: 11,
                time_ms: 1_767_225_605_000,
                from: Some(CaseState::Submitted),
                to: CaseState::Accepted,
                by: member_fuzhou(),
                evidence_hash: Some(h("evidence")),
                licence_id: Some(licence_id()),
            },
        ],
    }
}

/// A catalogue licence type.
pub fn licence_type() -> LicenceType {
    LicenceType {
        type_code: type_code(),
        name: "营业执照".into(),
        issuers: vec![member_hunan()],
    }
}

/// A catalogue item.
pub fn catalog_item() -> CatalogItem {
    CatalogItem {
        item_code: item_code(),
        name: "食品经营许可".into(),
        time_limit_days: 20,
        modes: vec![CaseMode::Online],
        uses_types: vec![],
        issues_types: vec![type_code()],
    }
}

/// One proposal per [`ProposalStatus`] variant, named.
pub fn proposals() -> Vec<(&'static str, Proposal)> {
    [
        ("open", ProposalStatus::Open),
        ("applied", ProposalStatus::Applied(12)),
        ("expired", ProposalStatus::Expired),
        ("failed", ProposalStatus::Failed),
    ]
    .into_iter()
    .map(|(name, status)| {
        (
            name,
            Proposal {
                proposal_id: 100,
                change: MemberChange::AddAdmin(public(11)),
                proposer: public(10),
                approvals: vec![public(10), public(12)],
                created_height: 5,
                expires_height: 10_005,
                status,
            },
        )
    })
    .collect()
}

/// Four members with keys of seeds 1, 3, 4, 5 (the last an observer).
pub fn genesis_members() -> Vec<Member> {
    let mut second = member();
    second.id = member_hunan();
    second.name = "湖南省市场监督管理局".into();
    second.region = parsed(RegionCode::parse("430000"));
    second.key = public(3);
    let mut third = member();
    third.id = member_national();
    third.name = "国家市场监督管理总局".into();
    third.region = parsed(RegionCode::parse("110000"));
    third.key = public(4);
    third.roles = vec![Role::Validator];
    let mut observer = member();
    observer.id = parsed(MemberId::parse(&with_uscc_check("91440300MA5F00000")));
    observer.name = "深圳市政务服务数据管理局".into();
    observer.region = parsed(RegionCode::parse("440300"));
    observer.key = public(5);
    observer.roles = vec![Role::Observer];
    vec![member(), second, third, observer]
}

fn with_uscc_check(first17: &str) -> String {
    let check = tongban_ledger::ids::uscc_check_char(first17.as_bytes())
        .unwrap_or_else(|| panic!("fixture {first17} is not in the GB 32100 alphabet"));
    format!("{first17}{}", char::from(check))
}

/// The validator set of [`genesis_members`].
pub fn validator_set() -> ValidatorSet {
    ValidatorSet::from_members(&genesis_members())
}

/// A genesis.
pub fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 1_767_225_600_000,
        members: genesis_members(),
        admins: vec![public(10), public(11), public(12)],
        params: params(),
    }
}

/// Block 1: three records, real `records_root`, genesis hash as `prev_hash`.
pub fn block() -> Block {
    let records: Vec<SignedRecord> = records().into_iter().map(|(_, r)| r).take(3).collect();
    let hashes: Vec<Hash32> = records.iter().map(SignedRecord::hash).collect();
    let validators_hash = validator_set().hash();
    Block {
        header: BlockHeader {
            chain_id: CHAIN_ID.into(),
            height: 1,
            time_ms: 1_767_225_601_000,
            prev_hash: genesis().hash(),
            records_root: records_root(&hashes),
            state_root: h("state"),
            validators_hash,
            next_validators_hash: validators_hash,
            proposer: public(1),
        },
        records,
    }
}

/// A precommit for [`block`] at round 2.
pub fn vote() -> Vote {
    Vote {
        chain_id: CHAIN_ID.into(),
        height: 1,
        round: 2,
        kind: VoteKind::Precommit,
        block_hash: Some(block().header.hash()),
    }
}

/// A prevote for nil.
pub fn nil_vote() -> Vote {
    Vote {
        chain_id: CHAIN_ID.into(),
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: None,
    }
}

/// Signs a vote with the key of `seed`.
pub fn signed_vote(vote: Vote, validator_index: u32, seed: u8) -> SignedVote {
    let signature = sign(&key(seed), VOTE_DOMAIN, &codec_encode(&vote));
    SignedVote {
        vote,
        validator_index,
        signature,
    }
}

fn codec_encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    tongban_ledger::codec::encode(v)
}

/// A proposal for [`block`].
pub fn proposal_message() -> ProposalMessage {
    ProposalMessage {
        chain_id: CHAIN_ID.into(),
        height: 1,
        round: 2,
        block_hash: block().header.hash(),
        valid_round: Some(1),
    }
}

/// [`proposal_message`] signed by the key of seed 1 (validator index of that key).
pub fn signed_proposal() -> SignedProposal {
    let proposal = proposal_message();
    let signature = sign(
        &key(1),
        tongban_ledger::crypto::PROPOSAL_DOMAIN,
        &codec_encode(&proposal),
    );
    SignedProposal {
        validator_index: validator_index(1),
        proposal,
        signature,
    }
}

/// Index of the key of `seed` in [`validator_set`].
pub fn validator_index(seed: u8) -> u32 {
    validator_set()
        .index_of(&public(seed))
        .map(|i| i as u32)
        .unwrap_or_else(|| panic!("seed {seed} is not a fixture validator"))
}

/// A commit of [`block`] with precommits of all three validators.
pub fn commit() -> Commit {
    let vote = vote();
    let mut signatures: Vec<(u32, Signature)> = [1u8, 3, 4]
        .iter()
        .map(|&seed| {
            let sv = signed_vote(vote.clone(), validator_index(seed), seed);
            (sv.validator_index, sv.signature)
        })
        .collect();
    signatures.sort_by_key(|(i, _)| *i);
    Commit {
        height: 1,
        round: 2,
        block_hash: block().header.hash(),
        signatures,
    }
}
