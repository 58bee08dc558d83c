//! Golden bytes of what execution stores: the state changes of fixed blocks (fixed
//! keys, deterministic ed25519 signatures) are pinned by digest, and one licence value
//! byte for byte. A change to a stored format or to a rule's effect fails here; if the
//! change is intended, the new values go in with a note in the commit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execute_support;

use execute_support::*;
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{public_key, sha256};
use tongban_ledger::execute::Mode;
use tongban_ledger::keys;
use tongban_ledger::state::StateChanges;
use tongban_ledger::types::{CaseMode, CaseState, MemberChange, RecordBody};
use tongban_ledger::Hash32;

fn digest(changes: &StateChanges) -> String {
    sha256(&[&encode(changes)]).to_hex()
}

#[test]
fn fixed_blocks_give_pinned_state_changes() {
    let mut w = World::new(3, 1);
    let admin = w.admin(0);
    let t = type_code(1);
    let item = item_code("ITEM-GOLD");
    let block1 = vec![
        w.record(
            &admin,
            RecordBody::PublishLicenceType {
                type_code: t.clone(),
                name: "营业执照".into(),
                issuers: vec![w.id(0), w.id(1)],
            },
        ),
        w.record(
            &admin,
            RecordBody::PublishItem {
                item_code: item.clone(),
                name: "企业开办".into(),
                time_limit_days: 5,
                modes: vec![CaseMode::Online, CaseMode::MultiSite],
                uses_types: vec![],
                issues_types: vec![t.clone()],
            },
        ),
    ];
    let out1 = w.block(&block1, Mode::Validate).unwrap();

    let lic = licence_id(&t, &w.id(0), "GOLD1");
    let case = case_id(&w.id(2), "GOLD");
    let k0 = w.member_key(0);
    let k2 = w.member_key(2);
    let block2 = vec![
        w.record(&k0, issue_body(&t, &lic)),
        w.record(
            &k2,
            RecordBody::OpenCase {
                case_id: case.clone(),
                item_code: item,
                mode: CaseMode::MultiSite,
                accepting: w.id(2),
                handling: vec![w.id(0), w.id(1)],
                applicant_commitment: Hash32([9; 32]),
                deadline: w.time_ms() + 86_400_000,
            },
        ),
        w.record(&k2, advance(&case, CaseState::Accepted)),
        w.record(
            &admin,
            RecordBody::ProposeMemberChange {
                proposal_id: 1,
                change: MemberChange::AddAdmin(public_key(&key(250))),
            },
        ),
    ];
    let out2 = w.block(&block2, Mode::Validate).unwrap();
    assert_eq!(out2.kept.len(), 4);

    let licence_bytes = w.state.get(&keys::licence(&lic)).unwrap();
    assert_eq!(hex::encode(licence_bytes), GOLDEN_LICENCE_HEX);
    assert_eq!(digest(&out1.changes), GOLDEN_BLOCK1);
    assert_eq!(digest(&out2.changes), GOLDEN_BLOCK2);
}

/// `LicenceRecord`: id (u64 length + text), type code, issuer, holder commitment (0x07…),
/// document hash (0x08…), valid_from, Some(valid_until), supersedes None, superseded_by
/// None, status Active (u32 0), status_reason None, issued_height 2, updated_height 2.
const GOLDEN_LICENCE_HEX: &str = "4300000000000000312e322e3135362e333030352e322e3931333530313030303030303030303030483030312e3931333530313030303030303030303030482e474f4c44312e3030312e3015000000000000003931333530313030303030303030303030483030311200000000000000393133353031303030303030303030303048070707070707070707070707070707070707070707070707070707070707070708080808080808080808080808080808080808080808080808080808080808080068e5cf8b0100000100949627930100000000000000000002000000000000000200000000000000";
const GOLDEN_BLOCK1: &str = "7ade4852d248a1fc82941e0c233c6d0eec5d2a264a2d4c40a0e2204e3c82e1cf";
const GOLDEN_BLOCK2: &str = "59c8987d20da2f4709155f09916399883e9007c59222ea5afb91b1e1c490ada6";
