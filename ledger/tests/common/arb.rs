//! Random but well-formed values, for round-trip properties and as seeds for mutation.

use super::*;
use proptest::prelude::*;
use tongban_ledger::bytes::{Hash32, PublicKey, Signature};
use tongban_ledger::ids::{LicenceId, MemberId, RegionCode};
use tongban_ledger::types::*;

/// One of the fixture member ids.
pub fn member_id() -> impl Strategy<Value = MemberId> {
    prop::sample::select(
        genesis_members()
            .into_iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
    )
}
/// A licence id.
pub fn licence_id() -> impl Strategy<Value = LicenceId> {
    ("[0-9A-Z]{1,20}", 0u16..1000).prop_map(|(serial, version)| {
        parsed(LicenceId::compose(
            &type_code(),
            "11430000006122244L",
            &serial,
            version,
        ))
    })
}
/// Any 32 bytes.
pub fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}
/// Any 32 bytes as a key.
pub fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}
/// Any 64 bytes.
pub fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        Signature(s)
    })
}
/// Any text, including multi-byte characters.
pub fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}
fn roles() -> impl Strategy<Value = Vec<Role>> {
    prop::collection::vec(
        prop::sample::select(vec![Role::Validator, Role::Observer]),
        0..3,
    )
}
fn mode() -> impl Strategy<Value = CaseMode> {
    prop::sample::select(vec![
        CaseMode::Online,
        CaseMode::RemoteAcceptance,
        CaseMode::MultiSite,
    ])
}
fn state() -> impl Strategy<Value = CaseState> {
    prop::sample::select(vec![
        CaseState::Submitted,
        CaseState::Accepted,
        CaseState::MaterialsRequested,
        CaseState::InReview,
        CaseState::Approved,
        CaseState::Rejected,
        CaseState::LicenceIssued,
        CaseState::Delivered,
        CaseState::Closed,
        CaseState::Withdrawn,
    ])
}
fn member_status() -> impl Strategy<Value = MemberStatus> {
    prop::sample::select(vec![
        MemberStatus::Active,
        MemberStatus::Suspended,
        MemberStatus::Removed,
    ])
}
/// A member.
pub fn member() -> impl Strategy<Value = Member> {
    (member_id(), text(), public_key(), roles(), member_status()).prop_map(
        |(id, name, key, roles, status)| Member {
            region: parsed(RegionCode::parse(&id.as_str()[2..8])),
            id,
            name,
            key,
            roles,
            status,
        },
    )
}
fn chain_params() -> impl Strategy<Value = ChainParams> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(n, d, e, r, b, i)| ChainParams {
            governance_threshold: Threshold {
                numerator: n,
                denominator: d,
            },
            proposal_expiry_blocks: e,
            max_block_records: r,
            max_record_bytes: b,
            max_block_interval_ms: i,
        })
}
/// Any member change.
pub fn member_change() -> impl Strategy<Value = MemberChange> {
    prop_oneof![
        member().prop_map(MemberChange::Add),
        member_id().prop_map(MemberChange::Remove),
        (member_id(), public_key())
            .prop_map(|(member_id, new_key)| { MemberChange::RotateKey { member_id, new_key } }),
        (member_id(), roles())
            .prop_map(|(member_id, roles)| MemberChange::SetRoles { member_id, roles }),
        public_key().prop_map(MemberChange::AddAdmin),
        public_key().prop_map(MemberChange::RemoveAdmin),
        chain_params().prop_map(MemberChange::SetParams),
        (member_id(), member_status())
            .prop_map(|(member_id, status)| MemberChange::SetStatus { member_id, status }),
    ]
}
/// Any record body.
pub fn body() -> impl Strategy<Value = RecordBody> {
    let ids = || prop::collection::vec(member_id(), 0..4);
    prop_oneof![
        (any::<u64>(), member_change()).prop_map(|(proposal_id, change)| {
            RecordBody::ProposeMemberChange {
                proposal_id,
                change,
            }
        }),
        any::<u64>().prop_map(|proposal_id| RecordBody::Approve { proposal_id }),
        (text(), ids()).prop_map(|(name, issuers)| RecordBody::PublishLicenceType {
            type_code: type_code(),
            name,
            issuers,
        }),
        (text(), any::<u32>(), prop::collection::vec(mode(), 0..4)).prop_map(
            |(name, time_limit_days, modes)| RecordBody::PublishItem {
                item_code: item_code(),
                name,
                time_limit_days,
                modes,
                uses_types: vec![type_code()],
                issues_types: vec![],
            }
        ),
        (
            licence_id(),
            hash(),
            hash(),
            any::<u64>(),
            any::<Option<u64>>(),
            prop::option::of(licence_id())
        )
            .prop_map(
                |(
                    licence_id,
                    holder_commitment,
                    document_hash,
                    valid_from,
                    valid_until,
                    supersedes,
                )| {
                    RecordBody::IssueLicence {
                        licence_id,
                        type_code: type_code(),
                        holder_commitment,
                        document_hash,
                        valid_from,
                        valid_until,
                        supersedes,
                    }
                }
            ),
        (licence_id(), text())
            .prop_map(|(licence_id, reason)| RecordBody::SuspendLicence { licence_id, reason }),
        licence_id().prop_map(|licence_id| RecordBody::ReinstateLicence { licence_id }),
        (licence_id(), text())
            .prop_map(|(licence_id, reason)| RecordBody::RevokeLicence { licence_id, reason }),
        (mode(), member_id(), ids(), hash(), any::<u64>()).prop_map(
            |(mode, accepting, handling, applicant_commitment, deadline)| RecordBody::OpenCase {
                case_id: case_id(),
                item_code: item_code(),
                mode,
                accepting,
                handling,
                applicant_commitment,
                deadline,
            }
        ),
        (
            state(),
            prop::option::of(hash()),
            prop::option::of(licence_id())
        )
            .prop_map(|(to, evidence_hash, licence_id)| RecordBody::AdvanceCase {
                case_id: case_id(),
                to,
                evidence_hash,
                licence_id,
            }),
    ]
}
/// Any record (the signature is random bytes: round trips do not verify it).
pub fn record() -> impl Strategy<Value = SignedRecord> {
    (text(), public_key(), any::<u64>(), body(), signature()).prop_map(
        |(chain_id, author, nonce, body, signature)| SignedRecord {
            payload: RecordPayload {
                chain_id,
                author,
                nonce,
                body,
            },
            signature,
        },
    )
}
